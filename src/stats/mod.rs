//! Network statistics (issue 13; `docs/stats.md`): how often each domain and file is seen in
//! the local network, since when and by whom, kept in a persistent store that detection rules
//! and `tapir stats` read, and attached to `file` records as `file.frequency`.
//!
//! Workers aggregate into their own [`Collector`] (no lock on the packet path) and hand the
//! delta to one store-writer thread at the end of every status period on their clock and at
//! shutdown; the writer merges what is waiting into the [`Store`] in one redb transaction.
//! Distinct hosts and users are counted with mergeable HyperLogLog sketches ([`Hll`]) beside
//! exact, capped lists.

mod codec;
pub mod collect;
pub mod domain;
pub mod entry;
pub mod hll;
pub mod store;

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crossbeam_channel::{bounded, Receiver, Sender};

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

/// What workers read of the store: the files table as of a commit.
pub type FileView = Option<Arc<store::FileSnapshot>>;

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
    pub commits: AtomicU64,
    pub commit_errors: AtomicU64,
    pub bad_values: AtomicU64,
    /// Time spent merging and committing, nanoseconds.
    pub write_ns: AtomicU64,
    /// Entries merged (delta entries).
    pub merged: AtomicU64,
}

/// Everything the workers share about statistics (read-only but for the view cell).
pub struct StatsShared {
    pub home_net: Vec<ipnet::IpNet>,
    pub caps: StoreCaps,
    pub tx: Sender<WriterMsg>,
    pub gauges: Arc<StatsGauges>,
    /// The latest published snapshot of the files table (`file.frequency`).
    view: Mutex<FileView>,
    /// The store, for readers outside the writer (detection records' statistics snapshot).
    store: Arc<Store>,
}

impl StatsShared {
    /// The store as committed now (read transactions; the writer commits beside them).
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The latest published file snapshot (taken by a worker once per status period).
    pub fn view(&self) -> FileView {
        self.view.lock().ok().and_then(|v| v.clone())
    }
}

/// An opened statistics store, before its writer runs.
pub struct Stats {
    store: Arc<Store>,
    shared: Arc<StatsShared>,
    rx: Receiver<WriterMsg>,
    refresh_view: bool,
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
        let store = Arc::new(Store::open(state_dir, caps)?);
        let view = Some(Arc::new(store.file_snapshot()?));
        let (tx, rx) = bounded(64);
        let gauges = Arc::new(StatsGauges::default());
        let c = store.counts()?;
        gauges.domains.store(c.domains, Ordering::Relaxed);
        gauges.fqdns.store(c.fqdns, Ordering::Relaxed);
        gauges.files.store(c.files, Ordering::Relaxed);
        gauges.hosts.store(c.hosts, Ordering::Relaxed);
        Ok(Stats {
            store: store.clone(),
            shared: Arc::new(StatsShared {
                home_net: cfg.home_net.clone(),
                caps,
                tx,
                gauges,
                view: Mutex::new(view),
                store,
            }),
            rx,
            refresh_view,
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
        } = self;
        let join = std::thread::Builder::new()
            .name("tapir-stats".into())
            .spawn(move || writer_loop(store, rx, &shared, refresh_view))
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

fn writer_loop(store: Arc<Store>, rx: Receiver<WriterMsg>, shared: &StatsShared, refresh: bool) {
    let g = &shared.gauges;
    let mut stop = false;
    while !stop {
        let Ok(first) = rx.recv() else { break };
        let mut batch = Delta::default();
        let take = |m: WriterMsg, batch: &mut Delta| match m {
            WriterMsg::Delta(d) => {
                batch.absorb(*d, shared.caps.lists);
                false
            }
            WriterMsg::Stop => true,
        };
        stop = take(first, &mut batch);
        while let Ok(m) = rx.try_recv() {
            stop |= take(m, &mut batch);
        }
        if batch.is_empty() {
            continue;
        }
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
                g.bad_values.fetch_add(o.bad_values, Ordering::Relaxed);
                g.commits.fetch_add(1, Ordering::Relaxed);
                g.merged.fetch_add(n, Ordering::Relaxed);
                if refresh {
                    match store.file_snapshot() {
                        Ok(s) => {
                            if let Ok(mut v) = shared.view.lock() {
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
}
