//! Network statistics (issue 13; `docs/stats.md`): how often each domain and file is seen in
//! the local network, since when and by whom, kept in a persistent store that detection rules
//! and `tapir stats` read, and attached to `file` records as `file.frequency`.
//!
//! Workers aggregate into their own [`Collector`] (no lock on the packet path) and hand the
//! delta to one store-writer thread at the end of every status period on their clock and at
//! shutdown; the writer merges what is waiting into the [`Store`] in one redb transaction.
//! Distinct hosts and users are counted with mergeable HyperLogLog sketches ([`Hll`]) beside
//! exact, capped lists.
//!
//! # Reading the statistics (detection)
//!
//! Detection rules read through the [`StatsShared`] every worker holds, from the worker's own
//! thread: [`StatsShared::domain`] (`stats.domain.*`) and [`StatsShared::file`]
//! (`stats.file.*`). Both read the latest published snapshot (a redb read transaction shared
//! through an `Arc`; no lock is held beyond cloning it) and return None when the entry is
//! unknown. Conditions map to the returned values as:
//!
//! | condition | value |
//! |---|---|
//! | `stats.domain.first_seen_age_s` | [`DomainStats::first_seen_age_s`] with the record's time |
//! | `stats.domain.hosts` | [`DomainStats::distinct_hosts`] |
//! | `stats.domain.users` | [`DomainStats::distinct_users`] |
//! | `stats.domain.requests` | [`DomainStats::requests`] |
//! | `stats.file.hosts` | [`FileStats::distinct_hosts`] |
//! | `stats.file.first_seen_age_s` | [`FileStats::first_seen_age_s`] |
//!
//! What "latest" means: live (`tapir run`), the store as of the writer's last commit (at most
//! one status period old). In replay, the store as it was when the run started, so that
//! records do not depend on thread timing: on a first replay (or in memory) every domain is
//! unknown, which a rule reads as "new to this network". Statistics off: the caller has no
//! `StatsShared` (`EvalCtx::stats` is None).

mod codec;
pub mod collect;
pub mod domain;
pub mod entry;
pub mod hll;
pub mod store;

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, Receiver, RecvTimeoutError, Sender};

pub use collect::{Collector, Delta};
pub use entry::{DomainStats, FileStats, HostStats, ListCaps};
pub use hll::Hll;
pub use store::{Store, StoreCaps, TableCounts};

#[derive(Debug, thiserror::Error)]
pub enum StatsError {
    #[error("statistics store: {0}")]
    Store(#[from] redb::Error),
    #[error("statistics state directory {path}: {source}")]
    Dir {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("statistics writer thread: {0}")]
    Thread(std::io::Error),
}

/// The store's limits from the configuration.
pub fn caps_from(c: &crate::config::StatsSection) -> StoreCaps {
    StoreCaps {
        cache_bytes: c.cache_size.max(1 << 20),
        max_domains: c.max_domains.max(1),
        max_fqdns: c.max_fqdns.max(1),
        max_files: c.max_files.max(1),
        max_hosts: c.max_hosts.max(1),
        max_age_ns: c.max_age.saturating_mul(1_000_000_000),
        lists: ListCaps {
            hosts: c.max_hosts_per_entry.max(1),
            names: c.max_names_per_entry.max(1),
        },
    }
}

/// What workers read of the store: the domains and files tables as of a commit; None when
/// nothing was committed yet (or, in replay, when the store was empty at the start).
pub type View = Option<Arc<store::Snapshot>>;

/// What the writer thread is sent.
pub enum WriterMsg {
    Delta(Box<Delta>),
    Stop,
}

/// The writer's counters, read by status records.
#[derive(Debug, Default)]
pub struct StatsGauges {
    pub domains: AtomicU64,
    pub fqdns: AtomicU64,
    pub files: AtomicU64,
    pub hosts: AtomicU64,
    /// Entries removed: aged out, and evicted past a cap.
    pub aged: AtomicU64,
    pub evicted: AtomicU64,
    /// Of `evicted`, past each table's cap (`stats.max_domains`, `max_fqdns`, `max_files`,
    /// `max_hosts`): the hits of those limits in `limits[]`.
    pub cap_evictions: TableGauges,
    pub commits: AtomicU64,
    pub commit_errors: AtomicU64,
    pub bad_values: AtomicU64,
    /// Time spent merging and committing, nanoseconds.
    pub write_ns: AtomicU64,
    /// Entries merged (delta entries).
    pub merged: AtomicU64,
    /// Deltas a worker handed over before its period ended because it held
    /// `stats.worker_entries` entries.
    pub early_handovers: AtomicU64,
    /// Times a worker's own view of this run's files (`file.frequency`) reached
    /// `stats.worker_entries` and was started afresh.
    pub view_resets: AtomicU64,
}

/// One counter per store table.
#[derive(Debug, Default)]
pub struct TableGauges {
    pub domains: AtomicU64,
    pub fqdns: AtomicU64,
    pub files: AtomicU64,
    pub hosts: AtomicU64,
}

impl TableGauges {
    fn add(&self, t: &store::TableCounts) {
        self.domains.fetch_add(t.domains, Ordering::Relaxed);
        self.fqdns.fetch_add(t.fqdns, Ordering::Relaxed);
        self.files.fetch_add(t.files, Ordering::Relaxed);
        self.hosts.fetch_add(t.hosts, Ordering::Relaxed);
    }
}

/// Everything the workers share about statistics (read-only but for the view cell).
pub struct StatsShared {
    pub home_net: Vec<ipnet::IpNet>,
    pub caps: StoreCaps,
    pub tx: Sender<WriterMsg>,
    pub gauges: Arc<StatsGauges>,
    /// Entries one worker's collector holds at most (`stats.worker_entries`).
    pub worker_entries: usize,
    /// The latest published snapshot (`file.frequency`, [`StatsShared::domain`]).
    view: RwLock<View>,
}

impl StatsShared {
    /// The latest published snapshot (a collector takes it once per status period).
    pub fn view(&self) -> View {
        self.view.read().ok().and_then(|v| v.clone())
    }

    /// The statistics of the registered domain of `registered_domain` (a full name rolls up:
    /// `www.example.co.uk` reads `example.co.uk`), as of the latest published snapshot; None
    /// when the store does not know it (new to the network, or nothing committed yet).
    /// Thread-safe and cheap: a clone of the snapshot's `Arc` under a read lock, then a redb
    /// read on that snapshot (no write lock, no I/O beyond redb's page cache).
    pub fn domain(&self, registered_domain: &str) -> Option<DomainStats> {
        let name = domain::normalise(registered_domain)?;
        self.view()?.domain(domain::registered(&name))
    }

    /// The statistics of a file by its SHA-256, as of the latest published snapshot; None
    /// when unknown. See [`StatsShared::domain`].
    pub fn file(&self, sha256: &[u8; 32]) -> Option<FileStats> {
        self.view()?.file(sha256)
    }

    /// An internal host's names and accounts, as of the latest published snapshot.
    pub fn host(&self, ip: &str) -> Option<HostStats> {
        self.view()?.host(ip)
    }
}

/// An opened statistics store, before its writer runs.
pub struct Stats {
    store: Store,
    shared: Arc<StatsShared>,
    rx: Receiver<WriterMsg>,
    refresh_view: bool,
    gather: Duration,
}

impl Stats {
    /// Opens the store (`state_dir` None: in memory). `refresh_view`: publish a new file
    /// snapshot after every commit (live); otherwise workers see the store as it was when
    /// opened, plus what they saw themselves, so replay records do not depend on thread timing.
    pub fn open(
        cfg: &crate::config::Config,
        state_dir: Option<&Path>,
        refresh_view: bool,
    ) -> Result<Stats, StatsError> {
        let caps = caps_from(&cfg.stats);
        let store = Store::open(state_dir, caps)?;
        let c = store.counts()?;
        // Replay (no refresh) reads the store as it was when opened; an empty store has
        // nothing to read, and a snapshot held for the whole run would keep redb from reusing
        // any page freed meanwhile.
        let empty = c == TableCounts::default();
        let view = if refresh_view || !empty {
            Some(Arc::new(store.snapshot()?))
        } else {
            None
        };
        // Two deltas per worker wait at most (each up to `stats.worker_entries` entries);
        // past that a worker waits for the writer.
        let (tx, rx) = bounded(2 * cfg.worker_count().max(1) + 2);
        let gauges = Arc::new(StatsGauges::default());
        gauges.domains.store(c.domains, Ordering::Relaxed);
        gauges.fqdns.store(c.fqdns, Ordering::Relaxed);
        gauges.files.store(c.files, Ordering::Relaxed);
        gauges.hosts.store(c.hosts, Ordering::Relaxed);
        Ok(Stats {
            store,
            shared: Arc::new(StatsShared {
                home_net: cfg.home_net.clone(),
                caps,
                tx,
                gauges,
                worker_entries: cfg.stats.worker_entries.max(64),
                view: RwLock::new(view),
            }),
            rx,
            refresh_view,
            gather: Duration::from_millis(cfg.stats.commit_interval_ms),
        })
    }

    pub fn shared(&self) -> Arc<StatsShared> {
        self.shared.clone()
    }

    /// Starts the store-writer thread.
    pub fn start(self) -> Result<StatsWriter, StatsError> {
        let tx = self.shared.tx.clone();
        let Stats {
            store,
            shared,
            rx,
            refresh_view,
            gather,
        } = self;
        let join = std::thread::Builder::new()
            .name("tapir-stats".into())
            .spawn(move || writer_loop(store, rx, &shared, refresh_view, gather))
            .map_err(StatsError::Thread)?;
        Ok(StatsWriter { tx, join })
    }
}

/// The running store writer.
pub struct StatsWriter {
    tx: Sender<WriterMsg>,
    join: std::thread::JoinHandle<()>,
}

impl StatsWriter {
    /// Commits what is waiting and stops (call after every worker has finished).
    pub fn finish(self) {
        let _ = self.tx.send(WriterMsg::Stop);
        if self.join.join().is_err() {
            tracing::error!("the statistics writer panicked");
        }
    }
}

/// The writer gathers the deltas that arrive within `gather` (wall clock) of the first one,
/// or until `max_batch` entries wait, into one write transaction: a commit rewrites every page
/// it touches, so fewer, larger commits cost less time and leave the file smaller.
fn writer_loop(
    mut store: Store,
    rx: Receiver<WriterMsg>,
    shared: &StatsShared,
    refresh: bool,
    gather: Duration,
) {
    let g = &shared.gauges;
    let max_batch = shared.worker_entries.saturating_mul(4);
    let mut batch = Delta::default();
    let mut since = Instant::now();
    let mut stop = false;
    while !stop {
        let msg = if batch.is_empty() {
            rx.recv().ok()
        } else {
            match rx.recv_timeout(gather.saturating_sub(since.elapsed())) {
                Ok(m) => Some(m),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => Some(WriterMsg::Stop),
            }
        };
        match msg {
            Some(WriterMsg::Delta(d)) => {
                if batch.is_empty() {
                    since = Instant::now();
                }
                batch.absorb(*d, shared.caps.lists);
            }
            Some(WriterMsg::Stop) => stop = true,
            // Disconnected while idle: nothing more will come.
            None if batch.is_empty() => stop = true,
            None => {}
        }
        let due = stop || since.elapsed() >= gather || batch.entries() >= max_batch;
        if batch.is_empty() || !due {
            continue;
        }
        let batch = std::mem::take(&mut batch);
        let t = Instant::now();
        let n = batch.entries() as u64;
        match store.commit(&batch) {
            Ok(o) => {
                g.domains.store(o.counts.domains, Ordering::Relaxed);
                g.fqdns.store(o.counts.fqdns, Ordering::Relaxed);
                g.files.store(o.counts.files, Ordering::Relaxed);
                g.hosts.store(o.counts.hosts, Ordering::Relaxed);
                g.aged.fetch_add(o.aged, Ordering::Relaxed);
                g.evicted.fetch_add(o.evicted, Ordering::Relaxed);
                g.cap_evictions.add(&o.evicted_per_table);
                g.bad_values.fetch_add(o.bad_values, Ordering::Relaxed);
                g.commits.fetch_add(1, Ordering::Relaxed);
                g.merged.fetch_add(n, Ordering::Relaxed);
                if refresh {
                    match store.snapshot() {
                        Ok(s) => {
                            if let Ok(mut v) = shared.view.write() {
                                *v = Some(Arc::new(s));
                            }
                        }
                        Err(err) => tracing::warn!("statistics snapshot: {err}"),
                    }
                }
            }
            Err(err) => {
                if g.commit_errors.fetch_add(1, Ordering::Relaxed) == 0 {
                    tracing::error!("statistics commit failed (the batch is lost): {err}");
                }
            }
        }
        g.write_ns
            .fetch_add(t.elapsed().as_nanos() as u64, Ordering::Relaxed);
    }
    // A file kept after exit is compacted once the snapshot workers read is dropped (live:
    // they are all stopped by now; a snapshot still held elsewhere makes it a no-op).
    if store.path().is_some() {
        if let Ok(mut v) = shared.view.write() {
            *v = None;
        }
        let t = Instant::now();
        match store.compact() {
            Ok(_) => tracing::debug!("statistics store compacted in {:?}", t.elapsed()),
            Err(err) => tracing::debug!("statistics store not compacted: {err}"),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn domain_and_file_read_the_published_snapshot() {
        let cfg = crate::config::Config::default();
        let stats = Stats::open(&cfg, None, true).unwrap();
        let shared = stats.shared();
        assert!(shared.domain("www.example.co.uk").is_none());
        assert!(shared.file(&[7; 32]).is_none());
        let writer = stats.start().unwrap();
        let caps = shared.caps.lists;
        let mut d = Delta::default();
        let mut dom = DomainStats {
            requests: 3,
            first_seen: 1_000_000_000,
            last_seen: 5_000_000_000,
            ..Default::default()
        };
        dom.hosts.add("10.0.0.1", caps.hosts);
        dom.hosts.add("10.0.0.2", caps.hosts);
        d.domains.insert("example.co.uk".into(), dom);
        let mut f = FileStats {
            count: 1,
            first_seen: 2_000_000_000,
            last_seen: 2_000_000_000,
            ..Default::default()
        };
        f.add_host("10.0.0.1", 2_000_000_000, caps.hosts);
        d.files.insert([7; 32], f);
        d.now_ns = 5_000_000_000;
        shared.tx.send(WriterMsg::Delta(Box::new(d))).unwrap();
        writer.finish();
        // Any name under the registered domain reads it, from any thread.
        let s2 = shared.clone();
        let got = std::thread::spawn(move || s2.domain("A.WWW.Example.CO.UK.").unwrap())
            .join()
            .unwrap();
        assert_eq!(got.requests, 3);
        assert_eq!(got.distinct_hosts(), 2);
        assert_eq!(got.first_seen_age_s(11_000_000_000), 10);
        assert!(shared.domain("example.com").is_none());
        let f = shared.file(&[7; 32]).unwrap();
        assert_eq!(f.distinct_hosts(), 1);
        assert_eq!(f.first_seen_age_s(2_500_000_000), 0);
        assert!(shared.file(&[8; 32]).is_none());
    }
}
