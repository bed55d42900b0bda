//! One typed configuration, read from TOML; every option can also be set on the command line
//! (the CLI overrides the file). Defaults are what a Suricata or Zeek user would expect.

use std::path::Path;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

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
    pub stats: StatsSection,
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
            stats: StatsSection::default(),
        }
    }
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
}

impl Default for FilesSection {
    fn default() -> Self {
        FilesSection {
            extract_dir: None,
            extract_formats: Vec::new(),
            extract_max_size: 100 << 20,
            extract_disk_cap: 1 << 30,
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
    /// Keep statistics (and add `file.frequency` to `file` records).
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
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct EnrichSection {
    /// Host names whose DNS answers are kept for `http.target_ips` (all workers together).
    pub max_dns_names: usize,
}

impl Default for EnrichSection {
    fn default() -> Self {
        EnrichSection {
            max_dns_names: 200_000,
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

    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |m: &str| Err(ConfigError::Invalid(m.to_string()));
        if self.flow.max_flows == 0 {
            return bad("flow.max_flows must be at least 1");
        }
        if self.flow.emergency_divisor == 0 {
            return bad("flow.emergency_divisor must be at least 1");
        }
        if self.workers > 1024 {
            return bad("workers must be at most 1024");
        }
        if self.sensor_id.is_empty() {
            return bad("sensor_id must not be empty");
        }
        if !matches!(self.capture.method.as_str(), "afpacket" | "libpcap") {
            return bad("capture.method must be \"afpacket\" or \"libpcap\"");
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
}
