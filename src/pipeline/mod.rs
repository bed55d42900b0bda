//! Runs the per-worker stages on threads.
//!
//! Replay: the calling thread reads the capture, decodes each packet just far enough to know
//! its flow, puts IP fragments back together, and hands `(offset, len)` references into the
//! mapped file to the worker that owns the flow (symmetric flow hash), in batches. Live: each
//! worker reads its own AF_PACKET ring (kernel fanout by flow hash) and needs no dispatcher.
//! One output thread serialises what all workers produce.

pub(crate) mod dispatch;
mod live;
mod output;
pub mod worker;

pub use crate::status::WorkerStats;
pub use dispatch::{replay, ReplayOptions, Summary};
pub use live::LiveError;
pub use live::{run_live, LiveOptions};
pub use output::{ExportChange, Reload, Reloaded};
pub use worker::{Worker, WorkerShared};

use crate::export::OutputError;
use crate::record::Record;
use crate::status::{FinalStatus, Snapshot};

/// What the workers (and the replay dispatcher) send to the output stage.
pub enum OutMsg {
    /// A worker's records, the detection rules' hits on them (`Hit::record` indexes the
    /// records) and the generation of the rules that made them (`detect::live`).
    Records(Vec<Record>, Vec<crate::detect::Hit>, u64),
    /// The sensor's clock started (first packet in replay; start-up when live).
    Started { now_ns: u64 },
    /// A source's cumulative counters at the end of a status period.
    Status { source: usize, snap: Box<Snapshot> },
    /// Shutdown: the final counters, after every record was sent.
    Final(Box<FinalStatus>),
}

/// Stack of the output thread: fixed (it needs little), so `RUST_MIN_STACK` only sizes the
/// workers' stacks (tests use it to make a worker fail to start).
pub(crate) const OUTPUT_STACK: usize = 8 << 20;

/// Why a replay failed.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    Output(#[from] OutputError),
    #[error("thread: {0}")]
    Thread(String),
}
