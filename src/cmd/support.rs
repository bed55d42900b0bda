//! `tapir support-bundle -o FILE.tar.gz`: what an operator sends when something is odd, with
//! no secret in it.
//!
//! The bundle (a gzip'd ustar archive, `tapir-support/...`) holds: the version and build, the
//! effective configuration with every secret removed, the recent `sensor_status` records (the
//! counters), the metrics file, kernel and NIC facts (`/proc/version`, `/proc/net/dev`,
//! `ethtool -S` / `-k` of the capture interface where ethtool is installed), the rule and feed
//! files (names, sizes, times, SHA-256; not their contents) and recent log lines.
//!
//! Secrets: a configuration value is a secret when its key names one (`key`, `password`,
//! `passwd`, `secret`, `token`, `sasl`, `credential`, `auth`): it is replaced by
//! `<redacted>`, and files it names (private keys) are never opened. URL user-info
//! (`https://user:pass@host`) is cut out of every value. Then every secret value found is
//! also cut out of everything else that goes in (status records, log lines): a secret echoed
//! in a log line does not leak either.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};

use crate::cmd::CommonOpts;
use crate::util::tar::TarWriter;

/// Recent records and log lines kept.
const RECENT_STATUS: usize = 20;
const RECENT_LOG_LINES: usize = 500;
/// Bytes read from the end of a records or log file.
const TAIL_BYTES: u64 = 8 << 20;
const REDACTED: &str = "<redacted>";

#[derive(Debug, clap::Args)]
pub struct SupportArgs {
    /// TOML configuration file of the sensor.
    #[arg(short, long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Set any configuration key, as `tapir run --set` (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Where to write the bundle (a .tar.gz).
    #[arg(short, long = "output", value_name = "FILE.tar.gz")]
    pub out: PathBuf,
    /// NDJSON records files to take the recent sensor_status records from, besides
    /// `output.path` (repeatable).
    #[arg(long = "records", value_name = "FILE")]
    pub records: Vec<PathBuf>,
    /// Log file whose last lines go in (repeatable), e.g. a file journald or the container
    /// runtime writes.
    #[arg(long = "log-file", value_name = "FILE")]
    pub log_files: Vec<PathBuf>,
    /// Interface whose NIC facts go in (default capture.interface).
    #[arg(short, long, value_name = "IFACE")]
    pub interface: Option<String>,
}

/// Whether a configuration key names a secret.
pub fn is_secret_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    [
        "key",
        "password",
        "passwd",
        "secret",
        "token",
        "sasl",
        "credential",
        "auth",
    ]
    .iter()
    .any(|s| k.contains(s))
}

/// Cuts user-info out of URLs in `s` (`scheme://user:pass@host` -> `scheme://<redacted>@host`).
fn strip_userinfo(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find("://") {
        let (head, tail) = rest.split_at(i + 3);
        out.push_str(head);
        let end = tail
            .find(|c: char| c == '/' || c.is_whitespace() || c == '"' || c == ',')
            .unwrap_or(tail.len());
        let authority = &tail[..end];
        match authority.rfind('@') {
            Some(at) => {
                out.push_str(REDACTED);
                out.push_str(&authority[at..]);
            }
            None => out.push_str(authority),
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

/// Redacts `v` in place (module docs); the secret strings removed are added to `found`.
fn redact(v: &mut toml::Value, secret: bool, found: &mut Vec<String>) {
    match v {
        toml::Value::String(s) => {
            if secret {
                found.push(s.clone());
                *s = REDACTED.to_string();
            } else {
                let cleaned = strip_userinfo(s);
                if cleaned != *s {
                    found.push(s.clone());
                    *s = cleaned;
                }
            }
        }
        toml::Value::Array(a) => {
            for x in a {
                redact(x, secret, found);
            }
        }
        toml::Value::Table(t) => {
            for (k, x) in t.iter_mut() {
                redact(x, secret || is_secret_key(k), found);
            }
        }
        _ => {}
    }
}

/// Removes every secret in `secrets` from `text` (longest first).
fn scrub(text: &str, secrets: &[String]) -> String {
    let mut out = strip_userinfo(text);
    for s in secrets {
        if s.len() >= 4 {
            out = out.replace(s.as_str(), REDACTED);
        }
    }
    out
}

/// The last `TAIL_BYTES` of `path` as text, from its first whole line.
fn tail(path: &Path) -> std::io::Result<String> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = std::fs::File::open(path)?;
    let len = f.metadata()?.len();
    let from = len.saturating_sub(TAIL_BYTES);
    f.seek(SeekFrom::Start(from))?;
    let mut buf = Vec::new();
    f.take(TAIL_BYTES).read_to_end(&mut buf)?;
    let text = String::from_utf8_lossy(&buf).into_owned();
    Ok(if from > 0 {
        text.split_once('\n')
            .map(|(_, r)| r.to_string())
            .unwrap_or_default()
    } else {
        text
    })
}

fn file_facts(path: &Path) -> String {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) => return format!("{}\tunreadable: {e}\n", path.display()),
    };
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let sha = std::fs::read(path)
        .map(|b| crate::util::hex::encode(&Sha256::digest(&b)))
        .unwrap_or_else(|e| format!("unreadable: {e}"));
    format!(
        "{}\tbytes={}\tmtime={mtime}\tsha256={sha}\n",
        path.display(),
        meta.len()
    )
}

/// Output of `prog args`, or why there is none.
fn command_output(prog: &str, args: &[&str]) -> String {
    match Command::new(prog).args(args).output() {
        Ok(o) => format!(
            "$ {prog} {}\n{}{}",
            args.join(" "),
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ),
        Err(e) => format!("$ {prog} {}\nnot run: {e}\n", args.join(" ")),
    }
}

pub fn run(args: &SupportArgs) -> Result<()> {
    // A configuration the sensor refuses is a reason to send a bundle: then the file as
    // written goes in (redacted the same way), with the reason, and defaults for the rest.
    let (cfg, mut value, config_error) = match (CommonOpts {
        config: args.config.clone(),
        set: args.set.clone(),
        ..CommonOpts::default()
    })
    .load()
    {
        Ok(cfg) => {
            let v = toml::Value::try_from(&cfg).context("cannot serialise the configuration")?;
            (cfg, v, None)
        }
        Err(e) => {
            let raw = args
                .config
                .as_ref()
                .and_then(|p| std::fs::read_to_string(p).ok())
                .and_then(|t| toml::from_str::<toml::Table>(&t).ok())
                .unwrap_or_default();
            (
                crate::config::Config::default(),
                toml::Value::Table(raw),
                Some(e.to_string()),
            )
        }
    };
    let mut files: Vec<(String, String)> = Vec::new();

    files.push((
        "version.txt".into(),
        format!(
            "tapir {}\ntarget {}-{}\nprofile {}\nfeatures {}\n",
            env!("CARGO_PKG_VERSION"),
            std::env::consts::ARCH,
            std::env::consts::OS,
            if cfg!(debug_assertions) {
                "debug"
            } else {
                "release"
            },
            [
                ("libpcap", cfg!(feature = "libpcap")),
                ("kafka", cfg!(feature = "kafka"))
            ]
            .iter()
            .filter(|(_, on)| *on)
            .map(|(n, _)| *n)
            .collect::<Vec<_>>()
            .join(",")
        ),
    ));

    let mut secrets = Vec::new();
    redact(&mut value, false, &mut secrets);
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    secrets.dedup();
    let mut config_text = match &config_error {
        Some(e) => format!("# NOT the effective configuration: the file is refused: {e}\n"),
        None => String::new(),
    };
    config_text
        .push_str(&toml::to_string_pretty(&value).context("cannot print the configuration")?);
    files.push(("config.toml".into(), config_text));

    // Recent sensor_status records.
    let mut record_files = args.records.clone();
    if let Some(p) = cfg.output.path.as_deref() {
        if p != "-" && p != "none" {
            record_files.push(PathBuf::from(p));
        }
    }
    let mut status = String::new();
    for p in &record_files {
        match tail(p) {
            Ok(text) => {
                let recent: Vec<&str> = text
                    .lines()
                    .filter(|l| l.contains("\"sensor_status\""))
                    .collect();
                let from = recent.len().saturating_sub(RECENT_STATUS);
                for l in recent.iter().skip(from) {
                    status.push_str(l);
                    status.push('\n');
                }
            }
            Err(e) => tracing::warn!("support bundle: cannot read {}: {e}", p.display()),
        }
    }
    files.push(("sensor_status.ndjson".into(), status));
    if let Some(m) = cfg.output.metrics_path.as_deref() {
        let text = std::fs::read_to_string(m).unwrap_or_else(|e| format!("# {m}: {e}\n"));
        files.push(("metrics.prom".into(), text));
    }

    // Kernel and NIC facts.
    let mut kernel = String::new();
    for p in [
        "/proc/version",
        "/proc/cmdline",
        "/proc/meminfo",
        "/proc/loadavg",
    ] {
        kernel.push_str(&format!("== {p}\n"));
        kernel.push_str(&std::fs::read_to_string(p).unwrap_or_else(|e| format!("{e}\n")));
    }
    files.push(("kernel.txt".into(), kernel));
    files.push((
        "net_dev.txt".into(),
        std::fs::read_to_string("/proc/net/dev").unwrap_or_else(|e| format!("{e}\n")),
    ));
    let iface = args
        .interface
        .clone()
        .or_else(|| cfg.capture.interface.clone());
    if let Some(i) = iface {
        let mut nic = String::new();
        for sub in ["-i", "-S", "-k", "-g", "-l"] {
            nic.push_str(&command_output("ethtool", &[sub, &i]));
        }
        nic.push_str(&command_output("ip", &["-s", "-d", "link", "show", &i]));
        files.push(("nic.txt".into(), nic));
    }

    // Rule and feed versions: the files, not their contents.
    let mut rules = format!(
        "builtin rules: {} ({} files)\n",
        if cfg.detect.builtin { "on" } else { "off" },
        crate::detect::builtin::sources().len()
    );
    for (_, p) in crate::status::health::loaded_files(&cfg) {
        rules.push_str(&file_facts(&p));
    }
    files.push(("rules_and_feeds.txt".into(), rules));

    let mut logs = String::new();
    for p in &args.log_files {
        logs.push_str(&format!("== {}\n", p.display()));
        match tail(p) {
            Ok(text) => {
                let lines: Vec<&str> = text.lines().collect();
                let from = lines.len().saturating_sub(RECENT_LOG_LINES);
                for l in lines.iter().skip(from) {
                    logs.push_str(l);
                    logs.push('\n');
                }
            }
            Err(e) => logs.push_str(&format!("unreadable: {e}\n")),
        }
    }
    files.push(("logs.txt".into(), logs));

    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let out = std::fs::File::create(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    let gz = flate2::write::GzEncoder::new(out, flate2::Compression::default());
    let mut tar = TarWriter::new(gz, now);
    for (name, text) in &files {
        tar.append(
            &format!("tapir-support/{name}"),
            scrub(text, &secrets).as_bytes(),
        )?;
    }
    let mut gz = tar.finish()?;
    gz.flush()?;
    gz.finish()?.sync_all()?;
    eprintln!(
        "support bundle written to {} ({} secrets removed)",
        args.out.display(),
        secrets.len()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_and_userinfo_are_removed() {
        let mut v: toml::Value = toml::from_str(
            r#"
            a = "https://u:pw1234@host:1/x"
            vlan_in_key = true
            [s]
            key = "/etc/k.pem"
            properties = { "sasl.password" = "hunter22", "bootstrap" = "b:9092" }
            "#,
        )
        .unwrap();
        let mut found = Vec::new();
        redact(&mut v, false, &mut found);
        let text = toml::to_string(&v).unwrap();
        for s in ["pw1234", "/etc/k.pem", "hunter22"] {
            assert!(!text.contains(s), "{text}");
        }
        assert!(text.contains("https://<redacted>@host:1/x"), "{text}");
        assert!(text.contains("b:9092") && text.contains("vlan_in_key = true"));
        assert_eq!(
            scrub("login hunter22 at http://a:b@c/", &found),
            "login <redacted> at http://<redacted>@c/"
        );
    }
}
