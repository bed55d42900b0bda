//! Reputation lookups: threat-intel feeds matched against every record.
//!
//! Feeds (Zeek Intel TSV, plain lists, CSV, MISP JSON attribute exports, STIX 2.1 bundles; see
//! `docs/intel.md`) are read into one [`IntelSet`]: compact tables (one string arena with hash
//! tables of offsets for names, fixed-size keys for hashes, per-prefix-length tables for
//! addresses and networks). Workers look every record up before output
//! ([`IntelSet::annotate`]) and attach an `intel` array of [`IntelHit`]s to it; detection reads
//! them back through [`hits`]. An [`IntelHandle`] holds the current set and swaps in a new one
//! on SIGHUP or when a feed file changes (`reload`), without stopping capture.

mod feed;
mod matcher;
mod norm;
mod reload;
mod store;

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use feed::{load_feed, FeedFormat};
pub use reload::{IntelHandle, IntelStatus};
pub use store::{FeedInfo, IntelSet, IntelSetBuilder};

/// What an indicator is (Zeek's `Intel::*` types).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    Addr,
    Subnet,
    Domain,
    Url,
    FileHash,
    Email,
    UserName,
    CertHash,
    Software,
}

impl Kind {
    /// The name records and status use (`type` of a hit).
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Addr => "addr",
            Kind::Subnet => "subnet",
            Kind::Domain => "domain",
            Kind::Url => "url",
            Kind::FileHash => "file_hash",
            Kind::Email => "email",
            Kind::UserName => "user_name",
            Kind::CertHash => "cert_hash",
            Kind::Software => "software",
        }
    }

    /// A type name as feeds write it: Zeek's `Intel::DOMAIN`, MISP's `ip-dst`, CSV's `md5`,
    /// or ours (`domain`). Case-insensitive.
    pub fn from_name(name: &str) -> Option<Kind> {
        // Zeek's spelling first, without allocating (millions of feed lines).
        let t = name.trim();
        if let Some(z) = t.strip_prefix("Intel::") {
            let k = match z {
                "ADDR" => Some(Kind::Addr),
                "SUBNET" => Some(Kind::Subnet),
                "DOMAIN" => Some(Kind::Domain),
                "URL" => Some(Kind::Url),
                "FILE_HASH" => Some(Kind::FileHash),
                "EMAIL" => Some(Kind::Email),
                "USER_NAME" => Some(Kind::UserName),
                "CERT_HASH" => Some(Kind::CertHash),
                "SOFTWARE" => Some(Kind::Software),
                _ => None,
            };
            if k.is_some() {
                return k;
            }
        }
        let n = t.to_ascii_lowercase();
        let n = n.strip_prefix("intel::").unwrap_or(&n);
        Some(match n {
            "addr" | "ip" | "ipv4" | "ipv6" | "ip-src" | "ip-dst" | "ipv4-addr" | "ipv6-addr" => {
                Kind::Addr
            }
            "subnet" | "cidr" | "network" => Kind::Subnet,
            "domain" | "hostname" | "fqdn" | "domain-name" => Kind::Domain,
            "url" | "uri" | "link" => Kind::Url,
            "file_hash" | "hash" | "md5" | "sha1" | "sha-1" | "sha256" | "sha-256" => {
                Kind::FileHash
            }
            "email" | "email-src" | "email-dst" | "email-addr" | "email_addr" => Kind::Email,
            "user_name" | "username" | "user" | "account" => Kind::UserName,
            "cert_hash" | "x509-fingerprint-sha1" => Kind::CertHash,
            "software" | "user-agent" | "user_agent" => Kind::Software,
            _ => return None,
        })
    }
}

/// One indicator matched by a record (`intel[]` in the record).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct IntelHit {
    /// The indicator as the set holds it (normalised: lower-case domain, URL without scheme,
    /// network in CIDR form, hash in lower-case hex).
    pub indicator: String,
    /// [`Kind::as_str`].
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

/// The hits attached to a record, for detection (empty when no feed matched).
pub fn hits(record: &crate::record::Record) -> std::slice::Iter<'_, IntelHit> {
    record.intel.iter()
}

/// The `[intel]` configuration section.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct IntelConfig {
    /// Directories whose every file is a feed (e.g. `rules/intel`); hidden files and `*.md`
    /// are skipped.
    pub dirs: Vec<String>,
    /// Feed files (`--intel FILE` adds to these).
    pub paths: Vec<String>,
    /// Indicator type of plain one-per-line lists, by file name or path (`"bad-ips.txt" =
    /// "addr"`); lists without one have each line's type guessed strictly.
    pub types: BTreeMap<String, String>,
    /// Seconds between checks of the feed files for changes (0: only SIGHUP reloads).
    pub check_interval: u64,
    /// The loaded feeds, once [`IntelConfig::start`] ran (not configuration).
    #[serde(skip)]
    pub loaded: Option<IntelHandle>,
}

impl Default for IntelConfig {
    fn default() -> Self {
        IntelConfig {
            dirs: Vec::new(),
            paths: Vec::new(),
            types: BTreeMap::new(),
            check_interval: 5,
            loaded: None,
        }
    }
}

impl IntelConfig {
    /// Whether any feed is configured.
    pub fn is_configured(&self) -> bool {
        !self.dirs.is_empty() || !self.paths.is_empty()
    }

    /// Loads the feeds (an unreadable feed is an error naming its path), starts the reload
    /// checker and keeps the handle in `loaded`. Nothing happens without feeds.
    pub fn start(&mut self) -> Result<(), IntelError> {
        if self.loaded.is_none() && self.is_configured() {
            self.loaded = Some(IntelHandle::start(self)?);
        }
        Ok(())
    }

    /// The handle workers use: the loaded one, or (library callers that did not call
    /// [`IntelConfig::start`]) one loaded now, with a failure logged.
    pub fn handle(&self) -> Option<IntelHandle> {
        if let Some(h) = &self.loaded {
            return Some(h.clone());
        }
        if !self.is_configured() {
            return None;
        }
        match IntelHandle::start(self) {
            Ok(h) => Some(h),
            Err(e) => {
                tracing::error!("intel feeds not loaded: {e}");
                None
            }
        }
    }

    /// The type hint for a plain list at `path`.
    pub(crate) fn type_hint(&self, path: &std::path::Path) -> Result<Option<Kind>, IntelError> {
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
        let full = path.display().to_string();
        for (k, v) in &self.types {
            if Some(k) == name.as_ref() || *k == full {
                return Kind::from_name(v).map(Some).ok_or_else(|| {
                    IntelError::Config(format!("intel.types.{k}: unknown type {v}"))
                });
            }
        }
        Ok(None)
    }

    /// Every feed file: the directories' files (sorted), then the paths, without repeats.
    pub(crate) fn feed_files(&self) -> Result<Vec<PathBuf>, IntelError> {
        let mut out: Vec<PathBuf> = Vec::new();
        for d in &self.dirs {
            let rd = std::fs::read_dir(d).map_err(|source| IntelError::Read {
                path: d.clone(),
                source,
            })?;
            let mut files: Vec<PathBuf> = rd
                .filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| p.is_file())
                .filter(|p| {
                    let n = p
                        .file_name()
                        .map(|n| n.to_string_lossy())
                        .unwrap_or_default();
                    !n.starts_with('.') && !n.ends_with(".md")
                })
                .collect();
            files.sort();
            out.extend(files);
        }
        out.extend(self.paths.iter().map(PathBuf::from));
        let mut seen = std::collections::HashSet::new();
        out.retain(|p| seen.insert(p.clone()));
        Ok(out)
    }
}

/// A feed that cannot be used at all.
#[derive(Debug, thiserror::Error)]
pub enum IntelError {
    #[error("cannot read intel feed {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("intel feed {path}: {message}")]
    Format { path: String, message: String },
    #[error("intel: {0}")]
    Config(String),
}

/// A line of a feed that was skipped, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BadLine {
    pub file: String,
    pub line: u32,
    pub why: String,
}
