//! The record shapes of threat-intel findings: a hit attached to a record (`intel[]`) and the
//! `intel` block of `sensor_status` (feeds loaded, reloads). `enrich::intel` builds them; they
//! live here, below enrichment, so that records do not import the stages that annotate them.

use serde::Serialize;

/// One indicator matched by a record (`intel[]` in the record).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct IntelHit {
    /// The indicator as the set holds it (normalised: lower-case domain, URL without scheme,
    /// network in CIDR form, hash in lower-case hex).
    pub indicator: String,
    /// The indicator type (`enrich::intel::Kind::as_str`: `addr`, `domain`, `url`, ...).
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The record field that matched (`dns.query`, `http.url`, `src_ip`, ...).
    #[serde(rename = "where")]
    pub field: &'static str,
    /// The value seen in that field (a subdomain of a listed domain, an address in a listed
    /// network, ...).
    pub value: String,
    /// Feed name (its file name) and version (content hash).
    pub feed: String,
    pub feed_version: String,
    /// Line of the feed (for JSON feeds: the position of the attribute or indicator, from 1).
    pub line: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub desc: Option<String>,
}

/// A line of a feed that was skipped, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BadLine {
    pub file: String,
    pub line: u32,
    pub why: String,
}

/// The `intel` block of a `sensor_status` record.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct IntelStatus {
    pub indicators: u64,
    /// Bytes the set holds in memory.
    pub memory_bytes: u64,
    /// Records' hits since the current set was loaded.
    pub hits: u64,
    pub reloads: u64,
    pub failed_reloads: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_reload: Option<String>,
    /// Why the last reload failed (the previous set stayed in use).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    pub feeds: Vec<FeedInfo>,
}

/// One feed as loaded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FeedInfo {
    pub name: String,
    pub path: String,
    pub format: &'static str,
    /// First 16 hex digits of the SHA-256 of the file.
    pub version: String,
    /// File modification time (RFC 3339) and size.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mtime: Option<String>,
    #[serde(skip)]
    pub mtime_ns: u64,
    pub size: u64,
    pub loaded_at: String,
    pub indicators: u64,
    pub duplicates: u64,
    pub bad_lines: u64,
    /// The first bad lines (file, line, why).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub bad_samples: Vec<BadLine>,
}
