//! The output stage: writes the workers' records and the status records, in arrival order.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError};

use crate::detect::correlate::Correlator;
use crate::export::{NdjsonSink, OutputError, OutputStats};
use crate::pipeline::OutMsg;
use crate::record::detection::DetectStatus;
use crate::status::Reporter;

/// Buffered output is written out at least this often (wall time), whatever the status
/// interval: a quiet sensor's records do not wait in the buffer.
pub(crate) const FLUSH_EVERY: Duration = Duration::from_secs(1);

/// The correlation stage of a run with detection rules: hands the rules to the workers
/// (`ws.rules`) and builds the stage the output thread runs. None without rules or with
/// `detect.enabled = false`.
pub(crate) fn correlator(
    rules: Option<std::sync::Arc<crate::detect::RuleSet>>,
    cfg: &crate::config::Config,
    ws: &mut crate::pipeline::WorkerShared,
    run_id: &str,
) -> Option<Correlator> {
    let rules = rules.filter(|_| cfg.detect.enabled)?;
    ws.rules = Some(std::sync::Arc::new(crate::detect::live::LiveRules::new(
        rules.clone(),
    )));
    let sources = crate::detect::correlate::Sources {
        dns_cache: Some(ws.dns_cache.clone()),
        stats: ws.stats.clone(),
        intel: ws.intel.clone(),
        home_net: cfg.home_net.clone(),
    };
    Some(Correlator::new(
        rules,
        crate::detect::correlate::CorrelateConfig::from_config(&cfg.detect),
        sources,
        run_id,
    ))
}

/// What a SIGHUP reload changed (`tapir run`; see `cmd::reload`).
#[derive(Debug, Default)]
pub struct Reloaded {
    /// The new detection rules; None: unchanged.
    pub rules: Option<std::sync::Arc<crate::detect::RuleSet>>,
    /// The rule and feed files now loaded.
    pub versions: Vec<crate::record::sensor_status::FileVersion>,
    /// Settings that changed but only apply after a restart.
    pub needs_restart: Vec<String>,
    /// New export sinks or provision policy; None: unchanged.
    pub export: Option<ExportChange>,
}

/// The `[export]` sinks and policy a reload changes (`export.spool` only changes at a restart).
#[derive(Debug)]
pub struct ExportChange {
    /// The new section, and the one running before (opened again if the new one fails).
    pub export: crate::config::ExportSection,
    pub previous: crate::config::ExportSection,
    pub home_net: Vec<ipnet::IpNet>,
    /// Where the spool goes when `export.spool.dir` is not set.
    pub state_dir: Option<std::path::PathBuf>,
}

/// A reload the output stage polls (about every second): `Some` when one was asked for and
/// done. The output stage publishes the new rules to the workers and switches the correlation
/// stage to them, then reports the reload in the next status record.
pub trait Reload: Send {
    fn poll(&mut self) -> Option<Reloaded>;
}

/// What the output thread runs besides writing: correlation, the rules it publishes to the
/// workers, and the reload hook that can replace them and the export sinks.
#[derive(Default)]
pub(crate) struct LiveStages {
    pub correlate: Option<Correlator>,
    pub live: Option<std::sync::Arc<crate::detect::live::LiveRules>>,
    pub reload: Option<Box<dyn Reload>>,
}

impl LiveStages {
    fn poll_reload(&mut self, reporter: &mut Reporter, sink: &mut NdjsonSink) {
        let Some(mut done) = self.reload.as_mut().and_then(|r| r.poll()) else {
            return;
        };
        if let Some(rules) = done.rules.take() {
            match (&self.live, &mut self.correlate) {
                (Some(live), Some(c)) => {
                    let generation = live.replace(rules.clone());
                    c.reload(rules, generation);
                    reporter.set_detect(c.status());
                }
                // Detection was off at start: only a restart turns it on.
                _ if !rules.is_empty() => done.needs_restart.push("detect.enabled".into()),
                _ => {}
            }
        }
        if let Some(ch) = done.export.take() {
            let state = ch.state_dir.as_deref();
            let start = |cfg| crate::export::Exporter::start(cfg, &ch.home_net, state);
            match sink.replace_exporter(|| start(&ch.export), || start(&ch.previous)) {
                Ok(()) => tracing::info!("export sinks reloaded"),
                Err(e) => {
                    tracing::error!("export reload failed, the sinks of before are back: {e}")
                }
            }
        }
        reporter.reloaded(done.versions, done.needs_restart);
    }
}

/// Runs until every sender is gone (or a `Final` came and they went).
///
/// A write error (disk full, closed pipe) or a record that cannot be serialised sets `halt`, so
/// that the run stops instead of going on to lose everything after it; after a write error the
/// rest is counted as lost and the error is returned at the end.
///
/// With detection rules, `correlate` turns the hits that come with each batch into
/// `detection` records, written right after the batch (`detect::correlate`).
pub(crate) fn output_loop(
    mut sink: NdjsonSink,
    rx: Receiver<OutMsg>,
    mut reporter: Reporter,
    halt: &AtomicBool,
    mut stages: LiveStages,
) -> Result<(OutputStats, Option<DetectStatus>), OutputError> {
    let mut last_flush = Instant::now();
    // Under systemd (Type=notify): the capture runs once this stage does.
    let mut notifier = crate::status::notify::Notifier::from_env();
    if let Some(n) = &notifier {
        n.notify("READY=1");
    }
    loop {
        let wait = FLUSH_EVERY.saturating_sub(last_flush.elapsed());
        match rx.recv_timeout(wait) {
            Ok(msg) => {
                if let Err(e) = handle(&mut sink, &mut reporter, stages.correlate.as_mut(), msg) {
                    tracing::error!("output stopped: {e}");
                    halt.store(true, Ordering::Relaxed);
                    return Err(e);
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        if last_flush.elapsed() >= FLUSH_EVERY {
            stages.poll_reload(&mut reporter, &mut sink);
            if let Some(n) = &mut notifier {
                n.watchdog(Instant::now());
            }
            sink.flush();
            last_flush = Instant::now();
        }
        if sink.failed() && !halt.load(Ordering::Relaxed) {
            tracing::error!("writing the output failed: stopping");
            halt.store(true, Ordering::Relaxed);
        }
    }
    if let Some(n) = &notifier {
        n.notify("STOPPING=1");
    }
    let status = stages.correlate.as_ref().map(|c| c.status());
    sink.finish().map(|s| (s, status))
}

fn handle(
    sink: &mut NdjsonSink,
    reporter: &mut Reporter,
    correlate: Option<&mut Correlator>,
    msg: OutMsg,
) -> Result<(), OutputError> {
    if let (Some(c), false) = (&correlate, matches!(msg, OutMsg::Records(..))) {
        reporter.set_detect(c.status());
    }
    if !matches!(msg, OutMsg::Records(..)) {
        sink.refresh_export_status();
    }
    match msg {
        OutMsg::Records(batch, hits, generation) => {
            reporter.observe(&batch);
            // The id the sink gives `batch[0]` (see `NdjsonSink::write_batch`).
            let first_seq = sink.stats().records + 1;
            sink.write_batch(&batch)?;
            if let (Some(c), false) = (correlate, hits.is_empty()) {
                let mut detections = Vec::new();
                c.batch_of(generation, &batch, &hits, first_seq, &mut detections);
                if !detections.is_empty() {
                    reporter.observe(&detections);
                    sink.write_batch(&detections)?;
                }
            }
        }
        OutMsg::Started { now_ns } => {
            if let Some(r) = reporter.started(now_ns, sink.stats()) {
                sink.write_batch(std::slice::from_ref(&r))?;
                sink.flush();
            }
        }
        OutMsg::Status { source, snap } => {
            if let Some(r) = reporter.snapshot(source, *snap, sink.stats()) {
                sink.write_batch(std::slice::from_ref(&r))?;
                sink.flush();
            }
        }
        OutMsg::Final(fin) => {
            let recs = reporter.finish(*fin, sink.stats());
            sink.write_batch(&recs)?;
        }
    }
    Ok(())
}
