//! Email over SMTP, POP3 and IMAP: each protocol's command/response parser hands the message
//! bytes it carries to [`mime::MessageBuilder`], which parses the MIME structure and emits the
//! `email` record and a `file` record per attachment.

pub mod imap;
pub mod mime;
pub mod pop3;
pub mod probe;
pub mod record;
pub(crate) mod session;
pub mod smtp;

pub use record::EmailBody;

crate::proto::anomaly::anomalies! {
    /// The anomalies the email parser reports.
    EmailAnomaly {
        /// A base64 text was irregular (characters outside the alphabet, missing or misplaced
        /// padding, an incomplete last quantum): decoded as mail clients decode it.
        Base64Irregular = "email.base64_irregular",
        /// An attached message (`message/rfc822`, `message/global`) declared a base64 or
        /// quoted-printable transfer encoding, which RFC 2046 forbids: decoded and walked.
        MessageEncoded = "email.message_encoded",
        MessageTooLarge = "email.message_too_large",
        /// The file inspection memory cap (`files.inspect_memcap`) released the message's
        /// bytes: only its start was parsed.
        InspectMemcap = "email.inspect_memcap",
        MimeNestingTooDeep = "email.mime_nesting_too_deep",
        MimeTooComplex = "email.mime_too_complex",
        NestingTooDeep = "email.nesting_too_deep",
        Unparsable = "email.unparsable",
        /// The MIME parser (mail-parser) panicked on the message (one of its debug assertions,
        /// or a bug of it): contained, the message reported with its envelope and no parts.
        ParserPanicked = "email.parser_panicked",
    }
}
