//! `tapir replay`: read capture files through the whole pipeline.

use std::io::IsTerminal;

use anyhow::{Context, Result};

use crate::capture::{pcap_file, PacketSource};
use crate::cmd::CommonOpts;
use crate::pipeline::{replay, ReplayOptions, Summary};

#[derive(Debug, clap::Args)]
pub struct ReplayArgs {
    #[command(flatten)]
    pub common: CommonOpts,
    /// No progress bar.
    #[arg(long)]
    pub no_progress: bool,
    /// Do not print the summary.
    #[arg(short, long)]
    pub quiet: bool,
    /// Write what was learnt passively (accounts per host, KDCs, host names) as JSON to FILE.
    #[arg(long, value_name = "FILE")]
    pub learned_out: Option<std::path::PathBuf>,
    /// Keep the network statistics in DIR (created; added to across runs). Default: in
    /// memory, gone at exit. See `tapir stats`.
    #[arg(long, value_name = "DIR")]
    pub state: Option<std::path::PathBuf>,
    /// pcap / pcapng files, optionally gzip-compressed; "-" reads standard input.
    #[arg(value_name = "PCAP", required = true)]
    pub pcaps: Vec<String>,
}

/// Runs the replay; returns the summary (printed unless `--quiet`).
pub fn run(args: &ReplayArgs) -> Result<Summary> {
    let cfg = args.common.load()?;
    if cfg.files.extract_dir.is_some() {
        // Fail now, clearly, rather than run without the extraction that was asked for.
        crate::files::extract::Extractor::new(cfg.files.extract_config())?;
    }
    let sink = super::output_sink(&cfg, args.state.as_deref())?;
    let mut sources: Vec<Box<dyn PacketSource>> = Vec::new();
    let mut total = 0u64;
    for p in &args.pcaps {
        let src = pcap_file::open(p, cfg.capture.max_decompressed_bytes)
            .with_context(|| format!("cannot replay {p}"))?;
        if p != "-" {
            total += std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
        }
        sources.push(src);
    }
    let to_stdout = cfg.output.path.as_deref().is_none_or(|p| p == "-");
    let progress = progress_bar(args, total, to_stdout);
    let opts = ReplayOptions {
        stop: Some(super::stop_on_signals()?),
        pipes: args
            .pcaps
            .iter()
            .enumerate()
            .filter(|(_, p)| p.as_str() == "-")
            .map(|(i, _)| i)
            .collect(),
        workers: cfg.worker_count(),
        progress: progress.clone().map(|pb| {
            Box::new(move |b: u64| pb.set_position(b.min(pb.length().unwrap_or(b))))
                as Box<dyn FnMut(u64)>
        }),
        intel: crate::enrich::intel::start(&cfg.intel)?,
        stats: if cfg.stats.enabled || args.state.is_some() {
            Some(
                crate::stats::Stats::open(&cfg, args.state.as_deref(), false)
                    .context("cannot open the statistics store")?,
            )
        } else {
            None
        },
        rules: super::load_rules(&cfg)?,
        link: None,
        ..Default::default()
    };
    let summary = replay(sources, &cfg, sink, opts)?;
    if let Some(pb) = progress {
        pb.finish_and_clear();
    }
    if !args.quiet {
        eprint!("{}", super::summary::render(&summary));
    }
    args.common.write_summary_json(&summary)?;
    if let Some(p) = &args.learned_out {
        let json = serde_json::to_string_pretty(&summary.workers.learned)?;
        std::fs::write(p, json).with_context(|| format!("cannot write {}", p.display()))?;
    }
    Ok(summary)
}

fn progress_bar(
    args: &ReplayArgs,
    total: u64,
    records_on_stdout: bool,
) -> Option<indicatif::ProgressBar> {
    let tty = std::io::stderr().is_terminal();
    if args.no_progress
        || !tty
        || total == 0
        || (records_on_stdout && std::io::stdout().is_terminal())
    {
        return None;
    }
    let pb = indicatif::ProgressBar::new(total);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] {bar:40} {bytes}/{total_bytes} ({bytes_per_sec}, eta {eta})",
    ) {
        pb.set_style(style);
    }
    Some(pb)
}
