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

use std::path::PathBuf;

pub use crate::config::IntelConfig;
pub use crate::record::intel::{BadLine, IntelHit};

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

/// The hits attached to a record, for detection (empty when no feed matched).
pub fn hits(record: &crate::record::Record) -> std::slice::Iter<'_, IntelHit> {
    record.intel.iter()
}

/// Loads the configured feeds (an unreadable feed is an error naming its path) and starts the
/// reload checker; `None` without feeds. The handle goes to the workers through the run's
/// options (`ReplayOptions::intel`, `LiveOptions::intel`), not through the configuration.
pub fn start(cfg: &IntelConfig) -> Result<Option<IntelHandle>, IntelError> {
    if !cfg.is_configured() {
        return Ok(None);
    }
    IntelHandle::start(cfg).map(Some)
}

impl IntelConfig {
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
