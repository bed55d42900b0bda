//! The durable spool between the output stage and the remote sinks: an append-only log of
//! segment files with checksummed frames, one acknowledged cursor per sink, a disk quota.
//!
//! On disk (`export.spool.dir`):
//! - `seg-<first seq, 20 digits>.log`: frames `[len u32 LE][crc32 u32 LE][payload]`, one record
//!   (its NDJSON line, no newline) per frame; a frame's sequence number is the segment's first
//!   plus its index. A new segment starts once the current one passes `segment_bytes`.
//! - `cursor.<sink>`: the sequence number of the first record that sink has not had
//!   acknowledged, written atomically (temporary file, fsync, rename) after every ack.
//!
//! The output stage appends and then [`SpoolWriter::commit`]s (flush, fsync when configured):
//! readers see only committed frames, so a record is durable before any sink sends it, and a
//! sink's ack is persisted before the record may be deleted. Segments every sink has acked are
//! deleted; past the quota the oldest segment is deleted anyway, and the records in it that a
//! sink had not yet acked are counted as dropped (`dropped_records`): the overflow policy is
//! "drop oldest, counted".
//!
//! After a crash the torn tail of the last segment (a frame cut short or failing its checksum)
//! is cut off and counted; every sink resumes from its persisted cursor, so what was not acked
//! is sent again (at least once: the backend deduplicates on the record `id`).

use std::collections::{BTreeMap, VecDeque};
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

const HEADER: u64 = 8;
/// No record is larger than this (a frame claiming more is corrupt).
pub const MAX_FRAME: u32 = 64 << 20;

#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    #[error("spool {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: io::Error,
    },
    #[error("spool {0}: a record of {1} bytes is larger than the largest frame")]
    TooLarge(String, usize),
    #[error("spool {0}: sink name {1:?} must be letters, digits, '-', '_' or '.'")]
    BadName(String, String),
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> SpoolError + '_ {
    move |source| SpoolError::Io {
        path: path.display().to_string(),
        source,
    }
}

#[derive(Clone, Debug)]
struct Segment {
    first: u64,
    /// Committed frames in it.
    count: u64,
    /// Committed bytes in it.
    bytes: u64,
    path: PathBuf,
}

#[derive(Debug)]
struct State {
    segments: VecDeque<Segment>,
    /// Frames below this are committed (durable, readable).
    committed: u64,
    /// Per sink: the first sequence number not yet acknowledged.
    cursors: BTreeMap<String, u64>,
    total_bytes: u64,
    closed: bool,
}

/// Counters of the spool, readable from any thread.
#[derive(Debug, Default)]
pub struct SpoolCounters {
    pub appended: AtomicU64,
    pub appended_bytes: AtomicU64,
    /// Records deleted by the quota before every sink had them acknowledged.
    pub dropped_records: AtomicU64,
    /// Segments deleted by the quota.
    pub dropped_segments: AtomicU64,
    /// Frames found damaged (torn tail after a crash, checksum failures) and skipped.
    pub corrupt_frames: AtomicU64,
    pub fsyncs: AtomicU64,
}

struct Shared {
    dir: PathBuf,
    max_bytes: u64,
    state: Mutex<State>,
    cond: Condvar,
    counters: SpoolCounters,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A poisoned lock only means another thread panicked; the state stays consistent
        // (every update is a few assignments), so go on with it.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A snapshot of the spool for status records.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SpoolSnapshot {
    pub segments: usize,
    pub bytes: u64,
    /// Sequence number of the next record appended.
    pub next_seq: u64,
    /// Per sink: records committed but not yet acknowledged.
    pub pending: BTreeMap<String, u64>,
    pub appended: u64,
    pub dropped_records: u64,
    pub dropped_segments: u64,
    pub corrupt_frames: u64,
}

/// The spool: opened once; gives one writer and one reader per sink.
#[derive(Clone)]
pub struct Spool {
    shared: Arc<Shared>,
}

fn seg_name(first: u64) -> String {
    format!("seg-{first:020}.log")
}

fn valid_sink_name(n: &str) -> bool {
    !n.is_empty()
        && n.len() <= 64
        && n.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && !n.starts_with('.')
}

/// Walks the frames of a segment file: returns (frames, bytes of whole valid frames).
/// With `verify`, checks every checksum (the last segment after a restart); otherwise only
/// that each frame's length fits in the file.
fn scan(path: &Path, verify: bool) -> io::Result<(u64, u64)> {
    let f = File::open(path)?;
    let len = f.metadata()?.len();
    let mut r = BufReader::with_capacity(1 << 16, f);
    let (mut n, mut off) = (0u64, 0u64);
    let mut payload = Vec::new();
    loop {
        if off + HEADER > len {
            break;
        }
        let mut h = [0u8; 8];
        r.read_exact(&mut h)?;
        let flen = u32::from_le_bytes([h[0], h[1], h[2], h[3]]);
        let crc = u32::from_le_bytes([h[4], h[5], h[6], h[7]]);
        if flen > MAX_FRAME || off + HEADER + u64::from(flen) > len {
            break;
        }
        if verify {
            payload.resize(flen as usize, 0);
            r.read_exact(&mut payload)?;
            if crc32fast::hash(&payload) != crc {
                break;
            }
        } else {
            r.seek_relative(i64::from(flen))?;
        }
        n += 1;
        off += HEADER + u64::from(flen);
    }
    Ok((n, off))
}

impl Spool {
    /// Opens (or creates) the spool in `dir` for the given sinks. A sink without a cursor
    /// starts at the end (it gets what is appended from now on).
    pub fn open(
        dir: &Path,
        sinks: &[String],
        max_bytes: u64,
    ) -> Result<(Spool, SpoolWriter), SpoolError> {
        Self::open_with(dir, sinks, max_bytes, u64::MAX, true)
    }

    /// [`Spool::open`] with the segment size and fsync choice.
    pub fn open_with(
        dir: &Path,
        sinks: &[String],
        max_bytes: u64,
        segment_bytes: u64,
        fsync: bool,
    ) -> Result<(Spool, SpoolWriter), SpoolError> {
        for s in sinks {
            if !valid_sink_name(s) {
                return Err(SpoolError::BadName(dir.display().to_string(), s.clone()));
            }
        }
        fs::create_dir_all(dir).map_err(io_err(dir))?;
        let mut firsts: Vec<u64> = fs::read_dir(dir)
            .map_err(io_err(dir))?
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                name.strip_prefix("seg-")?
                    .strip_suffix(".log")?
                    .parse::<u64>()
                    .ok()
            })
            .collect();
        firsts.sort_unstable();
        let counters = SpoolCounters::default();
        let mut segments = VecDeque::new();
        let mut total = 0;
        let last_i = firsts.len().saturating_sub(1);
        for (i, &first) in firsts.iter().enumerate() {
            let path = dir.join(seg_name(first));
            let (count, bytes) = scan(&path, i == last_i).map_err(io_err(&path))?;
            let len = fs::metadata(&path).map_err(io_err(&path))?.len();
            if bytes < len {
                // A torn or damaged tail: cut it off so that appends start on a frame.
                counters.corrupt_frames.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(
                    "spool {}: {} damaged bytes at the end cut off (a crash during a write)",
                    path.display(),
                    len - bytes
                );
                let f = OpenOptions::new()
                    .write(true)
                    .open(&path)
                    .map_err(io_err(&path))?;
                f.set_len(bytes).map_err(io_err(&path))?;
                f.sync_all().map_err(io_err(&path))?;
            }
            // A later segment starts where this one ends; if not (a segment lost by hand),
            // trust the names.
            total += bytes;
            segments.push_back(Segment {
                first,
                count,
                bytes,
                path,
            });
        }
        let next = segments.back().map_or(0, |s| s.first + s.count);
        let oldest = segments.front().map_or(next, |s| s.first);
        let mut cursors = BTreeMap::new();
        for s in sinks {
            let p = dir.join(format!("cursor.{s}"));
            let c = match fs::read_to_string(&p) {
                Ok(t) => t.trim().parse::<u64>().unwrap_or(oldest),
                // A new sink: it starts at the end, and that is persisted at once, so that
                // what is appended from now on is its to deliver even if the process dies
                // before its first acknowledgement.
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    write_cursor(dir, s, next)?;
                    sync_dir(dir);
                    next
                }
                Err(e) => return Err(io_err(&p)(e)),
            };
            cursors.insert(s.clone(), c.clamp(oldest, next));
        }
        let shared = Arc::new(Shared {
            dir: dir.to_path_buf(),
            max_bytes,
            state: Mutex::new(State {
                segments,
                committed: next,
                cursors,
                total_bytes: total,
                closed: false,
            }),
            cond: Condvar::new(),
            counters,
        });
        let spool = Spool { shared };
        let writer = SpoolWriter::open(spool.clone(), next, segment_bytes, fsync)?;
        Ok((spool, writer))
    }

    /// A reader for `sink` (one of those given at open), from its acknowledged cursor.
    pub fn reader(&self, sink: &str) -> SpoolReader {
        let pos = self
            .shared
            .lock()
            .cursors
            .get(sink)
            .copied()
            .unwrap_or_default();
        SpoolReader {
            spool: self.clone(),
            sink: sink.to_string(),
            pos,
            file: None,
        }
    }

    pub fn dir(&self) -> &Path {
        &self.shared.dir
    }

    pub fn counters(&self) -> &SpoolCounters {
        &self.shared.counters
    }

    pub fn snapshot(&self) -> SpoolSnapshot {
        let st = self.shared.lock();
        let c = &self.shared.counters;
        SpoolSnapshot {
            segments: st.segments.len(),
            bytes: st.total_bytes,
            next_seq: st.committed,
            pending: st
                .cursors
                .iter()
                .map(|(k, &v)| (k.clone(), st.committed.saturating_sub(v)))
                .collect(),
            appended: c.appended.load(Ordering::Relaxed),
            dropped_records: c.dropped_records.load(Ordering::Relaxed),
            dropped_segments: c.dropped_segments.load(Ordering::Relaxed),
            corrupt_frames: c.corrupt_frames.load(Ordering::Relaxed),
        }
    }

    /// Wakes every reader and tells them no more records will come (they still read what is
    /// committed).
    pub fn close(&self) {
        self.shared.lock().closed = true;
        self.shared.cond.notify_all();
    }

    /// Records committed but not acknowledged by `sink`.
    pub fn pending(&self, sink: &str) -> u64 {
        let st = self.shared.lock();
        st.cursors
            .get(sink)
            .map_or(0, |&c| st.committed.saturating_sub(c))
    }

    /// Deletes segments every sink has acknowledged (never the one being written), then
    /// enforces the quota. Called with the lock held.
    fn trim(&self, st: &mut State) {
        let min_cursor = st.cursors.values().copied().min().unwrap_or(st.committed);
        while st.segments.len() > 1 {
            let Some(front) = st.segments.front() else {
                break;
            };
            let end = front.first + front.count;
            let over = st.total_bytes > self.shared.max_bytes;
            if end > min_cursor && !over {
                break;
            }
            let Some(seg) = st.segments.pop_front() else {
                break;
            };
            st.total_bytes = st.total_bytes.saturating_sub(seg.bytes);
            if end > min_cursor {
                // The quota: records some sink has not had acknowledged go.
                let lost = st
                    .cursors
                    .values()
                    .map(|&c| end.saturating_sub(c.max(seg.first)))
                    .max()
                    .unwrap_or(0);
                let c = &self.shared.counters;
                c.dropped_records.fetch_add(lost, Ordering::Relaxed);
                c.dropped_segments.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(
                    "spool quota ({} bytes) reached: dropped segment {} ({} records not yet acknowledged)",
                    self.shared.max_bytes,
                    seg.path.display(),
                    lost
                );
                for c in st.cursors.values_mut() {
                    *c = (*c).max(end);
                }
            }
            if let Err(e) = fs::remove_file(&seg.path) {
                tracing::warn!("spool: cannot delete {}: {e}", seg.path.display());
            }
        }
    }
}

/// Appends records; owned by the output stage.
pub struct SpoolWriter {
    spool: Spool,
    file: BufWriter<File>,
    path: PathBuf,
    /// First sequence number of the current segment, frames and bytes written to it
    /// (committed or not).
    seg_first: u64,
    seg_count: u64,
    seg_bytes: u64,
    /// Frames and bytes appended since the last commit.
    pending: u64,
    pending_bytes: u64,
    segment_bytes: u64,
    fsync: bool,
}

impl SpoolWriter {
    fn open(
        spool: Spool,
        next: u64,
        segment_bytes: u64,
        fsync: bool,
    ) -> Result<SpoolWriter, SpoolError> {
        let mut st = spool.shared.lock();
        let (first, count, bytes, path) = match st.segments.back() {
            Some(s) => (s.first, s.count, s.bytes, s.path.clone()),
            None => {
                let path = spool.shared.dir.join(seg_name(next));
                st.segments.push_back(Segment {
                    first: next,
                    count: 0,
                    bytes: 0,
                    path: path.clone(),
                });
                (next, 0, 0, path)
            }
        };
        drop(st);
        let f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(io_err(&path))?;
        sync_dir(&spool.shared.dir);
        Ok(SpoolWriter {
            spool,
            file: BufWriter::with_capacity(1 << 18, f),
            path,
            seg_first: first,
            seg_count: count,
            seg_bytes: bytes,
            pending: 0,
            pending_bytes: 0,
            segment_bytes: segment_bytes.max(HEADER + 1),
            fsync,
        })
    }

    /// The spool this writer appends to.
    pub fn spool(&self) -> &Spool {
        &self.spool
    }

    /// Appends one record (not yet visible to readers: see [`SpoolWriter::commit`]).
    pub fn append(&mut self, payload: &[u8]) -> Result<(), SpoolError> {
        let len = u32::try_from(payload.len())
            .ok()
            .filter(|&l| l <= MAX_FRAME)
            .ok_or_else(|| SpoolError::TooLarge(self.path.display().to_string(), payload.len()))?;
        let mut h = [0u8; 8];
        h[..4].copy_from_slice(&len.to_le_bytes());
        h[4..].copy_from_slice(&crc32fast::hash(payload).to_le_bytes());
        self.file
            .write_all(&h)
            .and_then(|_| self.file.write_all(payload))
            .map_err(io_err(&self.path))?;
        let n = HEADER + u64::from(len);
        self.seg_count += 1;
        self.seg_bytes += n;
        self.pending += 1;
        self.pending_bytes += n;
        Ok(())
    }

    /// Bytes appended since the last commit.
    pub fn pending_bytes(&self) -> u64 {
        self.pending_bytes
    }

    /// Makes what was appended durable (flush, and fsync when configured) and visible to the
    /// sinks; starts a new segment when this one is full; trims acknowledged segments and
    /// enforces the quota.
    pub fn commit(&mut self) -> Result<(), SpoolError> {
        if self.pending == 0 {
            return Ok(());
        }
        self.file.flush().map_err(io_err(&self.path))?;
        if self.fsync {
            self.file
                .get_ref()
                .sync_data()
                .map_err(io_err(&self.path))?;
            self.spool
                .shared
                .counters
                .fsyncs
                .fetch_add(1, Ordering::Relaxed);
        }
        let c = &self.spool.shared.counters;
        c.appended.fetch_add(self.pending, Ordering::Relaxed);
        c.appended_bytes
            .fetch_add(self.pending_bytes, Ordering::Relaxed);
        let rotate = self.seg_bytes >= self.segment_bytes;
        let next = self.seg_first + self.seg_count;
        {
            let mut st = self.spool.shared.lock();
            if let Some(s) = st.segments.back_mut() {
                s.count = self.seg_count;
                s.bytes = self.seg_bytes;
            }
            st.committed = next;
            st.total_bytes += self.pending_bytes;
            if rotate {
                let path = self.spool.shared.dir.join(seg_name(next));
                st.segments.push_back(Segment {
                    first: next,
                    count: 0,
                    bytes: 0,
                    path,
                });
            }
            self.spool.trim(&mut st);
        }
        self.spool.shared.cond.notify_all();
        self.pending = 0;
        self.pending_bytes = 0;
        if rotate {
            let path = self.spool.shared.dir.join(seg_name(next));
            let f = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .map_err(io_err(&path))?;
            sync_dir(&self.spool.shared.dir);
            self.file = BufWriter::with_capacity(1 << 18, f);
            self.path = path;
            self.seg_first = next;
            self.seg_count = 0;
            self.seg_bytes = 0;
        }
        Ok(())
    }
}

/// Persists `cursor.<sink>` atomically: temporary file, fsync, rename (and the directory).
fn write_cursor(dir: &Path, sink: &str, upto: u64) -> Result<(), SpoolError> {
    let path = dir.join(format!("cursor.{sink}"));
    let tmp = dir.join(format!(".cursor.{sink}.tmp"));
    (|| -> io::Result<()> {
        let mut f = File::create(&tmp)?;
        writeln!(f, "{upto}")?;
        f.sync_all()?;
        fs::rename(&tmp, &path)
    })()
    .map_err(io_err(&path))
}

fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

/// One batch read from the spool: records with their sequence numbers.
#[derive(Debug, Default)]
pub struct SpoolBatch {
    data: Vec<u8>,
    frames: Vec<(u64, usize, usize)>,
}

impl SpoolBatch {
    pub fn clear(&mut self) {
        self.data.clear();
        self.frames.clear();
    }
    pub fn len(&self) -> usize {
        self.frames.len()
    }
    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }
    /// (sequence number, payload) of every record, in order.
    pub fn iter(&self) -> impl Iterator<Item = (u64, &[u8])> + '_ {
        self.frames
            .iter()
            .map(|&(seq, a, b)| (seq, self.data.get(a..b).unwrap_or_default()))
    }
    /// The sequence number after the last record (what to acknowledge once it is delivered).
    pub fn end(&self) -> Option<u64> {
        self.frames.last().map(|f| f.0 + 1)
    }
}

/// Reads the spool for one sink, from its acknowledged cursor.
pub struct SpoolReader {
    spool: Spool,
    sink: String,
    /// Next sequence number to read.
    pos: u64,
    /// The open segment: its first sequence number, the reader and the sequence number at the
    /// reader's position.
    file: Option<(u64, BufReader<File>, u64)>,
}

impl SpoolReader {
    pub fn sink(&self) -> &str {
        &self.sink
    }

    /// Next sequence number this reader returns.
    pub fn position(&self) -> u64 {
        self.pos
    }

    /// Waits up to `wait` for committed records, then reads up to `max_records` records /
    /// about `max_bytes` bytes into `out` (cleared first). Returns false once the spool is
    /// closed and everything committed has been read.
    pub fn read_batch(
        &mut self,
        out: &mut SpoolBatch,
        max_records: usize,
        max_bytes: usize,
        wait: Duration,
    ) -> Result<bool, SpoolError> {
        out.clear();
        let shared = self.spool.shared.clone();
        let (committed, segs) = {
            let mut st = shared.lock();
            if st.committed <= self.pos && !st.closed {
                st = shared
                    .cond
                    .wait_timeout(st, wait)
                    .map(|(g, _)| g)
                    .unwrap_or_else(|p| p.into_inner().0);
            }
            if let Some(front) = st.segments.front() {
                if self.pos < front.first {
                    // Dropped by the quota (counted there).
                    self.pos = front.first;
                    self.file = None;
                }
            }
            if st.committed <= self.pos {
                return Ok(!st.closed);
            }
            let segs: Vec<Segment> = st
                .segments
                .iter()
                .filter(|s| s.first + s.count > self.pos)
                .cloned()
                .collect();
            (st.committed, segs)
        };
        let mut bytes = 0usize;
        for seg in segs {
            let seg_end = (seg.first + seg.count).min(committed);
            if self.pos >= seg_end {
                continue;
            }
            if self.file.as_ref().map(|f| f.0) != Some(seg.first) {
                let f = File::open(&seg.path).map_err(io_err(&seg.path))?;
                self.file = Some((seg.first, BufReader::with_capacity(1 << 16, f), seg.first));
            }
            let Some((_, r, at)) = self.file.as_mut() else {
                break;
            };
            // Skip to `pos` (after a restart, or after a failed frame).
            while *at < self.pos {
                let mut h = [0u8; 8];
                r.read_exact(&mut h).map_err(io_err(&seg.path))?;
                let flen = u32::from_le_bytes([h[0], h[1], h[2], h[3]]);
                r.seek_relative(i64::from(flen))
                    .map_err(io_err(&seg.path))?;
                *at += 1;
            }
            while self.pos < seg_end && out.frames.len() < max_records && bytes < max_bytes {
                let mut h = [0u8; 8];
                r.read_exact(&mut h).map_err(io_err(&seg.path))?;
                let flen = u32::from_le_bytes([h[0], h[1], h[2], h[3]]);
                let crc = u32::from_le_bytes([h[4], h[5], h[6], h[7]]);
                if flen > MAX_FRAME {
                    // Cannot find the next frame: skip the rest of this segment.
                    shared
                        .counters
                        .corrupt_frames
                        .fetch_add(seg_end - self.pos, Ordering::Relaxed);
                    self.pos = seg_end;
                    self.file = None;
                    break;
                }
                let a = out.data.len();
                out.data.resize(a + flen as usize, 0);
                r.read_exact(&mut out.data[a..])
                    .map_err(io_err(&seg.path))?;
                *at += 1;
                if crc32fast::hash(&out.data[a..]) == crc {
                    out.frames.push((self.pos, a, out.data.len()));
                    bytes += flen as usize;
                } else {
                    out.data.truncate(a);
                    shared
                        .counters
                        .corrupt_frames
                        .fetch_add(1, Ordering::Relaxed);
                }
                self.pos += 1;
            }
            if out.frames.len() >= max_records || bytes >= max_bytes {
                break;
            }
        }
        Ok(true)
    }

    /// Records everything before `upto` as delivered: persists the cursor (atomically), then
    /// lets the spool delete what every sink has.
    pub fn ack(&mut self, upto: u64) -> Result<(), SpoolError> {
        write_cursor(&self.spool.shared.dir, &self.sink, upto)?;
        let mut st = self.spool.shared.lock();
        if let Some(c) = st.cursors.get_mut(&self.sink) {
            *c = (*c).max(upto);
        }
        self.spool.trim(&mut st);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sinks(n: &[&str]) -> Vec<String> {
        n.iter().map(|s| s.to_string()).collect()
    }

    fn read_all(r: &mut SpoolReader) -> Vec<(u64, String)> {
        let mut b = SpoolBatch::default();
        let mut v = Vec::new();
        loop {
            r.read_batch(&mut b, 3, 1 << 20, Duration::from_millis(1))
                .unwrap();
            if b.is_empty() {
                return v;
            }
            v.extend(
                b.iter()
                    .map(|(s, p)| (s, String::from_utf8(p.to_vec()).unwrap())),
            );
        }
    }

    #[test]
    fn committed_records_only_are_read_and_acks_persist() {
        let d = tempfile::tempdir().unwrap();
        let (spool, mut w) = Spool::open_with(d.path(), &sinks(&["a"]), 1 << 30, 64, true).unwrap();
        let mut r = spool.reader("a");
        for i in 0..10 {
            w.append(format!("rec{i}").as_bytes()).unwrap();
        }
        assert!(read_all(&mut r).is_empty(), "nothing committed yet");
        w.commit().unwrap();
        let got = read_all(&mut r);
        assert_eq!(got.len(), 10);
        assert_eq!(got[3], (3, "rec3".to_string()));
        r.ack(4).unwrap();
        drop((w, r, spool));
        // Restart: the reader resumes at the cursor.
        let (spool, _w) = Spool::open_with(d.path(), &sinks(&["a"]), 1 << 30, 64, true).unwrap();
        let got = read_all(&mut spool.reader("a"));
        assert_eq!(got.first().map(|g| g.0), Some(4));
        assert_eq!(got.len(), 6);
        assert_eq!(spool.pending("a"), 6);
    }

    #[test]
    fn a_new_sink_that_never_acked_resumes_where_it_was_registered() {
        let d = tempfile::tempdir().unwrap();
        let (spool, mut w) = Spool::open(d.path(), &sinks(&["a"]), 1 << 30).unwrap();
        w.append(b"rec0").unwrap();
        w.append(b"rec1").unwrap();
        w.commit().unwrap();
        assert_eq!(read_all(&mut spool.reader("a")).len(), 2);
        // Dies before its first acknowledgement.
        drop((w, spool));
        let (spool, _w) = Spool::open(d.path(), &sinks(&["a", "b"]), 1 << 30).unwrap();
        let got = read_all(&mut spool.reader("a"));
        assert_eq!(got.first().map(|g| g.0), Some(0), "{got:?}");
        assert_eq!(got.len(), 2);
        // A sink added later starts at the end.
        assert!(read_all(&mut spool.reader("b")).is_empty());
    }

    #[test]
    fn acked_segments_are_deleted_and_the_quota_drops_oldest_counted() {
        let d = tempfile::tempdir().unwrap();
        // 16-byte segments: every commit of a 10-byte record starts a new one.
        let (spool, mut w) =
            Spool::open_with(d.path(), &sinks(&["a", "b"]), 1 << 30, 16, false).unwrap();
        for i in 0..5 {
            w.append(format!("record-{i:03}").as_bytes()).unwrap();
            w.commit().unwrap();
        }
        assert_eq!(spool.snapshot().segments, 6);
        let mut a = spool.reader("a");
        let mut b = spool.reader("b");
        assert_eq!(read_all(&mut a).len(), 5);
        a.ack(5).unwrap();
        assert_eq!(spool.snapshot().segments, 6, "b has acked nothing");
        b.ack(2).unwrap();
        assert_eq!(spool.snapshot().segments, 4);
        drop((a, b, w, spool));
        // A quota of 40 bytes (two frames): the oldest unacked segment goes, counted.
        let (spool, mut w) =
            Spool::open_with(d.path(), &sinks(&["a", "b"]), 40, 16, false).unwrap();
        w.append(b"record-005").unwrap();
        w.commit().unwrap();
        let s = spool.snapshot();
        assert_eq!(s.dropped_records, 2, "{s:?}");
        let got = read_all(&mut spool.reader("b"));
        assert_eq!(got.iter().map(|g| g.0).collect::<Vec<_>>(), [4, 5]);
    }

    #[test]
    fn a_torn_tail_is_cut_and_counted() {
        let d = tempfile::tempdir().unwrap();
        {
            let (_s, mut w) =
                Spool::open_with(d.path(), &sinks(&["a"]), 1 << 30, 1 << 20, true).unwrap();
            w.append(b"one").unwrap();
            w.append(b"two").unwrap();
            w.commit().unwrap();
        }
        let seg = d.path().join(seg_name(0));
        let mut f = OpenOptions::new().append(true).open(&seg).unwrap();
        f.write_all(&[50, 0, 0, 0, 1, 2, 3, 4, b'x']).unwrap();
        drop(f);
        let (spool, mut w) =
            Spool::open_with(d.path(), &sinks(&["a"]), 1 << 30, 1 << 20, true).unwrap();
        assert_eq!(spool.snapshot().corrupt_frames, 1);
        w.append(b"three").unwrap();
        w.commit().unwrap();
        // Nothing was acknowledged: the sink resumes where it was registered, the torn frame
        // is gone and the next append follows the last whole frame.
        let got = read_all(&mut spool.reader("a"));
        let want = [(0, "one"), (1, "two"), (2, "three")].map(|(n, s)| (n, s.to_string()));
        assert_eq!(got, want);
    }

    #[test]
    fn a_damaged_frame_is_skipped_and_counted() {
        let d = tempfile::tempdir().unwrap();
        let (spool, mut w) =
            Spool::open_with(d.path(), &sinks(&["a"]), 1 << 30, 1 << 20, false).unwrap();
        let mut r = spool.reader("a");
        w.append(b"aaaa").unwrap();
        w.append(b"bbbb").unwrap();
        w.commit().unwrap();
        // Flip a payload byte of the first frame.
        let seg = d.path().join(seg_name(0));
        let mut bytes = fs::read(&seg).unwrap();
        bytes[9] ^= 0xff;
        fs::write(&seg, bytes).unwrap();
        let got = read_all(&mut r);
        assert_eq!(got, [(1, "bbbb".to_string())]);
        assert_eq!(spool.snapshot().corrupt_frames, 1);
    }

    #[test]
    fn readers_wait_for_commits_and_end_on_close() {
        let d = tempfile::tempdir().unwrap();
        let (spool, mut w) = Spool::open(d.path(), &sinks(&["a"]), 1 << 30).unwrap();
        let mut r = spool.reader("a");
        let t = std::thread::spawn(move || {
            let mut b = SpoolBatch::default();
            let mut n = 0;
            while r
                .read_batch(&mut b, 100, 1 << 20, Duration::from_secs(5))
                .unwrap()
            {
                n += b.len();
            }
            n
        });
        w.append(b"x").unwrap();
        w.commit().unwrap();
        spool.close();
        assert_eq!(t.join().unwrap(), 1);
    }

    #[test]
    fn bad_sink_names_are_refused() {
        let d = tempfile::tempdir().unwrap();
        assert!(Spool::open(d.path(), &sinks(&["../x"]), 1).is_err());
        assert!(Spool::open(d.path(), &sinks(&[""]), 1).is_err());
    }
}
