//! Optional extraction of files to disk (off by default).
//!
//! Bytes are streamed to a temporary file in the target directory while the file arrives
//! ([`Extractor::write`]), never buffered whole in memory; [`Extractor::finish`] then renames
//! it to `<sha256>` (skipping it when that name already exists: dedup), or deletes it when the
//! file is incomplete, over `max_file_size`, of a format not asked for, or over the disk cap.
//!
//! Where it plugs in: the per-flow worker that drives a [`super::FileTracker`] holds one
//! [`Extractor`] (per worker thread; names are unique per process and extractor). When a file
//! starts it calls [`Extractor::start`] next to `FileTracker::new`, feeds the same bytes to
//! [`Extractor::write`] as to `FileTracker::update`, calls [`ExtractSink::gap`] on gaps, and after
//! `FileTracker::finish` calls [`Extractor::finish`] with the sink and the `FileBody`, setting
//! `FileBody::extracted` from the returned path.

use std::cell::RefCell;
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use super::magic;
use super::FileBody;

/// One extractor shared by all workers (one disk cap for the sensor).
pub type Shared = Arc<Mutex<Extractor>>;

thread_local! {
    static CURRENT: RefCell<Option<Shared>> = const { RefCell::new(None) };
}

/// Makes `x` the extractor of every [`super::FileTracker`] created on this thread from now on
/// (a worker calls it once at start; `None` turns extraction off). Parsers stay free of I/O
/// handles: they only see `FileTracker`.
pub fn install(x: Option<Shared>) {
    CURRENT.with(|c| *c.borrow_mut() = x);
}

/// A sink for a new file when this thread has an enabled extractor.
pub(super) fn begin() -> Option<(Shared, ExtractSink)> {
    let x = CURRENT.with(|c| c.borrow().clone())?;
    let sink = x.lock().ok()?.start(None)?;
    Some((x, sink))
}

/// Extraction errors.
#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    /// File system error.
    #[error("extract {path}: {source}")]
    Io {
        /// File concerned.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
}

/// What to extract, and where.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExtractConfig {
    /// Target directory; `None` disables extraction.
    pub dir: Option<PathBuf>,
    /// Formats to keep (names from [`super::magic`]; "pe" also matches "exe" and "dll");
    /// empty keeps all.
    pub formats: Vec<String>,
    /// Largest file written, in bytes (0: no limit).
    pub max_file_size: u64,
    /// Bytes this extractor writes at most over its lifetime (0: no limit).
    pub disk_cap: u64,
}

/// Extraction counters (`sensor_status.extract`).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct ExtractStats {
    /// Files written (renamed into place).
    pub written: u64,
    /// Files already present under their sha256 (dedup).
    pub duplicates: u64,
    /// Files dropped for exceeding `max_file_size`.
    pub skipped_size: u64,
    /// Files dropped for their format.
    pub skipped_format: u64,
    /// Files not written because they were incomplete.
    pub skipped_incomplete: u64,
    /// Files dropped because the disk cap was reached.
    pub disk_cap_hits: u64,
    /// I/O errors.
    pub errors: u64,
    /// Bytes of the files written.
    pub bytes_written: u64,
}

/// Writes complete files named by sha256 into the configured directory.
#[derive(Debug)]
pub struct Extractor {
    cfg: ExtractConfig,
    stats: ExtractStats,
    /// Bytes reserved by sinks in flight plus bytes of files written.
    reserved: u64,
}

static TMP_SEQ: AtomicU64 = AtomicU64::new(0);

/// One file being streamed to a temporary file.
#[derive(Debug)]
pub struct ExtractSink {
    tmp: PathBuf,
    out: Option<BufWriter<File>>,
    size: u64,
    /// Why the file will not be kept, decided while streaming.
    dropped: Option<Reason>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Reason {
    Size,
    DiskCap,
    Gap,
    Error,
}

impl Extractor {
    /// An extractor; creates the directory when one is set.
    pub fn new(cfg: ExtractConfig) -> Result<Extractor, ExtractError> {
        if let Some(dir) = &cfg.dir {
            fs::create_dir_all(dir).map_err(|source| ExtractError::Io {
                path: dir.clone(),
                source,
            })?;
        }
        Ok(Extractor {
            cfg,
            stats: ExtractStats::default(),
            reserved: 0,
        })
    }

    /// Counters so far.
    pub fn stats(&self) -> &ExtractStats {
        &self.stats
    }

    /// Whether extraction is on.
    pub fn enabled(&self) -> bool {
        self.cfg.dir.is_some()
    }

    /// Starts streaming a file; `None` when extraction is off or the temp file can't be made.
    /// `declared_size` (e.g. Content-Length) lets an oversized file be refused at once.
    pub fn start(&mut self, declared_size: Option<u64>) -> Option<ExtractSink> {
        let dir = self.cfg.dir.as_ref()?;
        if let Some(n) = declared_size {
            if self.cfg.max_file_size > 0 && n > self.cfg.max_file_size {
                self.stats.skipped_size += 1;
                return None;
            }
        }
        let seq = TMP_SEQ.fetch_add(1, Ordering::Relaxed);
        let tmp = dir.join(format!(".tmp-{}-{seq}", std::process::id()));
        match File::create(&tmp) {
            Ok(f) => Some(ExtractSink {
                tmp,
                out: Some(BufWriter::new(f)),
                size: 0,
                dropped: None,
            }),
            Err(_) => {
                self.stats.errors += 1;
                None
            }
        }
    }

    /// Ends a file: keeps it as `<dir>/<sha256>` when it is complete and passes the filters.
    /// Returns the path of the file on disk (also when it was already there).
    pub fn finish(&mut self, mut sink: ExtractSink, body: &FileBody) -> Option<PathBuf> {
        let flushed = sink.out.take().map(|mut w| w.flush().is_ok());
        let dir = sink.tmp.parent().map(Path::to_path_buf).unwrap_or_default();
        let dest = dir.join(&body.sha256);
        // Already on disk (dedup), even if the disk cap stopped this copy.
        if matches!(sink.dropped, None | Some(Reason::DiskCap))
            && body.complete
            && self.format_wanted(&body.format)
            && dest.exists()
        {
            self.stats.duplicates += 1;
            let _ = fs::remove_file(&sink.tmp);
            return Some(dest);
        }
        let dropped = match sink.dropped {
            Some(d) => Some(d),
            None if flushed == Some(false) => Some(Reason::Error),
            None if !body.complete => Some(Reason::Gap),
            None => None,
        };
        let keep = dropped.is_none() && self.format_wanted(&body.format);
        match dropped {
            Some(Reason::Size) => self.stats.skipped_size += 1,
            Some(Reason::DiskCap) => self.stats.disk_cap_hits += 1,
            Some(Reason::Gap) => self.stats.skipped_incomplete += 1,
            Some(Reason::Error) => self.stats.errors += 1,
            None if !keep => self.stats.skipped_format += 1,
            None => {}
        }
        if !keep {
            let _ = fs::remove_file(&sink.tmp);
            return None;
        }
        if self.cfg.disk_cap > 0 && self.reserved.saturating_add(sink.size) > self.cfg.disk_cap {
            self.stats.disk_cap_hits += 1;
            let _ = fs::remove_file(&sink.tmp);
            return None;
        }
        match fs::rename(&sink.tmp, &dest) {
            Ok(()) => {
                self.stats.written += 1;
                self.stats.bytes_written += sink.size;
                self.reserved = self.reserved.saturating_add(sink.size);
                Some(dest)
            }
            Err(_) => {
                self.stats.errors += 1;
                let _ = fs::remove_file(&sink.tmp);
                None
            }
        }
    }

    fn format_wanted(&self, format: &str) -> bool {
        self.cfg.formats.is_empty()
            || self
                .cfg
                .formats
                .iter()
                .any(|f| f == format || (f == "pe" && magic::is_pe(format)))
    }

    /// Whether `more` bytes would still fit under the size limit and the disk cap.
    fn limits(&self, size: u64) -> Option<Reason> {
        if self.cfg.max_file_size > 0 && size > self.cfg.max_file_size {
            return Some(Reason::Size);
        }
        if self.cfg.disk_cap > 0 && self.reserved.saturating_add(size) > self.cfg.disk_cap {
            return Some(Reason::DiskCap);
        }
        None
    }

    /// Feeds the next bytes of a file to its sink (checks the limits as it goes).
    pub fn write(&self, sink: &mut ExtractSink, bytes: &[u8]) {
        if sink.dropped.is_some() {
            return;
        }
        let size = sink.size.saturating_add(bytes.len() as u64);
        if let Some(d) = self.limits(size) {
            sink.abandon(d);
            return;
        }
        sink.size = size;
        let ok = sink
            .out
            .as_mut()
            .is_some_and(|w| w.write_all(bytes).is_ok());
        if !ok {
            sink.abandon(Reason::Error);
        }
    }
}

impl ExtractSink {
    /// Bytes of the file were not captured: the file will not be kept.
    pub fn gap(&mut self) {
        if self.dropped.is_none() {
            self.abandon(Reason::Gap);
        }
    }

    /// Bytes written so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    fn abandon(&mut self, why: Reason) {
        self.dropped = Some(why);
        self.out = None;
        let _ = fs::remove_file(&self.tmp);
    }
}

impl std::ops::Drop for ExtractSink {
    fn drop(&mut self) {
        // A sink dropped without `finish` (flow evicted, worker shutting down) leaves no file.
        if self.out.is_some() {
            self.out = None;
            let _ = fs::remove_file(&self.tmp);
        }
    }
}
