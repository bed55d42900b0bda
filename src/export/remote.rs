//! One thread per remote sink: reads the spool from the sink's acknowledged cursor, applies
//! the sink's provision policy, sends batches through its [`Transport`], retries with
//! exponential backoff and jitter, and acknowledges (persists the cursor) only what the far end
//! has confirmed. The packet path never waits for a sink: a slow or absent backend only makes
//! the spool grow (up to its quota).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::export::policy::{Head, Policy};
use crate::export::spool::{SpoolBatch, SpoolReader};
use crate::export::transport::{Line, SinkError, Transport};

/// Counters of one remote sink, shared with the output stage for status records.
#[derive(Debug, Default)]
pub struct RemoteCounters {
    /// Records the far end acknowledged.
    pub sent: AtomicU64,
    pub batches: AtomicU64,
    /// Records sent again after a failed batch (possible duplicates at the backend).
    pub resent: AtomicU64,
    /// Failed send attempts.
    pub failures: AtomicU64,
    /// Records the sink's type/category grant kept back.
    pub filtered: AtomicU64,
    /// Records that could not be read as JSON (never sent; counted).
    pub unreadable: AtomicU64,
    /// 1 while the sink is failing (between a failed attempt and the next success).
    pub failing: AtomicBool,
    pub last_error: Mutex<Option<String>>,
}

/// When the sinks stop: once the spool is closed they keep sending what it holds until every
/// record is acknowledged or the deadline passes (the rest waits in the spool for the next
/// start).
#[derive(Debug, Default)]
pub struct StopSignal {
    deadline: Mutex<Option<Instant>>,
}

impl StopSignal {
    pub fn set_deadline(&self, at: Instant) {
        *self.deadline.lock().unwrap_or_else(|p| p.into_inner()) = Some(at);
    }
    fn passed(&self) -> bool {
        self.deadline
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_some_and(|d| Instant::now() >= d)
    }
}

pub struct RemoteOptions {
    pub batch_records: usize,
    pub batch_bytes: usize,
    pub retry_initial: Duration,
    pub retry_max: Duration,
}

/// A running sink thread.
pub struct RemoteSink {
    pub name: String,
    pub kind: String,
    pub describe: String,
    pub counters: Arc<RemoteCounters>,
    handle: Option<JoinHandle<()>>,
}

impl RemoteSink {
    pub fn spawn(
        name: &str,
        kind: &str,
        mut transport: Box<dyn Transport>,
        mut reader: SpoolReader,
        policy: Policy,
        opts: RemoteOptions,
        stop: Arc<StopSignal>,
    ) -> std::io::Result<RemoteSink> {
        let counters = Arc::new(RemoteCounters::default());
        let c = counters.clone();
        let describe = transport.describe();
        let thread_name = format!("sink-{name}");
        let handle = std::thread::Builder::new()
            .name(thread_name)
            .spawn(move || run(&mut *transport, &mut reader, &policy, &opts, &stop, &c))?;
        Ok(RemoteSink {
            name: name.to_string(),
            kind: kind.to_string(),
            describe,
            counters,
            handle: Some(handle),
        })
    }

    /// Waits for the thread (after the spool was closed and a deadline set).
    pub fn join(&mut self) {
        if let Some(h) = self.handle.take() {
            if h.join().is_err() {
                tracing::error!("export sink {}: its thread panicked", self.name);
            }
        }
    }
}

/// A small xorshift for jitter (no clock reads besides the seed).
struct Jitter(u64);
impl Jitter {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
}

/// The delay before attempt `n` (0-based after the first failure): `initial * 2^n`, capped,
/// with "full jitter" between half and all of it.
pub fn backoff(initial: Duration, max: Duration, n: u32, rand: u64) -> Duration {
    let base = initial
        .saturating_mul(1u32.checked_shl(n.min(20)).unwrap_or(u32::MAX))
        .min(max);
    let ms = base.as_millis() as u64;
    let half = ms / 2;
    Duration::from_millis(half + if half > 0 { rand % (half + 1) } else { 0 })
}

fn run(
    transport: &mut dyn Transport,
    reader: &mut SpoolReader,
    policy: &Policy,
    opts: &RemoteOptions,
    stop: &StopSignal,
    c: &RemoteCounters,
) {
    let sink = reader.sink().to_string();
    let mut batch = SpoolBatch::default();
    let mut out: Vec<u8> = Vec::new();
    let mut heads: Vec<(Head, usize, usize)> = Vec::new();
    let mut jitter = Jitter(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64 | 1)
            .unwrap_or(0x9e37_79b9),
    );
    loop {
        if stop.passed() {
            break;
        }
        match reader.read_batch(
            &mut batch,
            opts.batch_records,
            opts.batch_bytes,
            Duration::from_millis(250),
        ) {
            Ok(true) => {}
            Ok(false) => break, // closed and drained
            Err(e) => {
                tracing::error!("export sink {sink}: reading the spool: {e}");
                *c.last_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(e.to_string());
                std::thread::sleep(Duration::from_millis(500));
                continue;
            }
        }
        let Some(end) = batch.end() else {
            continue;
        };
        out.clear();
        heads.clear();
        for (_, payload) in batch.iter() {
            let a = out.len();
            match policy.apply(payload, &mut out) {
                Ok(Some(h)) => heads.push((h, a, out.len())),
                Ok(None) => {
                    c.filtered.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) => {
                    out.truncate(a);
                    c.unreadable.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!("export sink {sink}: a spooled record is not JSON: {e}");
                }
            }
        }
        let lines: Vec<Line<'_>> = heads
            .iter()
            .map(|(h, a, b)| Line {
                event_type: &h.event_type,
                flow_id: h.flow_id,
                id: &h.id,
                json: out.get(*a..*b).unwrap_or_default(),
            })
            .collect();
        let mut attempt = 0u32;
        let delivered = loop {
            if lines.is_empty() {
                break true;
            }
            match transport.send(&lines) {
                Ok(()) => {
                    c.sent.fetch_add(lines.len() as u64, Ordering::Relaxed);
                    c.batches.fetch_add(1, Ordering::Relaxed);
                    if attempt > 0 {
                        c.resent.fetch_add(lines.len() as u64, Ordering::Relaxed);
                        tracing::info!(
                            "export sink {sink}: delivered again after {attempt} failed attempts"
                        );
                    }
                    c.failing.store(false, Ordering::Relaxed);
                    break true;
                }
                Err(e) => {
                    c.failures.fetch_add(1, Ordering::Relaxed);
                    if !c.failing.swap(true, Ordering::Relaxed) || attempt.is_multiple_of(20) {
                        tracing::warn!(
                            "export sink {sink}: sending {} records failed (attempt {}): {e}",
                            lines.len(),
                            attempt + 1
                        );
                    }
                    *c.last_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(e.to_string());
                    let n = match e {
                        // Retrying the same way will not help soon: wait the longest.
                        SinkError::Rejected(_) | SinkError::Config(_) => 30,
                        SinkError::Transient(_) => attempt,
                    };
                    let delay = backoff(opts.retry_initial, opts.retry_max, n, jitter.next());
                    attempt += 1;
                    let until = Instant::now() + delay;
                    while Instant::now() < until {
                        if stop.passed() {
                            break;
                        }
                        std::thread::sleep(Duration::from_millis(20).min(delay));
                    }
                    if stop.passed() {
                        break false;
                    }
                }
            }
        };
        if !delivered {
            break;
        }
        if let Err(e) = reader.ack(end) {
            // The records were delivered; if the cursor cannot be kept they are sent again
            // after a restart (duplicates, never loss).
            tracing::error!("export sink {sink}: persisting the cursor: {e}");
            *c.last_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(e.to_string());
        }
    }
    let left = reader.position();
    tracing::debug!("export sink {sink}: stopped at {left}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_caps_and_jitters() {
        let i = Duration::from_millis(100);
        let m = Duration::from_millis(1000);
        assert_eq!(backoff(i, m, 0, 0), Duration::from_millis(50));
        assert_eq!(backoff(i, m, 0, 50), Duration::from_millis(100));
        assert_eq!(backoff(i, m, 2, 0), Duration::from_millis(200));
        assert_eq!(backoff(i, m, 10, 0), Duration::from_millis(500));
        assert_eq!(
            backoff(i, m, 99, u64::MAX),
            Duration::from_millis(500 + u64::MAX % 501)
        );
        assert!(backoff(i, m, 99, 7) <= m);
    }
}
