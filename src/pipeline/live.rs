//! Live capture with one capture source per worker (AF_PACKET fanout): each worker thread reads
//! its own ring and runs the whole per-packet path itself; nothing is shared but the output.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use crossbeam_channel::bounded;

use crate::capture::{CaptureError, CaptureStats, Next, PacketSource};
use crate::config::Config;
use crate::export::{NdjsonSink, OutputError};
use crate::pipeline::dispatch::Summary;
use crate::pipeline::worker::{Worker, WorkerShared, WorkerStats};
use crate::record::Record;

pub struct LiveOptions {
    pub workers: usize,
    /// Set to end the capture (Ctrl-C).
    pub stop: Arc<AtomicBool>,
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
    let shared = Arc::new(WorkerShared::from_config(cfg, n));
    let (rec_tx, rec_rx) = bounded::<Vec<Record>>(n * 8);
    let output = std::thread::spawn(move || {
        let mut sink = sink;
        for b in rec_rx {
            sink.write_batch(&b)?;
        }
        sink.finish()
    });
    let mut handles = Vec::with_capacity(n);
    for (i, src) in sources.into_iter().enumerate() {
        let w = Worker::new(shared.clone(), rec_tx.clone());
        let stop = opts.stop.clone();
        let h = std::thread::Builder::new()
            .name(format!("tapir-worker-{i}"))
            .spawn(move || live_loop(w, src, stop))
            .map_err(|e| LiveError::Thread(e.to_string()))?;
        handles.push(h);
    }
    drop(rec_tx);
    let mut summary = Summary {
        worker_count: n,
        ..Summary::default()
    };
    let mut workers = WorkerStats::default();
    for h in handles {
        match h.join() {
            Ok((s, c, err)) => {
                workers.add(&s);
                summary.capture.add(&c);
                if let Some(e) = err {
                    summary.capture_errors.push(e);
                }
            }
            Err(_) => summary
                .capture_errors
                .push("a worker thread panicked".to_string()),
        }
    }
    summary.workers = workers;
    summary.output = match output.join() {
        Ok(r) => r?,
        Err(_) => return Err(LiveError::Thread("output thread panicked".into())),
    };
    summary.extract = crate::pipeline::dispatch::extract_stats(&shared);
    summary.elapsed = started.elapsed();
    Ok(summary)
}

fn wall_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
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
                if n % 4096 != 0 {
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
