//! Log output helpers: a per-callsite rate limit (`--log-rate N`: a token bucket of N lines
//! per second for each `tracing` callsite) whose suppressed lines are counted in
//! `sensor_status.health.log_suppressed` and reported by a periodic "suppressed N log lines"
//! warning.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tracing::callsite::Identifier;

/// Seconds between the "suppressed N log lines" warnings (when something was suppressed).
pub const SUPPRESSED_REPORT_INTERVAL: Duration = Duration::from_secs(10);

/// Most callsites tracked (a new one past this is let through without a bucket).
const MAX_CALLSITES: usize = 4096;

/// A per-callsite token bucket: `rate` events per second, bursts of up to `rate`.
pub struct RateLimit {
    rate: f64,
    buckets: Mutex<HashMap<Identifier, (f64, Instant)>>,
}

impl RateLimit {
    /// `rate`: lines per second per callsite (at least 1).
    pub fn new(rate: u32) -> RateLimit {
        RateLimit {
            rate: f64::from(rate.max(1)),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Whether one more event of `callsite` may be written at `now` (takes a token).
    pub fn allow(&self, callsite: Identifier, now: Instant) -> bool {
        let Ok(mut b) = self.buckets.lock() else {
            return true;
        };
        if b.len() >= MAX_CALLSITES && !b.contains_key(&callsite) {
            return true;
        }
        let (tokens, last) = b.entry(callsite).or_insert((self.rate, now));
        let elapsed = now.saturating_duration_since(*last).as_secs_f64();
        *tokens = (*tokens + elapsed * self.rate).min(self.rate);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            super::health::add_suppressed(1);
            // The reporting thread starts at the first suppression, not at start-up: `tapir
            // run` drops its privileges before any thread starts (capabilities and
            // no_new_privs are per thread).
            static REPORTER: std::sync::Once = std::sync::Once::new();
            REPORTER.call_once(|| report_suppressed(SUPPRESSED_REPORT_INTERVAL));
            false
        }
    }
}

impl<S> tracing_subscriber::layer::Filter<S> for RateLimit {
    fn enabled(
        &self,
        _meta: &tracing::Metadata<'_>,
        _cx: &tracing_subscriber::layer::Context<'_, S>,
    ) -> bool {
        true
    }

    fn event_enabled(
        &self,
        event: &tracing::Event<'_>,
        _cx: &tracing_subscriber::layer::Context<'_, S>,
    ) -> bool {
        self.allow(event.metadata().callsite(), Instant::now())
    }
}

/// Starts a thread that logs "suppressed N log lines" every `interval` in which the rate
/// limit suppressed some.
pub fn report_suppressed(interval: Duration) {
    let _ = std::thread::Builder::new()
        .name("log-rate".into())
        .spawn(move || {
            let mut seen = 0;
            loop {
                std::thread::sleep(interval);
                let now = super::health::suppressed_log_lines();
                if now > seen {
                    tracing::warn!(
                        target: "tapir::log",
                        "suppressed {} log lines (--log-rate), {now} since start",
                        now - seen
                    );
                    seen = now;
                }
            }
        });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Not zero-sized: two zero-sized statics may share an address (callsites compare by it).
    struct Cs(#[allow(dead_code)] u8);
    impl tracing::callsite::Callsite for Cs {
        fn set_interest(&self, _: tracing::subscriber::Interest) {}
        fn metadata(&self) -> &tracing::Metadata<'_> {
            unreachable!()
        }
    }
    static A: Cs = Cs(0);
    static B: Cs = Cs(1);

    #[test]
    fn token_bucket_per_callsite() {
        let rl = RateLimit::new(3);
        let t0 = Instant::now();
        let id = || Identifier(&A);
        let allowed = (0..10).filter(|_| rl.allow(id(), t0)).count();
        assert_eq!(allowed, 3);
        // Another callsite has its own bucket.
        assert!(rl.allow(Identifier(&B), t0));
        // A second later the bucket is full again (3 tokens), not more.
        let t1 = t0 + Duration::from_secs(1);
        let allowed = (0..10).filter(|_| rl.allow(id(), t1)).count();
        assert_eq!(allowed, 3);
    }
}
