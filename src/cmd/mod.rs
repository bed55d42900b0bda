//! The binary's commands: thin glue between the command line and the library.

pub mod reload;
pub mod replay;
pub mod rules;
pub mod run;
pub mod stats;
mod summary;
pub mod support;

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use anyhow::Context;

use crate::config::{Config, ConfigError};

/// Options shared by `replay` and `run`; each overrides the config file.
#[derive(Debug, Default, Clone, clap::Args)]
pub struct CommonOpts {
    /// TOML configuration file.
    #[arg(short, long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Write NDJSON records to FILE ("-" = stdout, "none" = count only).
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<String>,
    /// Worker threads (default: one per core).
    #[arg(short, long, value_name = "N")]
    pub workers: Option<usize>,
    /// Home networks, comma-separated CIDRs (decides flow direction; default RFC 1918 + ULA).
    #[arg(long, value_name = "CIDR,...", value_delimiter = ',')]
    pub home_net: Option<Vec<ipnet::IpNet>>,
    /// Sensor id written into every record.
    #[arg(long, value_name = "ID")]
    pub sensor_id: Option<String>,
    /// Most flows tracked at once (all workers together).
    #[arg(long, value_name = "N")]
    pub max_flows: Option<usize>,
    /// Set any configuration key, e.g. `--set flow.udp_new_timeout=10` (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Threat-intel feed for this run, besides `[intel]` in the config (repeatable).
    #[arg(long = "intel", value_name = "FILE")]
    pub intel: Vec<PathBuf>,
    /// Also write the end-of-run summary as JSON to FILE (its counters named as in the
    /// `sensor_status` records).
    #[arg(long, value_name = "FILE")]
    pub summary_json: Option<PathBuf>,
    /// Detection rules for this run, besides `detect.rules` in the config: a file or a folder,
    /// native and Sigma mixed (repeatable).
    #[arg(long = "rules", value_name = "PATH")]
    pub rules: Vec<PathBuf>,
    /// Leave out the default rules compiled into the binary (`detect.builtin = false`).
    #[arg(long)]
    pub no_default_rules: bool,
}

impl CommonOpts {
    /// Writes the summary as JSON where `--summary-json` asks for it.
    pub fn write_summary_json(&self, s: &crate::pipeline::Summary) -> anyhow::Result<()> {
        if let Some(p) = &self.summary_json {
            let text = serde_json::to_string_pretty(&summary::json(s))?;
            std::fs::write(p, text).with_context(|| format!("cannot write {}", p.display()))?;
        }
        Ok(())
    }
}

impl CommonOpts {
    /// The configuration: file (or defaults), then `--set`, then the dedicated flags.
    pub fn load(&self) -> Result<Config, ConfigError> {
        let text = match &self.config {
            Some(p) => std::fs::read_to_string(p).map_err(|source| ConfigError::Read {
                path: p.display().to_string(),
                source,
            })?,
            None => String::new(),
        };
        let name = self
            .config
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "(defaults)".into());
        let mut value: toml::Table = toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: name.clone(),
            message: e.to_string(),
        })?;
        for s in &self.set {
            apply_set(&mut value, s)?;
        }
        let mut cfg = Config::from_toml(&toml::to_string(&value).unwrap_or_default(), &name)?;
        if let Some(w) = self.workers {
            cfg.workers = w;
        }
        if let Some(h) = &self.home_net {
            cfg.home_net = h.clone();
        }
        if let Some(s) = &self.sensor_id {
            cfg.sensor_id = s.clone();
        }
        if let Some(m) = self.max_flows {
            cfg.flow.max_flows = m;
        }
        if let Some(o) = &self.output {
            cfg.output.path = Some(o.clone());
        }
        cfg.validate()?;
        cfg.intel
            .paths
            .extend(self.intel.iter().map(|p| p.display().to_string()));
        cfg.detect
            .rules
            .extend(self.rules.iter().map(|p| p.display().to_string()));
        if self.no_default_rules {
            cfg.detect.builtin = false;
        }
        Ok(cfg)
    }
}

/// The run's output: the main NDJSON destination (`output.path`, "-" = stdout, "none" = count
/// only) with the `[export]` sinks; `state` is where the spool goes when `export.spool.dir` is
/// not set (`--state`, else `stats.state_dir`).
pub fn output_sink(
    cfg: &Config,
    state: Option<&std::path::Path>,
) -> anyhow::Result<crate::export::NdjsonSink> {
    let out_path = cfg.output.path.clone().unwrap_or_else(|| "-".to_string());
    let sink = crate::export::NdjsonSink::open(
        (out_path != "none").then_some(out_path.as_str()),
        &cfg.sensor_id,
    )?;
    let state = state.or(cfg.stats.state_dir.as_deref().map(std::path::Path::new));
    let exporter = crate::export::Exporter::start(&cfg.export, &cfg.home_net, state)?;
    Ok(sink.with_exporter(exporter))
}

/// The detection rules of a run (`[detect]`, `--rules`, `--no-default-rules`): None when
/// detection is off or no rule is loaded. Rules that cannot be run are logged (`tapir rules
/// check` lists them with the reason) and left out; a path that cannot be read fails the run.
pub fn load_rules(cfg: &Config) -> anyhow::Result<Option<Arc<crate::detect::RuleSet>>> {
    if !cfg.detect.enabled {
        return Ok(None);
    }
    let files = if cfg.detect.builtin {
        crate::detect::builtin::sources()
    } else {
        Vec::new()
    };
    let paths: Vec<PathBuf> = cfg.detect.rules.iter().map(PathBuf::from).collect();
    let set = crate::detect::load_sources(&files, &paths).context("cannot load the rules")?;
    for r in &set.report.rejected {
        tracing::warn!(
            "rule not loaded: {}:{}{}: {}",
            r.file,
            r.line,
            r.rule
                .as_deref()
                .map(|id| format!(" ({id})"))
                .unwrap_or_default(),
            r.why
        );
    }
    Ok((!set.is_empty()).then_some(set))
}

/// A flag that SIGTERM (`systemctl stop`, `docker stop`) and SIGINT (Ctrl-C) set alike: the
/// run then ends every flow, writes all records and the stop status record, and exits 0.
/// A second signal, while that is under way, ends the process at once (exit status 1).
pub fn stop_on_signals() -> anyhow::Result<Arc<AtomicBool>> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [SIGTERM, SIGINT] {
        // Registered first, so it sees the flag as the previous signal left it.
        signal_hook::flag::register_conditional_shutdown(sig, 1, Arc::clone(&stop))
            .context("cannot install the signal handlers")?;
        signal_hook::flag::register(sig, Arc::clone(&stop))
            .context("cannot install the signal handlers")?;
    }
    Ok(stop)
}

/// Applies `a.b.c=value` to a TOML table; the value is read as TOML (number, bool, string,
/// array), or taken as a plain string when it is not valid TOML.
fn apply_set(root: &mut toml::Table, kv: &str) -> Result<(), ConfigError> {
    let bad = |m: String| ConfigError::Invalid(format!("--set {kv}: {m}"));
    let (k, v) = kv
        .split_once('=')
        .ok_or_else(|| bad("expected KEY=VALUE".into()))?;
    let value: toml::Value = toml::from_str::<toml::Table>(&format!("v = {v}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(v.to_string()));
    let mut parts: Vec<&str> = k.trim().split('.').collect();
    let last = parts
        .pop()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| bad("empty key".into()))?;
    let mut t = root;
    for p in parts {
        let entry = t
            .entry(p.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        t = entry
            .as_table_mut()
            .ok_or_else(|| bad(format!("{p} is not a section")))?;
    }
    t.insert(last.to_string(), value);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_overrides_nested_keys() {
        let o = CommonOpts {
            set: vec![
                "flow.udp_new_timeout=5".into(),
                "sensor_id=abc".into(),
                "home_net=[\"192.0.2.0/24\"]".into(),
            ],
            workers: Some(2),
            ..Default::default()
        };
        let c = o.load().unwrap();
        assert_eq!(c.flow.udp_new_timeout, 5);
        assert_eq!(c.sensor_id, "abc");
        assert_eq!(c.home_net.len(), 1);
        assert_eq!(c.workers, 2);
        let o = CommonOpts {
            set: vec!["flow.nope=1".into()],
            ..Default::default()
        };
        assert!(o.load().is_err());
    }
}
