//! PLACEHOLDER: the `email` record body (to be completed).

use serde::Serialize;

/// `email` record body (contract: `email.*`).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct EmailBody {
    /// "smtp", "pop3", "imap".
    pub protocol: &'static str,
}
