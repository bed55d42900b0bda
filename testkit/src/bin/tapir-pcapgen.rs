//! `tapir-pcapgen`: writes a synthetic, deterministic pcap capture (see `testkit::pcapgen`).
//!
//! ```text
//! tapir-pcapgen --out pcaps/demo.pcap --flows 40 --seed 1 --profile demo
//! tapir-pcapgen --out /tmp/bench.pcap.gz --seed 1 --profile bench --bytes 500000000 --gzip
//! tapir-pcapgen attack list
//! tapir-pcapgen attack kerberoast -o /tmp/kerberoast.pcap            # fires the rule
//! tapir-pcapgen attack kerberoast --quiet -o /tmp/kerberoast-quiet.pcap  # must stay quiet
//! tapir-pcapgen attack mixed -o /tmp/mixed.pcap --feed /tmp/attacks.intel
//! ```

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use testkit::attacks;
use testkit::pcapgen::{generate, GenConfig, Profile};

#[derive(Clone, Copy, ValueEnum)]
enum ProfileArg {
    Demo,
    Bench,
    /// Many hosts and a long tail of DNS names (the statistics benchmark).
    Enterprise,
}

/// Generate a synthetic enterprise-like pcap capture.
#[derive(Parser)]
#[command(version, args_conflicts_with_subcommands = true)]
struct Args {
    #[command(subcommand)]
    cmd: Option<Cmd>,
    /// Output file.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Number of flows (0 with --bytes: as many as the byte target needs).
    #[arg(long, default_value_t = 40)]
    flows: u64,
    /// PRNG seed; the same seed gives the same bytes.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Traffic profile.
    #[arg(long, value_enum, default_value_t = ProfileArg::Demo)]
    profile: ProfileArg,
    /// Stop starting flows once this many (uncompressed) bytes are written.
    #[arg(long)]
    bytes: Option<u64>,
    /// gzip the output.
    #[arg(long)]
    gzip: bool,
}

#[derive(Subcommand)]
enum Cmd {
    /// Attack captures for the default detection rules: `attack list`, `attack NAME [--quiet]`,
    /// `attack mixed` (background traffic with every attack from its own host).
    Attack {
        /// An attack name (`list` shows them), or `mixed`.
        name: String,
        /// The near miss, where the rule must stay quiet.
        #[arg(long)]
        quiet: bool,
        /// Output file.
        #[arg(short, long)]
        out: Option<PathBuf>,
        /// PRNG seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Also write the threat-intel feed (Zeek format) the `intel` attack hits.
        #[arg(long)]
        feed: Option<PathBuf>,
    },
}

fn attack(
    name: &str,
    quiet: bool,
    out: Option<PathBuf>,
    seed: u64,
    feed: Option<PathBuf>,
) -> Result<()> {
    if name == "list" {
        for a in attacks::ATTACKS {
            let h = a.host;
            println!(
                "{:<17} {}.{}.{}.{:<4} {}",
                a.name, h[0], h[1], h[2], h[3], a.about
            );
        }
        println!(
            "{:<17} {:<13} background of 30 hosts, every attack and every near miss",
            "mixed", ""
        );
        return Ok(());
    }
    let bytes = if name == "mixed" {
        anyhow::ensure!(!quiet, "the mixed capture has no quiet variant");
        attacks::mixed(seed)
    } else {
        attacks::capture(name, quiet, seed)
            .with_context(|| format!("no attack {name:?} (see `tapir-pcapgen attack list`)"))?
    };
    let out = out.context("--out FILE is required")?;
    std::fs::write(&out, &bytes).with_context(|| format!("writing {}", out.display()))?;
    if let Some(f) = feed {
        std::fs::write(&f, attacks::intel_feed())
            .with_context(|| format!("writing {}", f.display()))?;
    }
    println!("{}: {} bytes", out.display(), bytes.len());
    Ok(())
}

fn main() -> Result<()> {
    let args = Args::parse();
    if let Some(Cmd::Attack {
        name,
        quiet,
        out,
        seed,
        feed,
    }) = args.cmd
    {
        return attack(&name, quiet, out, seed, feed);
    }
    let out = args.out.context("--out FILE is required")?;
    let profile = match args.profile {
        ProfileArg::Demo => Profile::Demo,
        ProfileArg::Bench => Profile::Bench,
        ProfileArg::Enterprise => Profile::Enterprise,
    };
    let mut cfg = GenConfig::new(profile, args.seed, args.flows);
    cfg.target_bytes = args.bytes;
    let file = File::create(&out).with_context(|| format!("creating {}", out.display()))?;
    let summary = if args.gzip {
        let mut w =
            flate2::write::GzEncoder::new(BufWriter::new(file), flate2::Compression::default());
        let s = generate(&cfg, &mut w)?;
        w.finish()?.flush()?;
        s
    } else {
        let mut w = BufWriter::with_capacity(1 << 20, file);
        let s = generate(&cfg, &mut w)?;
        w.flush()?;
        s
    };
    println!(
        "{}: {} packets, {} bytes ({} in file), {} tcp flows, {} udp flows, {} icmp flows, avg {} B/packet",
        out.display(),
        summary.packets,
        summary.bytes,
        summary.file_bytes,
        summary.tcp_flows,
        summary.udp_flows,
        summary.icmp_flows,
        summary.bytes.checked_div(summary.packets).unwrap_or(0)
    );
    Ok(())
}
