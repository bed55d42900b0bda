//! SMTP (RFC 5321) parser: commands from the client, replies from the server paired in order
//! (pipelining, RFC 2920), DATA with dot-unstuffing, BDAT chunks (RFC 3030), AUTH (mechanism and
//! user name only, never a password), STARTTLS hand-over to the TLS parser. Each message goes
//! through [`MessageBuilder`] which emits the `email` record and the attachments' `file` records.

mod parser;
mod state;

#[cfg(test)]
mod tests;

pub use parser::MAX_LINE;
pub use state::{new_parser, SmtpState};

crate::proto::anomaly::anomalies! {
    /// The anomalies the smtp parser reports.
    SmtpAnomaly {
        BadBdat = "smtp.bad_bdat",
        /// BDAT outside a mail transaction (no MAIL FROM): its chunk is skipped.
        BdatWithoutMail = "smtp.bdat_without_mail",
        BadReply = "smtp.bad_reply",
        Gap = "smtp.gap",
        LineTooLong = "smtp.line_too_long",
        /// The server refused (4xx/5xx) a HELO/EHLO, MAIL, RCPT, BDAT or DATA: it changed no
        /// state.
        RefusedCommand = "smtp.refused_command",
        TooManyPending = "smtp.too_many_pending",
        UnexpectedReply = "smtp.unexpected_reply",
    }
}
