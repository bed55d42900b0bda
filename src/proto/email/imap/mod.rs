//! IMAP4 (RFC 3501 / RFC 9051, RFC 7888 LITERAL+, RFC 2595 STARTTLS).
//!
//! Both directions are read as lines in which a literal (`{N}` / `{N+}` at the end of a line,
//! then N raw bytes) may appear anywhere; a line with literals is one logical command or
//! response. Messages handed to the MIME stage:
//! - a server literal whose data item is `BODY[]` (also the answer to `BODY.PEEK[]`),
//!   `BINARY[]` or `RFC822`: the whole message;
//! - a client literal of APPEND after the mailbox name (each message of a MULTIAPPEND).
//!
//! Header-only or part literals (`BODY[HEADER]`, `BODY[HEADER.FIELDS (..)]`, `RFC822.HEADER`,
//! `BODY[1.2]`, partial fetches `BODY[]<0>`) are skipped: they are not whole messages and a
//! part's type is not known without BODYSTRUCTURE.
//!
//! The envelope holds the user of LOGIN (quoted, atom or literal; the password is never kept)
//! or AUTHENTICATE PLAIN/LOGIN, and the SASL mechanism. After STARTTLS and the tagged OK,
//! every further byte goes to the TLS parser.
//!
//! Anomalies: `imap.line_too_long` (over 16 KiB, skipped), `imap.literal_too_large` (over
//! 32 MiB: its bytes are skipped, not parsed), `imap.literal_absurd` (over 1 GiB: not followed
//! at all, the line ends there and the next line is read as a line), `imap.too_many_pending`
//! (over 512 commands awaiting their tagged answer: the oldest is forgotten), `imap.gap` (bytes
//! missing: a message in progress is dropped).

mod parser;
mod state;

#[cfg(test)]
pub(crate) mod tests;

pub use state::{new_parser, ImapState};

crate::proto::anomaly::anomalies! {
    /// The anomalies the imap parser reports.
    ImapAnomaly {
        Gap = "imap.gap",
        LineTooLong = "imap.line_too_long",
        LiteralAbsurd = "imap.literal_absurd",
        LiteralTooLarge = "imap.literal_too_large",
        TooManyPending = "imap.too_many_pending",
    }
}
