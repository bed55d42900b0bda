//! Sensor status: what the sensor did, what it dropped and which limits it reached, gathered
//! from every worker into `sensor_status` records (at start, every `output.status_interval`
//! seconds, and at stop) and, when `output.metrics_path` is set, a Prometheus text file.
//!
//! Workers (and, in replay, the dispatcher) send a [`Snapshot`] of their cumulative counters
//! down the record channel when a status period ends on their clock, right after the records of
//! that period. The output stage's [`Reporter`] keeps the latest snapshot of every source and
//! writes a record once all of them have passed the period, so one record's counters belong
//! together. The stop record is built from the final counters, after every record was written.

mod counters;
pub mod health;
pub mod http;
pub mod logging;
mod metrics;
pub mod notify;
mod system;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use crate::capture::CaptureStats;
use crate::config::Config;
use crate::decode::defrag::DefragStats;
use crate::enrich::DnsCache;
use crate::export::OutputStats;
use crate::files::extract::{self, ExtractStats};
use crate::record::sensor_status::{
    AlgorithmTime, DecodeBlock, FlowsBlock, HealthBlock, InterfaceBlock, LimitHit, MemcapHealth,
    MemoryBlock, RecordsBlock, SinkLag, SocketHealth, StatsBlock, StatusBody, TcpBlock,
};
use crate::record::{rfc3339_micros, Body, Record};
use crate::vocab::AppProto;

pub use counters::WorkerStats;
pub use system::{disk_usage, memory_usage, MemoryUsage};

/// Wall-clock time in nanoseconds since the Unix epoch.
pub fn wall_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

/// What every worker shares that status records read besides the snapshots: the DNS cache
/// (its size and drops) and the file extractor (its counters).
#[derive(Clone)]
pub struct SharedGauges {
    pub dns_cache: Arc<DnsCache>,
    pub extractor: Option<extract::Shared>,
    pub intel: Option<crate::enrich::intel::IntelHandle>,
    /// The statistics store writer's counters (when statistics are on).
    pub stats: Option<Arc<crate::stats::StatsGauges>>,
    /// The live capture's interface (live AF_PACKET capture only).
    pub link: Option<Arc<crate::capture::LinkHealth>>,
}

impl SharedGauges {
    /// The extractor's counters, when extraction is on.
    pub fn extract_stats(&self) -> Option<ExtractStats> {
        let x = self.extractor.as_ref()?;
        x.lock().ok().map(|x| x.stats().clone())
    }
}

/// One source's cumulative counters at `now_ns` (its clock: packet time in replay).
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    pub now_ns: u64,
    pub workers: WorkerStats,
    pub capture: CaptureStats,
    /// Fragments handled by the replay dispatcher (workers count their own in `workers`).
    pub defrag: DefragStats,
    pub active_flows: u64,
    /// Bytes held by TCP reassembly and by IP defragmentation right now.
    pub reassembly_bytes: u64,
    pub defrag_bytes: u64,
    /// Each capture source's own counters (live: one per AF_PACKET socket).
    pub sockets: Vec<CaptureStats>,
}

impl Snapshot {
    /// Adds another source's snapshot (the latest clock wins). Every field is named (no `..`):
    /// a new counter that is not summed does not compile.
    pub fn add(&mut self, o: &Snapshot) {
        let Snapshot {
            now_ns,
            workers,
            capture,
            defrag,
            active_flows,
            reassembly_bytes,
            defrag_bytes,
            sockets,
        } = o;
        self.now_ns = self.now_ns.max(*now_ns);
        self.workers.add(workers);
        self.capture.add(capture);
        self.defrag.add(defrag);
        self.active_flows += active_flows;
        self.reassembly_bytes += reassembly_bytes;
        self.defrag_bytes += defrag_bytes;
        self.sockets.extend_from_slice(sockets);
    }
}

/// Every configured cap reported in `limits[]`, with its value.
pub fn configured_limits(cfg: &Config) -> Vec<(&'static str, u64)> {
    vec![
        ("flow.max_flows", cfg.flow.max_flows as u64),
        ("reassembly.memcap", cfg.reassembly.memcap as u64),
        (
            "reassembly.max_buffered_per_dir",
            cfg.reassembly.max_buffered_per_dir as u64,
        ),
        ("reassembly.depth", cfg.reassembly.depth),
        ("defrag.memcap", cfg.defrag.memcap as u64),
        ("defrag.max_fragments", cfg.defrag.max_fragments as u64),
        ("enrich.max_dns_names", cfg.enrich.max_dns_names as u64),
        (
            "enrich.max_learned_values",
            cfg.enrich.max_learned_values as u64,
        ),
        ("files.extract_max_size", cfg.files.extract_max_size),
        ("files.extract_disk_cap", cfg.files.extract_disk_cap),
        ("files.inspect_memcap", cfg.files.inspect_memcap as u64),
        ("detect.max_groups", cfg.detect.max_groups as u64),
        ("stats.max_domains", cfg.stats.max_domains as u64),
        ("stats.max_fqdns", cfg.stats.max_fqdns as u64),
        ("stats.max_files", cfg.stats.max_files as u64),
        ("stats.max_hosts", cfg.stats.max_hosts as u64),
    ]
}

/// How often each configured cap was reached, from the workers' counters, the replay
/// dispatcher's defragmenter, the shared DNS cache and the extractor: what status records and
/// the end-of-run summary show.
pub fn limit_hits(
    limits: &[(&'static str, u64)],
    w: &WorkerStats,
    dispatcher_defrag: &DefragStats,
    shared: &SharedGauges,
    x: &ExtractStats,
) -> Vec<LimitHit> {
    let stats_cap = |table: fn(&crate::stats::TableGauges) -> &std::sync::atomic::AtomicU64| {
        shared.stats.as_ref().map_or(0, |g| {
            table(&g.cap_evictions).load(std::sync::atomic::Ordering::Relaxed)
        })
    };
    let hits = |name: &str| -> u64 {
        match name {
            "flow.max_flows" => {
                w.flow.cap_drops + w.flow.emergency_evictions + w.flow.evicted_idle_no_data
            }
            "reassembly.memcap" => w.reasm.memcap_drops,
            "reassembly.max_buffered_per_dir" => w.reasm.buffer_cap_drops,
            "reassembly.depth" => w.reasm.depth_reached,
            "defrag.memcap" => dispatcher_defrag.memcap_drops + w.defrag.memcap_drops,
            "defrag.max_fragments" => {
                dispatcher_defrag.too_many_fragments + w.defrag.too_many_fragments
            }
            "enrich.max_dns_names" => shared.dns_cache.dropped(),
            "enrich.max_learned_values" => w.learned.dropped,
            "files.extract_max_size" => x.skipped_size,
            "files.extract_disk_cap" => x.disk_cap_hits,
            "files.inspect_memcap" => w.inspect_released,
            "stats.max_domains" => stats_cap(|g| &g.domains),
            "stats.max_fqdns" => stats_cap(|g| &g.fqdns),
            "stats.max_files" => stats_cap(|g| &g.files),
            "stats.max_hosts" => stats_cap(|g| &g.hosts),
            _ => 0,
        }
    };
    limits
        .iter()
        .map(|&(name, limit)| LimitHit {
            name,
            limit,
            hits: hits(name),
        })
        .collect()
}

/// The correlation stage counts its own cap (`detect.max_groups`): set its hits.
pub fn set_detect_hits(
    limits: &mut [LimitHit],
    detect: Option<&crate::record::detection::DetectStatus>,
) {
    if let (Some(l), Some(d)) = (
        limits.iter_mut().find(|l| l.name == "detect.max_groups"),
        detect,
    ) {
        l.hits = d.group_cap_hits;
    }
}

/// Everything the stop record needs beyond what the reporter saw.
#[derive(Debug, Default)]
pub struct FinalStatus {
    pub snap: Snapshot,
    /// Capture errors and other failures met on the way.
    pub errors: Vec<String>,
    /// Why the sensor stopped ("end of capture", "interrupted").
    pub reason: String,
}

/// Builds the status records in the output stage (sans-IO but for the clocks it is given and
/// the memory/disk readings).
pub struct Reporter {
    shared: SharedGauges,
    cfg_limits: Vec<(&'static str, u64)>,
    interval_ns: u64,
    latest: Vec<Option<Snapshot>>,
    emitted_period: Option<u64>,
    first_period: Option<u64>,
    tolerate_silent: bool,
    period_start_ns: Option<u64>,
    last_event_ns: Option<u64>,
    started: Instant,
    started_sent: bool,
    start_message: String,
    disk_path: PathBuf,
    metrics_path: Option<PathBuf>,
    sensor_id: String,
    /// Failures of the status machinery itself (metrics file), reported once each.
    pending_errors: Vec<String>,
    metrics_failed: bool,
    /// The interface's down and recovery counts at the previous record (to name changes).
    link_seen: (u64, u64),
    /// The correlation stage's counters (with detection rules), as of the last update.
    detect: Option<crate::record::detection::DetectStatus>,
    /// The rule and feed files loaded, SIGHUP reloads, and settings that need a restart.
    versions: Vec<crate::record::sensor_status::FileVersion>,
    reloads: u64,
    needs_restart: Vec<String>,
    /// The metrics HTTP endpoint is on (`status.metrics_listen`).
    serve_metrics: bool,
}

impl Reporter {
    /// `sources`: how many snapshot senders there are (workers, plus the replay dispatcher).
    pub fn new(cfg: &Config, shared: SharedGauges, sources: usize, mode: &str) -> Reporter {
        let out_dir = cfg
            .output
            .path
            .as_deref()
            .filter(|p| *p != "-" && *p != "none")
            .map(PathBuf::from)
            .and_then(|p| p.parent().map(|d| d.to_path_buf()))
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or_else(|| PathBuf::from("."));
        let cfg_limits = configured_limits(cfg);
        Reporter {
            shared,
            cfg_limits,
            interval_ns: cfg.output.status_interval.saturating_mul(1_000_000_000),
            latest: vec![None; sources.max(1)],
            emitted_period: None,
            first_period: None,
            tolerate_silent: mode == "live",
            period_start_ns: None,
            last_event_ns: None,
            started: Instant::now(),
            started_sent: false,
            start_message: format!(
                "tapir {} started: {mode}, {} workers, sensor {}",
                env!("CARGO_PKG_VERSION"),
                cfg.worker_count(),
                cfg.sensor_id
            ),
            disk_path: out_dir,
            metrics_path: cfg.output.metrics_path.as_ref().map(PathBuf::from),
            sensor_id: cfg.sensor_id.clone(),
            pending_errors: Vec::new(),
            metrics_failed: false,
            link_seen: (0, 0),
            detect: None,
            versions: health::loaded_versions(cfg),
            reloads: 0,
            needs_restart: Vec::new(),
            serve_metrics: cfg.status.metrics_listen.is_some(),
        }
    }

    /// A SIGHUP reload happened: the versions of the files now loaded, and the settings that
    /// changed but only apply after a restart.
    pub fn reloaded(
        &mut self,
        versions: Vec<crate::record::sensor_status::FileVersion>,
        needs_restart: Vec<String>,
    ) {
        self.versions = versions;
        self.reloads += 1;
        self.needs_restart = needs_restart;
    }

    /// The detection stage's counters for the next status record.
    pub fn set_detect(&mut self, d: crate::record::detection::DetectStatus) {
        self.detect = Some(d);
    }

    /// Notes the event times of records about to be written.
    pub fn observe(&mut self, batch: &[Record]) {
        if let Some(t) = batch.iter().map(|r| r.ts_ns).max() {
            self.last_event_ns = Some(self.last_event_ns.map_or(t, |l| l.max(t)));
        }
    }

    /// The start record, at the sensor clock's first reading.
    pub fn started(&mut self, now_ns: u64, out: &OutputStats) -> Option<Record> {
        if self.started_sent {
            return None;
        }
        self.started_sent = true;
        self.period_start_ns = Some(now_ns);
        let msg = self.start_message.clone();
        let rec = self.record(
            "start",
            now_ns,
            &Snapshot::default(),
            out,
            Vec::new(),
            vec![msg],
        );
        Some(rec)
    }

    /// A source's snapshot; returns a periodic record when every source has passed a period.
    pub fn snapshot(&mut self, source: usize, snap: Snapshot, out: &OutputStats) -> Option<Record> {
        if self.interval_ns == 0 {
            return None;
        }
        let period = snap.now_ns / self.interval_ns;
        let slot = self.latest.get_mut(source)?;
        *slot = Some(snap);
        let first = *self.first_period.get_or_insert(period);
        // A source's period is that of its latest snapshot; one that has not reported yet has
        // not passed anything.
        let interval = self.interval_ns;
        let at = |s: &Option<Snapshot>| {
            s.as_ref()
                .map_or(first.saturating_sub(1), |s| s.now_ns / interval)
        };
        let oldest = self.latest.iter().map(at).min().unwrap_or(0);
        let newest = self.latest.iter().map(at).max().unwrap_or(0);
        // Live, a source silent for two periods (a worker that died) does not hold the
        // others back; in replay every worker sees every tick, so all are waited for.
        let due = if self.tolerate_silent && newest >= oldest.saturating_add(2) {
            newest - 1
        } else {
            oldest
        };
        if due < first || self.emitted_period.is_some_and(|e| due <= e) {
            return None;
        }
        self.emitted_period = Some(due);
        let mut sum = Snapshot::default();
        for s in self.latest.iter().flatten() {
            sum.add(s);
        }
        let now = sum.now_ns;
        Some(self.record("periodic", now, &sum, out, Vec::new(), Vec::new()))
    }

    /// The stop record, from the final counters.
    pub fn finish(&mut self, fin: FinalStatus, out: &OutputStats) -> Vec<Record> {
        let mut recs = Vec::new();
        let now = if fin.snap.now_ns > 0 {
            fin.snap.now_ns
        } else {
            wall_ns()
        };
        if let Some(r) = self.started(now, out) {
            recs.push(r);
        }
        let reason = if fin.reason.is_empty() {
            "stopped".to_string()
        } else {
            format!("stopped: {}", fin.reason)
        };
        let mut errors = fin.errors;
        if let Some(x) = self.shared.extract_stats() {
            if x.errors > 0 {
                errors.push(format!("file extraction: {} write errors", x.errors));
            }
        }
        let mut out_now = out.clone();
        // The stop record counts itself.
        *out_now.by_type.entry("sensor_status").or_insert(0) += 1;
        out_now.records += 1;
        recs.push(self.record("stop", now, &fin.snap, &out_now, errors, vec![reason]));
        recs
    }

    /// The interface block of a live capture; a change since the previous record is named in
    /// `errors` (went down) and `messages` (came back).
    fn interface_block(
        &mut self,
        errors: &mut Vec<String>,
        messages: &mut Vec<String>,
    ) -> Option<InterfaceBlock> {
        let l = self.shared.link.as_ref()?.status();
        let (downs, ups) = self.link_seen;
        if l.down_events > downs {
            let times = l.down_events - downs;
            errors.push(format!(
                "capture interface {} went down ({}){}",
                l.interface,
                l.last_reason.as_deref().unwrap_or("unknown reason"),
                if times > 1 {
                    format!(", {times} times since the previous status record")
                } else {
                    String::new()
                }
            ));
        }
        if l.recoveries > ups {
            messages.push(format!(
                "capture interface {} is up again: capture resumed",
                l.interface
            ));
        }
        if l.down {
            messages.push(format!(
                "capture interface {} is down: waiting for it to come back",
                l.interface
            ));
        }
        self.link_seen = (l.down_events, l.recoveries);
        Some(InterfaceBlock {
            name: l.interface,
            state: if l.down { "down" } else { "up" },
            down_events: l.down_events,
            recoveries: l.recoveries,
            reopened: l.reopened,
            last_down_reason: l.last_reason,
        })
    }

    /// `sensor_status.health`, from the snapshot and the blocks already built.
    fn health(
        &self,
        s: &Snapshot,
        limits: &[LimitHit],
        out: &OutputStats,
        stats: Option<&StatsBlock>,
    ) -> HealthBlock {
        let spool = out.export.as_ref().and_then(|e| e.spool.as_ref());
        let memcaps = limits
            .iter()
            .filter_map(|l| {
                let used = match l.name {
                    "flow.max_flows" => Some(s.active_flows),
                    "reassembly.memcap" => Some(s.reassembly_bytes),
                    "defrag.memcap" => Some(s.defrag_bytes),
                    "enrich.max_dns_names" => Some(self.shared.dns_cache.len() as u64),
                    "files.inspect_memcap" | "files.extract_disk_cap" => None,
                    "stats.max_domains" => stats.map(|b| b.domains),
                    "stats.max_fqdns" => stats.map(|b| b.fqdns),
                    "stats.max_files" => stats.map(|b| b.files),
                    "stats.max_hosts" => stats.map(|b| b.hosts),
                    "export.spool.max_bytes" => spool.map(|sp| sp.bytes),
                    _ => return None,
                };
                Some(MemcapHealth {
                    name: l.name,
                    used,
                    cap: l.limit,
                    hits: l.hits,
                })
            })
            .collect();
        HealthBlock {
            capture_sockets: s
                .sockets
                .iter()
                .enumerate()
                .map(|(i, c)| SocketHealth {
                    socket: i,
                    packets: c.packets,
                    dropped: c.dropped,
                    ring_fill_peak_pct: (c.ring_blocks > 0)
                        .then(|| c.ring_full_peak.saturating_mul(100) / c.ring_blocks),
                })
                .collect(),
            memcaps,
            spool_bytes: spool.map(|sp| sp.bytes),
            sinks: out
                .export
                .iter()
                .flat_map(|e| e.sinks.iter())
                .map(|k| SinkLag {
                    name: k.name.clone(),
                    lag_records: k.pending.unwrap_or(0),
                    state: k.state,
                })
                .collect(),
            versions: self.versions.clone(),
            needs_restart: self.needs_restart.clone(),
            reloads: self.reloads,
            last_errors: health::last_errors(),
            log_suppressed: health::suppressed_log_lines(),
        }
    }

    fn record(
        &mut self,
        kind: &'static str,
        now_ns: u64,
        s: &Snapshot,
        out: &OutputStats,
        mut errors: Vec<String>,
        mut messages: Vec<String>,
    ) -> Record {
        errors.append(&mut self.pending_errors);
        let interface = self.interface_block(&mut errors, &mut messages);
        let w = &s.workers;
        let mem = memory_usage();
        let disk = disk_usage(&self.disk_path);
        let x = self.shared.extract_stats().unwrap_or_default();
        let limits = limit_hits(&self.cfg_limits, w, &s.defrag, &self.shared, &x);
        let mut limits = limits;
        set_detect_hits(&mut limits, self.detect.as_ref());
        if let Some(sp) = out.export.as_ref().and_then(|e| e.spool.as_ref()) {
            limits.push(crate::record::sensor_status::LimitHit {
                name: "export.spool.max_bytes",
                limit: sp.max_bytes,
                hits: sp.dropped_records,
            });
        }
        for s in out.export.iter().flat_map(|e| e.sinks.iter()) {
            if s.state == Some("failing") {
                errors.push(format!(
                    "export sink {} ({}) failing: {}",
                    s.name,
                    s.target,
                    s.last_error.as_deref().unwrap_or("?")
                ));
            }
        }
        let anomalies = w.all_anomalies(&s.defrag, &s.capture);
        let algorithms = AppProto::ALL
            .iter()
            .zip(w.app_time_ns.iter().zip(w.app_calls.iter()))
            .filter(|(_, (_, &calls))| calls > 0)
            .map(|(p, (&ns, &calls))| AlgorithmTime {
                name: if *p == AppProto::Unknown {
                    "detect"
                } else {
                    p.as_str()
                },
                run_time_ms: (ns as f64 / 1e3).round() / 1e3,
                calls,
            })
            .collect();
        let mut algorithms: Vec<AlgorithmTime> = algorithms;
        let ms = |ns: u64| (ns as f64 / 1e3).round() / 1e3;
        if w.rules_calls > 0 {
            algorithms.push(AlgorithmTime {
                name: "detection_rules",
                run_time_ms: ms(w.rules_time_ns),
                calls: w.rules_calls,
            });
        }
        if let Some(d) = self.detect.as_ref().filter(|d| d.correlate_calls > 0) {
            algorithms.push(AlgorithmTime {
                name: "detection_correlate",
                run_time_ms: ms(d.correlate_ns),
                calls: d.correlate_calls,
            });
        }
        let stats = self.shared.stats.as_ref().map(|g| {
            use std::sync::atomic::Ordering::Relaxed;
            let b = StatsBlock {
                domains: g.domains.load(Relaxed),
                fqdns: g.fqdns.load(Relaxed),
                files: g.files.load(Relaxed),
                hosts: g.hosts.load(Relaxed),
                aged_out: g.aged.load(Relaxed),
                evictions: g.evicted.load(Relaxed),
                commits: g.commits.load(Relaxed),
                commit_errors: g.commit_errors.load(Relaxed),
                entries_merged: g.merged.load(Relaxed),
                write_ms: (g.write_ns.load(Relaxed) as f64 / 1e3).round() / 1e3,
                early_handovers: g.early_handovers.load(Relaxed),
                view_resets: g.view_resets.load(Relaxed),
            };
            if b.commits > 0 {
                algorithms.push(AlgorithmTime {
                    name: "stats_store",
                    run_time_ms: b.write_ms,
                    calls: b.commits,
                });
            }
            if b.commit_errors > 0 {
                errors.push(format!(
                    "statistics store: {} commits failed",
                    b.commit_errors
                ));
            }
            b
        });
        let health = self.health(s, &limits, out, stats.as_ref());
        let start = self.period_start_ns.unwrap_or(now_ns);
        self.period_start_ns = Some(now_ns);
        let body = StatusBody {
            kind,
            period_start: rfc3339_micros(start),
            period_end: rfc3339_micros(now_ns),
            uptime_s: (self.started.elapsed().as_secs_f64() * 1e3).round() / 1e3,
            last_event_time: self.last_event_ns.map(rfc3339_micros),
            disk_free_bytes: disk.map(|d| d.0),
            disk_used_bytes: disk.map(|d| d.1),
            memory: MemoryBlock {
                rss_bytes: mem.map(|m| m.rss_bytes),
                peak_rss_bytes: mem.map(|m| m.peak_rss_bytes),
                flows: s.active_flows,
                reassembly_bytes: s.reassembly_bytes,
                defrag_bytes: s.defrag_bytes,
                dns_cache_names: self.shared.dns_cache.len() as u64,
            },
            capture: s.capture,
            decode: DecodeBlock {
                non_ip: w.non_ip,
                malformed: w.malformed,
                fragments: s.defrag.fragments + w.defrag.fragments,
                datagrams_rebuilt: s.defrag.reassembled + w.defrag.reassembled,
            },
            flows: FlowsBlock {
                active: s.active_flows,
                created: w.flow.created,
                ended: w.flow.ended,
                peak: w.flow.peak,
                timeouts: w.flow.timeouts,
            },
            tcp: TcpBlock {
                segments: w.reasm.segments,
                out_of_order: w.reasm.out_of_order,
                retransmissions: w.reasm.retransmissions,
                gaps: w.reasm.gaps,
                gap_bytes: w.reasm.gap_bytes,
                delivered_bytes: w.reasm.delivered_bytes,
                depth_dropped_bytes: w.reasm.depth_dropped_bytes,
                discarded_bytes: w.reasm.discarded_bytes,
            },
            records: RecordsBlock {
                written: out.records,
                by_type: out.by_type.clone(),
            },
            limits,
            anomalies,
            algorithms,
            stats,
            errors,
            messages,
            intel: self.shared.intel.as_ref().map(|h| h.status()),
            interface,
            extract: self.shared.extract_stats(),
            detect: self.detect.clone(),
            export: out.export.clone(),
            health,
        };
        // Rendered once for the endpoint and the file.
        let text = (self.serve_metrics || self.metrics_path.is_some())
            .then(|| metrics::render(&self.sensor_id, &body));
        if let (true, Some(t)) = (self.serve_metrics, &text) {
            http::set_text(t.clone());
        }
        if let (Some(path), Some(t)) = (&self.metrics_path, &text) {
            if let Err(e) = metrics::write(path, t) {
                if !self.metrics_failed {
                    self.metrics_failed = true;
                    let msg = format!("cannot write metrics to {}: {e}", path.display());
                    tracing::error!("{msg}");
                    self.pending_errors.push(msg);
                }
            }
        }
        Record {
            intel: Vec::new(),
            parent: None,
            ts_ns: now_ns,
            flow: None,
            body: Body::SensorStatus(Box::new(body)),
        }
    }
}
