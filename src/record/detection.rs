//! The `detection` record body (records.md items 1, 2, 4, 5 and 12).

use serde::Serialize;

/// The object or value a detection is about (`detection.indicator`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Indicator {
    /// `domain`, `url`, `ip`, `file`, `account`, `user_agent`, ...
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub value: String,
}
