//! The `email` record body: one per message carried by SMTP, POP3 or IMAP.

use serde::Serialize;

/// `email` record body (contract: `email.*`).
///
/// Addresses (`from`, `to`, `cc`) are the bare addresses of the header fields; `mail_from` and
/// `rcpt_to` are the SMTP envelope. `hashed` holds MD5 digests (lower-case hex) of the
/// lower-cased local part and domain of the sender and recipients: the sender is the header
/// `From` address, or the envelope MAIL FROM when the header has none; the recipients are the
/// header `To` and `Cc` addresses, or the envelope RCPT TO addresses when the header has none.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct EmailBody {
    /// "smtp", "pop3", "imap".
    pub protocol: &'static str,
    /// SMTP HELO/EHLO argument.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub helo: Option<String>,
    /// SMTP MAIL FROM address (parameters dropped).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mail_from: Option<String>,
    /// SMTP MAIL FROM parameters as sent ("SIZE=1234 BODY=8BITMIME").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mail_params: Option<String>,
    /// SMTP RCPT TO addresses.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rcpt_to: Vec<String>,
    /// Header From address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// Header To addresses.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub to: Vec<String>,
    /// Header Cc addresses.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cc: Vec<String>,
    /// Subject, RFC 2047 decoded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// Message-ID (without <>).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    /// Date header, RFC 3339.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
    /// X-Mailer header.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub x_mailer: Option<String>,
    /// Received headers, raw text, top (latest) first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub received: Vec<String>,
    /// STARTTLS was seen earlier on the session.
    pub starttls: bool,
    /// SASL mechanism of AUTH, upper-cased.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_mechanism: Option<String>,
    /// User name of AUTH (never a password).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_user: Option<String>,
    /// Attachments (also those of attached messages), up to the configured cap.
    pub attachments: Vec<Attachment>,
    /// Attachments past the cap, counted, not reported.
    #[serde(skip_serializing_if = "is_zero")]
    pub attachments_dropped: u64,
    /// Ids of the `file` records of the attachments.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub file_ids: Vec<String>,
    /// MD5 digests of the addresses and subject.
    pub hashed: Hashed,
    /// Message size in bytes as carried (after dot-unstuffing / de-chunking).
    pub size: u64,
    /// Not all of the message was parsed: cut by the size cap, a gap, or the end of the flow.
    pub truncated: bool,
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

/// One attachment (`email.attachments[]`).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Attachment {
    /// File name, RFC 2231 / RFC 2047 decoded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Declared media type.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// Decoded size in bytes.
    pub size: u64,
    /// MD5 of the decoded content.
    pub md5: String,
    /// SHA-256 of the decoded content.
    pub sha256: String,
    /// Detected format (magic).
    pub format: String,
    /// Id of the `file` record.
    pub file_id: String,
}

/// `email.hashed`: MD5 (hex) of lower-cased address parts and of the decoded subject.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Hashed {
    /// MD5 of the sender's local part.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from_local_md5: Option<String>,
    /// MD5 of the sender's domain.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from_domain_md5: Option<String>,
    /// The recipients' parts.
    pub to: Vec<HashedAddr>,
    /// MD5 of the decoded UTF-8 subject.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject_md5: Option<String>,
}

/// One hashed address.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct HashedAddr {
    /// MD5 of the lower-cased local part.
    pub local_md5: String,
    /// MD5 of the lower-cased domain (of "" when the address has none).
    pub domain_md5: String,
}
