//! `[export]`: the spool, the sinks and the data-provision policy (`docs/export.md`). The
//! profiles, categories and record types a sink names are checked where they are resolved, by
//! `export::policy` at start.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ExportSection {
    pub spool: SpoolConfig,
    /// The sinks, several at once: `[[export.sink]]`.
    pub sink: Vec<SinkConfig>,
    /// The administrator's grant: nothing goes to a remote sink (https, kafka) unless this is
    /// true. Local files are always allowed.
    pub allow_remote: bool,
    /// Named region profiles (`[export.profile.NAME]`), besides the built-in ones
    /// (`clear`, `hashed`, `withheld`: see `export::policy`).
    pub profile: BTreeMap<String, ProfileConfig>,
    /// At the end of a run, seconds the remote sinks may take to deliver what the spool holds
    /// (the rest is sent at the next start).
    pub drain_timeout_s: u64,
}

impl Default for ExportSection {
    fn default() -> Self {
        ExportSection {
            spool: SpoolConfig::default(),
            sink: Vec::new(),
            allow_remote: false,
            profile: BTreeMap::new(),
            drain_timeout_s: 30,
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct SpoolConfig {
    /// Directory of the spool's segments and cursors. Default: `<stats state dir>/spool`, else
    /// `./tapir-spool`.
    pub dir: Option<String>,
    /// Disk quota of the whole spool in bytes; beyond it the oldest segment is dropped
    /// (counted as `export.spool_dropped`).
    pub max_bytes: u64,
    /// A new segment file is started past this many bytes.
    pub segment_bytes: u64,
    /// fsync the segment after every batch the output stage appends ("batch") or leave it to
    /// the kernel ("none").
    pub fsync: String,
}

impl Default for SpoolConfig {
    fn default() -> Self {
        SpoolConfig {
            dir: None,
            max_bytes: 4 << 30,
            segment_bytes: 64 << 20,
            fsync: "batch".into(),
        }
    }
}

/// One `[[export.sink]]`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct SinkConfig {
    /// Unique name: names the sink's cursor in the spool, its counters and its log lines.
    pub name: String,
    /// "file", "https" or "kafka".
    #[serde(rename = "type")]
    pub kind: String,
    /// Record types sent (`event_type`); empty = all.
    pub types: Vec<String>,
    /// Categories of data sent (`network`, `files`, `detections`, `statistics`, `service`);
    /// empty = all. A record is sent when both its type and its category are allowed.
    pub categories: Vec<String>,
    /// The region profile applied on the way out (remote sinks; default "hashed").
    pub profile: Option<String>,

    // file
    /// file: the current file's stable name; rotated files get a time stamp before the
    /// extension (`tapir.20261205T101500.ndjson[.gz|.zst]`).
    pub path: Option<String>,
    /// file: rotate past this many bytes (0 = never by size).
    pub rotate_bytes: u64,
    /// file: rotate after this many seconds (0 = never by time).
    pub rotate_seconds: u64,
    /// file: compress rotated files: "none", "gzip" or "zstd".
    pub compress: String,

    // remote sinks
    /// Records per batch sent to a remote sink.
    pub batch_records: usize,
    /// Bytes (uncompressed NDJSON) per batch sent to a remote sink.
    pub batch_bytes: usize,
    /// First retry delay in milliseconds; doubles up to `retry_max_ms`, with jitter.
    pub retry_initial_ms: u64,
    pub retry_max_ms: u64,
    /// Seconds the sink waits for one request (connect, send, answer).
    pub timeout_s: u64,

    // https
    /// https: the backend's URL (`https://host:port/path`).
    pub url: Option<String>,
    /// https: PEM file of the CA the server's certificate must chain to.
    pub ca: Option<String>,
    /// https: PEM client certificate (chain) and key, for mutual TLS.
    pub cert: Option<String>,
    pub key: Option<String>,

    // kafka
    /// kafka: bootstrap brokers, "host:port[,host:port]".
    pub brokers: Option<String>,
    /// kafka: one topic for every record (keyed by flow id); with `topic_per_type`, the prefix
    /// of one topic per record type (`<topic>.<event_type>`).
    pub topic: Option<String>,
    pub topic_per_type: bool,
    /// kafka: "none", "gzip", "snappy", "lz4" or "zstd".
    pub compression: String,
    /// kafka: extra librdkafka properties.
    pub properties: BTreeMap<String, String>,
}

impl Default for SinkConfig {
    fn default() -> Self {
        SinkConfig {
            name: String::new(),
            kind: String::new(),
            types: Vec::new(),
            categories: Vec::new(),
            profile: None,
            path: None,
            rotate_bytes: 0,
            rotate_seconds: 0,
            compress: "none".into(),
            batch_records: 1000,
            batch_bytes: 4 << 20,
            retry_initial_ms: 200,
            retry_max_ms: 30_000,
            timeout_s: 10,
            url: None,
            ca: None,
            cert: None,
            key: None,
            brokers: None,
            topic: None,
            topic_per_type: false,
            compression: "zstd".into(),
            properties: BTreeMap::new(),
        }
    }
}

/// `[export.profile.NAME]`: what a region lets leave the sensor.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProfileConfig {
    /// Start from this profile (a built-in or another named one).
    pub base: Option<String>,
    /// Classes of personal data (`local_ip`, `email`, `subject`, `user`, `host`) or field
    /// paths (`email.message_id`) sent as MD5.
    pub hash: Vec<String>,
    /// Classes or field paths never sent.
    pub drop: Vec<String>,
    /// Classes or field paths sent in clear (overrides the base).
    pub clear: Vec<String>,
}

impl ExportSection {
    /// Checks the section at start; the message names the key.
    pub fn validate(&self) -> Result<(), String> {
        let sp = &self.spool;
        if sp.max_bytes < 1 << 20 {
            return Err("export.spool.max_bytes must be at least 1 MiB".into());
        }
        if sp.segment_bytes < 4096 || sp.segment_bytes > sp.max_bytes {
            return Err(
                "export.spool.segment_bytes must be from 4096 to export.spool.max_bytes".into(),
            );
        }
        if !matches!(sp.fsync.as_str(), "batch" | "none") {
            return Err("export.spool.fsync must be \"batch\" or \"none\"".into());
        }
        if self.drain_timeout_s > 3600 {
            return Err("export.drain_timeout_s must be at most 3600".into());
        }
        let mut names = std::collections::BTreeSet::new();
        for s in &self.sink {
            let n = &s.name;
            if n.is_empty()
                || n.len() > 64
                || n.starts_with('.')
                || !n
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
            {
                return Err(format!(
                    "export.sink.name {n:?}: 1 to 64 letters, digits, '-', '_' or '.'"
                ));
            }
            if !names.insert(n.clone()) {
                return Err(format!("export.sink.name {n:?} is used twice"));
            }
            let remote = matches!(s.kind.as_str(), "https" | "kafka");
            match s.kind.as_str() {
                "file" => {
                    if s.path.as_deref().is_none_or(str::is_empty) {
                        return Err(format!("export.sink {n}: type \"file\" needs path"));
                    }
                    if !matches!(s.compress.as_str(), "none" | "gzip" | "zstd") {
                        return Err(format!(
                            "export.sink {n}: compress must be \"none\", \"gzip\" or \"zstd\""
                        ));
                    }
                }
                "https" => {
                    if !s.url.as_deref().is_some_and(|u| u.starts_with("https://")) {
                        return Err(format!(
                            "export.sink {n}: type \"https\" needs url = \"https://...\""
                        ));
                    }
                    if s.cert.is_some() != s.key.is_some() {
                        return Err(format!("export.sink {n}: cert and key go together"));
                    }
                }
                "kafka" => {
                    if s.brokers.as_deref().is_none_or(str::is_empty) {
                        return Err(format!("export.sink {n}: type \"kafka\" needs brokers"));
                    }
                    if !matches!(
                        s.compression.as_str(),
                        "none" | "gzip" | "snappy" | "lz4" | "zstd"
                    ) {
                        return Err(format!(
                            "export.sink {n}: compression must be none, gzip, snappy, lz4 or zstd"
                        ));
                    }
                }
                other => {
                    return Err(format!(
                        "export.sink {n}: type {other:?} (\"file\", \"https\" or \"kafka\")"
                    ))
                }
            }
            if remote {
                if !self.allow_remote {
                    return Err(format!(
                        "export.sink {n} sends off this machine: set export.allow_remote = true \
                         to grant it (nothing leaves the sensor without it)"
                    ));
                }
                if s.categories.is_empty() {
                    return Err(format!(
                        "export.sink {n}: list the categories it may receive (export.sink.categories: \
                         network, files, detections, statistics, service)"
                    ));
                }
                if s.batch_records == 0 || s.batch_records > 100_000 {
                    return Err(format!(
                        "export.sink {n}: batch_records must be 1 to 100000"
                    ));
                }
                if s.batch_bytes < 1024 || s.batch_bytes > 256 << 20 {
                    return Err(format!(
                        "export.sink {n}: batch_bytes must be 1 KiB to 256 MiB"
                    ));
                }
                if s.timeout_s == 0 || s.timeout_s > 600 {
                    return Err(format!("export.sink {n}: timeout_s must be 1 to 600"));
                }
                if s.retry_initial_ms == 0 || s.retry_max_ms < s.retry_initial_ms {
                    return Err(format!(
                        "export.sink {n}: retry_initial_ms must be > 0 and <= retry_max_ms"
                    ));
                }
            }
        }
        Ok(())
    }
}
