//! NDJSON sink: one JSON object per line. Lines are written whole: a record is either entirely
//! in the output or not at all, also when the disk fills up or the reader closes the pipe.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Write};

use crate::record::{write_json_line_id, Record, RecordId};

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
    #[error(transparent)]
    Export(#[from] crate::export::ExportError),
}

/// What the output stage did.
#[derive(Clone, Debug, Default)]
pub struct OutputStats {
    pub records: u64,
    pub by_type: BTreeMap<&'static str, u64>,
    pub bytes: u64,
    /// The spool and sinks, as of the last status record.
    pub export: Option<crate::record::sensor_status::ExportBlock>,
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
    /// This run's id: the first part of every record's `id` (`<run>-<seq>`).
    run_id: String,
    /// File sinks and the spool of the remote sinks (`[export]`).
    exporter: Option<crate::export::Exporter>,
    /// One serialised line when there is no main output to serialise into.
    line: Vec<u8>,
}

/// A run id: 12 hex digits from the wall clock, the process id and a random hash key, so that
/// two runs (or two sensors) do not share one.
fn new_run_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    h.write_u64(now);
    h.write_u32(std::process::id());
    format!("{:012x}", h.finish() & 0xffff_ffff_ffff)
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
            run_id: new_run_id(),
            exporter: None,
            line: Vec::new(),
        }
    }

    /// Also hands every record to these sinks (`[export]`).
    pub fn with_exporter(mut self, exporter: Option<crate::export::Exporter>) -> NdjsonSink {
        self.exporter = exporter;
        self.refresh_export_status();
        self
    }

    /// Replaces the export sinks (a SIGHUP reload). What is buffered goes to the old sinks
    /// first; they end without waiting for delivery (what a remote sink has not sent stays in
    /// the spool, where the new sinks resume); then `start` opens the new ones. When that fails
    /// the old configuration is opened again with `fallback`, and the error is returned.
    pub fn replace_exporter(
        &mut self,
        start: impl FnOnce() -> Result<Option<crate::export::Exporter>, crate::export::ExportError>,
        fallback: impl FnOnce() -> Result<Option<crate::export::Exporter>, crate::export::ExportError>,
    ) -> Result<(), crate::export::ExportError> {
        if let Some(ex) = self.exporter.as_mut() {
            ex.commit();
        }
        self.flush_buf();
        if let Some(old) = self.exporter.take() {
            if let (_, Some(e)) = old.finish_now() {
                tracing::warn!("export: the sinks replaced by the reload ended with: {e}");
            }
        }
        let result = match start() {
            Ok(ex) => {
                self.exporter = ex;
                Ok(())
            }
            Err(e) => {
                match fallback() {
                    Ok(ex) => self.exporter = ex,
                    Err(again) => {
                        tracing::error!(
                            "export: the sinks of before cannot be opened again: {again}"
                        )
                    }
                }
                Err(e)
            }
        };
        self.refresh_export_status();
        result
    }

    /// Updates `stats().export` (before a status record is built).
    pub fn refresh_export_status(&mut self) {
        self.stats.export = self.exporter.as_ref().map(|e| e.status());
    }

    /// This run's id (`<run>` in every record's `id`).
    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    /// Sets the run id (tests that compare two runs' output).
    pub fn with_run_id(mut self, run_id: &str) -> NdjsonSink {
        self.run_id = run_id.to_string();
        self
    }

    /// Serialises and (buffered) writes a batch. After a write error, records are counted as
    /// lost and the error is returned by [`NdjsonSink::finish`].
    ///
    /// Every record gets the `id` `<run>-<seq>`, `seq` being its 1-based position in the run's
    /// output (`stats().records` after it): record `i` of a batch written when `stats().records`
    /// was `n` is `<run>-<n+i+1>`, which is how the detection stage names the records a
    /// detection rests on before they are written.
    pub fn write_batch(&mut self, batch: &[Record]) -> Result<(), OutputError> {
        for r in batch {
            let event_type = r.body.event_type();
            *self.stats.by_type.entry(event_type).or_insert(0) += 1;
            self.stats.records += 1;
            let id = RecordId {
                run: &self.run_id,
                seq: self.stats.records,
            };
            if let Some(ex) = self.exporter.as_mut() {
                // Serialised once: into the main output's buffer when there is one.
                let (buf, start) = if self.w.is_some() && self.failed.is_none() {
                    let start = self.buf.len();
                    (&mut self.buf, start)
                } else {
                    self.line.clear();
                    (&mut self.line, 0)
                };
                write_json_line_id(buf, r, &self.sensor_id, Some(id))?;
                ex.append(event_type, buf.get(start..).unwrap_or_default());
                if self.w.is_some() && self.failed.is_some() {
                    self.lost += 1;
                }
            } else {
                if self.w.is_none() {
                    continue;
                }
                if self.failed.is_some() {
                    self.lost += 1;
                    continue;
                }
                write_json_line_id(&mut self.buf, r, &self.sensor_id, Some(id))?;
            }
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

    /// Whether a write failed (everything after it is counted as lost), in the main output or
    /// in a sink.
    pub fn failed(&self) -> bool {
        self.failed.is_some() || self.exporter.as_ref().is_some_and(|e| e.failed().is_some())
    }

    /// What was written so far.
    pub fn stats(&self) -> &OutputStats {
        &self.stats
    }

    /// Writes out what is buffered now (status records: a live sensor's trickle of records
    /// should not wait in the buffer).
    ///
    /// The spool is committed first: a record the main output shows is already durable in the
    /// spool (what a crash right after leaves behind is consistent).
    pub fn flush(&mut self) {
        if let Some(e) = self.exporter.as_mut() {
            e.tick();
        }
        self.flush_buf();
    }

    /// Writes out what is buffered; an error tells how many records were lost.
    pub fn finish(mut self) -> Result<OutputStats, OutputError> {
        if let Some(ex) = self.exporter.as_mut() {
            ex.commit();
        }
        self.flush_buf();
        if let Some(ex) = self.exporter.take() {
            let (status, err) = ex.finish();
            self.stats.export = Some(status);
            if let (Some(e), None) = (err, &self.failed) {
                return Err(e.into());
            }
        }
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
            parent: None,
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
    fn records_get_sequential_ids() {
        let buf = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        struct W(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
        impl Write for W {
            fn write(&mut self, b: &[u8]) -> io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let mut s =
            NdjsonSink::with_writer("w", Some(Box::new(W(buf.clone()))), "s").with_run_id("abc");
        s.write_batch(&[rec(), rec()]).unwrap();
        s.write_batch(&[rec()]).unwrap();
        s.finish().unwrap();
        let text = String::from_utf8(buf.lock().unwrap().clone()).unwrap();
        let ids: Vec<String> = text
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["id"].to_string())
            .collect();
        assert_eq!(ids, ["\"abc-1\"", "\"abc-2\"", "\"abc-3\""]);
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
