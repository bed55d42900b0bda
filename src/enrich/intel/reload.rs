//! The current indicator set and its hot reload: on SIGHUP and when a feed file changes (size
//! or modification time, checked every `intel.check_interval` seconds), a new set is built
//! beside the old one and swapped in; workers take the current set once per record batch. A
//! reload that fails keeps the old set and says why in the next status record.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::{Duration, Instant};

use super::feed::{load_feed, wall_ns};
use super::store::{IntelSet, IntelSetBuilder};
use super::{IntelConfig, IntelError};
pub use crate::record::intel::IntelStatus;

/// Shared, cheap to clone; the reload thread stops when the last handle is dropped.
#[derive(Clone)]
pub struct IntelHandle {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for IntelHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IntelHandle")
            .field("indicators", &self.current().len())
            .finish()
    }
}

struct Inner {
    cfg: IntelConfig,
    current: RwLock<Arc<IntelSet>>,
    state: Mutex<State>,
    /// Set by SIGHUP.
    hup: Arc<AtomicBool>,
}

#[derive(Default)]
struct State {
    /// (file, size, mtime) of every feed file when the current set was built (or last tried).
    seen: Vec<(PathBuf, u64, u64)>,
    reloads: u64,
    failed_reloads: u64,
    last_error: Option<String>,
    last_reload: Option<u64>,
}

/// Builds a set from every configured feed.
pub fn build(cfg: &IntelConfig) -> Result<IntelSet, IntelError> {
    let mut b = IntelSetBuilder::new();
    for path in cfg.feed_files()? {
        let hint = cfg.type_hint(&path)?;
        load_feed(&mut b, &path, hint)?;
    }
    Ok(b.finish())
}

fn fingerprint(cfg: &IntelConfig) -> Vec<(PathBuf, u64, u64)> {
    cfg.feed_files()
        .unwrap_or_default()
        .into_iter()
        .map(|p| {
            let (size, mtime) = std::fs::metadata(&p)
                .map(|m| {
                    let t = m
                        .modified()
                        .ok()
                        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                        .map_or(0, |d| d.as_nanos() as u64);
                    (m.len(), t)
                })
                .unwrap_or((u64::MAX, 0));
            (p, size, mtime)
        })
        .collect()
}

impl IntelHandle {
    /// Loads every feed (an unreadable one is an error), then starts the reload thread and
    /// listens for SIGHUP.
    pub fn start(cfg: &IntelConfig) -> Result<IntelHandle, IntelError> {
        let h = IntelHandle::load(cfg)?;
        #[cfg(unix)]
        if let Err(e) =
            signal_hook::flag::register(signal_hook::consts::SIGHUP, h.inner.hup.clone())
        {
            tracing::warn!("intel: SIGHUP reload unavailable: {e}");
        }
        if cfg.check_interval > 0 {
            let weak = Arc::downgrade(&h.inner);
            let every = Duration::from_secs(cfg.check_interval);
            let spawned = std::thread::Builder::new()
                .name("tapir-intel".into())
                .spawn(move || watch(weak, every));
            if let Err(e) = spawned {
                tracing::warn!("intel: no reload thread: {e}");
            }
        }
        Ok(h)
    }

    /// Loads every feed, without the reload thread or signal.
    pub fn load(cfg: &IntelConfig) -> Result<IntelHandle, IntelError> {
        let seen = fingerprint(cfg);
        let started = Instant::now();
        let set = build(cfg)?;
        tracing::info!(
            "intel: {} indicators from {} feeds in {:.2}s ({} MiB)",
            set.len(),
            set.feeds().len(),
            started.elapsed().as_secs_f64(),
            set.memory_bytes() >> 20
        );
        let cfg = cfg.clone();
        Ok(IntelHandle {
            inner: Arc::new(Inner {
                cfg,
                current: RwLock::new(Arc::new(set)),
                state: Mutex::new(State {
                    seen,
                    ..State::default()
                }),
                hup: Arc::new(AtomicBool::new(false)),
            }),
        })
    }

    /// The set in use now.
    pub fn current(&self) -> Arc<IntelSet> {
        match self.inner.current.read() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// Whether a feed file changed (size, modification time, files added or removed) since
    /// the current set was built or last tried.
    pub fn changed(&self) -> bool {
        let now = fingerprint(&self.inner.cfg);
        let st = self.inner.state.lock().unwrap_or_else(|p| p.into_inner());
        st.seen != now
    }

    /// Builds a new set beside the current one and swaps it in; on failure the current set
    /// stays and the error is kept for the status record.
    pub fn reload(&self) -> Result<(), IntelError> {
        let seen = fingerprint(&self.inner.cfg);
        let res = build(&self.inner.cfg);
        let mut st = self.inner.state.lock().unwrap_or_else(|p| p.into_inner());
        st.seen = seen;
        st.last_reload = Some(wall_ns());
        match res {
            Ok(set) => {
                tracing::info!("intel: reloaded, {} indicators", set.len());
                let set = Arc::new(set);
                match self.inner.current.write() {
                    Ok(mut g) => *g = set,
                    Err(p) => *p.into_inner() = set,
                }
                st.reloads += 1;
                st.last_error = None;
                Ok(())
            }
            Err(e) => {
                tracing::error!("intel: reload failed, keeping the previous feeds: {e}");
                st.failed_reloads += 1;
                st.last_error = Some(e.to_string());
                Err(e)
            }
        }
    }

    /// The status block.
    pub fn status(&self) -> IntelStatus {
        let set = self.current();
        let st = self.inner.state.lock().unwrap_or_else(|p| p.into_inner());
        IntelStatus {
            indicators: set.len(),
            memory_bytes: set.memory_bytes() as u64,
            hits: set.hit_count(),
            reloads: st.reloads,
            failed_reloads: st.failed_reloads,
            last_reload: st.last_reload.map(crate::record::rfc3339_micros),
            last_error: st.last_error.clone(),
            feeds: set.feeds().to_vec(),
        }
    }

    /// One check: reload when SIGHUP came or a file changed.
    fn check(&self) {
        let hup = self.inner.hup.swap(false, Ordering::Relaxed);
        if hup || self.changed() {
            let _ = self.reload();
        }
    }
}

/// The reload thread: polls for SIGHUP often and for file changes every `every`; ends when
/// the handle is gone.
fn watch(weak: Weak<Inner>, every: Duration) {
    let tick = Duration::from_millis(200);
    let mut last_check = Instant::now();
    loop {
        std::thread::sleep(tick);
        let Some(inner) = weak.upgrade() else { return };
        let h = IntelHandle { inner };
        if h.inner.hup.load(Ordering::Relaxed) || last_check.elapsed() >= every {
            h.check();
            last_check = Instant::now();
        }
    }
}
