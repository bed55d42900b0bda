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
