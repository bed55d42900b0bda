//! Export: the output stage. Records arrive from the workers in batches, are serialised once,
//! and are written to a sink. Today: NDJSON to a file or stdout; the spool and remote sinks
//! (TLS backend, Kafka) plug in here.

mod ndjson;

pub use ndjson::{NdjsonSink, OutputError, OutputStats};

pub mod config;
#[cfg(feature = "kafka")]
pub mod kafka;
pub mod transport;

pub use config::{ExportSection, ProfileConfig, SinkConfig, SpoolConfig};
pub use transport::{Line, SinkError, Transport};
