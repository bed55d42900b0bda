//! `tapir run`'s SIGHUP: the configuration is read again (file, `--set` and the flags, as at
//! start) and what can change live is applied: the detection rules are reloaded and swapped in
//! (`detect.rules`, `detect.builtin`, the rule files' contents); the threat-intel feeds reload
//! themselves on the same signal (`enrich::intel`). Every other setting that differs from the
//! running one is listed in the next status record (`health.needs_restart`) and logged. A
//! configuration or rule file that cannot be read keeps everything as it runs, with an error.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::Context;

use crate::config::Config;
use crate::pipeline::{ExportChange, Reload, Reloaded};

/// Settings a reload applies, as `section.key` prefixes of the configuration.
const LIVE: &[&str] = &[
    "detect.rules",
    "detect.builtin",
    "export.sink",
    "export.profile",
    "export.allow_remote",
    "export.drain_timeout_s",
];

/// Reads the configuration as at start (file, `--set`, flags).
pub type LoadConfig = Box<dyn Fn() -> anyhow::Result<Config> + Send>;

/// The SIGHUP reload of one run.
pub struct ConfigReload {
    load: LoadConfig,
    running: Config,
    hup: Arc<AtomicBool>,
}

impl ConfigReload {
    /// Listens for SIGHUP; `running` is the configuration the run started with.
    pub fn new(load: LoadConfig, running: Config) -> anyhow::Result<ConfigReload> {
        let hup = Arc::new(AtomicBool::new(false));
        signal_hook::flag::register(signal_hook::consts::SIGHUP, hup.clone())
            .context("cannot install the SIGHUP handler")?;
        Ok(ConfigReload { load, running, hup })
    }

    fn reload(&mut self) -> anyhow::Result<Reloaded> {
        let new = (self.load)().context("configuration")?;
        let rules = if new.detect.enabled {
            // An empty set stops detection without a restart; the stage stays in place.
            Some(super::load_rules(&new)?.unwrap_or_default())
        } else {
            Some(Arc::default())
        };
        let needs_restart = needs_restart(&self.running, &new);
        let versions = crate::status::health::loaded_versions(&new);
        let export = export_change(&self.running, &new);
        // What a restart would change stays listed until then: compare with the start.
        self.running.detect.rules = new.detect.rules.clone();
        self.running.detect.builtin = new.detect.builtin;
        if let Some(ch) = &export {
            self.running.export = ch.export.clone();
        }
        Ok(Reloaded {
            rules,
            versions,
            needs_restart,
            export,
        })
    }
}

impl Reload for ConfigReload {
    fn poll(&mut self) -> Option<Reloaded> {
        if !self.hup.swap(false, Ordering::Relaxed) {
            return None;
        }
        tracing::info!("SIGHUP: reloading the configuration and the rules");
        match self.reload() {
            Ok(r) => {
                let rules = r.rules.as_ref().map_or(0, |s| s.rules.len());
                tracing::info!(rules, "reloaded");
                for k in &r.needs_restart {
                    tracing::warn!("{k} changed: it applies after a restart");
                }
                Some(r)
            }
            Err(e) => {
                tracing::error!("reload failed, nothing changed: {e:#}");
                None
            }
        }
    }
}

/// The export sinks and policy of `new` where they differ from `running`'s (the spool stays
/// as it runs).
fn export_change(running: &Config, new: &Config) -> Option<ExportChange> {
    let mut export = new.export.clone();
    export.spool = running.export.spool.clone();
    let same = toml::Value::try_from(&export).ok() == toml::Value::try_from(&running.export).ok();
    (!same).then(|| ExportChange {
        export,
        previous: running.export.clone(),
        home_net: running.home_net.clone(),
        state_dir: running
            .stats
            .state_dir
            .as_ref()
            .map(std::path::PathBuf::from),
    })
}

/// The settings (`section.key`, or `key` at the top) that differ between `a` and `b` and that
/// only a restart applies.
pub fn needs_restart(a: &Config, b: &Config) -> Vec<String> {
    let (Ok(toml::Value::Table(a)), Ok(toml::Value::Table(b))) =
        (toml::Value::try_from(a), toml::Value::try_from(b))
    else {
        return vec!["(configuration)".into()];
    };
    let mut out = Vec::new();
    diff("", &a, &b, &mut out);
    out.retain(|k| {
        !LIVE
            .iter()
            .any(|l| k == l || k.starts_with(&format!("{l}.")))
    });
    out
}

fn diff(prefix: &str, a: &toml::Table, b: &toml::Table, out: &mut Vec<String>) {
    let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
    keys.sort();
    keys.dedup();
    for k in keys {
        let name = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match (a.get(k), b.get(k)) {
            (Some(toml::Value::Table(x)), Some(toml::Value::Table(y))) => diff(&name, x, y, out),
            (x, y) if x != y => out.push(name),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_what_a_reload_cannot_apply_needs_a_restart() {
        let a = Config::default();
        let mut b = a.clone();
        b.detect.rules.push("/etc/tapir/rules.d".into());
        b.detect.builtin = !a.detect.builtin;
        assert!(needs_restart(&a, &b).is_empty());
        b.workers = 7;
        b.capture.interface = Some("eth9".into());
        b.flow.max_flows += 1;
        assert_eq!(
            needs_restart(&a, &b),
            ["capture.interface", "flow.max_flows", "workers"]
        );
    }
}
