//! Live capture with one capture source per worker (AF_PACKET fanout): each worker thread reads
//! its own ring and runs the whole per-packet path itself; nothing is shared but the output.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use crossbeam_channel::bounded;

use crate::capture::{CaptureError, CaptureStats, Next, PacketSource};
use crate::config::Config;
use crate::export::{NdjsonSink, OutputError};
use crate::pipeline::dispatch::Summary;
use crate::pipeline::output::output_loop;
use crate::pipeline::worker::{Worker, WorkerShared};
use crate::pipeline::OutMsg;
use crate::status::{wall_ns, FinalStatus, Reporter, Snapshot, WorkerStats};

pub struct LiveOptions {
    pub workers: usize,
    /// Set to end the capture (SIGTERM, SIGINT, `--duration`); the output stage sets it too
    /// when writing fails.
    pub stop: Arc<AtomicBool>,
    /// Threat-intel feeds loaded for this run (`enrich::intel::start`), if any.
    pub intel: Option<crate::enrich::intel::IntelHandle>,
    /// Network statistics: the opened store (None: statistics off).
    pub stats: Option<crate::stats::Stats>,
    /// The capture interface's state, shared with the sources (status records show it).
    pub link: Option<Arc<crate::capture::LinkHealth>>,
    /// Detection rules (`detect::load_sources`); None: no detection.
    pub rules: Option<Arc<crate::detect::RuleSet>>,
    /// SIGHUP reload; None: the rules stay as loaded.
    pub reload: Option<Box<dyn super::Reload>>,
}

/// Opens one capture source per worker (`open(worker_index)`) and runs them until `stop`.
pub fn run_live<F>(
    open: F,
    cfg: &Config,
    sink: NdjsonSink,
    opts: LiveOptions,
) -> Result<Summary, LiveError>
where
    F: Fn(usize) -> Result<Box<dyn PacketSource>, CaptureError>,
{
    let started = Instant::now();
    let n = opts.workers.max(1);
    // Open every socket before starting: a bad interface fails fast and whole.
    let mut sources = Vec::with_capacity(n);
    for i in 0..n {
        sources.push(open(i)?);
    }
    let mut opts = opts;
    let mut ws = WorkerShared::from_config(cfg, n, opts.intel.take());
    let stats_writer = match opts.stats.take() {
        Some(s) => {
            ws.stats = Some(s.shared());
            Some(s.start().map_err(|e| LiveError::Thread(e.to_string()))?)
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
    let mut gauges = shared.gauges();
    gauges.link = opts.link.clone();
    let reporter = Reporter::new(cfg, gauges, n, "live");
    let halt = opts.stop.clone();
    let output = std::thread::Builder::new()
        .name("tapir-output".into())
        .stack_size(super::OUTPUT_STACK)
        .spawn(move || output_loop(sink, rec_rx, reporter, &halt, stages))
        .map_err(|e| LiveError::Thread(format!("cannot start the output thread: {e}")))?;
    let _ = rec_tx.send(OutMsg::Started { now_ns: wall_ns() });
    let mut handles = Vec::with_capacity(n);
    for (i, src) in sources.into_iter().enumerate() {
        let w = Worker::new(shared.clone(), rec_tx.clone()).with_source(i);
        let stop = opts.stop.clone();
        match std::thread::Builder::new()
            .name(format!("tapir-worker-{i}"))
            .spawn(move || live_loop(w, src, stop))
        {
            Ok(h) => handles.push(h),
            Err(e) => {
                // Its share of the traffic would be lost: stop the others, fail the run.
                opts.stop.store(true, Ordering::Relaxed);
                for h in handles {
                    let _ = h.join();
                }
                drop(rec_tx);
                let _ = output.join();
                return Err(LiveError::Thread(format!(
                    "cannot start worker thread {i}: {e}"
                )));
            }
        }
    }
    let mut summary = Summary {
        worker_count: n,
        ..Summary::default()
    };
    let mut workers = WorkerStats::default();
    let mut sockets = Vec::new();
    for h in handles {
        match h.join() {
            Ok((s, c, err)) => {
                workers.absorb(s);
                summary.capture.add(&c);
                sockets.push(c);
                if let Some(e) = err {
                    summary.capture_errors.push(e);
                }
            }
            Err(_) => summary
                .capture_errors
                .push("a worker thread panicked".to_string()),
        }
    }
    if let Some(w) = stats_writer {
        w.finish();
    }
    let fin = Snapshot {
        now_ns: wall_ns(),
        capture: summary.capture,
        workers: workers.counters(),
        sockets,
        ..Snapshot::default()
    };
    let reason = if opts.stop.load(Ordering::Relaxed) {
        "stop requested"
    } else {
        "capture ended"
    };
    let _ = rec_tx.send(OutMsg::Final(Box::new(FinalStatus {
        snap: fin,
        errors: summary.capture_errors.clone(),
        reason: reason.into(),
    })));
    drop(rec_tx);
    summary.workers = workers;
    (summary.output, summary.detect) = match output.join() {
        Ok(r) => r?,
        Err(_) => return Err(LiveError::Thread("output thread panicked".into())),
    };
    summary.extract = shared.gauges().extract_stats();
    summary.limits = crate::status::limit_hits(
        &crate::status::configured_limits(cfg),
        &summary.workers,
        &summary.defrag,
        &shared.gauges(),
        &summary.extract.clone().unwrap_or_default(),
    );
    summary.elapsed = started.elapsed();
    summary.peak_rss_bytes = crate::status::memory_usage().map(|m| m.peak_rss_bytes);
    Ok(summary)
}

fn live_loop(
    mut w: Worker,
    mut src: Box<dyn PacketSource>,
    stop: Arc<AtomicBool>,
) -> (WorkerStats, CaptureStats, Option<String>) {
    w.enter_thread();
    let mut last_tick = 0u64;
    let mut err = None;
    let mut n = 0u32;
    loop {
        let now = match src.next() {
            Ok(Next::Packet(p)) => {
                w.packet(&p);
                n = n.wrapping_add(1);
                // Check the clock only every so many packets.
                if !n.is_multiple_of(4096) {
                    continue;
                }
                p.ts_ns
            }
            Ok(Next::Idle) => wall_ns(),
            Ok(Next::End) => break,
            Err(e) => {
                err = Some(e.to_string());
                break;
            }
        };
        if now >= last_tick.saturating_add(1_000_000_000) {
            last_tick = now;
            w.tick(now);
            if w.status_due(now) {
                w.send_status(now, src.stats(), true);
            }
        }
        if stop.load(Ordering::Relaxed) {
            break;
        }
    }
    let cap = src.stats();
    (w.finish(), cap, err)
}

#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    #[error(transparent)]
    Capture(#[from] CaptureError),
    #[error(transparent)]
    Output(#[from] OutputError),
    #[error("thread: {0}")]
    Thread(String),
}
