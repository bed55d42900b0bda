//! File sink: NDJSON to a file with a stable name, rotated by size and by time, rotated files
//! optionally compressed (gzip or zstd) in the background.
//!
//! The current file is always `path`; at rotation it is flushed, synced and renamed to
//! `<stem>.<UTC time>[-n].<ext>` beside it, and a new `path` is opened. Compression of a
//! rotated file runs on its own thread (the output stage never waits for it); the
//! uncompressed file is removed once the compressed one is synced.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use crate::config::SinkConfig;
use crate::export::policy::Policy;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compress {
    None,
    Gzip,
    Zstd,
}

impl Compress {
    pub fn parse(s: &str) -> Option<Compress> {
        Some(match s {
            "none" | "" => Compress::None,
            "gzip" | "gz" => Compress::Gzip,
            "zstd" | "zst" => Compress::Zstd,
            _ => return None,
        })
    }
    fn ext(self) -> &'static str {
        match self {
            Compress::None => "",
            Compress::Gzip => ".gz",
            Compress::Zstd => ".zst",
        }
    }
}

/// Counters of one file sink.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FileSinkStats {
    pub records: u64,
    pub bytes: u64,
    pub rotations: u64,
    /// Records this sink's type/category filter left out.
    pub filtered: u64,
    pub compress_errors: u64,
}

pub struct FileSink {
    pub name: String,
    path: PathBuf,
    file: BufWriter<File>,
    size: u64,
    opened: Instant,
    rotate_bytes: u64,
    rotate_every: Option<Duration>,
    compress: Compress,
    policy: Policy,
    scratch: Vec<u8>,
    pub stats: FileSinkStats,
    compressors: Vec<JoinHandle<io::Result<()>>>,
}

fn open_append(path: &Path) -> io::Result<(BufWriter<File>, u64)> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir)?;
    }
    let f = OpenOptions::new().create(true).append(true).open(path)?;
    let size = f.metadata()?.len();
    Ok((BufWriter::with_capacity(1 << 18, f), size))
}

impl FileSink {
    pub fn open(cfg: &SinkConfig, policy: Policy) -> io::Result<FileSink> {
        let path = PathBuf::from(cfg.path.clone().unwrap_or_default());
        let (file, size) = open_append(&path)?;
        Ok(FileSink {
            name: cfg.name.clone(),
            path,
            file,
            size,
            opened: Instant::now(),
            rotate_bytes: cfg.rotate_bytes,
            rotate_every: (cfg.rotate_seconds > 0).then(|| Duration::from_secs(cfg.rotate_seconds)),
            compress: Compress::parse(&cfg.compress).unwrap_or(Compress::None),
            policy,
            scratch: Vec::new(),
            stats: FileSinkStats::default(),
            compressors: Vec::new(),
        })
    }

    /// The current file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes one record line (with its newline) if the sink's filter admits it.
    pub fn write(&mut self, event_type: &str, line: &[u8]) -> io::Result<()> {
        if !self.policy.admits(event_type) {
            self.stats.filtered += 1;
            return Ok(());
        }
        let bytes: &[u8] = if self.policy.profile().is_clear() {
            line
        } else {
            self.scratch.clear();
            let body = line.strip_suffix(b"\n").unwrap_or(line);
            match self.policy.apply(body, &mut self.scratch) {
                Ok(Some(_)) => {
                    self.scratch.push(b'\n');
                    &self.scratch
                }
                Ok(None) => {
                    self.stats.filtered += 1;
                    return Ok(());
                }
                Err(e) => return Err(io::Error::new(io::ErrorKind::InvalidData, e)),
            }
        };
        self.file.write_all(bytes)?;
        self.size += bytes.len() as u64;
        self.stats.records += 1;
        self.stats.bytes += bytes.len() as u64;
        if self.rotate_bytes > 0 && self.size >= self.rotate_bytes {
            self.rotate()?;
        }
        Ok(())
    }

    /// Flushes; rotates when the file is older than `rotate_seconds` (called about once a
    /// second by the output stage).
    pub fn tick(&mut self) -> io::Result<()> {
        self.file.flush()?;
        if let Some(every) = self.rotate_every {
            if self.opened.elapsed() >= every && self.size > 0 {
                self.rotate()?;
            }
        }
        self.reap(false);
        Ok(())
    }

    fn rotated_name(&self) -> PathBuf {
        let stem = self
            .path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "records".into());
        let ext = self
            .path
            .extension()
            .map(|e| format!(".{}", e.to_string_lossy()))
            .unwrap_or_default();
        let ts = time::OffsetDateTime::from(SystemTime::now())
            .format(time::macros::format_description!(
                "[year][month][day]T[hour][minute][second]"
            ))
            .unwrap_or_else(|_| "0".into());
        let dir = self.path.parent().unwrap_or(Path::new(""));
        let mut n = 0;
        loop {
            let suffix = if n == 0 {
                String::new()
            } else {
                format!("-{n}")
            };
            let p = dir.join(format!("{stem}.{ts}{suffix}{ext}"));
            let taken = p.exists() || {
                let mut c = p.clone().into_os_string();
                c.push(self.compress.ext());
                Path::new(&c).exists()
            };
            if !taken {
                return p;
            }
            n += 1;
        }
    }

    /// Closes the current file under a rotated name and opens a new one.
    pub fn rotate(&mut self) -> io::Result<()> {
        self.file.flush()?;
        self.file.get_ref().sync_data()?;
        let to = self.rotated_name();
        fs::rename(&self.path, &to)?;
        let (file, size) = open_append(&self.path)?;
        self.file = file;
        self.size = size;
        self.opened = Instant::now();
        self.stats.rotations += 1;
        if self.compress != Compress::None {
            let c = self.compress;
            self.compressors
                .push(std::thread::spawn(move || compress_file(&to, c)));
        }
        Ok(())
    }

    fn reap(&mut self, wait: bool) {
        let mut i = 0;
        while i < self.compressors.len() {
            if wait || self.compressors[i].is_finished() {
                let h = self.compressors.swap_remove(i);
                match h.join() {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => {
                        self.stats.compress_errors += 1;
                        tracing::warn!("file sink {}: compressing a rotated file: {e}", self.name);
                    }
                    Err(_) => self.stats.compress_errors += 1,
                }
            } else {
                i += 1;
            }
        }
    }

    /// Flushes and syncs the current file; waits for running compressions.
    pub fn finish(&mut self) -> io::Result<()> {
        self.file.flush()?;
        self.file.get_ref().sync_data()?;
        self.reap(true);
        Ok(())
    }
}

fn compress_file(path: &Path, c: Compress) -> io::Result<()> {
    let mut dst = path.as_os_str().to_owned();
    dst.push(c.ext());
    let dst = PathBuf::from(dst);
    let mut src = File::open(path)?;
    let out = File::create(&dst)?;
    let out = match c {
        Compress::Gzip => {
            let mut e = flate2::write::GzEncoder::new(out, flate2::Compression::default());
            io::copy(&mut src, &mut e)?;
            e.finish()?
        }
        Compress::Zstd => {
            let mut e = zstd::stream::write::Encoder::new(out, 3)?;
            io::copy(&mut src, &mut e)?;
            e.finish()?
        }
        Compress::None => return Ok(()),
    };
    out.sync_all()?;
    fs::remove_file(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn cfg(dir: &Path, compress: &str, rotate_bytes: u64, types: &[&str]) -> SinkConfig {
        SinkConfig {
            name: "f".into(),
            kind: "file".into(),
            path: Some(dir.join("out.ndjson").display().to_string()),
            rotate_bytes,
            compress: compress.into(),
            types: types.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }
    }

    fn sink(c: &SinkConfig) -> FileSink {
        let p = Policy::for_sink(c, &Default::default(), &[], false).unwrap();
        FileSink::open(c, p).unwrap()
    }

    #[test]
    fn rotates_by_size_and_compresses() {
        for (comp, ext) in [("gzip", ".gz"), ("zstd", ".zst"), ("none", "")] {
            let d = tempfile::tempdir().unwrap();
            let c = cfg(d.path(), comp, 100, &[]);
            let mut s = sink(&c);
            let line = format!("{{\"event_type\":\"dns\",\"x\":\"{}\"}}\n", "a".repeat(40));
            for _ in 0..5 {
                s.write("dns", line.as_bytes()).unwrap();
            }
            s.finish().unwrap();
            assert_eq!(s.stats.rotations, 2, "{comp}");
            let mut names: Vec<String> = fs::read_dir(d.path())
                .unwrap()
                .map(|e| e.unwrap().file_name().into_string().unwrap())
                .collect();
            names.sort();
            assert_eq!(names.len(), 3, "{names:?}");
            assert!(names.contains(&"out.ndjson".to_string()));
            let mut total = String::new();
            for n in names.iter().filter(|n| *n != "out.ndjson") {
                assert!(
                    n.starts_with("out.2") && n.ends_with(&format!(".ndjson{ext}")),
                    "{n}"
                );
                let f = File::open(d.path().join(n)).unwrap();
                let mut text = String::new();
                match comp {
                    "gzip" => flate2::read::GzDecoder::new(f).read_to_string(&mut text),
                    "zstd" => zstd::stream::read::Decoder::new(f)
                        .unwrap()
                        .read_to_string(&mut text),
                    _ => std::io::BufReader::new(f).read_to_string(&mut text),
                }
                .unwrap();
                total.push_str(&text);
            }
            total.push_str(&fs::read_to_string(d.path().join("out.ndjson")).unwrap());
            assert_eq!(total, line.repeat(5), "{comp}: every line exactly once");
        }
    }

    #[test]
    fn filters_by_type() {
        let d = tempfile::tempdir().unwrap();
        let c = cfg(d.path(), "none", 0, &["http"]);
        let mut s = sink(&c);
        s.write("dns", b"{\"event_type\":\"dns\"}\n").unwrap();
        s.write("http", b"{\"event_type\":\"http\"}\n").unwrap();
        s.finish().unwrap();
        let text = fs::read_to_string(d.path().join("out.ndjson")).unwrap();
        assert_eq!(text, "{\"event_type\":\"http\"}\n");
        assert_eq!(s.stats.filtered, 1);
    }
}
