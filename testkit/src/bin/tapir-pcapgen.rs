//! `tapir-pcapgen`: writes a synthetic, deterministic pcap capture (see `testkit::pcapgen`).
//!
//! ```text
//! tapir-pcapgen --out pcaps/demo.pcap --flows 40 --seed 1 --profile demo
//! tapir-pcapgen --out /tmp/bench.pcap.gz --seed 1 --profile bench --bytes 500000000 --gzip
//! ```

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Parser, ValueEnum};
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
#[command(version)]
struct Args {
    /// Output file.
    #[arg(long)]
    out: PathBuf,
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

fn main() -> Result<()> {
    let args = Args::parse();
    let profile = match args.profile {
        ProfileArg::Demo => Profile::Demo,
        ProfileArg::Bench => Profile::Bench,
        ProfileArg::Enterprise => Profile::Enterprise,
    };
    let mut cfg = GenConfig::new(profile, args.seed, args.flows);
    cfg.target_bytes = args.bytes;
    let file =
        File::create(&args.out).with_context(|| format!("creating {}", args.out.display()))?;
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
        args.out.display(),
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
