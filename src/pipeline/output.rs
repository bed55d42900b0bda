//! The output stage: writes the workers' records and the status records, in arrival order.

use crossbeam_channel::Receiver;

use crate::export::{NdjsonSink, OutputError, OutputStats};
use crate::pipeline::OutMsg;
use crate::status::Reporter;

/// Runs until every sender is gone (or a `Final` came and they went).
pub(crate) fn output_loop(
    mut sink: NdjsonSink,
    rx: Receiver<OutMsg>,
    mut reporter: Reporter,
) -> Result<OutputStats, OutputError> {
    for msg in rx {
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
    }
    sink.finish()
}
