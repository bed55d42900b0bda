//! The `sensor_status` record body (contract: `sensor_status.*` in `docs/records.md`): what
//! the sensor did, dropped and reached. Built by `status::Reporter`; defined here with the other
//! record bodies so that records do not depend on the module that gathers the counters.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::capture::CaptureStats;

/// `sensor_status` record body (contract: `sensor_status.*`). Counters are cumulative since
/// start; `period_start`/`period_end` bound the interval since the previous status record.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StatusBody {
    /// "start", "periodic" or "stop".
    pub kind: &'static str,
    pub period_start: String,
    pub period_end: String,
    /// Wall-clock seconds since the sensor started.
    pub uptime_s: f64,
    /// Time of the newest record written before this one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_event_time: Option<String>,
    /// The file system holding the output (or the current directory).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disk_free_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disk_used_bytes: Option<u64>,
    pub memory: MemoryBlock,
    pub capture: CaptureStats,
    pub decode: DecodeBlock,
    pub flows: FlowsBlock,
    pub tcp: TcpBlock,
    pub records: RecordsBlock,
    /// Every configured limit with how often it was reached.
    pub limits: Vec<LimitHit>,
    /// Non-zero anomaly counters (decoder, reassembly, parsers) by name.
    pub anomalies: BTreeMap<&'static str, u64>,
    /// Time spent in each application parser (and in protocol detection).
    pub algorithms: Vec<AlgorithmTime>,
    /// The network statistics store (absent when statistics are off).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stats: Option<StatsBlock>,
    pub errors: Vec<String>,
    pub messages: Vec<String>,
    /// Threat-intel feeds loaded (absent without feeds).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub intel: Option<crate::record::intel::IntelStatus>,
    /// The live capture's interface (absent in replay).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interface: Option<InterfaceBlock>,
    /// File extraction counters (absent when extraction is off).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extract: Option<crate::files::ExtractStats>,
    /// Detection: rules loaded, hits, detections, suppression (absent without rules).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detect: Option<crate::record::detection::DetectStatus>,
    /// Export: the spool and every sink (absent with no `[[export.sink]]`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub export: Option<ExportBlock>,
    /// The sensor's own condition: drops, memcap pressure, export lag, versions, last errors.
    pub health: HealthBlock,
}

/// `sensor_status.health` (see docs/operations.md).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct HealthBlock {
    /// Per capture source (a live AF_PACKET socket per worker, the libpcap handle, or the
    /// replayed files): packets and kernel drops (`PACKET_STATISTICS`). Their sums are
    /// `capture.packets` and `capture.dropped`.
    pub capture_sockets: Vec<SocketHealth>,
    /// Every memory cap: what it holds now, its value and how often it was reached.
    pub memcaps: Vec<MemcapHealth>,
    /// Export: bytes in the spool and records each sink has not had acknowledged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spool_bytes: Option<u64>,
    pub sinks: Vec<SinkLag>,
    /// The rule and feed files loaded, with a content hash.
    pub versions: Vec<FileVersion>,
    /// Settings changed in the configuration that only a restart applies (after SIGHUP).
    pub needs_restart: Vec<String>,
    /// Times SIGHUP reloaded the rules.
    pub reloads: u64,
    /// The last warning or error of each component (bounded).
    pub last_errors: Vec<ComponentError>,
    /// Log lines the per-callsite rate limit (`--log-rate`) suppressed since start.
    pub log_suppressed: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct SocketHealth {
    pub socket: usize,
    pub packets: u64,
    pub dropped: u64,
    /// AF_PACKET: the most of the ring's blocks found full at once since start, in percent
    /// (100: the worker fell a whole ring behind, and the kernel dropped).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ring_fill_peak_pct: Option<u64>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MemcapHealth {
    pub name: &'static str,
    /// Absent where the sensor does not account the usage.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub used: Option<u64>,
    pub cap: u64,
    pub hits: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct SinkLag {
    pub name: String,
    /// Records not yet acknowledged (remote sinks; 0 for file sinks).
    pub lag_records: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<&'static str>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct FileVersion {
    /// "rules" or "feed".
    pub kind: &'static str,
    pub path: String,
    /// First 16 hex digits of the SHA-1 of the content.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha1: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mtime: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ComponentError {
    /// The logging module (e.g. `cmd`, `export::remote`).
    pub component: String,
    /// "warn" or "error".
    pub level: &'static str,
    pub time: String,
    pub message: String,
    /// Warnings and errors of this component since start.
    pub count: u64,
}

/// `sensor_status.export`: the spool and the sinks.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ExportBlock {
    /// The spool (absent without remote sinks).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spool: Option<SpoolBlock>,
    pub sinks: Vec<SinkBlock>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct SpoolBlock {
    pub dir: String,
    pub bytes: u64,
    pub max_bytes: u64,
    pub segments: u64,
    /// Records appended (made durable) since start.
    pub appended: u64,
    /// Records the quota deleted before every sink had them (overflow policy: drop oldest).
    pub dropped_records: u64,
    pub dropped_segments: u64,
    /// Damaged frames found (a torn tail after a crash) and skipped.
    pub corrupt_frames: u64,
    pub fsyncs: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct SinkBlock {
    pub name: String,
    /// "file", "https" or "kafka".
    #[serde(rename = "type")]
    pub kind: String,
    pub target: String,
    /// Records written (file) or acknowledged by the far end (remote).
    pub records: u64,
    /// Records the sink's grant (types, categories) left out.
    pub filtered: u64,
    /// Remote: records in the spool not yet acknowledged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pending: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batches: Option<u64>,
    /// Remote: failed attempts, and records sent again after one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failures: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resent: Option<u64>,
    /// Remote: "ok" or "failing".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// File: rotations.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rotations: Option<u64>,
}

/// `sensor_status.interface`: the state of the interface a live capture reads.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct InterfaceBlock {
    pub name: String,
    /// "up", or "down" while some capture socket waits for the interface to come back.
    pub state: &'static str,
    /// Times it went down, and times every socket captured again afterwards.
    pub down_events: u64,
    pub recoveries: u64,
    /// Sockets opened again because the interface came back under a new index.
    pub reopened: u64,
    /// Why it went down the last time ("ENETDOWN", "no carrier", "interface gone", ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_down_reason: Option<String>,
}

/// `sensor_status.stats`: the statistics store's size and work so far.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct StatsBlock {
    /// Entries per table after the last commit.
    pub domains: u64,
    pub fqdns: u64,
    pub files: u64,
    pub hosts: u64,
    /// Entries removed for not being seen within `stats.max_age`, and past a table's cap.
    pub aged_out: u64,
    pub evictions: u64,
    pub commits: u64,
    pub commit_errors: u64,
    pub entries_merged: u64,
    /// Time spent merging and committing.
    pub write_ms: f64,
    /// Deltas workers handed over before their period ended, being full
    /// (`stats.worker_entries`), and times a worker's own view of this run's files was
    /// started afresh for the same cap.
    pub early_handovers: u64,
    pub view_resets: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct MemoryBlock {
    /// Resident set size now and at its peak (Linux; absent elsewhere).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rss_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peak_rss_bytes: Option<u64>,
    /// What the sensor itself accounts for: flows tracked, stream and fragment buffers.
    pub flows: u64,
    pub reassembly_bytes: u64,
    pub defrag_bytes: u64,
    pub dns_cache_names: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct DecodeBlock {
    pub non_ip: u64,
    pub malformed: u64,
    pub fragments: u64,
    pub datagrams_rebuilt: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct FlowsBlock {
    pub active: u64,
    pub created: u64,
    pub ended: u64,
    pub peak: u64,
    pub timeouts: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct TcpBlock {
    pub segments: u64,
    pub out_of_order: u64,
    pub retransmissions: u64,
    pub gaps: u64,
    pub gap_bytes: u64,
    /// Stream bytes handed on in order, cut at `reassembly.depth`, and dropped otherwise
    /// (buffered at a RST, or sent after the FIN).
    pub delivered_bytes: u64,
    pub depth_dropped_bytes: u64,
    pub discarded_bytes: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct RecordsBlock {
    pub written: u64,
    pub by_type: BTreeMap<&'static str, u64>,
}

/// A configured cap: its value and how often reaching it dropped or cut something.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LimitHit {
    pub name: &'static str,
    pub limit: u64,
    pub hits: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AlgorithmTime {
    pub name: &'static str,
    pub run_time_ms: f64,
    pub calls: u64,
}
