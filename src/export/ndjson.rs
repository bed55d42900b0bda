//! NDJSON sink: one JSON object per line. Lines are written whole: a record is either entirely
//! in the output or not at all, also when the disk fills up or the reader closes the pipe.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Write};

use crate::record::{write_json_line, Record};

#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error("cannot open output {path}: {source}")]
    Open {
        path: String,
        #[source]
        source: io::Error,
    },
    #[error("writing {path} failed after {written} records ({lost} records lost): {source}")]
    Write {
        path: String,
        written: u64,
        lost: u64,
        #[source]
        source: io::Error,
    },
    #[error("cannot serialise a record: {0}")]
    Serialise(#[from] serde_json::Error),
}

/// What the output stage did.
#[derive(Clone, Debug, Default)]
pub struct OutputStats {
    pub records: u64,
    pub by_type: BTreeMap<&'static str, u64>,
    pub bytes: u64,
}

/// Counts records and, when a destination is set, writes them.
pub struct NdjsonSink {
    path: String,
    w: Option<Box<dyn Write + Send>>,
    sensor_id: String,
    buf: Vec<u8>,
    stats: OutputStats,
    failed: Option<io::Error>,
    lost: u64,
}

/// Flush to the destination once this many bytes are buffered.
const FLUSH_AT: usize = 256 << 10;

impl NdjsonSink {
    /// `path`: a file, "-" for stdout, or None to only count.
    pub fn open(path: Option<&str>, sensor_id: &str) -> Result<NdjsonSink, OutputError> {
        let w: Option<Box<dyn Write + Send>> = match path {
            None => None,
            Some("-") => Some(Box::new(io::stdout())),
            Some(p) => Some(Box::new(File::create(p).map_err(|source| {
                OutputError::Open {
                    path: p.to_string(),
                    source,
                }
            })?)),
        };
        Ok(Self::with_writer(path.unwrap_or("(none)"), w, sensor_id))
    }

    /// A sink over any writer (tests, pipes).
    pub fn with_writer(
        name: &str,
        w: Option<Box<dyn Write + Send>>,
        sensor_id: &str,
    ) -> NdjsonSink {
        NdjsonSink {
            path: name.to_string(),
            w,
            sensor_id: sensor_id.to_string(),
            buf: Vec::with_capacity(FLUSH_AT + 4096),
            stats: OutputStats::default(),
            failed: None,
            lost: 0,
        }
    }

    /// Serialises and (buffered) writes a batch. After a write error, records are counted as
    /// lost and the error is returned by [`NdjsonSink::finish`].
    pub fn write_batch(&mut self, batch: &[Record]) -> Result<(), OutputError> {
        for r in batch {
            *self.stats.by_type.entry(r.body.event_type()).or_insert(0) += 1;
            self.stats.records += 1;
            if self.w.is_none() {
                continue;
            }
            if self.failed.is_some() {
                self.lost += 1;
                continue;
            }
            write_json_line(&mut self.buf, r, &self.sensor_id)?;
            if self.buf.len() >= FLUSH_AT {
                self.flush_buf();
            }
        }
        Ok(())
    }

    fn flush_buf(&mut self) {
        let Some(w) = self.w.as_mut() else {
            return;
        };
        if self.failed.is_some() || self.buf.is_empty() {
            return;
        }
        // Whole lines only: the buffer always ends at a line end.
        if let Err(e) = w.write_all(&self.buf).and_then(|_| w.flush()) {
            let lines = self.buf.iter().filter(|&&b| b == b'\n').count() as u64;
            self.lost += lines;
            self.failed = Some(e);
        } else {
            self.stats.bytes += self.buf.len() as u64;
        }
        self.buf.clear();
    }

    /// Whether a write failed (everything after it is counted as lost).
    pub fn failed(&self) -> bool {
        self.failed.is_some()
    }

    /// What was written so far.
    pub fn stats(&self) -> &OutputStats {
        &self.stats
    }

    /// Writes out what is buffered now (status records: a live sensor's trickle of records
    /// should not wait in the buffer).
    pub fn flush(&mut self) {
        self.flush_buf();
    }

    /// Writes out what is buffered; an error tells how many records were lost.
    pub fn finish(mut self) -> Result<OutputStats, OutputError> {
        self.flush_buf();
        match self.failed.take() {
            None => Ok(self.stats),
            Some(source) => Err(OutputError::Write {
                written: self.stats.records - self.lost,
                lost: self.lost,
                path: self.path,
                source,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{Body, FlowBody};

    fn rec() -> Record {
        Record {
            intel: Vec::new(),
            ts_ns: 1,
            flow: None,
            body: Body::Flow(FlowBody {
                start: String::new(),
                end: String::new(),
                pkts_toserver: 1,
                pkts_toclient: 0,
                bytes_toserver: 60,
                bytes_toclient: 0,
                state: "new",
                tcp_state: None,
                conn_state: None,
                tcp_flags_ts: None,
                tcp_flags_tc: None,
                reason: "shutdown",
                app_proto: "unknown",
                direction: "internal",
                proto_name: "UDP",
                tunnel: None,
                icmp_type: None,
                icmp_code: None,
                gap_bytes: 0,
            }),
        }
    }

    struct Full;
    impl Write for Full {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::Error::new(io::ErrorKind::StorageFull, "no space left"))
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn full_disk_reports_lost_records() {
        let mut s = NdjsonSink::with_writer("full", Some(Box::new(Full)), "s");
        s.write_batch(&[rec(), rec(), rec()]).unwrap();
        let e = s.finish().unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("3 records lost"), "{msg}");
        assert!(msg.contains("no space left"), "{msg}");
    }

    #[test]
    fn counts_without_destination() {
        let mut s = NdjsonSink::open(None, "s").unwrap();
        s.write_batch(&[rec(), rec()]).unwrap();
        let st = s.finish().unwrap();
        assert_eq!(st.records, 2);
        assert_eq!(st.by_type.get("flow"), Some(&2));
    }
}
