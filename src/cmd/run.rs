//! `tapir run`: live capture from an interface until SIGTERM or SIGINT (Ctrl-C).

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::{bail, Context, Result};

use crate::cmd::CommonOpts;
use crate::config::Config;
use crate::export::NdjsonSink;
use crate::pipeline::Summary;

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub common: CommonOpts,
    /// Interface to capture on (overrides capture.interface).
    #[arg(short, long, value_name = "IFACE")]
    pub interface: Option<String>,
    /// Capture method: afpacket (default) or libpcap (needs the `libpcap` build feature).
    #[arg(long, value_name = "METHOD")]
    pub method: Option<String>,
    /// BPF capture filter (libpcap only).
    #[arg(long, value_name = "FILTER")]
    pub bpf: Option<String>,
    /// Serve Prometheus metrics on this address (`GET /metrics`; sets status.metrics_listen).
    #[arg(long, value_name = "ADDR:PORT")]
    pub metrics_listen: Option<String>,
    /// Stop after this many seconds (default: run until SIGTERM or SIGINT).
    #[arg(long, value_name = "SECS")]
    pub duration: Option<u64>,
}

pub fn run(args: &RunArgs) -> Result<Summary> {
    let mut cfg = args.common.load()?;
    if let Some(i) = &args.interface {
        cfg.capture.interface = Some(i.clone());
    }
    if let Some(m) = &args.method {
        cfg.capture.method = m.clone();
    }
    if let Some(b) = &args.bpf {
        cfg.capture.bpf = Some(b.clone());
    }
    if let Some(l) = &args.metrics_listen {
        cfg.status.metrics_listen = Some(l.clone());
    }
    cfg.validate()?;
    if cfg.files.extract_dir.is_some() {
        crate::files::extract::Extractor::new(cfg.files.extract_config())?;
    }
    let Some(iface) = cfg.capture.interface.clone() else {
        bail!("no interface: give --interface or set capture.interface in the config");
    };
    let stop = super::stop_on_signals()?;
    if let Some(secs) = args.duration {
        let stop = stop.clone();
        std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_secs(secs));
            stop.store(true, Ordering::Relaxed);
        });
    }
    if let Some(l) = &cfg.status.metrics_listen {
        let addr: std::net::SocketAddr = l.parse().context("status.metrics_listen")?;
        let bound = crate::status::http::serve(addr, stop.clone())
            .with_context(|| format!("cannot serve metrics on {addr}"))?;
        tracing::info!("metrics served on http://{bound}/metrics");
    }
    let sink = super::output_sink(&cfg, None)?;
    tracing::info!(interface = %iface, method = %cfg.capture.method, "starting live capture");
    let summary = match cfg.capture.method.as_str() {
        "libpcap" => run_libpcap(&cfg, &iface, sink, stop)?,
        _ => run_afpacket(&cfg, &iface, sink, stop)?,
    };
    eprint!("{}", super::summary::render(&summary));
    args.common.write_summary_json(&summary)?;
    Ok(summary)
}

/// Default state directory of `tapir run` (`stats.state_dir`).
pub const DEFAULT_STATE_DIR: &str = "/var/lib/tapir";

/// The statistics store of a live run: `stats.state_dir`, refreshed snapshots after commits.
fn open_stats(cfg: &Config) -> Result<Option<crate::stats::Stats>> {
    if !cfg.stats.enabled {
        return Ok(None);
    }
    let Some(dir) = cfg.stats.state_dir.as_deref() else {
        // The default directory (the deploy unit's StateDirectory): a run without it (not
        // root, no unit) keeps its statistics in memory rather than not starting.
        return match crate::stats::Stats::open(cfg, Some(Path::new(DEFAULT_STATE_DIR)), true) {
            Ok(s) => Ok(Some(s)),
            Err(err) => {
                tracing::warn!(
                    "statistics kept in memory (gone at exit): cannot use {DEFAULT_STATE_DIR}: {err}"
                );
                let s = crate::stats::Stats::open(cfg, None, true)
                    .context("cannot open the statistics store in memory")?;
                Ok(Some(s))
            }
        };
    };
    let s = crate::stats::Stats::open(cfg, Some(Path::new(dir)), true)
        .with_context(|| format!("cannot open the statistics store in {dir}"))?;
    Ok(Some(s))
}

#[cfg(target_os = "linux")]
fn run_afpacket(
    cfg: &Config,
    iface: &str,
    sink: NdjsonSink,
    stop: Arc<AtomicBool>,
) -> Result<Summary> {
    use crate::capture::afpacket::{AfPacketSource, RingConfig};
    use crate::capture::PacketSource;
    use crate::pipeline::{run_live, LiveOptions};
    if cfg.capture.bpf.is_some() {
        bail!("BPF filters need --method libpcap (build with --features libpcap)");
    }
    let ring = RingConfig {
        block_size: cfg.capture.ring_block_size,
        block_count: cfg.capture.ring_blocks,
        snaplen: cfg.capture.snaplen,
        promiscuous: cfg.capture.promiscuous,
        ..RingConfig::default()
    };
    let group = cfg.capture.fanout_group;
    let link = Arc::new(crate::capture::LinkHealth::new(iface));
    let open = |_: usize| {
        AfPacketSource::open(iface, Some(group), ring, stop.clone())
            .map(|s| Box::new(s.with_health(link.clone())) as Box<dyn PacketSource>)
    };
    Ok(run_live(
        open,
        cfg,
        sink,
        LiveOptions {
            workers: cfg.worker_count(),
            stop: stop.clone(),
            intel: crate::enrich::intel::start(&cfg.intel)?,
            stats: open_stats(cfg)?,
            link: Some(link.clone()),
            rules: super::load_rules(cfg)?,
        },
    )?)
}

#[cfg(not(target_os = "linux"))]
fn run_afpacket(_: &Config, _: &str, _: NdjsonSink, _: Arc<AtomicBool>) -> Result<Summary> {
    bail!("AF_PACKET capture needs Linux; use --method libpcap")
}

#[cfg(feature = "libpcap")]
fn run_libpcap(
    cfg: &Config,
    iface: &str,
    sink: NdjsonSink,
    stop: Arc<AtomicBool>,
) -> Result<Summary> {
    use crate::capture::libpcap::PcapLiveSource;
    use crate::pipeline::{replay, ReplayOptions};
    let link = Arc::new(crate::capture::LinkHealth::new(iface));
    let src = PcapLiveSource::open(
        iface,
        cfg.capture.snaplen,
        cfg.capture.promiscuous,
        cfg.capture.bpf.as_deref(),
        stop.clone(),
    )?
    .with_health(link.clone());
    // One libpcap handle: the dispatcher spreads its packets over the workers.
    Ok(replay(
        vec![Box::new(src)],
        cfg,
        sink,
        ReplayOptions {
            workers: cfg.worker_count(),
            progress: None,
            live: true,
            intel: crate::enrich::intel::start(&cfg.intel)?,
            stop: Some(stop),
            pipes: Vec::new(),
            stats: open_stats(cfg)?,
            rules: super::load_rules(cfg)?,
            link: Some(link),
        },
    )?)
}

#[cfg(not(feature = "libpcap"))]
fn run_libpcap(_: &Config, _: &str, _: NdjsonSink, _: Arc<AtomicBool>) -> Result<Summary> {
    bail!("this build has no libpcap support: rebuild with `cargo build --features libpcap`")
}
