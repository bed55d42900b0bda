//! The `tapir` binary: command line only; the work is in the library.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tapir::cmd;

/// Tapir: a network traffic analysis sensor. Reads packets from capture files or a network
/// interface, tracks flows, reassembles TCP, and writes NDJSON records.
#[derive(Parser, Debug)]
#[command(name = "tapir", version, about, long_about = None)]
struct Cli {
    /// Log filter (tracing syntax), e.g. "info" or "tapir=debug".
    #[arg(long, global = true, env = "TAPIR_LOG", default_value = "warn")]
    log: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Replay pcap/pcapng files (gzip too; "-" = stdin) and write records.
    Replay(cmd::replay::ReplayArgs),
    /// Capture live from an interface (AF_PACKET; libpcap with --features libpcap).
    Run(cmd::run::RunArgs),
    /// Query the network statistics kept in a state directory (`--state DIR`).
    Stats(cmd::stats::StatsArgs),
    /// Detection rules: `tapir rules check [PATH...]` validates and lists them.
    Rules(cmd::rules::RulesArgs),
    /// Write a support bundle (.tar.gz): version, configuration without secrets, recent
    /// status records, kernel and NIC facts, rule and feed versions, recent log lines.
    SupportBundle(cmd::support::SupportArgs),
    /// Print the effective configuration (defaults + file + overrides) as TOML.
    Config(ConfigArgs),
}

#[derive(clap::Args, Debug)]
struct ConfigArgs {
    #[command(flatten)]
    common: cmd::CommonOpts,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_new(&cli.log)
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let result = match &cli.command {
        Command::Replay(a) => cmd::replay::run(a).map(|s| s.capture_errors.is_empty()),
        Command::Run(a) => cmd::run::run(a).map(|s| s.capture_errors.is_empty()),
        Command::Stats(a) => cmd::stats::run(a).map(|()| true),
        Command::SupportBundle(a) => cmd::support::run(a).map(|()| true),
        Command::Rules(a) => match cmd::rules::run(a) {
            // A rejected rule: exit status 1, like any failed check.
            Ok(false) => return ExitCode::FAILURE,
            r => r,
        },
        Command::Config(a) => a
            .common
            .load()
            .map_err(anyhow::Error::from)
            .and_then(|c| Ok(toml::to_string_pretty(&c)?))
            .map(|t| {
                print!("{t}");
                true
            }),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(2),
        Err(e) => {
            eprintln!("tapir: {e:#}");
            ExitCode::FAILURE
        }
    }
}
