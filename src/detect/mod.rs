//! Detection (`docs/detection.md`): rules over records, native and Sigma, turned into
//! `detection` records.
//!
//! - [`load`] reads rule files (native YAML and Sigma, mixed, files or folders) into a
//!   [`RuleSet`], reporting every rule it cannot run with the reason.
//! - Workers call [`RuleSet::evaluate`] on each batch of records just before it leaves them
//!   (after enrichment and reputation): stateless conditions, evaluated where the record is.
//! - The hits travel with their batch to the output stage, where [`correlate`] counts those of
//!   aggregating rules (thresholds, Sigma correlations) over windows of packet time, by keys that
//!   may span workers, and makes one detection per incident with repeats counted.
//!
//! Field names in conditions are the record contract's JSON paths (`dns.query`,
//! `http.user_agent`, `src_ip`, `intel.type`); Sigma field names are mapped onto them per log
//! source ([`sigma`]). See [`fields`].

pub mod builtin;
pub mod compile;
pub mod cond;
pub mod correlate;
pub mod fields;
pub mod live;
pub mod load;
mod native;
pub mod rule;
pub mod sigma;

use std::sync::Arc;

use crate::record::detection::Indicator;
use crate::record::Record;

pub use rule::{AggKind, Aggregate, Rule, RuleFormat, RuleMeta, Technology, ThreatLevel};

/// Why rules could not be read at all (a path that does not exist, a folder that cannot be read).
/// A rule that is read but cannot be run is not an error: it goes into [`LoadReport`].
#[derive(Debug, thiserror::Error)]
pub enum DetectError {
    #[error("rules {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// A rule file, or a rule in one, that was not loaded, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejected {
    pub file: String,
    /// 1-based line where known (0: the file as a whole).
    pub line: u32,
    /// The rule's id or title when it got that far.
    pub rule: Option<String>,
    pub why: String,
}

/// What loading found.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LoadReport {
    pub files: u32,
    pub native: u32,
    pub sigma: u32,
    pub rejected: Vec<Rejected>,
}

/// One record matched one rule. Made in the workers; the correlation stage counts and turns
/// hits into detections.
#[derive(Clone, Debug, PartialEq)]
pub struct Hit {
    /// Index into [`RuleSet::rules`].
    pub rule: u32,
    /// Index of the record in the batch the hit travels with.
    pub record: u32,
    /// The record's time (packet time), nanoseconds since the epoch.
    pub ts_ns: u64,
    pub indicator: Option<Indicator>,
    /// What held, in words ("dns.query `x.example` ends with `.example`").
    pub reasons: Vec<String>,
    /// Values of the record fields that aggregates over this rule group or count by
    /// (path, value as text), for the correlation stage.
    pub values: Vec<(String, String)>,
}

/// What evaluation may read besides the record.
#[derive(Clone, Copy, Default)]
pub struct EvalCtx<'a> {
    /// Network statistics (conditions on `stats.*`), when on.
    pub stats: Option<&'a crate::stats::StatsShared>,
}

/// The record types rules may read.
pub const EVENT_TYPES: [&str; 8] = [
    "flow", "dns", "http", "file", "email", "kerberos", "ldap", "tls",
];

/// The rules of a run, shared read-only by the workers and the correlation stage.
#[derive(Debug, Default)]
pub struct RuleSet {
    pub rules: Vec<Rule>,
    pub report: LoadReport,
    /// When the set was loaded (wall clock, RFC 3339) and a version: the first 16 hex digits
    /// of the SHA-256 over the rule files read.
    pub loaded_at: String,
    pub version: String,
    /// Per record type: the fields its rules read and the rules, compiled against them.
    plans: Vec<EventPlan>,
}

#[derive(Debug)]
struct EventPlan {
    event_type: &'static str,
    plan: fields::Plan,
    rules: Vec<PlannedRule>,
}

#[derive(Debug)]
struct PlannedRule {
    rule: u32,
    cond: cond::Cond,
    indicator: Option<usize>,
    /// (name as aggregates over this rule write it, slot) for [`Hit::values`].
    values: Vec<(String, usize)>,
}

impl RuleSet {
    /// Evaluates every rule on every record of `batch`, appending one [`Hit`] per record and
    /// rule that matched.
    pub fn evaluate(&self, batch: &[Record], ctx: &EvalCtx<'_>, hits: &mut Vec<Hit>) {
        if self.plans.is_empty() {
            return;
        }
        let mut vals = fields::Values::default();
        for (i, r) in batch.iter().enumerate() {
            let et = r.body.event_type();
            let Some(ep) = self.plans.iter().find(|p| p.event_type == et) else {
                continue;
            };
            ep.plan.project(r, &mut vals);
            if ep.plan.reads_stats() {
                stats_values(&ep.plan, ctx, r.ts_ns, &mut vals);
            }
            for pr in &ep.rules {
                if !pr.cond.eval(&vals) {
                    continue;
                }
                let Some(rule) = self.rules.get(pr.rule as usize) else {
                    continue;
                };
                let mut reasons = vec![rule.meta.reason.clone()];
                pr.cond.explain(&vals, &mut reasons);
                let indicator = match (pr.indicator, rule.indicator.as_deref()) {
                    (Some(slot), Some(field)) => vals.get(slot).first().map(|v| Indicator {
                        kind: indicator_kind(field),
                        value: v.to_string(),
                    }),
                    _ => None,
                };
                let values = pr
                    .values
                    .iter()
                    .filter_map(|(name, slot)| {
                        vals.get(*slot)
                            .first()
                            .map(|v| (name.clone(), v.to_string()))
                    })
                    .collect();
                hits.push(Hit {
                    rule: pr.rule,
                    record: i as u32,
                    ts_ns: r.ts_ns,
                    indicator,
                    reasons,
                    values,
                });
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Whether any rule reads records of this type.
    pub fn reads(&self, event_type: &str) -> bool {
        self.plans.iter().any(|p| p.event_type == event_type)
    }
}

impl Rule {
    /// The record fields the rule reads (its condition, indicator and aggregate keys).
    pub fn fields(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(c) = &self.cond {
            c.fields(&mut out);
        }
        if let Some(i) = &self.indicator {
            if !out.contains(i) {
                out.push(i.clone());
            }
        }
        if let Some(a) = &self.aggregate {
            for f in &a.group_by {
                if !out.contains(f) {
                    out.push(f.clone());
                }
            }
            if let AggKind::Distinct { field, .. } = &a.kind {
                if !out.contains(field) {
                    out.push(field.clone());
                }
            }
        }
        out
    }
}

/// The indicator type of a record field.
pub fn indicator_kind(field: &str) -> &'static str {
    match field {
        "dns.query" | "http.host" | "http.hostname" | "tls.sni" | "dns.registered_domain" => {
            "domain"
        }
        "http.url" | "http.uri" => "url",
        "src_ip" | "dest_ip" => "ip",
        "file.sha256" | "file.md5" | "file.sha1" | "email.attachments.sha256" => "file",
        "http.user_agent" => "user_agent",
        f if f.starts_with("kerberos.") || f.ends_with("user") || f.ends_with("cname") => "account",
        f if f.starts_with("tls.certificate") => "certificate",
        f if f.starts_with("intel.") => "indicator",
        _ => "value",
    }
}

/// Statistics the plan reads, from the store (absent when statistics are off or the key has
/// no entry yet).
fn stats_values(plan: &fields::Plan, ctx: &EvalCtx<'_>, ts_ns: u64, vals: &mut fields::Values) {
    use fields::{StatField as F, Val};
    let Some(stats) = ctx.stats else {
        return;
    };
    for (field, keys, own) in plan.stat_fields() {
        let key = keys.iter().find_map(|k| {
            vals.get(*k).iter().find_map(|v| match v {
                Val::Str(s) if !s.is_empty() => Some(s.clone()),
                _ => None,
            })
        });
        let Some(key) = key else { continue };
        let out = match field {
            F::DomainFirstSeenAge | F::DomainHosts | F::DomainRequests => {
                // A URL (file records) names its host; a Host header may carry a port.
                let host = match key.split_once("://") {
                    Some((_, rest)) => {
                        fields::hostname(rest.split(['/', '?', '#']).next().unwrap_or(""))
                    }
                    None => fields::hostname(&key),
                };
                if host.is_empty() || fields::host_is_ip(&host) {
                    continue;
                }
                // Unknown to the store: new to the network (first seen now, by no host yet).
                let d = stats.domain(&host);
                match field {
                    F::DomainFirstSeenAge => Val::UInt(d.map_or(0, |d| d.first_seen_age_s(ts_ns))),
                    F::DomainHosts => Val::UInt(d.map_or(0, |d| d.distinct_hosts())),
                    _ => Val::UInt(d.map_or(0, |d| d.requests)),
                }
            }
            F::FileHosts | F::FileFirstSeenAge => {
                let Some(sha) =
                    crate::util::hex::decode(&key).and_then(|b| <[u8; 32]>::try_from(b).ok())
                else {
                    continue;
                };
                let f = stats.file(&sha);
                match field {
                    F::FileHosts => Val::UInt(f.map_or(0, |f| f.distinct_hosts())),
                    _ => Val::UInt(f.map_or(0, |f| f.first_seen_age_s(ts_ns))),
                }
            }
        };
        vals.set(*own, vec![out]);
    }
}

/// Loads the rules under `paths` (files or folders; `.yml`/`.yaml`, native and Sigma mixed).
pub fn load(paths: &[std::path::PathBuf]) -> Result<Arc<RuleSet>, DetectError> {
    load_sources(&[], paths)
}

/// Loads rules given as (name, text) — the rules built into the binary — and those under
/// `paths`.
pub fn load_sources(
    builtin: &[(String, String)],
    paths: &[std::path::PathBuf],
) -> Result<Arc<RuleSet>, DetectError> {
    let files = load::rule_files(paths)?;
    let mut sources = builtin.to_vec();
    sources.extend(load::read_sources(&files)?);
    let now_ns = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
    Ok(Arc::new(load::build(
        &sources,
        crate::record::rfc3339_micros(now_ns),
    )))
}
