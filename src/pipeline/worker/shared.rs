//! The settings every worker shares, mapped once from the configuration: decoder, flow table,
//! defragmenter and reassembly limits (the memory caps split across workers), home networks,
//! and the sensor-wide DNS cache and file extractor.

use std::net::IpAddr;
use std::sync::Arc;

use crate::config::Config;
use crate::decode::defrag::DefragConfig;
use crate::decode::DecodeConfig;
use crate::flow::tcp::ReassemblyConfig;

/// Settings every worker shares (read-only).
pub struct WorkerShared {
    pub decode: DecodeConfig,
    pub flow: crate::config::FlowSection,
    pub max_flows_per_worker: usize,
    pub defrag: DefragConfig,
    pub reasm: ReassemblyConfig,
    pub reasm_memcap: usize,
    /// This worker's share of `files.inspect_memcap`.
    pub inspect_memcap: usize,
    pub home_net: Vec<ipnet::IpNet>,
    /// Names → addresses from DNS answers, for `http.target_ips`.
    pub dns_cache: Arc<crate::enrich::DnsCache>,
    /// File extraction, when configured (one disk cap for all workers).
    pub extractor: Option<crate::files::extract::Shared>,
    /// Threat-intel feeds (`[intel]`, `--intel`), when any.
    pub intel: Option<crate::enrich::intel::IntelHandle>,
    /// Application-layer parsers on (`proto.parsers`).
    pub parsers: bool,
    /// `output.status_interval` in nanoseconds (0: status records only at start and stop).
    pub status_interval_ns: u64,
    /// Network statistics, when on (set by the caller after opening the store).
    pub stats: Option<Arc<crate::stats::StatsShared>>,
    /// Caps of passive learning (`enrich.max_learned_values`).
    pub learned_caps: crate::enrich::LearnedCaps,
    /// Detection rules (`[detect]`, `--rules`), when any (set by the caller after loading).
    /// Replaced live by a SIGHUP reload (`detect::live`).
    pub rules: Option<Arc<crate::detect::live::LiveRules>>,
}

impl WorkerShared {
    pub fn from_config(
        cfg: &Config,
        workers: usize,
        intel: Option<crate::enrich::intel::IntelHandle>,
    ) -> WorkerShared {
        let w = workers.max(1);
        WorkerShared {
            decode: DecodeConfig {
                decap_tunnels: cfg.decode.decap_tunnels,
                max_tunnel_depth: cfg.decode.max_tunnel_depth,
                vxlan_port: cfg.decode.vxlan_port,
            },
            flow: cfg.flow.clone(),
            max_flows_per_worker: cfg.flow.max_flows.div_ceil(w),
            defrag: DefragConfig {
                memcap: cfg.defrag.memcap,
                timeout_ns: cfg.defrag.timeout.saturating_mul(1_000_000_000),
                max_fragments: cfg.defrag.max_fragments,
                max_trackers: cfg.defrag.max_trackers,
            },
            reasm: ReassemblyConfig {
                depth: cfg.reassembly.depth,
                max_buffered_per_dir: cfg.reassembly.max_buffered_per_dir,
            },
            reasm_memcap: cfg.reassembly.memcap / w,
            inspect_memcap: cfg.files.inspect_memcap / w,
            home_net: cfg.home_net.clone(),
            dns_cache: Arc::new(crate::enrich::DnsCache::new(cfg.enrich.max_dns_names)),
            parsers: cfg.proto.parsers,
            status_interval_ns: cfg.output.status_interval.saturating_mul(1_000_000_000),
            intel,
            stats: None,
            learned_caps: crate::enrich::LearnedCaps {
                max_values: cfg.enrich.max_learned_values,
                ..Default::default()
            },
            rules: None,
            extractor: cfg.files.extract_dir.as_ref().and_then(|_| {
                match crate::files::extract::Extractor::new(cfg.files.extract_config()) {
                    Ok(x) => Some(std::sync::Arc::new(std::sync::Mutex::new(x))),
                    Err(e) => {
                        tracing::error!("file extraction disabled: {e}");
                        None
                    }
                }
            }),
        }
    }

    /// What status records read of the shared state.
    pub fn gauges(&self) -> crate::status::SharedGauges {
        crate::status::SharedGauges {
            dns_cache: self.dns_cache.clone(),
            extractor: self.extractor.clone(),
            intel: self.intel.clone(),
            stats: self.stats.as_ref().map(|s| s.gauges.clone()),
            link: None,
        }
    }

    pub(super) fn is_home(&self, ip: IpAddr) -> bool {
        self.home_net.iter().any(|n| n.contains(&ip))
    }
}
