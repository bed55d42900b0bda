//! POP3 (RFC 1939, RFC 2449 CAPA/PIPELINING, RFC 5034 AUTH, RFC 2595 STLS).
//!
//! Client commands are queued in order and paired with the server's responses, so pipelined
//! sessions are followed. Whether a `+OK` response is multi-line depends on its command (CAPA,
//! RETR, TOP, AUTH without argument, LIST/UIDL without argument). The multi-line response of
//! RETR and TOP, dot-unstuffed and without the final `.` line, is a message: it goes to the
//! MIME stage with an [`Envelope`] holding the user (USER, APOP, AUTH PLAIN/LOGIN; never the
//! password) and the AUTH mechanism. After STLS and the server's `+OK`, every further byte of
//! the flow goes to the TLS parser.
//!
//! Anomalies: `pop3.line_too_long` (a command/response line over 16 KiB, skipped),
//! `pop3.gap` (bytes missing: a message in progress is dropped, parsing resumes at the next
//! line), `pop3.too_many_pending` (a command pipelined past 512 unanswered ones: it is kept
//! only as a count, its answer is paired in order and read as one line).

mod state;

#[cfg(test)]
pub(crate) mod tests;

pub use state::{new_parser, Pop3State};

crate::proto::anomaly::anomalies! {
    /// The anomalies the pop3 parser reports.
    Pop3Anomaly {
        Gap = "pop3.gap",
        LineTooLong = "pop3.line_too_long",
        TooManyPending = "pop3.too_many_pending",
    }
}
