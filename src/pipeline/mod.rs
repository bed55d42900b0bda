//! Runs the per-worker stages on threads.
//!
//! Replay: the calling thread reads the capture, decodes each packet just far enough to know
//! its flow, puts IP fragments back together, and hands `(offset, len)` references into the
//! mapped file to the worker that owns the flow (symmetric flow hash), in batches. Live: each
//! worker reads its own AF_PACKET ring (kernel fanout by flow hash) and needs no dispatcher.
//! One output thread serialises what all workers produce.

mod dispatch;
mod live;
pub mod worker;

pub use dispatch::{replay, ReplayOptions, Summary};
pub use live::{run_live, LiveOptions};
pub use worker::{Worker, WorkerShared, WorkerStats};
