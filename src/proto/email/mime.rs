//! PLACEHOLDER: message assembly and MIME parsing (to be completed). The API is stable.

use crate::proto::ParseCtx;
use crate::record::Body;

use super::EmailBody;

/// What the carrying protocol knows of a message besides its bytes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Envelope {
    /// "smtp", "pop3", "imap".
    pub protocol: &'static str,
    /// SMTP HELO/EHLO argument.
    pub helo: Option<String>,
    /// SMTP MAIL FROM address (without <>), with parameters dropped.
    pub mail_from: Option<String>,
    /// SMTP RCPT TO addresses.
    pub rcpt_to: Vec<String>,
    /// STARTTLS was seen on the session before this message (later messages are encrypted).
    pub starttls: bool,
    /// AUTH mechanism and user name (never a password).
    pub auth_mechanism: Option<String>,
    pub auth_user: Option<String>,
}

/// Limits on what one message may cost.
#[derive(Clone, Copy, Debug)]
pub struct MessageLimits {
    /// Bytes of a message kept for parsing; the rest is counted, not kept.
    pub max_message: usize,
    /// Attachments reported per message.
    pub max_attachments: usize,
}

impl Default for MessageLimits {
    fn default() -> Self {
        MessageLimits {
            max_message: 16 << 20,
            max_attachments: 64,
        }
    }
}

/// Collects one message's bytes as they arrive (after SMTP dot-unstuffing, BDAT chunking, or
/// an IMAP literal / POP3 multi-line response has been undone by the carrier).
#[derive(Debug)]
pub struct MessageBuilder {
    limits: MessageLimits,
    buf: Vec<u8>,
    size: u64,
}

impl MessageBuilder {
    pub fn new(limits: MessageLimits) -> MessageBuilder {
        MessageBuilder {
            limits,
            buf: Vec::new(),
            size: 0,
        }
    }

    /// The next bytes of the message.
    pub fn push(&mut self, bytes: &[u8]) {
        self.size += bytes.len() as u64;
        let room = self.limits.max_message.saturating_sub(self.buf.len());
        self.buf
            .extend_from_slice(bytes.get(..room.min(bytes.len())).unwrap_or_default());
    }

    /// Bytes seen so far (also those past the cap).
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The message is complete: emits the `email` record and the attachments' `file` records.
    pub fn finish(self, env: &Envelope, ctx: &mut ParseCtx<'_>) {
        ctx.emit(Body::Email(EmailBody {
            protocol: env.protocol,
        }));
    }
}
