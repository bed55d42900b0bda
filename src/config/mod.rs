//! One typed configuration, read from TOML; every option can also be set on the command line
//! (the CLI overrides the file). Defaults are what a Suricata or Zeek user would expect.

mod export;
pub use export::{ExportSection, ProfileConfig, SinkConfig, SpoolConfig};

use std::collections::BTreeMap;
use std::path::Path;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

/// Longest flow timeout accepted: a week, in seconds.
const MAX_TIMEOUT_S: u64 = 7 * 86_400;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("config {path}: {message}")]
    Parse { path: String, message: String },
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Identifies this sensor in every record.
    pub sensor_id: String,
    /// The networks that are "ours": decides each flow's direction. Default RFC 1918 + ULA.
    pub home_net: Vec<IpNet>,
    /// Worker threads; 0 = one per core.
    pub workers: usize,
    pub capture: CaptureConfig,
    pub decode: DecodeSection,
    pub flow: FlowSection,
    pub defrag: DefragSection,
    pub reassembly: ReassemblySection,
    pub output: OutputSection,
    pub enrich: EnrichSection,
    pub files: FilesSection,
    pub proto: ProtoSection,
    pub intel: IntelConfig,
    pub stats: StatsSection,
    pub detect: DetectSection,
    /// Spool, sinks and the data-provision policy.
    pub export: ExportSection,
    /// The metrics HTTP endpoint.
    pub status: StatusSection,
    /// How `tapir run` gives up its privileges once the capture sockets are open.
    pub run: RunSection,
}

/// The `[status]` configuration section: the Prometheus metrics HTTP endpoint.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct StatusSection {
    /// `GET /metrics` served on this address (e.g. "127.0.0.1:9917"); off when unset.
    pub metrics_listen: Option<String>,
    /// Lets `metrics_listen` be an address other than a loopback one.
    pub metrics_allow_remote: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            sensor_id: "tapir".into(),
            home_net: [
                "10.0.0.0/8",
                "172.16.0.0/12",
                "192.168.0.0/16",
                "fc00::/7",
                "fe80::/10",
            ]
            .iter()
            .filter_map(|s| s.parse().ok())
            .collect(),
            workers: 0,
            capture: CaptureConfig::default(),
            decode: DecodeSection::default(),
            flow: FlowSection::default(),
            defrag: DefragSection::default(),
            reassembly: ReassemblySection::default(),
            output: OutputSection::default(),
            enrich: EnrichSection::default(),
            files: FilesSection::default(),
            proto: ProtoSection::default(),
            intel: Default::default(),
            stats: StatsSection::default(),
            detect: DetectSection::default(),
            export: Default::default(),
            status: StatusSection::default(),
            run: RunSection::default(),
        }
    }
}

/// Least privilege of `tapir run` (docs/operations.md): once the capture sockets are open the
/// process switches to `user` (when started as root), keeps at most `CAP_NET_RAW` (to reopen a
/// capture socket when the interface comes back) and sets `no_new_privs`.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RunSection {
    /// The unprivileged user to switch to after the sockets are open; unset: `tapir` when
    /// started as root, the current user otherwise.
    pub user: Option<String>,
    /// Started as root, keep running as root (no user switch; capabilities still reduced).
    pub allow_root: bool,
    /// Keep no capability at all (not even `CAP_NET_RAW`): a capture socket lost with its
    /// interface is then not reopened.
    pub drop_all_caps: bool,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct CaptureConfig {
    /// Live capture interface (`tapir run`).
    pub interface: Option<String>,
    /// "afpacket" (default) or "libpcap" (needs the `libpcap` feature).
    pub method: String,
    /// AF_PACKET fanout group id shared by the worker sockets.
    pub fanout_group: u16,
    /// TPACKET_V3 ring: block size in bytes and number of blocks per worker.
    pub ring_block_size: u32,
    pub ring_blocks: u32,
    pub snaplen: u32,
    pub promiscuous: bool,
    /// BPF capture filter (libpcap only).
    pub bpf: Option<String>,
    /// Largest decompressed size accepted for a gzip'd capture file.
    pub max_decompressed_bytes: u64,
}

impl Default for CaptureConfig {
    fn default() -> Self {
        CaptureConfig {
            interface: None,
            method: "afpacket".into(),
            fanout_group: 4242,
            ring_block_size: 1 << 20,
            ring_blocks: 64,
            snaplen: 65_535,
            promiscuous: true,
            bpf: None,
            max_decompressed_bytes: 8 << 30,
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct DecodeSection {
    pub decap_tunnels: bool,
    pub max_tunnel_depth: u8,
    pub vxlan_port: u16,
}

impl Default for DecodeSection {
    fn default() -> Self {
        DecodeSection {
            decap_tunnels: true,
            max_tunnel_depth: 4,
            vxlan_port: 4789,
        }
    }
}

/// Flow table limits and timeouts (seconds).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct FlowSection {
    /// Most flows tracked at once, over all workers.
    pub max_flows: usize,
    /// Track flows per VLAN (the same 5-tuple on two VLANs is two flows).
    pub vlan_in_key: bool,
    pub tcp_new_timeout: u64,
    pub tcp_established_timeout: u64,
    pub tcp_closed_timeout: u64,
    pub udp_new_timeout: u64,
    pub udp_established_timeout: u64,
    pub icmp_timeout: u64,
    pub other_timeout: u64,
    /// Under pressure (table full) timeouts are divided by this.
    pub emergency_divisor: u64,
}

impl Default for FlowSection {
    fn default() -> Self {
        FlowSection {
            max_flows: 1_000_000,
            vlan_in_key: true,
            tcp_new_timeout: 30,
            tcp_established_timeout: 600,
            tcp_closed_timeout: 10,
            udp_new_timeout: 30,
            udp_established_timeout: 120,
            icmp_timeout: 30,
            other_timeout: 30,
            emergency_divisor: 10,
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct DefragSection {
    /// Bytes of fragments held, per worker.
    pub memcap: usize,
    pub timeout: u64,
    pub max_fragments: usize,
    pub max_trackers: usize,
}

impl Default for DefragSection {
    fn default() -> Self {
        DefragSection {
            memcap: 32 << 20,
            timeout: 60,
            max_fragments: 256,
            max_trackers: 65_536,
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReassemblySection {
    /// Stream bytes handed to parsers per direction (0 = unlimited).
    pub depth: u64,
    /// Out-of-order bytes held per direction.
    pub max_buffered_per_dir: usize,
    /// Out-of-order bytes held per worker, all streams together.
    pub memcap: usize,
}

impl Default for ReassemblySection {
    fn default() -> Self {
        ReassemblySection {
            depth: 1 << 20,
            max_buffered_per_dir: 256 << 10,
            memcap: 256 << 20,
        }
    }
}

/// Application layer.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProtoSection {
    /// Run the protocol parsers (false: detect `app_proto` only, no protocol records).
    pub parsers: bool,
}

impl Default for ProtoSection {
    fn default() -> Self {
        ProtoSection { parsers: true }
    }
}

/// File extraction (off unless `extract_dir` is set).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct FilesSection {
    /// Write complete files carried by HTTP (and mail) here, named by SHA-256.
    pub extract_dir: Option<String>,
    /// Only these formats ("pe", "zip", "pdf", ...; empty = all).
    pub extract_formats: Vec<String>,
    /// Largest file written (bytes, 0 = no limit).
    pub extract_max_size: u64,
    /// Bytes written at most, all files together (0 = no limit); reaching it is counted.
    pub extract_disk_cap: u64,
    /// Memory held by file inspection (HTTP body decoders, the bytes kept for format detection
    /// and the PE summary), all flows together, split across workers like the reassembly
    /// memcap; past it the oldest bodies are released (decoding stops, file truncated, counted).
    pub inspect_memcap: usize,
}

impl Default for FilesSection {
    fn default() -> Self {
        FilesSection {
            extract_dir: None,
            extract_formats: Vec::new(),
            extract_max_size: 100 << 20,
            extract_disk_cap: 1 << 30,
            inspect_memcap: 256 << 20,
        }
    }
}

impl FilesSection {
    pub fn extract_config(&self) -> crate::files::extract::ExtractConfig {
        crate::files::extract::ExtractConfig {
            dir: self.extract_dir.as_ref().map(std::path::PathBuf::from),
            formats: self.extract_formats.clone(),
            max_file_size: self.extract_max_size,
            disk_cap: self.extract_disk_cap,
        }
    }
}

/// Network statistics (`docs/stats.md`): the persistent store of how often domains, files and
/// hosts are seen in the local network.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct StatsSection {
    /// Keep statistics (and add `file.frequency` to `file` records). On by default; `tapir
    /// replay` keeps them in memory (gone at exit) unless given `--state DIR`.
    pub enabled: bool,
    /// The store's directory for `tapir run` (default `/var/lib/tapir`); `tapir replay` keeps
    /// its statistics in memory unless given `--state DIR`.
    pub state_dir: Option<String>,
    /// Seconds after which an entry not seen again is removed (0: never). Default 90 days.
    pub max_age: u64,
    /// Entries per table at most; past a cap the least recently seen go.
    pub max_domains: usize,
    pub max_fqdns: usize,
    pub max_files: usize,
    pub max_hosts: usize,
    /// Host addresses kept per domain, receiving hosts per file.
    pub max_hosts_per_entry: usize,
    /// Names, user hashes, content types, sources kept per entry.
    pub max_names_per_entry: usize,
    /// Bytes of the store's page cache (redb; also what the in-memory store of a replay
    /// caches on top of its data).
    pub cache_size: usize,
    /// Entries one worker collects before handing them to the store writer early, and files
    /// it remembers of this run for `file.frequency` (both counted in `sensor_status`).
    pub worker_entries: usize,
    /// Milliseconds (wall clock) the store writer gathers the deltas workers hand over into
    /// one commit (sooner when four times `worker_entries` entries wait). A crash loses what
    /// is not committed yet. 0: a commit per delta.
    pub commit_interval_ms: u64,
}

impl Default for StatsSection {
    fn default() -> Self {
        StatsSection {
            enabled: true,
            state_dir: None,
            max_age: 90 * 86_400,
            max_domains: 1_000_000,
            max_fqdns: 2_000_000,
            max_files: 1_000_000,
            max_hosts: 200_000,
            max_hosts_per_entry: 64,
            max_names_per_entry: 16,
            cache_size: 8 << 20,
            worker_entries: 5_000,
            commit_interval_ms: 1000,
        }
    }
}

/// Detection (`docs/detection.md`): rules over the records, `detection` records.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct DetectSection {
    /// Run the rules (false: no `detection` records at all).
    pub enabled: bool,
    /// Rule files and folders (native and Sigma mixed); `--rules PATH` adds to these.
    pub rules: Vec<String>,
    /// Load the default rules compiled into the binary (the repository's `rules/` folder);
    /// `--no-default-rules` turns it off for one run.
    pub builtin: bool,
    /// Seconds of packet time during which repeats of a detection (same rule, same source,
    /// same indicator) are counted instead of written again; 0 = write every hit.
    pub suppress_window: u64,
    /// Suppression and aggregation groups held at once (all rules together); past it new
    /// groups are not opened (counted in `sensor_status.detect.group_cap_hits`).
    pub max_groups: usize,
    /// Task identifier written into every detection (`detection.sensor.task_id`), if any.
    pub task_id: Option<String>,
}

impl Default for DetectSection {
    fn default() -> Self {
        DetectSection {
            enabled: true,
            rules: Vec::new(),
            builtin: true,
            suppress_window: 300,
            max_groups: 100_000,
            task_id: None,
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct EnrichSection {
    /// Host names whose DNS answers are kept for `http.target_ips` (all workers together).
    pub max_dns_names: usize,
    /// Values (accounts, host names) passive learning keeps (`--learned-out`), per worker and
    /// after merging; past it observations are counted, not kept.
    pub max_learned_values: usize,
}

impl Default for EnrichSection {
    fn default() -> Self {
        EnrichSection {
            max_dns_names: 200_000,
            max_learned_values: 100_000,
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct OutputSection {
    /// NDJSON records to this file ("-" = stdout); none = no record output.
    pub path: Option<String>,
    /// Seconds between `sensor_status` records (packet time in replay, wall time live);
    /// 0 = only at start and stop.
    pub status_interval: u64,
    /// Also write the status counters in Prometheus text format to this file (replaced
    /// atomically at every status record), e.g. for node_exporter's textfile collector.
    pub metrics_path: Option<String>,
}

impl Default for OutputSection {
    fn default() -> Self {
        OutputSection {
            path: None,
            status_interval: 60,
            metrics_path: None,
        }
    }
}

impl Config {
    /// Reads a TOML file; unknown keys and bad values are errors with the file's name.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let p = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: p.clone(),
            source,
        })?;
        Config::from_toml(&text, &p)
    }

    pub fn from_toml(text: &str, name: &str) -> Result<Config, ConfigError> {
        let c: Config = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: name.to_string(),
            message: e.to_string(),
        })?;
        c.validate()?;
        Ok(c)
    }

    /// Checks every limit at start: a zero or absurd value is refused with a message that
    /// names the key, instead of a sensor that silently keeps nothing or overflows.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |m: &str| Err(ConfigError::Invalid(m.to_string()));
        if self.sensor_id.is_empty() {
            return bad("sensor_id must not be empty");
        }
        self.export.validate().map_err(ConfigError::Invalid)?;
        if let Some(l) = &self.status.metrics_listen {
            match l.parse::<std::net::SocketAddr>() {
                Err(_) => return bad("status.metrics_listen must be an address:port"),
                Ok(a) if !a.ip().is_loopback() && !self.status.metrics_allow_remote => {
                    return bad(
                        "status.metrics_listen is not a loopback address: set status.metrics_allow_remote = true to serve metrics to other hosts",
                    )
                }
                Ok(_) => {}
            }
        }
        if !matches!(self.capture.method.as_str(), "afpacket" | "libpcap") {
            return bad("capture.method must be \"afpacket\" or \"libpcap\"");
        }
        let c = &self.capture;
        let f = &self.flow;
        let d = &self.defrag;
        let r = &self.reassembly;
        let timeout = (1, MAX_TIMEOUT_S, "seconds (1 to a week)");
        let limits: [(&str, u64, (u64, u64, &str)); 27] = [
            (
                "workers",
                self.workers as u64,
                (0, 1024, "(0 = one per core)"),
            ),
            (
                "capture.ring_block_size",
                u64::from(c.ring_block_size),
                (4096, 1 << 30, "bytes"),
            ),
            (
                "capture.ring_blocks",
                u64::from(c.ring_blocks),
                (1, 65_536, "blocks"),
            ),
            (
                "capture.snaplen",
                u64::from(c.snaplen),
                (64, 256 << 10, "bytes"),
            ),
            (
                "capture.max_decompressed_bytes",
                c.max_decompressed_bytes,
                (1 << 10, 1 << 44, "bytes"),
            ),
            (
                "decode.max_tunnel_depth",
                u64::from(self.decode.max_tunnel_depth),
                (
                    1,
                    16,
                    "(to not decapsulate at all, set decode.decap_tunnels = false)",
                ),
            ),
            (
                "decode.vxlan_port",
                u64::from(self.decode.vxlan_port),
                (1, 65_535, ""),
            ),
            ("flow.max_flows", f.max_flows as u64, (1, 1 << 28, "flows")),
            ("flow.tcp_new_timeout", f.tcp_new_timeout, timeout),
            (
                "flow.tcp_established_timeout",
                f.tcp_established_timeout,
                timeout,
            ),
            ("flow.tcp_closed_timeout", f.tcp_closed_timeout, timeout),
            ("flow.udp_new_timeout", f.udp_new_timeout, timeout),
            (
                "flow.udp_established_timeout",
                f.udp_established_timeout,
                timeout,
            ),
            ("flow.icmp_timeout", f.icmp_timeout, timeout),
            ("flow.other_timeout", f.other_timeout, timeout),
            ("flow.emergency_divisor", f.emergency_divisor, (1, 1000, "")),
            (
                "defrag.memcap",
                d.memcap as u64,
                (64 << 10, 1 << 40, "bytes (at least one whole datagram)"),
            ),
            ("defrag.timeout", d.timeout, (1, 3600, "seconds")),
            (
                "defrag.max_fragments",
                d.max_fragments as u64,
                (1, 8192, "fragments per datagram"),
            ),
            (
                "defrag.max_trackers",
                d.max_trackers as u64,
                (1, 1 << 24, "datagrams"),
            ),
            (
                "reassembly.max_buffered_per_dir",
                r.max_buffered_per_dir as u64,
                (1, 1 << 32, "bytes"),
            ),
            (
                "reassembly.memcap",
                r.memcap as u64,
                (64 << 10, 1 << 40, "bytes"),
            ),
            (
                "enrich.max_dns_names",
                self.enrich.max_dns_names as u64,
                (0, 1 << 26, "names"),
            ),
            (
                "enrich.max_learned_values",
                self.enrich.max_learned_values as u64,
                (1, 1 << 26, "values"),
            ),
            (
                "output.status_interval",
                self.output.status_interval,
                (0, 86_400, "seconds (0 = only at start and stop)"),
            ),
            (
                "detect.suppress_window",
                self.detect.suppress_window,
                (0, 7 * 86_400, "seconds (0 = write every hit)"),
            ),
            (
                "detect.max_groups",
                self.detect.max_groups as u64,
                (1, 1 << 24, "groups"),
            ),
        ];
        for (key, v, (min, max, unit)) in limits {
            if v < min || v > max {
                return Err(ConfigError::Invalid(format!(
                    "{key} = {v}: must be from {min} to {max} {unit}"
                )));
            }
        }
        if !c.ring_block_size.is_multiple_of(4096) {
            return bad("capture.ring_block_size must be a multiple of 4096 (the page size)");
        }
        if r.max_buffered_per_dir > r.memcap {
            return bad("reassembly.max_buffered_per_dir must not exceed reassembly.memcap");
        }
        Ok(())
    }

    /// Worker count with 0 resolved to the number of cores.
    pub fn worker_count(&self) -> usize {
        if self.workers == 0 {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        } else {
            self.workers
        }
    }
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
}

impl Default for IntelConfig {
    fn default() -> Self {
        IntelConfig {
            dirs: Vec::new(),
            paths: Vec::new(),
            types: BTreeMap::new(),
            check_interval: 5,
        }
    }
}

impl IntelConfig {
    /// Whether any feed is configured.
    pub fn is_configured(&self) -> bool {
        !self.dirs.is_empty() || !self.paths.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate() {
        Config::default().validate().unwrap();
        assert_eq!(Config::default().home_net.len(), 5);
    }

    #[test]
    fn toml_overrides_and_rejects_unknown() {
        let c = Config::from_toml(
            "sensor_id = \"s1\"\nworkers = 3\nhome_net = [\"192.0.2.0/24\"]\n[flow]\nmax_flows = 10\n",
            "t.toml",
        )
        .unwrap();
        assert_eq!(c.sensor_id, "s1");
        assert_eq!(c.workers, 3);
        assert_eq!(c.flow.max_flows, 10);
        assert_eq!(c.flow.udp_new_timeout, 30);
        let e = Config::from_toml("[flow]\nmax_flow = 10\n", "t.toml").unwrap_err();
        assert!(e.to_string().contains("max_flow"), "{e}");
        let e = Config::from_toml("[flow]\nmax_flows = 0\n", "t.toml").unwrap_err();
        assert!(e.to_string().contains("max_flows"), "{e}");
    }

    /// Every limit refuses zero (where zero means nothing) and absurd values, naming the key.
    #[test]
    fn limits_are_checked_and_named() {
        let cases = [
            "[decode]\nmax_tunnel_depth = 0",
            "[decode]\nmax_tunnel_depth = 200",
            "[decode]\nvxlan_port = 0",
            "workers = 5000",
            "[capture]\nring_block_size = 0",
            "[capture]\nring_block_size = 5000",
            "[capture]\nring_blocks = 0",
            "[capture]\nsnaplen = 0",
            "[capture]\nsnaplen = 10000000",
            "[capture]\nmax_decompressed_bytes = 0",
            "[flow]\nmax_flows = 0",
            "[flow]\ntcp_new_timeout = 0",
            "[flow]\ntcp_established_timeout = 0",
            "[flow]\ntcp_closed_timeout = 0",
            "[flow]\nudp_new_timeout = 0",
            "[flow]\nudp_established_timeout = 99999999999",
            "[flow]\nicmp_timeout = 0",
            "[flow]\nother_timeout = 0",
            "[flow]\nemergency_divisor = 0",
            "[defrag]\nmemcap = 0",
            "[defrag]\ntimeout = 0",
            "[defrag]\nmax_fragments = 0",
            "[defrag]\nmax_trackers = 0",
            "[reassembly]\nmax_buffered_per_dir = 0",
            "[reassembly]\nmemcap = 0",
            "[reassembly]\nmax_buffered_per_dir = 1048576\nmemcap = 65536",
            "[enrich]\nmax_dns_names = 1000000000",
            "[output]\nstatus_interval = 10000000",
            "[detect]\nmax_groups = 0",
            "[detect]\nsuppress_window = 99999999",
        ];
        for text in cases {
            let key = text
                .lines()
                .last()
                .and_then(|l| l.split(" = ").next())
                .unwrap();
            let e = Config::from_toml(text, "t.toml").unwrap_err();
            assert!(
                matches!(e, ConfigError::Invalid(_)) && e.to_string().contains(key),
                "{text}: {e}"
            );
        }
        // The documented meanings of zero stay accepted.
        for ok in [
            "workers = 0",
            "[reassembly]\ndepth = 0",
            "[output]\nstatus_interval = 0",
            "[enrich]\nmax_dns_names = 0",
            "[files]\nextract_max_size = 0",
            "[decode]\nmax_tunnel_depth = 1",
            "[detect]\nsuppress_window = 0",
        ] {
            Config::from_toml(ok, "t.toml").unwrap();
        }
    }

    #[test]
    fn the_deployed_configuration_validates() {
        let text = include_str!("../../deploy/tapir.toml");
        Config::from_toml(text, "deploy/tapir.toml").unwrap();
    }
}
