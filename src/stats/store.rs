//! The persistent store: one redb file (`stats.redb`) in the state directory, or redb's
//! in-memory backend. Four tables keyed by name, SHA-256 and address, values in the compact
//! encoding of `entry`; one write transaction per batch of deltas, so a crash (even `kill -9`)
//! loses at most the batch being written, never the store's consistency (redb commits are
//! atomic and its file is checksummed).
//!
//! Bounded: entries not seen for `max_age` (packet time) are removed, and a table past its cap
//! loses its least recently seen entries (a tenth of the cap at once, so that a full table is
//! not scanned at every commit). Both are counted.

use std::path::{Path, PathBuf};

use redb::{
    Database, Durability, ReadOnlyTable, ReadableDatabase, ReadableTable, ReadableTableMetadata,
    TableDefinition,
};

use super::collect::Delta;
use super::entry::{DomainStats, FileStats, HostStats, ListCaps};
use super::StatsError;

pub(super) const DOMAINS: TableDefinition<&str, &[u8]> = TableDefinition::new("domains");
pub(super) const FQDNS: TableDefinition<&str, &[u8]> = TableDefinition::new("fqdns");
pub(super) const FILES: TableDefinition<&[u8], &[u8]> = TableDefinition::new("files");
pub(super) const HOSTS: TableDefinition<&str, &[u8]> = TableDefinition::new("hosts");
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");

/// The store's file in a state directory.
pub const FILE_NAME: &str = "stats.redb";

/// Limits of the store.
#[derive(Clone, Copy, Debug)]
pub struct StoreCaps {
    /// redb's page cache, bytes (redb's own default is 1 GiB).
    pub cache_bytes: usize,
    pub max_domains: usize,
    pub max_fqdns: usize,
    pub max_files: usize,
    pub max_hosts: usize,
    /// Entries not seen for this long are removed (0: never).
    pub max_age_ns: u64,
    pub lists: ListCaps,
}

/// Entries per table.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct TableCounts {
    pub domains: u64,
    pub fqdns: u64,
    pub files: u64,
    pub hosts: u64,
}

/// What one commit did.
#[derive(Clone, Copy, Debug, Default)]
pub struct CommitOutcome {
    pub counts: TableCounts,
    pub aged: u64,
    pub evicted: u64,
    /// Of `evicted`, per table: entries removed because the table passed its cap.
    pub evicted_per_table: TableCounts,
    /// Stored values that did not decode (replaced by the new delta).
    pub bad_values: u64,
}

pub struct Store {
    db: Database,
    caps: StoreCaps,
    path: Option<PathBuf>,
    /// Commits so far (an in-memory store syncs only every [`ANON_SYNC_EVERY`]th).
    commits: u64,
}

/// A store that is gone at exit needs no durable commit; one in this many still is, because
/// redb reuses the pages a commit frees only after a durable commit (the file would grow with
/// every commit otherwise).
const ANON_SYNC_EVERY: u64 = 8;

fn e<E: Into<redb::Error>>(x: E) -> StatsError {
    StatsError::Store(x.into())
}

/// An encoded value's `last_seen` without decoding the rest: the first varint after the
/// version byte; in version 1 values the `v1`-th (3 for domains and files, 2 for hosts).
fn last_seen(b: &[u8], v1: usize) -> u64 {
    let n = if b.first() == Some(&1) { v1 } else { 1 };
    let mut r = super::codec::Reader::new(b.get(1..).unwrap_or_default());
    let mut v = 0;
    for _ in 0..n {
        v = r.uvar().unwrap_or(0);
    }
    v
}

/// Ageing scans whole tables, so it runs when packet time has moved on by this fraction of
/// `max_age` since the last scan (entries live at most that much longer than `max_age`).
const AGE_SCAN_FRACTION: u64 = 64;

fn create_tables(db: &Database) -> Result<(), StatsError> {
    let w = db.begin_write().map_err(e)?;
    {
        w.open_table(DOMAINS).map_err(e)?;
        w.open_table(FQDNS).map_err(e)?;
        w.open_table(FILES).map_err(e)?;
        w.open_table(HOSTS).map_err(e)?;
        w.open_table(META).map_err(e)?;
    }
    w.commit().map_err(e)?;
    Ok(())
}

fn str_key(k: &String) -> &str {
    k
}

fn bytes_key(k: &[u8; 32]) -> &[u8] {
    k
}

/// A store that is gone at exit: a file in the temporary directory, unlinked as soon as it
/// is open, so that its pages live in the OS page cache and on disk rather than in the
/// process (redb's in-memory backend kept the whole file, grown by doubling, in the heap).
fn anonymous(caps: StoreCaps) -> Result<Database, StatsError> {
    static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let p = std::env::temp_dir().join(format!("tapir-stats-{}-{n}.redb", std::process::id()));
    let dir_err = |source| StatsError::Dir {
        path: p.display().to_string(),
        source,
    };
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&p)
        .map_err(dir_err)?;
    std::fs::remove_file(&p).map_err(dir_err)?;
    Database::builder()
        .set_cache_size(caps.cache_bytes)
        .create_file(file)
        .map_err(e)
}

impl Store {
    /// Opens (or creates) the store in `dir`, or one gone at exit when `dir` is None.
    pub fn open(dir: Option<&Path>, caps: StoreCaps) -> Result<Store, StatsError> {
        let (db, path) = match dir {
            Some(d) => {
                std::fs::create_dir_all(d).map_err(|source| StatsError::Dir {
                    path: d.display().to_string(),
                    source,
                })?;
                let p = d.join(FILE_NAME);
                if !p.exists() {
                    // A new store is made under another name and renamed into place once its
                    // first commit is on disk: a kill during creation leaves no half-made file.
                    let tmp = d.join(format!("{FILE_NAME}.new"));
                    let _ = std::fs::remove_file(&tmp);
                    let db = Database::builder()
                        .set_cache_size(caps.cache_bytes)
                        .create(&tmp)
                        .map_err(e)?;
                    create_tables(&db)?;
                    drop(db);
                    std::fs::rename(&tmp, &p).map_err(|source| StatsError::Dir {
                        path: p.display().to_string(),
                        source,
                    })?;
                }
                let db = Database::builder()
                    .set_cache_size(caps.cache_bytes)
                    .create(&p)
                    .map_err(e)?;
                (db, Some(p))
            }
            None => (anonymous(caps)?, None),
        };
        create_tables(&db)?;
        Ok(Store {
            db,
            caps,
            path,
            commits: 0,
        })
    }

    /// Opens an existing store read-only in spirit (for `tapir stats`): no caps apply.
    pub fn open_existing(dir: &Path) -> Result<Store, StatsError> {
        let p = dir.join(FILE_NAME);
        if !p.exists() {
            return Err(StatsError::Dir {
                path: p.display().to_string(),
                source: std::io::Error::from(std::io::ErrorKind::NotFound),
            });
        }
        Store::open(
            Some(dir),
            super::caps_from(&crate::config::StatsSection::default()),
        )
    }

    /// Gives the free pages back (at shutdown, when no snapshot is held): a commit rewrites
    /// the pages it touches, so the file grows past its data between compactions.
    pub fn compact(&mut self) -> Result<bool, StatsError> {
        self.db
            .compact()
            .map_err(|x| StatsError::Store(redb::Error::from(x)))
    }

    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Merges a delta in one write transaction, then ages and caps the tables.
    pub fn commit(&mut self, d: &Delta) -> Result<CommitOutcome, StatsError> {
        let caps = self.caps;
        let mut out = CommitOutcome::default();
        let mut w = self.db.begin_write().map_err(e)?;
        self.commits += 1;
        if self.path.is_none() && !self.commits.is_multiple_of(ANON_SYNC_EVERY) {
            w.set_durability(Durability::None).map_err(e)?;
        }
        {
            let mut meta = w.open_table(META).map_err(e)?;
            let prev_now = meta.get("now_ns").map_err(e)?.map_or(0, |v| v.value());
            let now = prev_now.max(d.now_ns);
            meta.insert("now_ns", now).map_err(e)?;
            let commits = meta.get("commits").map_err(e)?.map_or(0, |v| v.value());
            meta.insert("commits", commits + 1).map_err(e)?;
            let aged_at = meta.get("aged_at_ns").map_err(e)?.map_or(0, |v| v.value());
            let cutoff = if caps.max_age_ns > 0
                && now.saturating_sub(aged_at) >= caps.max_age_ns / AGE_SCAN_FRACTION
            {
                meta.insert("aged_at_ns", now).map_err(e)?;
                now.saturating_sub(caps.max_age_ns)
            } else {
                0
            };
            macro_rules! merge_table {
                ($def:expr, $map:expr, $ty:ty, $key:expr, $cap:expr, $last:expr, $table:ident) => {{
                    let mut t = w.open_table($def).map_err(e)?;
                    // In key order: neighbouring keys share B-tree pages, so each page is
                    // copied once per commit and found while still in the cache.
                    let mut sorted: Vec<_> = $map.iter().collect();
                    sorted.sort_unstable_by(|a, b| a.0.cmp(b.0));
                    for (k, v) in sorted {
                        let key = $key(k);
                        let old = t.get(key).map_err(e)?;
                        let merged = match old.as_ref().map(|o| <$ty>::decode(o.value())) {
                            Some(Some(mut cur)) => {
                                cur.merge(v, caps.lists);
                                cur.encode()
                            }
                            Some(None) => {
                                out.bad_values += 1;
                                v.encode()
                            }
                            None => v.encode(),
                        };
                        drop(old);
                        t.insert(key, merged.as_slice()).map_err(e)?;
                    }
                    if cutoff > 0 {
                        let before = t.len().map_err(e)?;
                        t.retain(|_, v| last_seen(v, $last) >= cutoff).map_err(e)?;
                        out.aged += before - t.len().map_err(e)?;
                    }
                    let len = t.len().map_err(e)? as usize;
                    if len > $cap {
                        // Least recently seen first; down to nine tenths of the cap.
                        let mut ages: Vec<u64> = Vec::with_capacity(len);
                        for item in t.iter().map_err(e)? {
                            let (_, v) = item.map_err(e)?;
                            ages.push(last_seen(v.value(), $last));
                        }
                        ages.sort_unstable();
                        let remove = len - $cap * 9 / 10;
                        let threshold = ages.get(remove.saturating_sub(1)).copied().unwrap_or(0);
                        let mut removed = 0usize;
                        t.retain(|_, v| {
                            if removed < remove && last_seen(v, $last) <= threshold {
                                removed += 1;
                                false
                            } else {
                                true
                            }
                        })
                        .map_err(e)?;
                        out.evicted += removed as u64;
                        out.evicted_per_table.$table += removed as u64;
                    }
                    t.len().map_err(e)?
                }};
            }
            out.counts.domains = merge_table!(
                DOMAINS,
                d.domains,
                DomainStats,
                str_key,
                caps.max_domains,
                3,
                domains
            );
            out.counts.fqdns = merge_table!(
                FQDNS,
                d.fqdns,
                DomainStats,
                str_key,
                caps.max_fqdns,
                3,
                fqdns
            );
            out.counts.files = merge_table!(
                FILES,
                d.files,
                FileStats,
                bytes_key,
                caps.max_files,
                3,
                files
            );
            out.counts.hosts =
                merge_table!(HOSTS, d.hosts, HostStats, str_key, caps.max_hosts, 2, hosts);
            let ev = meta.get("evictions").map_err(e)?.map_or(0, |v| v.value());
            meta.insert("evictions", ev + out.aged + out.evicted)
                .map_err(e)?;
        }
        w.commit().map_err(e)?;
        Ok(out)
    }

    /// Entries per table now.
    pub fn counts(&self) -> Result<TableCounts, StatsError> {
        let r = self.db.begin_read().map_err(e)?;
        Ok(TableCounts {
            domains: r.open_table(DOMAINS).map_err(e)?.len().map_err(e)?,
            fqdns: r.open_table(FQDNS).map_err(e)?.len().map_err(e)?,
            files: r.open_table(FILES).map_err(e)?.len().map_err(e)?,
            hosts: r.open_table(HOSTS).map_err(e)?.len().map_err(e)?,
        })
    }

    /// A meta counter ("commits", "evictions", "now_ns").
    pub fn meta(&self, key: &str) -> Result<u64, StatsError> {
        let r = self.db.begin_read().map_err(e)?;
        let t = r.open_table(META).map_err(e)?;
        let v = t.get(key).map_err(e)?.map_or(0, |v| v.value());
        Ok(v)
    }

    fn get_str<T>(
        &self,
        def: TableDefinition<&str, &[u8]>,
        key: &str,
        dec: fn(&[u8]) -> Option<T>,
    ) -> Result<Option<T>, StatsError> {
        let r = self.db.begin_read().map_err(e)?;
        let t = r.open_table(def).map_err(e)?;
        let v = t.get(key).map_err(e)?.and_then(|v| dec(v.value()));
        Ok(v)
    }

    pub fn domain(&self, name: &str) -> Result<Option<DomainStats>, StatsError> {
        self.get_str(DOMAINS, name, DomainStats::decode)
    }

    pub fn fqdn(&self, name: &str) -> Result<Option<DomainStats>, StatsError> {
        self.get_str(FQDNS, name, DomainStats::decode)
    }

    pub fn host(&self, ip: &str) -> Result<Option<HostStats>, StatsError> {
        self.get_str(HOSTS, ip, HostStats::decode)
    }

    pub fn file(&self, sha256: &[u8; 32]) -> Result<Option<FileStats>, StatsError> {
        let r = self.db.begin_read().map_err(e)?;
        let t = r.open_table(FILES).map_err(e)?;
        let v = t
            .get(sha256.as_slice())
            .map_err(e)?
            .and_then(|v| FileStats::decode(v.value()));
        Ok(v)
    }

    /// Every entry of the domains (`fqdn` false) or FQDNs table.
    pub fn all_domains(&self, fqdn: bool) -> Result<Vec<(String, DomainStats)>, StatsError> {
        let r = self.db.begin_read().map_err(e)?;
        let t = r
            .open_table(if fqdn { FQDNS } else { DOMAINS })
            .map_err(e)?;
        let mut out = Vec::new();
        for item in t.iter().map_err(e)? {
            let (k, v) = item.map_err(e)?;
            if let Some(d) = DomainStats::decode(v.value()) {
                out.push((k.value().to_string(), d));
            }
        }
        Ok(out)
    }

    /// FQDNs under a registered domain.
    pub fn fqdns_under(&self, reg: &str) -> Result<Vec<(String, DomainStats)>, StatsError> {
        let suffix = format!(".{reg}");
        Ok(self
            .all_domains(true)?
            .into_iter()
            .filter(|(k, _)| k == reg || k.ends_with(&suffix))
            .collect())
    }

    /// A consistent read-only snapshot of the domains and files tables as committed now.
    pub fn snapshot(&self) -> Result<Snapshot, StatsError> {
        let r = self.db.begin_read().map_err(e)?;
        Ok(Snapshot {
            domains: r.open_table(DOMAINS).map_err(e)?,
            files: r.open_table(FILES).map_err(e)?,
            hosts: r.open_table(HOSTS).map_err(e)?,
        })
    }
}

/// The domains and files tables as of one commit (see [`Store::snapshot`]): a redb read
/// transaction, shared by the workers without a lock. While one is alive, redb cannot reuse
/// the pages later commits free, so a snapshot is replaced at every commit (live) or not
/// taken at all when the store was empty (replay).
pub struct Snapshot {
    domains: ReadOnlyTable<&'static str, &'static [u8]>,
    files: ReadOnlyTable<&'static [u8], &'static [u8]>,
    hosts: ReadOnlyTable<&'static str, &'static [u8]>,
}

impl Snapshot {
    /// A registered domain's statistics (the key as stored: normalised, rolled up).
    pub fn domain(&self, registered: &str) -> Option<DomainStats> {
        let v = self.domains.get(registered).ok()??;
        DomainStats::decode(v.value())
    }

    pub fn file(&self, sha256: &[u8; 32]) -> Option<FileStats> {
        let v = self.files.get(sha256.as_slice()).ok()??;
        FileStats::decode(v.value())
    }

    /// An internal host's names and accounts, by its address as text.
    pub fn host(&self, ip: &str) -> Option<HostStats> {
        let v = self.hosts.get(ip).ok()??;
        HostStats::decode(v.value())
    }
}
