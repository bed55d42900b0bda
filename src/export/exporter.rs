//! The sinks of a run, as the output stage sees them: every record line goes to each file sink
//! (through its filter) and, when there are remote sinks, into the spool; the remote sinks'
//! threads take it from there.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ipnet::IpNet;

use crate::config::{ExportSection, SinkConfig};
use crate::export::file::FileSink;
use crate::export::policy::{Policy, PolicyError};
use crate::export::remote::{RemoteOptions, RemoteSink, StopSignal};
use crate::export::spool::{Spool, SpoolError, SpoolWriter};
use crate::export::transport::{SinkError, Transport};
use crate::record::sensor_status::{ExportBlock, SinkBlock, SpoolBlock};

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Policy(#[from] PolicyError),
    #[error(transparent)]
    Spool(#[from] SpoolError),
    #[error("export sink {name}: {source}")]
    File {
        name: String,
        #[source]
        source: std::io::Error,
    },
    #[error("export sink {name}: {source}")]
    Sink {
        name: String,
        #[source]
        source: SinkError,
    },
    #[error("export: {0}")]
    Setup(String),
}

/// Whether a sink type sends off the box.
pub fn is_remote(kind: &str) -> bool {
    matches!(kind, "https" | "kafka")
}

fn transport(cfg: &SinkConfig) -> Result<Box<dyn Transport>, SinkError> {
    match cfg.kind.as_str() {
        #[cfg(feature = "kafka")]
        "kafka" => Ok(Box::new(crate::export::kafka::KafkaTransport::new(cfg)?)),
        #[cfg(not(feature = "kafka"))]
        "kafka" => Err(SinkError::Config(
            "this build has no Kafka support (build with --features kafka)".into(),
        )),
        "https" => Ok(Box::new(crate::export::https::HttpsTransport::new(cfg)?)),
        other => Err(SinkError::Config(format!("unknown sink type {other:?}"))),
    }
}

pub struct Exporter {
    files: Vec<FileSink>,
    spool: Option<(SpoolWriter, u64)>,
    remotes: Vec<RemoteSink>,
    stop: Arc<StopSignal>,
    drain: Duration,
    last_tick: Instant,
    error: Option<ExportError>,
}

impl Exporter {
    /// Sets up the sinks of `[export]` (None when there are none). `state_dir`: where the
    /// spool goes when `export.spool.dir` is not set.
    pub fn start(
        cfg: &ExportSection,
        home_net: &[IpNet],
        state_dir: Option<&Path>,
    ) -> Result<Option<Exporter>, ExportError> {
        if cfg.sink.is_empty() {
            return Ok(None);
        }
        let mut files = Vec::new();
        let mut remote_cfgs = Vec::new();
        for s in &cfg.sink {
            let remote = is_remote(&s.kind);
            let policy = Policy::for_sink(s, &cfg.profile, home_net, remote)?;
            if remote {
                if !cfg.allow_remote {
                    return Err(ExportError::Setup(format!(
                        "sink {:?} sends off this machine, and export.allow_remote is not set: \
                         nothing leaves the sensor without the administrator's grant",
                        s.name
                    )));
                }
                remote_cfgs.push((s, policy));
            } else {
                let f = FileSink::open(s, policy).map_err(|source| ExportError::File {
                    name: s.name.clone(),
                    source,
                })?;
                files.push(f);
            }
        }
        let mut spool = None;
        let mut remotes = Vec::new();
        let stop = Arc::new(StopSignal::default());
        if !remote_cfgs.is_empty() {
            let dir: PathBuf = match (&cfg.spool.dir, state_dir) {
                (Some(d), _) => d.into(),
                (None, Some(s)) => s.join("spool"),
                (None, None) => {
                    return Err(ExportError::Setup(
                        "remote sinks need a spool: set export.spool.dir (or --state)".into(),
                    ))
                }
            };
            let names: Vec<String> = remote_cfgs.iter().map(|(s, _)| s.name.clone()).collect();
            let (sp, writer) = Spool::open_with(
                &dir,
                &names,
                cfg.spool.max_bytes,
                cfg.spool.segment_bytes,
                cfg.spool.fsync != "none",
            )?;
            for (s, policy) in remote_cfgs {
                let t = transport(s).map_err(|source| ExportError::Sink {
                    name: s.name.clone(),
                    source,
                })?;
                let opts = RemoteOptions {
                    batch_records: s.batch_records.max(1),
                    batch_bytes: s.batch_bytes.max(1),
                    retry_initial: Duration::from_millis(s.retry_initial_ms.max(1)),
                    retry_max: Duration::from_millis(s.retry_max_ms.max(s.retry_initial_ms)),
                };
                let pending = sp.pending(&s.name);
                let r = RemoteSink::spawn(
                    &s.name,
                    &s.kind,
                    t,
                    sp.reader(&s.name),
                    policy,
                    opts,
                    stop.clone(),
                )
                .map_err(|e| ExportError::Setup(format!("starting sink {}: {e}", s.name)))?;
                if pending > 0 {
                    tracing::info!(
                        "export sink {}: {pending} records from an earlier run still to send",
                        s.name
                    );
                }
                remotes.push(r);
            }
            spool = Some((writer, cfg.spool.max_bytes));
        }
        Ok(Some(Exporter {
            files,
            spool,
            remotes,
            stop,
            drain: Duration::from_secs(cfg.drain_timeout_s),
            last_tick: Instant::now(),
            error: None,
        }))
    }

    /// One record line (with its newline) of type `event_type`.
    pub fn append(&mut self, event_type: &str, line: &[u8]) {
        if self.error.is_some() {
            return;
        }
        for f in &mut self.files {
            if let Err(source) = f.write(event_type, line) {
                self.error = Some(ExportError::File {
                    name: f.name.clone(),
                    source,
                });
                return;
            }
        }
        if let Some((w, _)) = &mut self.spool {
            let body = line.strip_suffix(b"\n").unwrap_or(line);
            if let Err(e) = w.append(body) {
                self.error = Some(e.into());
                return;
            }
            // Bounded memory between commits.
            if w.pending_bytes() >= 4 << 20 {
                self.commit();
            }
        }
    }

    /// Makes what was appended durable in the spool and visible to the remote sinks.
    pub fn commit(&mut self) {
        if let Some((w, _)) = &mut self.spool {
            if self.error.is_none() {
                if let Err(e) = w.commit() {
                    self.error = Some(e.into());
                }
            }
        }
    }

    /// About once a second: commit, flush and rotate the files.
    pub fn tick(&mut self) {
        self.commit();
        if self.last_tick.elapsed() < Duration::from_millis(900) {
            return;
        }
        self.last_tick = Instant::now();
        for f in &mut self.files {
            if let Err(source) = f.tick() {
                if self.error.is_none() {
                    self.error = Some(ExportError::File {
                        name: f.name.clone(),
                        source,
                    });
                }
            }
        }
    }

    /// The first error (a file that cannot be written, a spool that cannot be appended to):
    /// the run stops on it, as on an output write error.
    pub fn failed(&self) -> Option<&ExportError> {
        self.error.as_ref()
    }

    pub fn status(&self) -> ExportBlock {
        let mut sinks: Vec<SinkBlock> = self
            .files
            .iter()
            .map(|f| SinkBlock {
                name: f.name.clone(),
                kind: "file".into(),
                target: f.path().display().to_string(),
                records: f.stats.records,
                filtered: f.stats.filtered,
                rotations: Some(f.stats.rotations),
                ..Default::default()
            })
            .collect();
        let spool = self.spool.as_ref().map(|(w, max)| (w.spool(), *max));
        for r in &self.remotes {
            let c = &r.counters;
            let failing = c.failing.load(Ordering::Relaxed);
            sinks.push(SinkBlock {
                name: r.name.clone(),
                kind: r.kind.clone(),
                target: r.describe.clone(),
                records: c.sent.load(Ordering::Relaxed),
                filtered: c.filtered.load(Ordering::Relaxed),
                pending: spool.map(|(s, _)| s.pending(&r.name)),
                batches: Some(c.batches.load(Ordering::Relaxed)),
                failures: Some(c.failures.load(Ordering::Relaxed)),
                resent: Some(c.resent.load(Ordering::Relaxed)),
                state: Some(if failing { "failing" } else { "ok" }),
                last_error: c
                    .last_error
                    .lock()
                    .ok()
                    .and_then(|g| g.clone())
                    .filter(|_| failing),
                rotations: None,
            });
        }
        ExportBlock {
            spool: spool.map(|(s, max)| {
                let snap = s.snapshot();
                let c = s.counters();
                SpoolBlock {
                    dir: s.dir().display().to_string(),
                    bytes: snap.bytes,
                    max_bytes: max,
                    segments: snap.segments as u64,
                    appended: snap.appended,
                    dropped_records: snap.dropped_records,
                    dropped_segments: snap.dropped_segments,
                    corrupt_frames: snap.corrupt_frames,
                    fsyncs: c.fsyncs.load(Ordering::Relaxed),
                }
            }),
            sinks,
        }
    }

    /// [`Exporter::finish`] without waiting for the remote sinks to deliver what the spool
    /// holds (a reload: the sinks that follow resume from the spool).
    pub fn finish_now(mut self) -> (ExportBlock, Option<ExportError>) {
        self.drain = Duration::ZERO;
        self.finish()
    }

    /// Ends the run's export: commits the spool, lets the remote sinks deliver what it holds
    /// for up to `export.drain_timeout_s` (what is left is sent at the next start), flushes
    /// and syncs the files. Returns the final status and the first error.
    pub fn finish(mut self) -> (ExportBlock, Option<ExportError>) {
        self.commit();
        for f in &mut self.files {
            if let Err(source) = f.finish() {
                if self.error.is_none() {
                    self.error = Some(ExportError::File {
                        name: f.name.clone(),
                        source,
                    });
                }
            }
        }
        if let Some((w, _)) = &self.spool {
            self.stop.set_deadline(Instant::now() + self.drain);
            w.spool().close();
        }
        for r in &mut self.remotes {
            r.join();
        }
        for r in &self.remotes {
            if let Some((w, _)) = &self.spool {
                let left = w.spool().pending(&r.name);
                if left > 0 {
                    tracing::warn!(
                        "export sink {}: {left} records not yet delivered stay in the spool for the next start",
                        r.name
                    );
                }
            }
        }
        let st = self.status();
        (st, self.error)
    }
}
