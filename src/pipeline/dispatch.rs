//! Replay: reader/dispatcher on the calling thread, N workers, one output thread.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, unbounded, Receiver, RecvTimeoutError, Sender};

use crate::capture::{CaptureStats, LinkType, Next, Packet, PacketSource, SharedBuf};
use crate::config::Config;
use crate::decode::defrag::{DefragStats, Defragmenter};
use crate::decode::{decode, DecodeConfig};
use crate::export::{NdjsonSink, OutputStats};
use crate::flow::key::FlowKey;
use crate::pipeline::output::output_loop;
use crate::pipeline::worker::{Worker, WorkerShared};
use crate::pipeline::{OutMsg, PipelineError};
use crate::status::{wall_ns, FinalStatus, Reporter, Snapshot, WorkerStats};

/// Packets per batch handed to a worker.
const BATCH: usize = 256;
/// Packet-time interval between timer ticks broadcast to all workers.
const TICK_NS: u64 = 1_000_000_000;

/// A packet in a batch: a slice of the shared capture buffer or of the batch's own bytes.
#[derive(Clone, Copy)]
struct PktRef {
    ts_ns: u64,
    linktype: LinkType,
    wire_len: u32,
    off: usize,
    len: u32,
    owned: bool,
}

struct Batch {
    shared: Option<Arc<SharedBuf>>,
    owned: Vec<u8>,
    pkts: Vec<PktRef>,
    /// Packet time of the dispatcher when the batch was sent.
    now_ns: u64,
    /// The worker runs its timers at `now_ns` after the batch.
    tick: bool,
    /// The input is waiting: the worker hands on its records now instead of batching them.
    flush: bool,
}

impl Batch {
    fn new() -> Batch {
        Batch {
            shared: None,
            owned: Vec::new(),
            pkts: Vec::with_capacity(BATCH),
            now_ns: 0,
            tick: false,
            flush: false,
        }
    }
}

#[derive(Default)]
pub struct ReplayOptions {
    pub workers: usize,
    /// Called with (bytes read so far) now and then, for a progress bar.
    pub progress: Option<Box<dyn FnMut(u64)>>,
    /// The source is a live capture (libpcap), not files: status records say so.
    pub live: bool,
    /// Threat-intel feeds loaded for this run (`enrich::intel::start`), if any.
    pub intel: Option<crate::enrich::intel::IntelHandle>,
    /// Set to end the replay early (SIGTERM, SIGINT): reading stops, every flow is ended and
    /// written, and the stop status record says "stop requested". The output stage sets it
    /// too when writing fails.
    pub stop: Option<Arc<AtomicBool>>,
    /// Indices (in `sources`) of inputs that can block between packets (a pipe, stdin): each
    /// is read on a thread of its own, so a stop request is seen at once and what was read
    /// reaches the output while the writer is quiet.
    pub pipes: Vec<usize>,
    /// Network statistics: the opened store (None: statistics off).
    pub stats: Option<crate::stats::Stats>,
    /// Detection rules (`detect::load_sources`); None: no detection.
    pub rules: Option<Arc<crate::detect::RuleSet>>,
    /// SIGHUP reload (`tapir run`); None: the rules stay as loaded.
    pub reload: Option<Box<dyn super::Reload>>,
    /// A live capture's interface health (libpcap): the status records' `interface` block.
    pub link: Option<Arc<crate::capture::LinkHealth>>,
}

/// The end-of-run summary.
#[derive(Clone, Debug, Default)]
pub struct Summary {
    pub capture: CaptureStats,
    pub workers: WorkerStats,
    /// Fragments reassembled by the dispatcher.
    pub defrag: DefragStats,
    pub output: OutputStats,
    pub elapsed: Duration,
    pub worker_count: usize,
    /// File extraction counters (when extraction is on).
    pub extract: Option<crate::files::extract::ExtractStats>,
    /// Capture errors met (the replay goes on with the next file).
    pub capture_errors: Vec<String>,
    /// Highest resident memory of the process (Linux).
    pub peak_rss_bytes: Option<u64>,
    /// Every configured cap and how often it was reached (as in the stop status record).
    pub limits: Vec<crate::record::sensor_status::LimitHit>,
    /// Detection counters, per rule too (with detection rules).
    pub detect: Option<crate::record::detection::DetectStatus>,
}

impl Summary {
    pub fn gbit_per_s(&self) -> f64 {
        let s = self.elapsed.as_secs_f64();
        if s > 0.0 {
            self.capture.bytes as f64 * 8.0 / s / 1e9
        } else {
            0.0
        }
    }
    pub fn mpkt_per_s(&self) -> f64 {
        let s = self.elapsed.as_secs_f64();
        if s > 0.0 {
            self.capture.packets as f64 / s / 1e6
        } else {
            0.0
        }
    }
}

/// Replays capture sources one after the other through `opts.workers` workers into `sink`.
pub fn replay(
    sources: Vec<Box<dyn PacketSource>>,
    cfg: &Config,
    sink: NdjsonSink,
    mut opts: ReplayOptions,
) -> Result<Summary, PipelineError> {
    let started = Instant::now();
    let n = opts.workers.max(1);
    let stop = opts.stop.clone().unwrap_or_default();
    let mut ws = WorkerShared::from_config(cfg, n, opts.intel.take());
    let stats_writer = match opts.stats.take() {
        Some(s) => {
            ws.stats = Some(s.shared());
            Some(s.start().map_err(|e| {
                PipelineError::Output(crate::export::OutputError::Write {
                    path: "(statistics thread)".into(),
                    written: 0,
                    lost: 0,
                    source: std::io::Error::other(e.to_string()),
                })
            })?)
        }
        None => None,
    };
    let correlate = super::output::correlator(opts.rules.take(), cfg, &mut ws, sink.run_id());
    let stages = super::output::LiveStages {
        correlate,
        live: ws.rules.clone(),
        reload: opts.reload.take(),
    };
    let shared = Arc::new(ws);
    let (rec_tx, rec_rx) = bounded::<OutMsg>(n * 8);
    // Status sources: the workers, then the dispatcher (capture, fragments, tunnel carriers).
    let mut gauges = shared.gauges();
    gauges.link = opts.link.clone();
    let reporter = Reporter::new(
        cfg,
        gauges,
        n + 1,
        if opts.live { "live" } else { "replay" },
    );
    let halt = stop.clone();
    let output = std::thread::Builder::new()
        .name("tapir-output".into())
        .stack_size(super::OUTPUT_STACK)
        .spawn(move || output_loop(sink, rec_rx, reporter, &halt, stages))
        .map_err(|e| PipelineError::Thread(format!("cannot start the output thread: {e}")))?;

    let (free_tx, free_rx) = unbounded::<Batch>();
    let mut to_workers: Vec<Sender<Batch>> = Vec::with_capacity(n);
    let mut handles = Vec::with_capacity(n);
    for i in 0..n {
        let (tx, rx) = bounded::<Batch>(16);
        to_workers.push(tx);
        let w = Worker::new(shared.clone(), rec_tx.clone())
            .without_carriers()
            .with_source(i);
        let free = free_tx.clone();
        let h = std::thread::Builder::new()
            .name(format!("tapir-worker-{i}"))
            .spawn(move || worker_loop(w, rx, free));
        match h {
            Ok(h) => handles.push(h),
            Err(e) => {
                // Its share of the traffic would be lost: end the others and fail the run.
                drop(to_workers);
                for h in handles {
                    let _ = h.join();
                }
                drop(rec_tx);
                let _ = output.join();
                return Err(PipelineError::Thread(format!(
                    "cannot start worker thread {i}: {e}"
                )));
            }
        }
    }
    let mut d = Dispatcher {
        carriers: Worker::new(shared.clone(), rec_tx.clone()).with_source(n),
        status_tx: rec_tx,
        started: false,
        status_due: false,
        decode: shared.decode,
        vlan_in_key: cfg.flow.vlan_in_key,
        hasher: foldhash::fast::RandomState::default(),
        defrag: Defragmenter::new(shared.defrag),
        pending: (0..n).map(|_| Batch::new()).collect(),
        to_workers,
        free: free_rx,
        now_ns: 0,
        last_tick_ns: 0,
        rr: 0,
    };
    if opts.live {
        // A live capture starts now, not at its first packet (a quiet interface still gets its
        // start record, as with AF_PACKET).
        d.started = true;
        let _ = d.status_tx.send(OutMsg::Started {
            now_ns: crate::status::wall_ns(),
        });
    }
    let mut capture = CaptureStats::default();
    let mut capture_errors = Vec::new();
    let mut read_bytes = 0u64;
    for (idx, mut src) in sources.into_iter().enumerate() {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        if opts.pipes.contains(&idx) {
            let (stats, err) = read_pipe(src, &mut d, &stop, &mut read_bytes)?;
            capture.add(&stats);
            capture_errors.extend(err);
            d.flush_all();
            continue;
        }
        let buf = src.shared_buffer();
        for b in d.pending.iter_mut() {
            if !same_buf(&b.shared, &buf) {
                b.shared = buf.clone();
            }
        }
        let mut since_progress = 0u32;
        loop {
            if stop.load(Ordering::Relaxed) {
                break;
            }
            let pkt = match src.next() {
                Ok(Next::Packet(p)) => p,
                Ok(Next::Idle) => {
                    // Live sources only: let time pass for the timers (and the status
                    // periods: a quiet interface still reports its counters).
                    d.idle(wall_ns());
                    if d.status_due {
                        d.status_due = false;
                        let mut c = capture;
                        c.add(&src.stats());
                        d.send_status(c);
                    }
                    continue;
                }
                Ok(Next::End) => break,
                Err(e) => {
                    capture_errors.push(e.to_string());
                    break;
                }
            };
            read_bytes += u64::from(pkt.wire_len);
            d.dispatch(&pkt, buf.as_deref());
            if d.status_due {
                d.status_due = false;
                let mut c = capture;
                c.add(&src.stats());
                d.send_status(c);
            }
            since_progress += 1;
            if since_progress >= 65_536 {
                since_progress = 0;
                if let Some(p) = opts.progress.as_mut() {
                    p(read_bytes);
                }
            }
        }
        capture.add(&src.stats());
        // Batches must not outlive the buffer they point into being swapped: send them now.
        d.flush_all();
    }
    if let Some(p) = opts.progress.as_mut() {
        p(read_bytes);
    }
    d.flush_all();
    let Dispatcher {
        carriers,
        defrag,
        to_workers,
        status_tx,
        now_ns,
        ..
    } = d;
    // Closing the batch channels ends the workers' loops.
    drop(to_workers);
    let mut fin = Snapshot {
        now_ns,
        capture,
        sockets: vec![capture],
        defrag: defrag.stats(),
        ..Snapshot::default()
    };
    let mut workers = carriers.finish();
    workers.packets = 0;
    workers.bytes = 0;
    for h in handles {
        match h.join() {
            Ok(s) => workers.absorb(s),
            Err(_) => {
                tracing::error!("a worker thread panicked");
                capture_errors.push("a worker thread panicked".into());
            }
        }
    }
    // Every worker has handed over its last statistics: commit them before the stop record.
    if let Some(w) = stats_writer {
        w.finish();
    }
    fin.workers = workers.counters();
    let reason = if stop.load(Ordering::Relaxed) {
        "stop requested"
    } else if opts.live {
        "capture ended"
    } else {
        "end of capture files"
    };
    let _ = status_tx.send(OutMsg::Final(Box::new(FinalStatus {
        snap: fin,
        errors: capture_errors.clone(),
        reason: reason.into(),
    })));
    drop(status_tx);
    let (output, detect) = match output.join() {
        Ok(r) => r?,
        Err(_) => return Err(PipelineError::Thread("output thread panicked".into())),
    };
    let gauges = shared.gauges();
    let extract = gauges.extract_stats();
    let mut limits = crate::status::limit_hits(
        &crate::status::configured_limits(cfg),
        &workers,
        &defrag.stats(),
        &gauges,
        &extract.clone().unwrap_or_default(),
    );
    crate::status::set_detect_hits(&mut limits, detect.as_ref());
    Ok(Summary {
        capture,
        defrag: defrag.stats(),
        workers,
        output,
        elapsed: started.elapsed(),
        worker_count: n,
        extract,
        capture_errors,
        peak_rss_bytes: crate::status::memory_usage().map(|m| m.peak_rss_bytes),
        limits,
        detect,
    })
}

/// A packet read from a pipe, with the source's counters after it.
enum Piped {
    Packet {
        ts_ns: u64,
        linktype: LinkType,
        wire_len: u32,
        data: Vec<u8>,
        stats: CaptureStats,
    },
    End {
        stats: CaptureStats,
        error: Option<String>,
    },
}

/// How long the dispatcher waits on a quiet pipe before it hands on what it holds.
const PIPE_IDLE: Duration = Duration::from_millis(200);

/// Reads a source that can block (a pipe) on a thread of its own. On a stop request the
/// reader is left behind, blocked in its read: the replay ends without waiting for the writer.
fn read_pipe(
    mut src: Box<dyn PacketSource>,
    d: &mut Dispatcher,
    stop: &AtomicBool,
    read_bytes: &mut u64,
) -> Result<(CaptureStats, Option<String>), PipelineError> {
    let (tx, rx) = bounded::<Piped>(1024);
    std::thread::Builder::new()
        .name("tapir-reader".into())
        .spawn(move || loop {
            let msg = match src.next() {
                Ok(Next::Packet(p)) => Piped::Packet {
                    ts_ns: p.ts_ns,
                    linktype: p.linktype,
                    wire_len: p.wire_len,
                    data: p.data.to_vec(),
                    stats: src.stats(),
                },
                Ok(Next::Idle) => continue,
                Ok(Next::End) => Piped::End {
                    stats: src.stats(),
                    error: None,
                },
                Err(e) => Piped::End {
                    stats: src.stats(),
                    error: Some(e.to_string()),
                },
            };
            let end = matches!(msg, Piped::End { .. });
            if tx.send(msg).is_err() || end {
                return;
            }
        })
        .map_err(|e| PipelineError::Thread(format!("cannot start the reader thread: {e}")))?;
    for b in d.pending.iter_mut() {
        b.shared = None;
    }
    let mut stats = CaptureStats::default();
    let mut held = false;
    loop {
        if stop.load(Ordering::Relaxed) {
            return Ok((stats, None));
        }
        match rx.recv_timeout(PIPE_IDLE) {
            Ok(Piped::Packet {
                ts_ns,
                linktype,
                wire_len,
                data,
                stats: s,
            }) => {
                stats = s;
                *read_bytes += u64::from(wire_len);
                d.dispatch(
                    &Packet {
                        ts_ns,
                        linktype,
                        data: &data,
                        wire_len,
                    },
                    None,
                );
                held = true;
                if d.status_due {
                    d.status_due = false;
                    d.send_status(stats);
                }
            }
            Ok(Piped::End { stats, error }) => return Ok((stats, error)),
            Err(RecvTimeoutError::Timeout) => {
                if held {
                    held = false;
                    d.hand_on();
                }
            }
            Err(RecvTimeoutError::Disconnected) => {
                return Ok((stats, Some("the capture reader thread panicked".into())))
            }
        }
    }
}

fn same_buf(a: &Option<Arc<SharedBuf>>, b: &Option<Arc<SharedBuf>>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => Arc::ptr_eq(a, b),
        (None, None) => true,
        _ => false,
    }
}

struct Dispatcher {
    /// Flows of UDP tunnels (VXLAN): one place for each, whichever worker gets the inner flow.
    carriers: Worker,
    /// To the output stage: the start message, the dispatcher's status snapshots.
    status_tx: Sender<OutMsg>,
    started: bool,
    /// A status period ended at the last tick: the reader sends a snapshot.
    status_due: bool,
    decode: DecodeConfig,
    vlan_in_key: bool,
    hasher: foldhash::fast::RandomState,
    defrag: Defragmenter,
    pending: Vec<Batch>,
    to_workers: Vec<Sender<Batch>>,
    free: Receiver<Batch>,
    now_ns: u64,
    last_tick_ns: u64,
    rr: usize,
}

impl Dispatcher {
    fn dispatch(&mut self, pkt: &Packet<'_>, buf: Option<&SharedBuf>) {
        self.now_ns = self.now_ns.max(pkt.ts_ns);
        if !self.started {
            self.started = true;
            let _ = self.status_tx.send(OutMsg::Started {
                now_ns: self.now_ns,
            });
        }
        let n = self.pending.len();
        let target = match decode(pkt.linktype, pkt.data, &self.decode) {
            Ok(dec) if dec.frag.is_some() => {
                // Fragments stop here; a completed datagram goes on as one packet of its own.
                if let Some(whole) = self.defrag.push(pkt.ts_ns, pkt.data, &dec) {
                    let idx = match decode(pkt.linktype, &whole, &self.decode) {
                        Ok(d2) => {
                            if let Some(c) = d2.tunnel.udp_carrier {
                                self.carriers
                                    .carrier(&c, &d2, pkt.ts_ns, whole.len() as u32);
                            }
                            self.worker_of(&FlowKey::of(&d2, self.vlan_in_key).0)
                        }
                        Err(_) => self.round_robin(),
                    };
                    let p = Packet {
                        data: &whole,
                        wire_len: whole.len() as u32,
                        ..*pkt
                    };
                    self.push(idx, &p, None);
                }
                self.maybe_tick();
                return;
            }
            Ok(dec) => {
                if let Some(c) = dec.tunnel.udp_carrier {
                    self.carriers.carrier(&c, &dec, pkt.ts_ns, pkt.wire_len);
                }
                self.worker_of(&FlowKey::of(&dec, self.vlan_in_key).0)
            }
            // Not IP: any worker counts it.
            Err(_) => self.round_robin(),
        };
        debug_assert!(target < n);
        self.push(target, pkt, buf);
        self.maybe_tick();
    }

    fn idle(&mut self, now_ns: u64) {
        self.now_ns = self.now_ns.max(now_ns);
        self.maybe_tick();
    }

    fn worker_of(&self, key: &FlowKey) -> usize {
        (key.hash_with(&self.hasher) % self.pending.len() as u64) as usize
    }

    fn round_robin(&mut self) -> usize {
        self.rr = (self.rr + 1) % self.pending.len();
        self.rr
    }

    fn push(&mut self, idx: usize, pkt: &Packet<'_>, buf: Option<&SharedBuf>) {
        let Some(b) = self.pending.get_mut(idx) else {
            return;
        };
        // Zero-copy when the packet lies inside the shared capture buffer.
        let inside = buf.and_then(|base| {
            let start = base.as_ptr() as usize;
            let p = pkt.data.as_ptr() as usize;
            (p >= start && p + pkt.data.len() <= start + base.len()).then_some(p - start)
        });
        let r = match inside {
            Some(off) => PktRef {
                ts_ns: pkt.ts_ns,
                linktype: pkt.linktype,
                wire_len: pkt.wire_len,
                off,
                len: pkt.data.len() as u32,
                owned: false,
            },
            None => {
                let off = b.owned.len();
                b.owned.extend_from_slice(pkt.data);
                PktRef {
                    ts_ns: pkt.ts_ns,
                    linktype: pkt.linktype,
                    wire_len: pkt.wire_len,
                    off,
                    len: pkt.data.len() as u32,
                    owned: true,
                }
            }
        };
        b.pkts.push(r);
        if b.pkts.len() >= BATCH || b.owned.len() >= (1 << 20) {
            self.send(idx, false);
        }
    }

    fn send(&mut self, idx: usize, tick: bool) {
        self.send_with(idx, tick, false);
    }

    fn send_with(&mut self, idx: usize, tick: bool, flush: bool) {
        let mut fresh = self.free.try_recv().unwrap_or_else(|_| Batch::new());
        let Some(slot) = self.pending.get_mut(idx) else {
            return;
        };
        fresh.shared = slot.shared.clone();
        let mut b = std::mem::replace(slot, fresh);
        b.now_ns = self.now_ns;
        b.tick = tick;
        b.flush = flush;
        if let Some(tx) = self.to_workers.get(idx) {
            // A worker only goes away when its thread died; it was logged there.
            let _ = tx.send(b);
        }
    }

    fn maybe_tick(&mut self) {
        if self.now_ns >= self.last_tick_ns.saturating_add(TICK_NS) {
            self.last_tick_ns = self.now_ns;
            self.defrag.expire(self.now_ns);
            self.carriers.tick(self.now_ns);
            // Every worker learns the time, in the same place of the packet sequence whatever
            // the worker count, so flows time out identically with 1 or N workers.
            self.flush_all();
            if self.carriers.status_due(self.now_ns) {
                self.status_due = true;
            }
        }
    }

    /// Sends the dispatcher's own counters: tunnel carriers, fragments, the capture so far.
    fn send_status(&mut self, capture: CaptureStats) {
        let mut snap = self.carriers.snapshot(self.now_ns, capture);
        snap.sockets = vec![capture];
        snap.workers.packets = 0;
        snap.workers.bytes = 0;
        snap.defrag = self.defrag.stats();
        snap.defrag_bytes += self.defrag.memory() as u64;
        self.carriers.flush();
        let _ = self.status_tx.send(OutMsg::Status {
            source: self.carriers_source(),
            snap: Box::new(snap),
        });
    }

    fn carriers_source(&self) -> usize {
        self.pending.len()
    }

    /// The input went quiet: every worker gets what is pending and hands on its records.
    fn hand_on(&mut self) {
        for i in 0..self.pending.len() {
            self.send_with(i, false, true);
        }
        self.carriers.flush();
    }

    fn flush_all(&mut self) {
        for i in 0..self.pending.len() {
            self.send(i, true);
        }
    }
}

fn worker_loop(mut w: Worker, rx: Receiver<Batch>, free: Sender<Batch>) -> WorkerStats {
    w.enter_thread();
    for mut b in rx {
        for r in &b.pkts {
            let bytes = if r.owned {
                b.owned.get(r.off..r.off + r.len as usize)
            } else {
                b.shared
                    .as_deref()
                    .and_then(|s| s.get(r.off..r.off + r.len as usize))
            };
            if let Some(data) = bytes {
                w.packet(&Packet {
                    ts_ns: r.ts_ns,
                    linktype: r.linktype,
                    data,
                    wire_len: r.wire_len,
                });
            }
        }
        if b.tick {
            w.tick(b.now_ns);
            if w.status_due(b.now_ns) {
                w.send_status(b.now_ns, CaptureStats::default(), false);
            }
        }
        if b.flush {
            w.flush();
        }
        b.pkts.clear();
        b.owned.clear();
        b.shared = None;
        let _ = free.send(b);
    }
    w.finish()
}
