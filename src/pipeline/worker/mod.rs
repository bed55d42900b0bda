//! One worker: decode → (defrag) → flow → TCP reassembly → app detection → records.
//! A worker owns all of its state (shared-nothing); the same code serves replay (packets handed
//! over in batches by the dispatcher) and live capture (packets read from the worker's own ring).
//!
//! This file is the packet path and the worker's own bookkeeping (batches, timers, status
//! snapshots). Beside it: `shared` (settings from the configuration), `app` (per-flow
//! application state and the protocol-detection policy), `flow_record` (the records of an
//! ended flow), `enrich` (DNS-cache enrichment of outgoing records). The counters themselves
//! are [`WorkerStats`], in `status`.

mod app;
mod enrich;
mod flow_record;
mod shared;

use std::sync::Arc;

use crate::capture::Packet;
use crate::decode::defrag::{DefragStats, Defragmenter};
use crate::decode::{decode, Anomaly, NotIp, L4};
use crate::flow::key::FlowKey;
use crate::flow::table::{EndReason, Flow, FlowTable};
use crate::flow::tcp::state::Verdict;
use crate::flow::tcp::MemBudget;
use crate::pipeline::OutMsg;
use crate::proto::{self, Emitted, ParseCtx};
use crate::record::Record;
use crate::status::WorkerStats;
use crate::vocab::{AppProto, Direction, Transport};

use app::{AppSink, AppState, FlowApp, TcpApp};
use flow_record::{flow_ref, FlowEnder};
pub use shared::WorkerShared;

/// Records collected before they are handed to the output stage.
const RECORD_BATCH: usize = 256;

/// Where a worker's records (and status snapshots) go.
pub type RecordTx = crossbeam_channel::Sender<OutMsg>;

pub struct Worker {
    shared: Arc<WorkerShared>,
    /// This worker's copy of the published detection rules.
    rules: Option<crate::detect::live::RulesView>,
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
    /// Network statistics gathered from this worker's records (when on).
    collector: Option<crate::stats::Collector>,
}

impl Worker {
    pub fn new(shared: Arc<WorkerShared>, tx: RecordTx) -> Worker {
        let status_interval_ns = shared.status_interval_ns;
        let collector = shared.stats.clone().map(crate::stats::Collector::new);
        let rules = shared
            .rules
            .as_deref()
            .map(crate::detect::live::RulesView::new);
        Worker {
            rules,
            table: FlowTable::new(&shared.flow, shared.max_flows_per_worker),
            defrag: Defragmenter::new(shared.defrag),
            mem: MemBudget::new(shared.reasm_memcap),
            stats: WorkerStats {
                learned: crate::enrich::Learned::new(shared.learned_caps),
                ..WorkerStats::default()
            },
            out: Vec::with_capacity(RECORD_BATCH),
            tx,
            shared,
            emitted: Vec::new(),
            anomalies: Vec::new(),
            track_carriers: true,
            source: 0,
            status_interval_ns,
            status_period: None,
            collector,
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
        crate::files::budget::install(self.shared.inspect_memcap);
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
        let mut ender = FlowEnder {
            shared: &self.shared,
            mem: &mut self.mem,
            rstats: &mut self.stats.reasm,
            app_anomalies: &mut self.stats.app_anomalies,
            out: &mut self.out,
        };
        let mut ended = |k: FlowKey, f: Flow<FlowApp>, r: EndReason| ender.end(k, f, r);
        if let Some(t) = self.table.track(&outer, ts_ns, wire_len, &mut ended) {
            t.flow.app_proto = match c.kind {
                crate::decode::UdpTunnel::Vxlan => AppProto::Vxlan,
                crate::decode::UdpTunnel::Geneve => AppProto::Geneve,
                crate::decode::UdpTunnel::Teredo => AppProto::Teredo,
            };
            t.flow.app.insp.done = true;
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
        let mut ender = FlowEnder {
            shared: &self.shared,
            mem: &mut self.mem,
            rstats: &mut self.stats.reasm,
            app_anomalies: &mut self.stats.app_anomalies,
            out: &mut self.out,
        };
        let mut ended = |k: FlowKey, f: Flow<FlowApp>, r: EndReason| ender.end(k, f, r);
        let Some(t) = self.table.track(d, pkt.ts_ns, pkt.wire_len, &mut ended) else {
            return;
        };
        let (flow, dir, key, verdict) = (t.flow, t.dir, t.key, t.verdict);
        if let Some(a) = verdict_anomaly(verdict) {
            *self.stats.app_anomalies.entry(a).or_insert(0) += 1;
        }
        let shared = &self.shared;
        let mem = &mut self.mem;
        let rstats = &mut self.stats.reasm;
        if flow.app.insp.done {
            return;
        }
        let app_started = std::time::Instant::now();
        let mut state = AppState::new(&mut flow.app_proto, &mut flow.app.insp, shared.parsers);
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
                    state,
                    probe,
                    ctx: ParseCtx {
                        ts_ns: pkt.ts_ns,
                        transport: Transport::Tcp,
                        out: &mut emitted,
                        anomalies: &mut anomalies,
                    },
                    port_proto: proto::by_port(Transport::Tcp, key.lo_port, key.hi_port),
                };
                use crate::decode::tcp_flags::{ACK, FIN, RST, SYN};
                if let Verdict::RstWithdrawn(side) = verdict {
                    let (s, d) = if usize::from(side) == dir.idx() {
                        (&mut *mine, dir)
                    } else {
                        (&mut *other, dir.other())
                    };
                    s.rst_withdrawn(&shared.reasm, mem, rstats, &mut |ev| app.event(d, ev));
                }
                // What the receiving host dropped, the streams drop too.
                let flags = match verdict {
                    Verdict::RstIgnored => flags & !RST,
                    Verdict::FinIgnored => flags & !FIN,
                    _ => flags,
                };
                if flags & (SYN | ACK) == SYN | ACK {
                    other.resync(ack);
                }
                if flags & ACK != 0 {
                    other.acked(ack, &shared.reasm, mem, rstats, &mut |ev| {
                        app.event(dir.other(), ev)
                    });
                }
                mine.segment(seq, flags, payload, &shared.reasm, mem, rstats, &mut |ev| {
                    app.event(dir, ev)
                });
                flow.app.release_if_done(&shared.reasm, mem, rstats);
            }
            L4::Udp { payload, .. } if !payload.is_empty() => {
                let mut ctx = ParseCtx {
                    ts_ns: pkt.ts_ns,
                    transport: Transport::Udp,
                    out: &mut emitted,
                    anomalies: &mut anomalies,
                };
                let port_proto = proto::by_port(Transport::Udp, key.lo_port, key.hi_port);
                let pkts = flow.pkts[0] + flow.pkts[1];
                state.udp_datagram(dir, payload, port_proto, pkts, &mut ctx);
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
                ts_ns: e.ts_ns,
                flow: Some(fref.clone()),
                body: e.body.into(),
                intel: Vec::new(),
                parent: e.parent,
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
            let mut ender = FlowEnder {
                shared: &self.shared,
                mem: &mut self.mem,
                rstats: &mut self.stats.reasm,
                app_anomalies: &mut self.stats.app_anomalies,
                out: &mut self.out,
            };
            self.table
                .end_keys(chunk, now_ns, reason, &mut |k, f, r| ender.end(k, f, r));
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
            enrich::enrich_record(&self.shared.dns_cache, r);
            if let Some(set) = &intel {
                set.annotate(r);
            }
            self.stats.learned.observe(r);
            if let Some(c) = &mut self.collector {
                c.observe(r);
            }
        }
        if let Some(c) = self.collector.as_mut().filter(|c| c.full()) {
            c.send();
        }
        // Detection rules, last: they read what enrichment, reputation and statistics added.
        let mut hits = Vec::new();
        let mut generation = 0;
        let published = match (&mut self.rules, self.shared.rules.as_deref()) {
            (Some(view), Some(live)) => {
                let (g, rules) = view.get(live);
                generation = g;
                Some(rules)
            }
            _ => None,
        };
        if let Some(rules) = published.filter(|r| !r.is_empty()) {
            let started = std::time::Instant::now();
            let ctx = crate::detect::EvalCtx {
                stats: self.shared.stats.as_deref(),
            };
            rules.evaluate(&self.out, &ctx, &mut hits);
            self.stats.rules_time_ns += started.elapsed().as_nanos() as u64;
            self.stats.rules_calls += 1;
        }
        self.stats.records += self.out.len() as u64;
        let batch = std::mem::replace(&mut self.out, Vec::with_capacity(RECORD_BATCH));
        // The output stage only goes away on a fatal output error, which it reports itself.
        let _ = self.tx.send(OutMsg::Records(batch, hits, generation));
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
    /// `live_socket`: `capture` is this worker's own capture socket (live AF_PACKET).
    pub fn send_status(
        &mut self,
        now_ns: u64,
        capture: crate::capture::CaptureStats,
        live_socket: bool,
    ) {
        self.flush();
        if let Some(c) = &mut self.collector {
            c.send();
        }
        let mut snap = self.snapshot(now_ns, capture);
        if live_socket {
            snap.sockets = vec![capture];
        }
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
        w.inspect_released = crate::files::budget::stats().released;
        crate::status::Snapshot {
            now_ns,
            workers: w,
            capture,
            defrag: DefragStats::default(),
            active_flows: self.table.len() as u64,
            reassembly_bytes: self.mem.used() as u64,
            defrag_bytes: self.defrag.memory() as u64,
            sockets: Vec::new(),
        }
    }

    /// Ends all flows (shutdown) and returns the counters.
    pub fn finish(mut self) -> WorkerStats {
        let keys = self.table.keys();
        self.end_flows(&keys, 0, Some(EndReason::Shutdown));
        self.flush();
        if let Some(c) = &mut self.collector {
            c.send();
        }
        self.stats.flow = self.table.stats();
        self.stats.defrag = self.defrag.stats();
        self.stats.reasm_memcap_hits = self.mem.cap_hits();
        self.stats.inspect_released = crate::files::budget::stats().released;
        self.stats
    }

    pub fn stats(&self) -> &WorkerStats {
        &self.stats
    }
}

/// The anomaly a TCP verdict reports (status `app_anomalies`), if any.
fn verdict_anomaly(v: Verdict) -> Option<&'static str> {
    match v {
        Verdict::RstIgnored => Some("tcp.rst_out_of_window"),
        Verdict::RstWithdrawn(_) => Some("tcp.rst_not_taken"),
        Verdict::FinIgnored => Some("tcp.fin_before_handshake"),
        Verdict::None | Verdict::RstPending => None,
    }
}
