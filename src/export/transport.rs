//! What a remote sink must do: deliver one batch and say when the far end has it.
//!
//! The spool driver (`export::remote`) owns everything else: reading the spool from the sink's
//! acknowledged cursor, the type/category filter, the provision policy, batching, retries with
//! backoff and jitter, the cursor. A transport only sends.

/// One record on its way out: its NDJSON line (no newline) after the provision policy.
#[derive(Clone, Copy, Debug)]
pub struct Line<'a> {
    /// The record's `event_type`.
    pub event_type: &'a str,
    /// The record's `flow_id`, when it has one (Kafka's message key).
    pub flow_id: Option<u64>,
    /// The record's `id` (`<run>-<seq>`), unique: the backend deduplicates on it.
    pub id: &'a str,
    pub json: &'a [u8],
}

#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// Worth retrying: the far end is down, slow, or said so (HTTP 5xx, 408, 429; broker
    /// unavailable). The batch is sent again after a backoff.
    #[error("{0}")]
    Transient(String),
    /// Will not get better by retrying the same way (HTTP 4xx, a certificate the server
    /// refuses, a topic that does not exist). The batch is still kept and retried at the
    /// longest backoff, and the error is logged and counted: nothing is dropped.
    #[error("{0}")]
    Rejected(String),
    /// The sink cannot be set up at all (bad URL, unreadable certificate): the run stops.
    #[error("{0}")]
    Config(String),
}

/// A remote destination. Called from the sink's own thread, never from the packet path.
pub trait Transport: Send {
    /// Delivers `batch`, in order. Returns Ok only once the far end has acknowledged every
    /// line of it (HTTP 2xx; Kafka delivery reports of every message); the driver then
    /// advances and persists the sink's cursor. On error the whole batch is sent again later,
    /// so lines may arrive twice (at-least-once; the `id` deduplicates).
    fn send(&mut self, batch: &[Line<'_>]) -> Result<(), SinkError>;

    /// Short description for logs ("https://host:8443/ingest", "kafka 127.0.0.1:9092/tapir").
    fn describe(&self) -> String;
}
