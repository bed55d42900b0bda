//! `tapir run`: live capture from an interface until SIGTERM or SIGINT (Ctrl-C).

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::{bail, Context, Result};

use crate::capture::PacketSource;
use crate::cmd::CommonOpts;
use crate::config::Config;
use crate::export::NdjsonSink;
use crate::pipeline::Summary;

#[derive(Clone, Debug, clap::Args)]
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
    /// Once the capture sockets are open, switch to this user (overrides run.user; default
    /// `tapir` when started as root).
    #[arg(long, value_name = "USER")]
    pub user: Option<String>,
    /// Started as root, keep running as root rather than switching user (run.allow_root).
    #[arg(long)]
    pub allow_root: bool,
}

/// The configuration of a run: the file, `--set`, the common flags, then `run`'s own flags.
fn effective_config(args: &RunArgs) -> Result<Config> {
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
    if let Some(u) = &args.user {
        cfg.run.user = Some(u.clone());
    }
    cfg.run.allow_root |= args.allow_root;
    cfg.validate()?;
    Ok(cfg)
}

pub fn run(args: &RunArgs) -> Result<Summary> {
    let cfg = effective_config(args)?;
    let Some(iface) = cfg.capture.interface.clone() else {
        bail!("no interface: give --interface or set capture.interface in the config");
    };
    let stop = super::stop_on_signals()?;
    let again = args.clone();
    let reload =
        super::reload::ConfigReload::new(Box::new(move || effective_config(&again)), cfg.clone())?;
    // The capture sockets first, then the privileges go, before any thread starts or any file
    // is opened: everything after runs as the unprivileged user (docs/operations.md).
    let link = Arc::new(crate::capture::LinkHealth::new(&iface));
    let libpcap = cfg.capture.method == "libpcap";
    let sources = if libpcap {
        open_libpcap(&cfg, &iface, &link, &stop)?
    } else {
        open_afpacket(&cfg, &iface, &link, &stop)?
    };
    drop_privileges(&cfg)?;
    if cfg.files.extract_dir.is_some() {
        crate::files::extract::Extractor::new(cfg.files.extract_config())?;
    }
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
    let summary = if libpcap {
        run_libpcap(&cfg, sources, link, sink, stop, reload)?
    } else {
        run_afpacket(&cfg, sources, link, sink, stop, reload)?
    };
    eprint!("{}", super::summary::render(&summary));
    args.common.write_summary_json(&summary)?;
    Ok(summary)
}

#[cfg(target_os = "linux")]
fn drop_privileges(cfg: &Config) -> Result<()> {
    use crate::capture::privilege::{drop_privileges, DropPlan};
    drop_privileges(&DropPlan {
        user: cfg.run.user.clone(),
        allow_root: cfg.run.allow_root,
        keep_net_raw: !cfg.run.drop_all_caps,
    })
    .context("cannot drop privileges after opening the capture sockets")?;
    Ok(())
}

#[cfg(not(target_os = "linux"))]
fn drop_privileges(_: &Config) -> Result<()> {
    Ok(())
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

/// One AF_PACKET socket per worker, all in one fanout group.
#[cfg(target_os = "linux")]
fn open_afpacket(
    cfg: &Config,
    iface: &str,
    link: &Arc<crate::capture::LinkHealth>,
    stop: &Arc<AtomicBool>,
) -> Result<Vec<Box<dyn PacketSource>>> {
    use crate::capture::afpacket::{AfPacketSource, RingConfig};
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
    let n = cfg.worker_count().max(1);
    let mut sources = Vec::with_capacity(n);
    for _ in 0..n {
        let s = AfPacketSource::open(iface, Some(group), ring, stop.clone())?;
        sources.push(Box::new(s.with_health(link.clone())) as Box<dyn PacketSource>);
    }
    Ok(sources)
}

#[cfg(not(target_os = "linux"))]
fn open_afpacket(
    _: &Config,
    _: &str,
    _: &Arc<crate::capture::LinkHealth>,
    _: &Arc<AtomicBool>,
) -> Result<Vec<Box<dyn PacketSource>>> {
    bail!("AF_PACKET capture needs Linux; use --method libpcap")
}

fn run_afpacket(
    cfg: &Config,
    sources: Vec<Box<dyn PacketSource>>,
    link: Arc<crate::capture::LinkHealth>,
    sink: NdjsonSink,
    stop: Arc<AtomicBool>,
    reload: super::reload::ConfigReload,
) -> Result<Summary> {
    use crate::capture::CaptureError;
    use crate::pipeline::{run_live, LiveOptions};
    let workers = sources.len();
    // The sockets are already open (before the privilege drop): hand them out in order.
    let opened: std::cell::RefCell<Vec<Option<Box<dyn PacketSource>>>> =
        std::cell::RefCell::new(sources.into_iter().map(Some).collect());
    let open = |i: usize| {
        opened
            .borrow_mut()
            .get_mut(i)
            .and_then(Option::take)
            .ok_or_else(|| CaptureError::Live {
                iface: link.iface().to_string(),
                reason: format!("no capture socket was opened for worker {i}"),
            })
    };
    Ok(run_live(
        open,
        cfg,
        sink,
        LiveOptions {
            workers,
            stop: stop.clone(),
            intel: crate::enrich::intel::start(&cfg.intel)?,
            stats: open_stats(cfg)?,
            link: Some(link.clone()),
            rules: super::load_rules(cfg)?,
            reload: Some(Box::new(reload)),
        },
    )?)
}

/// The one libpcap handle: the dispatcher spreads its packets over the workers.
#[cfg(feature = "libpcap")]
fn open_libpcap(
    cfg: &Config,
    iface: &str,
    link: &Arc<crate::capture::LinkHealth>,
    stop: &Arc<AtomicBool>,
) -> Result<Vec<Box<dyn PacketSource>>> {
    use crate::capture::libpcap::PcapLiveSource;
    let src = PcapLiveSource::open(
        iface,
        cfg.capture.snaplen,
        cfg.capture.promiscuous,
        cfg.capture.bpf.as_deref(),
        stop.clone(),
    )?
    .with_health(link.clone());
    Ok(vec![Box::new(src)])
}

#[cfg(not(feature = "libpcap"))]
fn open_libpcap(
    _: &Config,
    _: &str,
    _: &Arc<crate::capture::LinkHealth>,
    _: &Arc<AtomicBool>,
) -> Result<Vec<Box<dyn PacketSource>>> {
    bail!("this build has no libpcap support: rebuild with `cargo build --features libpcap`")
}

#[cfg(feature = "libpcap")]
fn run_libpcap(
    cfg: &Config,
    sources: Vec<Box<dyn PacketSource>>,
    link: Arc<crate::capture::LinkHealth>,
    sink: NdjsonSink,
    stop: Arc<AtomicBool>,
    reload: super::reload::ConfigReload,
) -> Result<Summary> {
    use crate::pipeline::{replay, ReplayOptions};
    Ok(replay(
        sources,
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
            reload: Some(Box::new(reload)),
            link: Some(link),
        },
    )?)
}

#[cfg(not(feature = "libpcap"))]
fn run_libpcap(
    _: &Config,
    _: Vec<Box<dyn PacketSource>>,
    _: Arc<crate::capture::LinkHealth>,
    _: NdjsonSink,
    _: Arc<AtomicBool>,
    _: super::reload::ConfigReload,
) -> Result<Summary> {
    bail!("this build has no libpcap support: rebuild with `cargo build --features libpcap`")
}
