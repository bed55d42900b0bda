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
    /// Log line format: "text" (default) or "json" (one JSON object per line).
    #[arg(long, global = true, value_name = "FORMAT", default_value = "text")]
    log_format: String,
    /// At most N log lines per second from each log statement (0: no limit); the suppressed
    /// lines are counted in sensor_status.health.log_suppressed.
    #[arg(long, global = true, value_name = "N", default_value_t = 0)]
    log_rate: u32,
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

/// Logs to stderr as text or JSON, each callsite rate-limited with `--log-rate`; warnings and
/// errors also feed the last-error ring of `sensor_status.health`.
fn init_logging(cli: &Cli) -> anyhow::Result<()> {
    use tapir::status::{health::ErrorRingLayer, logging};
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    use tracing_subscriber::Layer as _;
    let json = match cli.log_format.as_str() {
        "text" => false,
        "json" => true,
        other => anyhow::bail!("--log-format {other}: expected text or json"),
    };
    let filter = tracing_subscriber::EnvFilter::try_new(&cli.log)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let limit = || (cli.log_rate > 0).then(|| logging::RateLimit::new(cli.log_rate));
    let text = (!json).then(|| {
        tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_filter(limit())
    });
    let json = json.then(|| {
        tracing_subscriber::fmt::layer()
            .json()
            .with_writer(std::io::stderr)
            .with_filter(limit())
    });
    tracing_subscriber::registry()
        .with(filter)
        .with(text)
        .with(json)
        .with(ErrorRingLayer)
        .try_init()?;
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Err(e) = init_logging(&cli) {
        eprintln!("tapir: {e:#}");
        return ExitCode::FAILURE;
    }
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
