//! The output stage: writes the workers' records and the status records, in arrival order.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError};

use crate::export::{NdjsonSink, OutputError, OutputStats};
use crate::pipeline::OutMsg;
use crate::status::Reporter;

/// Buffered output is written out at least this often (wall time), whatever the status
/// interval: a quiet sensor's records do not wait in the buffer.
pub(crate) const FLUSH_EVERY: Duration = Duration::from_secs(1);

/// Runs until every sender is gone (or a `Final` came and they went).
///
/// A write error (disk full, closed pipe) or a record that cannot be serialised sets `halt`, so
/// that the run stops instead of going on to lose everything after it; after a write error the
/// rest is counted as lost and the error is returned at the end.
pub(crate) fn output_loop(
    mut sink: NdjsonSink,
    rx: Receiver<OutMsg>,
    mut reporter: Reporter,
    halt: &AtomicBool,
) -> Result<OutputStats, OutputError> {
    let mut last_flush = Instant::now();
    loop {
        let wait = FLUSH_EVERY.saturating_sub(last_flush.elapsed());
        match rx.recv_timeout(wait) {
            Ok(msg) => {
                if let Err(e) = handle(&mut sink, &mut reporter, msg) {
                    tracing::error!("output stopped: {e}");
                    halt.store(true, Ordering::Relaxed);
                    return Err(e);
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        if last_flush.elapsed() >= FLUSH_EVERY {
            sink.flush();
            last_flush = Instant::now();
        }
        if sink.failed() && !halt.load(Ordering::Relaxed) {
            tracing::error!("writing the output failed: stopping");
            halt.store(true, Ordering::Relaxed);
        }
    }
    sink.finish()
}

fn handle(sink: &mut NdjsonSink, reporter: &mut Reporter, msg: OutMsg) -> Result<(), OutputError> {
    match msg {
        OutMsg::Records(batch) => {
            reporter.observe(&batch);
            sink.write_batch(&batch)?;
        }
        OutMsg::Started { now_ns } => {
            if let Some(r) = reporter.started(now_ns, sink.stats()) {
                sink.write_batch(std::slice::from_ref(&r))?;
                sink.flush();
            }
        }
        OutMsg::Status { source, snap } => {
            if let Some(r) = reporter.snapshot(source, *snap, sink.stats()) {
                sink.write_batch(std::slice::from_ref(&r))?;
                sink.flush();
            }
        }
        OutMsg::Final(fin) => {
            let recs = reporter.finish(*fin, sink.stats());
            sink.write_batch(&recs)?;
        }
    }
    Ok(())
}
