//! One worker: decode → (defrag) → flow → TCP reassembly → app detection → records.
//! A worker owns all of its state (shared-nothing); the same code serves replay (packets handed
//! over in batches by the dispatcher) and live capture (packets read from the worker's own ring).

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;

use crate::capture::Packet;
use crate::config::Config;
use crate::decode::defrag::{DefragConfig, DefragStats, Defragmenter};
use crate::decode::{decode, Anomaly, DecodeConfig, NotIp, L4};
use crate::flow::community_id::community_id;
use crate::flow::key::FlowKey;
use crate::flow::table::{EndReason, Flow, FlowStats, FlowTable};
use crate::flow::tcp::{DirStream, MemBudget, ReassemblyConfig, ReassemblyStats, StreamEvent};
use crate::pipeline::OutMsg;
use crate::proto::{
    self, AppParser, AppProto, Confidence, Direction, Emitted, ParseCtx, Transport,
};
use crate::record::{rfc3339_micros, Body, FlowBody, FlowRef, Record, TunnelInfo};

/// Most bytes of a direction's first payload kept for protocol detection.
const PROBE_BYTES: usize = 512;
/// Records collected before they are handed to the output stage.
const RECORD_BATCH: usize = 256;

/// Settings every worker shares (read-only).
pub struct WorkerShared {
    pub decode: DecodeConfig,
    pub flow: crate::config::FlowSection,
    pub max_flows_per_worker: usize,
    pub defrag: DefragConfig,
    pub reasm: ReassemblyConfig,
    pub reasm_memcap: usize,
    pub home_net: Vec<ipnet::IpNet>,
    /// Names → addresses from DNS answers, for `http.target_ips`.
    pub dns_cache: crate::enrich::DnsCache,
    /// File extraction, when configured (one disk cap for all workers).
    pub extractor: Option<crate::files::extract::Shared>,
    /// Application-layer parsers on (`proto.parsers`).
    pub parsers: bool,
    /// `output.status_interval` in nanoseconds (0: status records only at start and stop).
    pub status_interval_ns: u64,
    /// Threat-intel feeds (`[intel]`, `--intel`), when any.
    pub intel: Option<crate::enrich::intel::IntelHandle>,
}

impl WorkerShared {
    pub fn from_config(cfg: &Config, workers: usize) -> WorkerShared {
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
            home_net: cfg.home_net.clone(),
            dns_cache: crate::enrich::DnsCache::new(cfg.enrich.max_dns_names),
            parsers: cfg.proto.parsers,
            status_interval_ns: cfg.output.status_interval.saturating_mul(1_000_000_000),
            intel: cfg.intel.handle(),
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

    fn is_home(&self, ip: IpAddr) -> bool {
        self.home_net.iter().any(|n| n.contains(&ip))
    }
}

/// Everything a worker counted.
#[derive(Clone, Debug, Default)]
pub struct WorkerStats {
    pub packets: u64,
    pub bytes: u64,
    pub non_ip: u64,
    pub malformed: u64,
    /// Per [`Anomaly::ALL`] index.
    pub anomalies: [u64; Anomaly::ALL.len()],
    pub flow: FlowStats,
    pub defrag: DefragStats,
    pub reasm: ReassemblyStats,
    pub reasm_memcap_hits: u64,
    pub records: u64,
    /// Accounts, hosts, KDCs and names learnt from the records.
    pub learned: crate::enrich::Learned,
    /// Anomalies reported by application parsers, by name.
    pub app_anomalies: BTreeMap<&'static str, u64>,
    /// Time spent in the application layer (detection, parsers) and packets handed to it, per
    /// [`AppProto`] of the flow (`Unknown`: detection still running).
    pub app_time_ns: [u64; AppProto::COUNT],
    pub app_calls: [u64; AppProto::COUNT],
}

impl WorkerStats {
    /// Adds another worker's final counters, taking over what it learnt (no copy).
    pub fn absorb(&mut self, mut o: WorkerStats) {
        let learned = std::mem::take(&mut o.learned);
        self.add(&o);
        self.learned.merge(learned);
    }

    /// The counters without what was learnt (that goes to `--learned-out`, not to status
    /// records), keeping only its drop count.
    pub fn counters(&self) -> WorkerStats {
        let mut c = WorkerStats {
            learned: Default::default(),
            ..Default::default()
        };
        c.add_counters(self);
        c.learned.dropped = self.learned.dropped;
        c
    }

    pub fn add(&mut self, o: &WorkerStats) {
        self.add_counters(o);
        self.learned.merge(o.learned.clone());
    }

    fn add_counters(&mut self, o: &WorkerStats) {
        self.packets += o.packets;
        self.bytes += o.bytes;
        self.non_ip += o.non_ip;
        self.malformed += o.malformed;
        for (a, b) in self.anomalies.iter_mut().zip(o.anomalies.iter()) {
            *a += b;
        }
        self.flow.add(&o.flow);
        add_defrag(&mut self.defrag, &o.defrag);
        add_reasm(&mut self.reasm, &o.reasm);
        self.reasm_memcap_hits += o.reasm_memcap_hits;
        self.records += o.records;
        for (k, v) in &o.app_anomalies {
            *self.app_anomalies.entry(k).or_insert(0) += v;
        }
        for (a, b) in self.app_time_ns.iter_mut().zip(o.app_time_ns.iter()) {
            *a += b;
        }
        for (a, b) in self.app_calls.iter_mut().zip(o.app_calls.iter()) {
            *a += b;
        }
    }

    /// (name, count) of every non-zero anomaly counter, for summaries and status records.
    pub fn anomaly_counts(&self) -> Vec<(&'static str, u64)> {
        let mut v: Vec<(&'static str, u64)> = Anomaly::ALL
            .iter()
            .zip(self.anomalies.iter())
            .filter(|(_, &n)| n > 0)
            .map(|(a, &n)| (a.as_str(), n))
            .collect();
        let extra = [
            ("decode.malformed", self.malformed),
            ("flow.cap_drops", self.flow.cap_drops),
            ("flow.emergency_evictions", self.flow.emergency_evictions),
            ("stream.gaps", self.reasm.gaps),
            ("stream.overlap_conflicts", self.reasm.overlap_conflicts),
            ("stream.depth_reached", self.reasm.depth_reached),
            ("stream.memcap_drops", self.reasm.memcap_drops),
            ("stream.buffer_cap_drops", self.reasm.buffer_cap_drops),
        ];
        v.extend(
            defrag_anomalies(&self.defrag)
                .into_iter()
                .filter(|(_, n)| *n > 0),
        );
        v.extend(extra.into_iter().filter(|(_, n)| *n > 0));
        v.extend(self.app_anomalies.iter().map(|(k, n)| (*k, *n)));
        v
    }
}

impl WorkerStats {
    /// Every non-zero anomaly counter by name, with those of the replay dispatcher (its
    /// defragmenter) and of the capture source added in: what summaries and status records show.
    pub fn all_anomalies(
        &self,
        dispatcher_defrag: &DefragStats,
        capture: &crate::capture::CaptureStats,
    ) -> BTreeMap<&'static str, u64> {
        let mut m: BTreeMap<&'static str, u64> = BTreeMap::new();
        let more = defrag_anomalies(dispatcher_defrag)
            .into_iter()
            .chain([("capture.malformed", capture.malformed)]);
        for (k, v) in self.anomaly_counts().into_iter().chain(more) {
            if v > 0 {
                *m.entry(k).or_insert(0) += v;
            }
        }
        m
    }
}

fn defrag_anomalies(d: &DefragStats) -> [(&'static str, u64); 6] {
    [
        ("defrag.memcap_drops", d.memcap_drops),
        ("defrag.timeouts", d.timeouts),
        ("defrag.overlaps", d.overlaps),
        ("defrag.invalid", d.invalid),
        ("defrag.too_many_fragments", d.too_many_fragments),
        ("defrag.conflicting_overlaps", d.conflicting_overlaps),
    ]
}

pub(crate) fn add_defrag(a: &mut DefragStats, b: &DefragStats) {
    a.fragments += b.fragments;
    a.reassembled += b.reassembled;
    a.timeouts += b.timeouts;
    a.memcap_drops += b.memcap_drops;
    a.overlaps += b.overlaps;
    a.too_many_fragments += b.too_many_fragments;
    a.invalid += b.invalid;
}

fn add_reasm(a: &mut ReassemblyStats, b: &ReassemblyStats) {
    a.segments += b.segments;
    a.in_order += b.in_order;
    a.out_of_order += b.out_of_order;
    a.retransmissions += b.retransmissions;
    a.overlaps += b.overlaps;
    a.overlap_conflicts += b.overlap_conflicts;
    a.gaps += b.gaps;
    a.gap_bytes += b.gap_bytes;
    a.depth_reached += b.depth_reached;
    a.memcap_drops += b.memcap_drops;
    a.buffer_cap_drops += b.buffer_cap_drops;
}

/// Application-layer state of one flow.
#[derive(Debug, Default)]
pub struct FlowApp {
    /// The protocol's parser, once detection found one.
    parser: Option<Box<dyn AppParser>>,
    /// Reassembly and detection state while the TCP stream is being inspected.
    tcp: Option<Box<TcpApp>>,
    /// Inspection of this flow's payload is over (protocol found, or given up).
    done: bool,
    /// Low-confidence guess from content.
    guess: Option<AppProto>,
    /// Payload bytes seen (any direction).
    payload_seen: bool,
    gap_bytes: u64,
}

#[derive(Debug, Default)]
struct TcpApp {
    streams: [DirStream; 2],
    probe: [Vec<u8>; 2],
}

/// Where a worker's records (and status snapshots) go.
pub type RecordTx = crossbeam_channel::Sender<OutMsg>;

pub struct Worker {
    shared: Arc<WorkerShared>,
    table: FlowTable<FlowApp>,
    defrag: Defragmenter,
    mem: MemBudget,
    stats: WorkerStats,
    out: Vec<Record>,
    tx: RecordTx,
    /// Reused buffers for what parsers emit while one packet is handled.
    emitted: Vec<Emitted>,
    anomalies: Vec<&'static str>,
    /// Count tunnel carrier flows here (live); in replay the dispatcher does it.
    track_carriers: bool,
    /// This worker's index among the status sources.
    source: usize,
    /// Status period length (0: none) and the last period this worker's clock was in.
    status_interval_ns: u64,
    status_period: Option<u64>,
}

impl Worker {
    pub fn new(shared: Arc<WorkerShared>, tx: RecordTx) -> Worker {
        let status_interval_ns = shared.status_interval_ns;
        Worker {
            table: FlowTable::new(&shared.flow, shared.max_flows_per_worker),
            defrag: Defragmenter::new(shared.defrag),
            mem: MemBudget::new(shared.reasm_memcap),
            stats: WorkerStats::default(),
            out: Vec::with_capacity(RECORD_BATCH),
            tx,
            shared,
            emitted: Vec::new(),
            anomalies: Vec::new(),
            track_carriers: true,
            source: 0,
            status_interval_ns,
            status_period: None,
        }
    }

    /// Sets this worker's index among the status sources.
    pub fn with_source(mut self, source: usize) -> Worker {
        self.source = source;
        self
    }

    /// Sets up what the worker's thread needs (call first thing on that thread).
    pub fn enter_thread(&self) {
        crate::files::extract::install(self.shared.extractor.clone());
    }

    /// Leaves tunnel carrier flows to someone else (the replay dispatcher).
    pub fn without_carriers(mut self) -> Worker {
        self.track_carriers = false;
        self
    }

    /// Handles one packet. Fragments are reassembled here (live capture); in replay the
    /// dispatcher has already done it.
    pub fn packet(&mut self, pkt: &Packet<'_>) {
        self.stats.packets += 1;
        self.stats.bytes += u64::from(pkt.wire_len);
        let d = match decode(pkt.linktype, pkt.data, &self.shared.decode) {
            Ok(d) => d,
            Err(NotIp::NonIp) => {
                self.stats.non_ip += 1;
                return;
            }
            Err(NotIp::Malformed(a)) => {
                self.stats.malformed += 1;
                self.count_anomaly(a);
                return;
            }
        };
        if let Some(a) = d.anomaly {
            self.count_anomaly(a);
        }
        if d.frag.is_some() {
            if let Some(whole) = self.defrag.push(pkt.ts_ns, pkt.data, &d) {
                let p = Packet {
                    data: &whole,
                    wire_len: whole.len() as u32,
                    ..*pkt
                };
                // The rebuilt datagram is no fragment: this recursion is one level deep.
                self.stats.packets -= 1;
                self.stats.bytes -= u64::from(pkt.wire_len);
                self.packet(&p);
            }
            return;
        }
        self.flow_packet(pkt, &d);
    }

    fn count_anomaly(&mut self, a: Anomaly) {
        if let Some(i) = Anomaly::ALL.iter().position(|x| *x == a) {
            self.stats.anomalies[i] += 1;
        }
    }

    /// Counts a packet in the flow of the UDP tunnel (VXLAN) that carried it.
    pub fn carrier(
        &mut self,
        c: &crate::decode::Carrier,
        d: &crate::decode::Decoded<'_>,
        ts_ns: u64,
        wire_len: u32,
    ) {
        let outer = crate::decode::Decoded {
            vlans: d.vlans,
            tunnel: crate::decode::Tunnel::default(),
            src: c.src,
            dst: c.dst,
            proto: 17,
            ip_offset: 0,
            ip_len: 0,
            frag: None,
            l4: L4::Udp {
                src_port: c.src_port,
                dst_port: c.dst_port,
                payload: &[],
            },
            anomaly: None,
        };
        let shared = &self.shared;
        let out = &mut self.out;
        let mem = &mut self.mem;
        let rstats = &mut self.stats.reasm;
        let app_anomalies = &mut self.stats.app_anomalies;
        let mut ended = |k: FlowKey, f: Flow<FlowApp>, r: EndReason| {
            finish_flow(shared, k, f, r, mem, rstats, app_anomalies, out);
        };
        if let Some(t) = self.table.track(&outer, ts_ns, wire_len, &mut ended) {
            t.flow.app_proto = AppProto::Vxlan;
            t.flow.app.done = true;
        }
        if self.out.len() >= RECORD_BATCH {
            self.flush();
        }
    }

    fn flow_packet(&mut self, pkt: &Packet<'_>, d: &crate::decode::Decoded<'_>) {
        if self.track_carriers {
            if let Some(c) = d.tunnel.udp_carrier {
                self.carrier(&c, d, pkt.ts_ns, pkt.wire_len);
            }
        }
        let shared = &self.shared;
        let out = &mut self.out;
        let mem = &mut self.mem;
        let rstats = &mut self.stats.reasm;
        let app_anomalies = &mut self.stats.app_anomalies;
        let mut ended = |k: FlowKey, f: Flow<FlowApp>, r: EndReason| {
            finish_flow(shared, k, f, r, mem, rstats, app_anomalies, out);
        };
        let Some(t) = self.table.track(d, pkt.ts_ns, pkt.wire_len, &mut ended) else {
            return;
        };
        let flow = t.flow;
        let dir = t.dir;
        let key = t.key;
        if flow.app.done {
            return;
        }
        let app_started = std::time::Instant::now();
        let mut emitted = std::mem::take(&mut self.emitted);
        let mut anomalies = std::mem::take(&mut self.anomalies);
        match d.l4 {
            L4::Tcp {
                seq,
                ack,
                flags,
                payload,
                ..
            } => {
                let tcp = flow.app.tcp.get_or_insert_with(Default::default);
                let TcpApp { streams, probe } = &mut **tcp;
                let (mine, other) = match dir {
                    Direction::ToServer => {
                        let [a, b] = streams;
                        (a, b)
                    }
                    Direction::ToClient => {
                        let [a, b] = streams;
                        (b, a)
                    }
                };
                let mut app = AppSink {
                    state: AppState {
                        proto: &mut flow.app_proto,
                        guess: &mut flow.app.guess,
                        done: &mut flow.app.done,
                        payload_seen: &mut flow.app.payload_seen,
                        gap_bytes: &mut flow.app.gap_bytes,
                        parser: &mut flow.app.parser,
                        parsers: shared.parsers,
                    },
                    probe,
                    ctx: ParseCtx {
                        ts_ns: pkt.ts_ns,
                        transport: Transport::Tcp,
                        out: &mut emitted,
                        anomalies: &mut anomalies,
                    },
                    port_proto: proto::by_port(Transport::Tcp, key.lo_port, key.hi_port),
                };
                if flags & crate::decode::tcp_flags::ACK != 0 {
                    other.acked(ack, &shared.reasm, mem, rstats, &mut |ev| {
                        app.event(dir.other(), ev)
                    });
                }
                mine.segment(seq, flags, payload, &shared.reasm, mem, rstats, &mut |ev| {
                    app.event(dir, ev)
                });
                if flow.app.done {
                    // Nothing more to inspect: free the stream buffers now.
                    if let Some(mut tcp) = flow.app.tcp.take() {
                        for s in tcp.streams.iter_mut() {
                            s.close(&shared.reasm, mem, rstats, &mut |_| {});
                        }
                    }
                }
            }
            L4::Udp { payload, .. } if !payload.is_empty() => {
                let mut ctx = ParseCtx {
                    ts_ns: pkt.ts_ns,
                    transport: Transport::Udp,
                    out: &mut emitted,
                    anomalies: &mut anomalies,
                };
                let mut st = AppState {
                    proto: &mut flow.app_proto,
                    guess: &mut flow.app.guess,
                    done: &mut flow.app.done,
                    payload_seen: &mut flow.app.payload_seen,
                    gap_bytes: &mut flow.app.gap_bytes,
                    parser: &mut flow.app.parser,
                    parsers: shared.parsers,
                };
                *st.payload_seen = true;
                if let Some(p) = st.parser.as_mut() {
                    p.on_data(dir, payload, &mut ctx);
                } else {
                    match proto::probe(Transport::Udp, dir, payload) {
                        Some((p, Confidence::High)) => {
                            st.found(p, Transport::Udp);
                            if let Some(parser) = st.parser.as_mut() {
                                parser.on_data(dir, payload, &mut ctx);
                            }
                        }
                        found => {
                            if let Some((p, _)) = found {
                                st.guess.get_or_insert(p);
                            }
                            // On the protocol's own port, a message the probe finds odd still
                            // goes to the parser, which reports what is wrong with it.
                            let by_port = proto::by_port(Transport::Udp, key.lo_port, key.hi_port);
                            if matches!(
                                by_port,
                                AppProto::Dns | AppProto::Kerberos | AppProto::Ldap
                            ) {
                                st.found(by_port, Transport::Udp);
                                if let Some(parser) = st.parser.as_mut() {
                                    parser.on_data(dir, payload, &mut ctx);
                                }
                            }
                        }
                    }
                    if st.parser.is_none() && flow.pkts[0] + flow.pkts[1] >= 4 {
                        *st.done = true;
                    }
                }
            }
            _ => {}
        }
        let app_idx = (flow.app_proto as usize).min(AppProto::COUNT - 1);
        if let (Some(t), Some(c)) = (
            self.stats.app_time_ns.get_mut(app_idx),
            self.stats.app_calls.get_mut(app_idx),
        ) {
            *t += app_started.elapsed().as_nanos() as u64;
            *c += 1;
        }
        if !emitted.is_empty() {
            let fref = flow_ref(key, flow);
            self.out.extend(emitted.drain(..).map(|e| Record {
                intel: Vec::new(),
                ts_ns: e.ts_ns,
                flow: Some(fref.clone()),
                body: e.body,
            }));
        }
        for a in anomalies.drain(..) {
            *self.stats.app_anomalies.entry(a).or_insert(0) += 1;
        }
        self.emitted = emitted;
        self.anomalies = anomalies;
        if self.out.len() >= RECORD_BATCH {
            self.flush();
        }
    }

    /// Advances packet time: ends idle flows, drops stale fragments.
    pub fn tick(&mut self, now_ns: u64) {
        let keys = self.table.expired_keys(now_ns);
        self.end_flows(&keys, now_ns, None);
        self.defrag.expire(now_ns);
        self.flush();
    }

    /// Ends the flows of `keys` a few at a time, handing their records on as they come, so
    /// that ending many flows at once (a mass timeout, shutdown) needs no memory per flow
    /// beyond its key. `reason`: None = timed out or closed, by the flow's state.
    fn end_flows(&mut self, keys: &[FlowKey], now_ns: u64, reason: Option<EndReason>) {
        for chunk in keys.chunks(64) {
            let shared = &self.shared;
            let out = &mut self.out;
            let mem = &mut self.mem;
            let rstats = &mut self.stats.reasm;
            let app_anomalies = &mut self.stats.app_anomalies;
            self.table.end_keys(chunk, now_ns, reason, &mut |k, f, r| {
                finish_flow(shared, k, f, r, mem, rstats, app_anomalies, out)
            });
            if self.out.len() >= RECORD_BATCH {
                self.flush();
            }
        }
    }

    /// Hands the collected records to the output stage.
    pub fn flush(&mut self) {
        if self.out.is_empty() {
            return;
        }
        let intel = self.shared.intel.as_ref().map(|h| h.current());
        for r in self.out.iter_mut() {
            enrich_record(&self.shared.dns_cache, r);
            if let Some(set) = &intel {
                set.annotate(r);
            }
            self.stats.learned.observe(r);
        }
        self.stats.records += self.out.len() as u64;
        let batch = std::mem::replace(&mut self.out, Vec::with_capacity(RECORD_BATCH));
        // The output stage only goes away on a fatal output error, which it reports itself.
        let _ = self.tx.send(OutMsg::Records(batch));
    }

    /// After [`Worker::tick`]: whether a status period ended on this worker's clock (the first
    /// call only starts the clock).
    pub fn status_due(&mut self, now_ns: u64) -> bool {
        if self.status_interval_ns == 0 {
            return false;
        }
        let period = now_ns / self.status_interval_ns;
        match self.status_period {
            Some(p) if period <= p => false,
            prev => {
                self.status_period = Some(period);
                prev.is_some()
            }
        }
    }

    /// Sends this worker's counters (and its capture source's, live) to the output stage.
    pub fn send_status(&mut self, now_ns: u64, capture: crate::capture::CaptureStats) {
        self.flush();
        let snap = self.snapshot(now_ns, capture);
        let _ = self.tx.send(OutMsg::Status {
            source: self.source,
            snap: Box::new(snap),
        });
    }

    /// The counters now, without the learnt names (those go to `--learned-out` at the end).
    pub fn snapshot(
        &mut self,
        now_ns: u64,
        capture: crate::capture::CaptureStats,
    ) -> crate::status::Snapshot {
        let mut w = self.stats.counters();
        w.flow = self.table.stats();
        w.defrag = self.defrag.stats();
        w.reasm_memcap_hits = self.mem.cap_hits();
        crate::status::Snapshot {
            now_ns,
            workers: w,
            capture,
            defrag: DefragStats::default(),
            active_flows: self.table.len() as u64,
            reassembly_bytes: self.mem.used() as u64,
            defrag_bytes: self.defrag.memory() as u64,
        }
    }

    /// Ends all flows (shutdown) and returns the counters.
    pub fn finish(mut self) -> WorkerStats {
        let keys = self.table.keys();
        self.end_flows(&keys, 0, Some(EndReason::Shutdown));
        self.flush();
        self.stats.flow = self.table.stats();
        self.stats.defrag = self.defrag.stats();
        self.stats.reasm_memcap_hits = self.mem.cap_hits();
        self.stats
    }

    pub fn stats(&self) -> &WorkerStats {
        &self.stats
    }
}

/// Cross-flow enrichment of one record: DNS answers teach the cache, HTTP records get the
/// addresses their host resolved to.
fn enrich_record(cache: &crate::enrich::DnsCache, r: &mut Record) {
    match &mut r.body {
        Body::Dns(d) => {
            for a in &d.answers {
                match a.rtype.as_str() {
                    "A" | "AAAA" => {
                        if let (Some(q), Ok(ip)) = (d.query.as_deref(), a.data.parse::<IpAddr>()) {
                            cache.insert(q, ip);
                        }
                    }
                    "PTR" => {
                        if let Some(ip) = crate::enrich::passive::ptr_ip(&a.name) {
                            cache.name_ip(ip, &a.data);
                        }
                    }
                    _ => {}
                }
            }
        }
        Body::Kerberos(k) => {
            if let Some(f) = &r.flow {
                k.kdc_name = cache.name_of(f.dest_ip);
            }
        }
        Body::Http(h) => {
            if let Some(host) = h.host.as_deref() {
                h.target_ips = cache.lookup(host).iter().map(|ip| ip.to_string()).collect();
            }
        }
        _ => {}
    }
}

/// The application-layer fields of a flow, borrowed while its bytes are handled.
struct AppState<'a> {
    proto: &'a mut AppProto,
    guess: &'a mut Option<AppProto>,
    done: &'a mut bool,
    payload_seen: &'a mut bool,
    gap_bytes: &'a mut u64,
    parser: &'a mut Option<Box<dyn AppParser>>,
    /// Application parsers are on (else detection only).
    parsers: bool,
}

impl AppState<'_> {
    /// The protocol is known: start its parser, or stop inspecting when there is none.
    fn found(&mut self, p: AppProto, transport: Transport) {
        *self.proto = p;
        let parser = if self.parsers {
            proto::parser_for(p, transport)
        } else {
            None
        };
        match parser {
            Some(parser) => *self.parser = Some(parser),
            None => *self.done = true,
        }
    }
}

/// Receives a flow's ordered stream events: protocol detection on the first bytes, then the
/// protocol's parser.
struct AppSink<'a, 'c> {
    state: AppState<'a>,
    probe: &'a mut [Vec<u8>; 2],
    ctx: ParseCtx<'c>,
    /// The protocol the flow's ports name.
    port_proto: AppProto,
}

impl AppSink<'_, '_> {
    /// The protocol is known: its parser gets every byte seen so far (the other side first: this
    /// side's bytes completed the detection), then `rest`, this side's bytes past the probe.
    fn start(&mut self, p: AppProto, dir: Direction, rest: &[u8]) {
        self.state.found(p, Transport::Tcp);
        if let Some(parser) = self.state.parser.as_mut() {
            let o = dir.other();
            if !self.probe[o.idx()].is_empty() {
                parser.on_data(o, &self.probe[o.idx()], &mut self.ctx);
            }
            parser.on_data(dir, &self.probe[dir.idx()], &mut self.ctx);
            if !rest.is_empty() {
                parser.on_data(dir, rest, &mut self.ctx);
            }
        }
        self.probe[0] = Vec::new();
        self.probe[1] = Vec::new();
    }

    fn event(&mut self, dir: Direction, ev: StreamEvent<'_>) {
        match ev {
            StreamEvent::Data(bytes) if !bytes.is_empty() => {
                *self.state.payload_seen = true;
                if let Some(p) = self.state.parser.as_mut() {
                    p.on_data(dir, bytes, &mut self.ctx);
                    return;
                }
                if *self.state.done {
                    return;
                }
                let i = dir.idx();
                let room = PROBE_BYTES.saturating_sub(self.probe[i].len());
                let taken = bytes.len().min(room);
                self.probe[i].extend_from_slice(&bytes[..taken]);
                match proto::probe(Transport::Tcp, dir, &self.probe[i]) {
                    Some((p, Confidence::High)) => self.start(p, dir, &bytes[taken..]),
                    found => {
                        if let Some((p, _)) = found {
                            self.state.guess.get_or_insert(p);
                        }
                        // On the port of a binary protocol, bytes its probe rules out still go
                        // to its parser, which reports what is wrong with them (as for UDP):
                        // hostile or broken streams are counted, not silently left alone.
                        if proto::tcp_rules_out(self.port_proto, &self.probe[i]) {
                            self.start(self.port_proto, dir, &bytes[taken..]);
                        }
                    }
                }
                // Give up when both sides said enough without a match (a capture that starts
                // mid-stream may only make sense from the other side).
                if self.state.parser.is_none()
                    && self.probe[0].len() >= PROBE_BYTES
                    && self.probe[1].len() >= PROBE_BYTES
                {
                    *self.state.done = true;
                }
            }
            StreamEvent::Gap(n) => {
                *self.state.gap_bytes += u64::from(n);
                if let Some(p) = self.state.parser.as_mut() {
                    p.on_gap(dir, n, &mut self.ctx);
                } else if self.probe[dir.idx()].is_empty() {
                    // Detection needs the start of the stream; after a gap it cannot be trusted.
                    *self.state.done = true;
                }
            }
            _ => {}
        }
    }
}

/// The connection block of a flow's records (src = the client).
fn flow_ref(key: &FlowKey, f: &Flow<FlowApp>) -> FlowRef {
    let (client, cport, server, sport) = if f.client_is_lo {
        (key.lo, key.lo_port, key.hi, key.hi_port)
    } else {
        (key.hi, key.hi_port, key.lo, key.lo_port)
    };
    let (src, dst) = (client.to_ip(), server.to_ip());
    let community_id = match f.icmp {
        Some((t, c)) => community_id(0, src, t.into(), dst, c.into(), key.proto),
        None => community_id(0, src, cport, dst, sport, key.proto),
    };
    FlowRef {
        flow_id: f.id,
        community_id,
        src_ip: src,
        src_port: cport,
        dest_ip: dst,
        dest_port: sport,
        proto: key.proto,
        vlan: f.vlans.as_slice().to_vec(),
    }
}

/// Turns an ended flow into its records: what its parser still had, then the `flow` record.
#[allow(clippy::too_many_arguments)]
fn finish_flow(
    shared: &WorkerShared,
    key: FlowKey,
    mut f: Flow<FlowApp>,
    reason: EndReason,
    mem: &mut MemBudget,
    rstats: &mut ReassemblyStats,
    app_anomalies: &mut BTreeMap<&'static str, u64>,
    out: &mut Vec<Record>,
) {
    let mut emitted = Vec::new();
    let mut anomalies = Vec::new();
    let mut ctx = ParseCtx {
        ts_ns: f.last_ns,
        transport: if key.proto == 6 {
            Transport::Tcp
        } else {
            Transport::Udp
        },
        out: &mut emitted,
        anomalies: &mut anomalies,
    };
    if let Some(mut tcp) = f.app.tcp.take() {
        let gap = &mut f.app.gap_bytes;
        let parser = &mut f.app.parser;
        for (i, s) in tcp.streams.iter_mut().enumerate() {
            let d = if i == 0 {
                Direction::ToServer
            } else {
                Direction::ToClient
            };
            s.close(&shared.reasm, mem, rstats, &mut |ev| match ev {
                StreamEvent::Gap(n) => {
                    *gap += u64::from(n);
                    if let Some(p) = parser.as_mut() {
                        p.on_gap(d, n, &mut ctx);
                    }
                }
                StreamEvent::Data(b) => {
                    if let Some(p) = parser.as_mut() {
                        p.on_data(d, b, &mut ctx);
                    }
                }
                _ => {}
            });
        }
    }
    if let Some(mut p) = f.app.parser.take() {
        p.on_close(&mut ctx);
    }
    let fref = flow_ref(&key, &f);
    out.extend(emitted.into_iter().map(|e| Record {
        intel: Vec::new(),
        ts_ns: e.ts_ns,
        flow: Some(fref.clone()),
        body: e.body,
    }));
    for a in anomalies {
        *app_anomalies.entry(a).or_insert(0) += 1;
    }
    let (src, dst) = (fref.src_ip, fref.dest_ip);
    let (cport, sport) = (fref.src_port, fref.dest_port);
    let is_tcp = key.proto == 6;
    let app_proto = if f.app_proto != AppProto::Unknown {
        f.app_proto
    } else if f.app.payload_seen {
        f.app.guess.unwrap_or_else(|| {
            proto::by_port(
                if is_tcp {
                    Transport::Tcp
                } else {
                    Transport::Udp
                },
                cport,
                sport,
            )
        })
    } else {
        AppProto::Unknown
    };
    let state = if is_tcp {
        if f.tcp.is_closed() {
            "closed"
        } else if f.tcp.established {
            "established"
        } else {
            "new"
        }
    } else if f.pkts[0] > 0 && f.pkts[1] > 0 {
        "established"
    } else {
        "new"
    };
    let direction = match (shared.is_home(src), shared.is_home(dst)) {
        (true, true) => "internal",
        (true, false) => "outbound",
        (false, true) => "inbound",
        (false, false) => "external",
    };
    let tunnel =
        (f.tunnel.depth > 0 || f.tunnel.vxlan_vni.is_some() || f.tunnel.erspan_id.is_some())
            .then_some(TunnelInfo {
                depth: f.tunnel.depth,
                vxlan_vni: f.tunnel.vxlan_vni,
                gre_key: f.tunnel.gre_key,
                erspan_id: f.tunnel.erspan_id,
            });
    out.push(Record {
        intel: Vec::new(),
        ts_ns: f.last_ns,
        flow: Some(fref),
        body: Body::Flow(FlowBody {
            start: rfc3339_micros(f.start_ns),
            end: rfc3339_micros(f.last_ns),
            pkts_toserver: f.pkts[0],
            pkts_toclient: f.pkts[1],
            bytes_toserver: f.bytes[0],
            bytes_toclient: f.bytes[1],
            state,
            tcp_state: is_tcp.then(|| f.tcp.state.as_str()),
            conn_state: is_tcp.then(|| f.tcp.conn_state()),
            tcp_flags_ts: is_tcp.then(|| format!("0x{:02x}", f.tcp.flags[0])),
            tcp_flags_tc: is_tcp.then(|| format!("0x{:02x}", f.tcp.flags[1])),
            reason: reason.as_str(),
            app_proto: app_proto.as_str(),
            direction,
            proto_name: crate::record::proto_name(key.proto),
            tunnel,
            icmp_type: f.icmp.map(|(t, _)| t),
            icmp_code: f.icmp.map(|(_, c)| c),
            gap_bytes: f.app.gap_bytes,
        }),
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::dns::{DnsAnswer, DnsBody};
    use crate::proto::http::HttpBody;
    use crate::proto::kerberos::KerberosBody;

    fn rec(dest: &str, body: Body) -> Record {
        Record {
            intel: Vec::new(),
            ts_ns: 1,
            flow: Some(FlowRef {
                flow_id: 1,
                community_id: "1:x".into(),
                src_ip: "10.0.0.5".parse().unwrap(),
                src_port: 50000,
                dest_ip: dest.parse().unwrap(),
                dest_port: 88,
                proto: 17,
                vlan: vec![],
            }),
            body,
        }
    }

    #[test]
    fn dns_answers_name_kdcs_and_resolve_http_hosts() {
        let cache = crate::enrich::DnsCache::new(100);
        let answer = |name: &str, rtype: &str, data: &str| DnsAnswer {
            name: name.into(),
            rtype: rtype.into(),
            ttl: 60,
            data: data.into(),
        };
        let mut dns = rec(
            "10.0.0.1",
            Body::Dns(DnsBody {
                query: Some("dc1.corp.example".into()),
                answers: vec![answer("dc1.corp.example", "A", "192.0.2.53")],
                ..Default::default()
            }),
        );
        enrich_record(&cache, &mut dns);
        let mut ptr = rec(
            "10.0.0.1",
            Body::Dns(DnsBody {
                answers: vec![answer(
                    "54.2.0.192.in-addr.arpa",
                    "PTR",
                    "dc2.corp.example.",
                )],
                ..Default::default()
            }),
        );
        enrich_record(&cache, &mut ptr);
        for (ip, name) in [
            ("192.0.2.53", "dc1.corp.example"),
            ("192.0.2.54", "dc2.corp.example"),
        ] {
            let mut k = rec(ip, Body::Kerberos(KerberosBody::default()));
            enrich_record(&cache, &mut k);
            let Body::Kerberos(k) = k.body else { panic!() };
            assert_eq!(k.kdc_name.as_deref(), Some(name));
        }
        let mut h = rec(
            "192.0.2.53",
            Body::Http(HttpBody {
                host: Some("DC1.corp.example:8080".into()),
                ..Default::default()
            }),
        );
        enrich_record(&cache, &mut h);
        let Body::Http(h) = h.body else { panic!() };
        assert_eq!(h.target_ips, vec!["192.0.2.53".to_string()]);
    }
}
