//! Export: the output stage. Records arrive from the workers in batches and are serialised
//! once (`ndjson`); each line goes to the main output, to the file sinks (`file`) and, when
//! remote sinks are configured, into the durable spool (`spool`), from which one thread per
//! remote sink (`remote`) sends it on through its transport (`https`, `kafka`) after the
//! data-provision policy (`policy`) has decided what may leave, and in what form.

pub mod exporter;
pub mod file;
pub mod https;
#[cfg(feature = "kafka")]
pub mod kafka;
mod ndjson;
pub mod policy;
pub mod remote;
pub mod spool;
pub mod transport;

pub use crate::config::{ExportSection, ProfileConfig, SinkConfig, SpoolConfig};
pub use exporter::{ExportError, Exporter};
pub use https::HttpsTransport;
pub use ndjson::{NdjsonSink, OutputError, OutputStats};
pub use transport::{Line, SinkError, Transport};
