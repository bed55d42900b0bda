//! Reading rule files into a [`RuleSet`]: files and folders (`.yml`, `.yaml`, recursively, in
//! name order), several YAML documents per file, native and Sigma mixed; correlations resolved
//! after every rule is in. A rule that cannot run is reported with file, line and reason.

use std::path::{Path, PathBuf};

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::fields::Plan;
use super::rule::{Aggregate, Rule};
use super::{native, sigma, DetectError, EventPlan, LoadReport, PlannedRule, Rejected, RuleSet};

/// Largest rule file read (a rule is a few KiB; this only stops a mistaken path).
const MAX_FILE: u64 = 4 << 20;

/// A rule document read, before it is placed in the set.
enum Pending {
    Rule {
        rule: Rule,
        /// Sigma `name` (what correlations may call it besides its id).
        name: Option<String>,
        /// Field mapper for correlation group-by names (Sigma source), None for native rules.
        source: Option<sigma::Source>,
        /// The detection block, compiled per event type when placed.
        detection: Value,
        file: String,
        line: u32,
    },
    Correlation {
        rule: Rule,
        corr: sigma::Correlation,
        file: String,
        line: u32,
    },
}

/// Collects the rule files under `paths`.
pub fn rule_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, DetectError> {
    let mut out = Vec::new();
    for p in paths {
        let meta = std::fs::metadata(p).map_err(|source| DetectError::Io {
            path: p.display().to_string(),
            source,
        })?;
        if meta.is_dir() {
            walk(p, &mut out)?;
        } else {
            out.push(p.clone());
        }
    }
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), DetectError> {
    let io = |source| DetectError::Io {
        path: dir.display().to_string(),
        source,
    };
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(io)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            walk(&p, out)?;
        } else if p
            .extension()
            .is_some_and(|x| x.eq_ignore_ascii_case("yml") || x.eq_ignore_ascii_case("yaml"))
        {
            out.push(p);
        }
    }
    Ok(())
}

/// Reads files into (name, text) sources.
pub fn read_sources(files: &[PathBuf]) -> Result<Vec<(String, String)>, DetectError> {
    let mut out = Vec::new();
    for f in files {
        let io = |source| DetectError::Io {
            path: f.display().to_string(),
            source,
        };
        let len = std::fs::metadata(f).map_err(io)?.len();
        if len > MAX_FILE {
            return Err(DetectError::Io {
                path: f.display().to_string(),
                source: std::io::Error::other(format!(
                    "{len} bytes: larger than a rule file can be"
                )),
            });
        }
        let text = std::fs::read_to_string(f).map_err(io)?;
        out.push((f.display().to_string(), text));
    }
    Ok(out)
}

/// 1-based line of the `n`th YAML document of `text` (documents split by `---` lines).
fn doc_line(text: &str, n: usize) -> u32 {
    if n == 0 {
        return text
            .lines()
            .position(|l| {
                !l.trim().is_empty() && !l.trim_start().starts_with('#') && l.trim() != "---"
            })
            .map_or(1, |i| i as u32 + 1);
    }
    let mut seen = 0;
    for (i, l) in text.lines().enumerate() {
        if l.trim_end() == "---" && i > 0 {
            seen += 1;
            if seen == n {
                return i as u32 + 2;
            }
        }
    }
    1
}

/// The line in the document starting at `from` where `needle` first appears (for errors that
/// name a field), else `from`.
fn line_of(text: &str, from: u32, needle: &str) -> u32 {
    if needle.is_empty() {
        return from;
    }
    text.lines()
        .enumerate()
        .skip(from.saturating_sub(1) as usize)
        .find(|(_, l)| l.contains(needle))
        .map_or(from, |(i, _)| i as u32 + 1)
}

/// The first back-quoted word of an error message (the field or key it is about).
fn quoted(why: &str) -> &str {
    let from = why.find("field `").map_or(why, |i| &why[i..]);
    from.split('`').nth(1).unwrap_or("")
}

/// Builds the rule set from (name, text) sources.
pub fn build(sources: &[(String, String)], loaded_at: String) -> RuleSet {
    let mut report = LoadReport::default();
    let mut pending = Vec::new();
    let mut hasher = Sha256::new();
    for (file, text) in sources {
        report.files += 1;
        hasher.update(file.as_bytes());
        hasher.update([0]);
        hasher.update(text.as_bytes());
        let docs: Vec<Value> = match serde_saphyr::from_multiple::<Value>(text) {
            Ok(d) => d,
            Err(e) => {
                let line = e.location().map_or(0, |l| l.line() as u32);
                let msg = e.to_string();
                let first = msg.lines().next().unwrap_or("YAML error").to_string();
                report.rejected.push(Rejected {
                    file: file.clone(),
                    line,
                    rule: None,
                    why: format!("YAML: {first}"),
                });
                continue;
            }
        };
        for (n, doc) in docs.into_iter().enumerate() {
            if doc.is_null() {
                continue;
            }
            let line = doc_line(text, n);
            let rule_name = doc
                .get("id")
                .or_else(|| doc.get("title"))
                .and_then(Value::as_str)
                .map(str::to_string);
            match read_doc(doc, file) {
                Ok(p) => pending.push(p),
                Err(why) => report.rejected.push(Rejected {
                    file: file.clone(),
                    line: line_of(text, line, quoted(&why)),
                    rule: rule_name,
                    why,
                }),
            }
        }
    }
    let version: String = hasher
        .finalize()
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect();
    let mut set = RuleSet {
        loaded_at,
        version,
        ..RuleSet::default()
    };
    place(&mut set, pending, &mut report);
    set.report = report;
    set
}

fn read_doc(doc: Value, file: &str) -> Result<Pending, String> {
    if doc.get("correlation").is_some() {
        let meta = sigma::meta(&doc, file)?;
        let corr = sigma::correlation(&doc)?;
        let rule = Rule {
            meta,
            event_types: Vec::new(),
            cond: None,
            aggregate: None,
            emit: true,
            indicator: None,
        };
        return Ok(Pending::Correlation {
            rule,
            corr,
            file: file.to_string(),
            line: 0,
        });
    }
    if let Some(ls) = doc.get("logsource") {
        let src = sigma::source(ls)?;
        let meta = sigma::meta(&doc, file)?;
        let detection = doc.get("detection").cloned().ok_or("missing `detection`")?;
        let rule = Rule {
            meta,
            event_types: vec![src.event_type()],
            cond: None,
            aggregate: None,
            emit: true,
            indicator: Some(src.indicator().to_string()),
        };
        // Compile once here so that a rule that cannot run is refused with its reason now.
        let map = move |f: &str| src.field(f);
        super::compile::detection(&detection, &map, &mut Plan::default())?;
        return Ok(Pending::Rule {
            rule,
            name: doc.get("name").and_then(Value::as_str).map(str::to_string),
            source: Some(src),
            detection,
            file: file.to_string(),
            line: 0,
        });
    }
    if doc.get("event_type").is_some() {
        let p = native::parse(&doc, file)?;
        native::compile_into(&p, &mut Plan::default())?;
        let aggregate = p
            .threshold
            .clone()
            .map(|(group_by, window_ns, kind)| Aggregate {
                over: Vec::new(),
                group_by,
                window_ns,
                kind,
            });
        {
            let map = native::field_map(&p.event_types);
            if let Some(a) = &aggregate {
                for f in a.group_by.iter().chain(distinct_field(&a.kind)) {
                    map(f).map_err(|e| format!("threshold field `{f}`: {e}"))?;
                }
            }
            if let Some(i) = &p.indicator {
                map(i).map_err(|e| format!("indicator `{i}`: {e}"))?;
            }
        }
        let rule = Rule {
            meta: p.meta,
            event_types: p.event_types,
            cond: None,
            emit: aggregate.is_none(),
            aggregate,
            indicator: p.indicator,
        };
        return Ok(Pending::Rule {
            rule,
            name: None,
            source: None,
            detection: p.detection,
            file: file.to_string(),
            line: 0,
        });
    }
    Err("neither a native rule (it has no `event_type`) nor a Sigma rule (no `logsource` or `correlation`)".into())
}

fn distinct_field(k: &super::AggKind) -> Option<&String> {
    match k {
        super::AggKind::Distinct { field, .. } => Some(field),
        _ => None,
    }
}

/// Places rules in the set: ids unique, conditions compiled into one plan per record type,
/// aggregates wired to the rules they count.
fn place(set: &mut RuleSet, pending: Vec<Pending>, report: &mut LoadReport) {
    let mut corrs = Vec::new();
    let mut names: Vec<(Option<String>, Option<sigma::Source>, Value)> = Vec::new();
    for p in pending {
        match p {
            Pending::Rule {
                rule,
                name,
                source,
                detection,
                file,
                line,
            } => {
                if set.rules.iter().any(|r| r.meta.id == rule.meta.id) {
                    report.rejected.push(Rejected {
                        file,
                        line,
                        rule: Some(rule.meta.id.clone()),
                        why: format!("duplicate rule id `{}`", rule.meta.id),
                    });
                    continue;
                }
                match rule.meta.format {
                    super::RuleFormat::Native => report.native += 1,
                    super::RuleFormat::Sigma => report.sigma += 1,
                }
                let idx = set.rules.len() as u32;
                let mut rule = rule;
                if let Some(a) = &mut rule.aggregate {
                    a.over = vec![idx];
                }
                set.rules.push(rule);
                names.push((name, source, detection));
            }
            Pending::Correlation {
                rule,
                corr,
                file,
                line,
            } => corrs.push((rule, corr, file, line)),
        }
    }
    // Correlations: resolve the rules they count.
    for (mut rule, corr, file, line) in corrs {
        let mut over = Vec::new();
        let mut missing = None;
        for r in &corr.rules {
            let found = set.rules.iter().enumerate().position(|(i, x)| {
                x.meta.id == *r || names.get(i).and_then(|n| n.0.as_deref()) == Some(r.as_str())
            });
            match found {
                Some(i) if set.rules[i].aggregate.is_none() => over.push(i as u32),
                Some(_) => {
                    missing = Some(format!(
                        "correlation over `{r}`, itself an aggregate, is not supported"
                    ))
                }
                None => {
                    missing = Some(format!("correlation names rule `{r}`, which is not loaded"))
                }
            }
        }
        if set.rules.iter().any(|r| r.meta.id == rule.meta.id) {
            missing = Some(format!("duplicate rule id `{}`", rule.meta.id));
        }
        if let Some(why) = missing {
            report.rejected.push(Rejected {
                file,
                line,
                rule: Some(rule.meta.id.clone()),
                why,
            });
            continue;
        }
        if !corr.generate {
            for i in &over {
                if let Some(r) = set.rules.get_mut(*i as usize) {
                    r.emit = false;
                }
            }
        }
        rule.aggregate = Some(Aggregate {
            over,
            group_by: corr.group_by,
            window_ns: corr.window_ns,
            kind: corr.kind,
        });
        report.sigma += 1;
        set.rules.push(rule);
        names.push((None, None, Value::Null));
    }
    // Conditions, indicators and carried values, compiled per record type.
    let n = set.rules.len();
    for i in 0..n {
        let (name_src, detection) = match names.get(i) {
            Some((_, src, det)) => (*src, det.clone()),
            None => continue,
        };
        if detection.is_null() {
            continue;
        }
        let event_types = set.rules[i].event_types.clone();
        // What aggregates over this rule need from its records: (name as the aggregate
        // writes it, record field).
        let mut carried: Vec<(String, String)> = Vec::new();
        for r in &set.rules {
            let Some(a) = &r.aggregate else { continue };
            if !a.over.contains(&(i as u32)) {
                continue;
            }
            for f in a.group_by.iter().chain(distinct_field(&a.kind)) {
                let mapped = match name_src {
                    Some(src) if r.meta.format == super::RuleFormat::Sigma => src.field(f).ok(),
                    _ => Some(f.clone()),
                };
                if let Some(m) = mapped {
                    if !carried.iter().any(|(n, _)| n == f) {
                        carried.push((f.clone(), m));
                    }
                }
            }
        }
        for &et in &event_types {
            let ep = match set.plans.iter().position(|p| p.event_type == et) {
                Some(p) => p,
                None => {
                    set.plans.push(EventPlan {
                        event_type: et,
                        plan: Plan::default(),
                        rules: Vec::new(),
                    });
                    set.plans.len() - 1
                }
            };
            let plan = &mut set.plans[ep].plan;
            let compiled = match name_src {
                Some(src) => {
                    let map = move |f: &str| src.field(f);
                    super::compile::detection(&detection, &map, plan)
                }
                None => {
                    let map = native::field_map(&event_types);
                    super::compile::detection(&detection, &map, plan)
                }
            };
            // Compiled once already at read time: an error here cannot happen, but is kept.
            let Ok(cond) = compiled else { continue };
            let indicator = set.rules[i].indicator.as_deref().map(|f| plan.field(f));
            let values = carried
                .iter()
                .map(|(name, field)| (name.clone(), plan.field(field)))
                .collect();
            if set.rules[i].cond.is_none() {
                set.rules[i].cond = Some(cond.clone());
            }
            set.plans[ep].rules.push(PlannedRule {
                rule: i as u32,
                cond,
                indicator,
                values,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::{AggKind, EvalCtx, Hit};
    use crate::proto::kerberos::KerberosBody;
    use crate::record::{Body, FlowRef, Record};

    fn set(files: &[(&str, &str)]) -> RuleSet {
        let src: Vec<(String, String)> = files
            .iter()
            .map(|(n, t)| (n.to_string(), t.to_string()))
            .collect();
        build(&src, "now".into())
    }

    const KERBEROAST: &str = "id: t-kerberoast
name: Kerberoasting
version: 2
priority: 1
technology: heuristic
threat_level: high
category: kerberoasting
mitre: [T1558.003]
reason: One host asked for service tickets for several SPNs with RC4
event_type: kerberos
indicator: src_ip
detection:
  sel:
    kerberos.msg_type: TGS_REQ
    kerberos.etypes: 23
  krbtgt:
    kerberos.sname|startswith: krbtgt/
  condition: sel and not krbtgt
threshold:
  by: src_ip
  window: 60s
  distinct: kerberos.sname
  min: 4
";

    fn krb(sname: &str, etypes: Vec<i32>) -> Record {
        Record {
            ts_ns: 5,
            flow: Some(FlowRef {
                flow_id: 1,
                community_id: "1:x".into(),
                src_ip: "10.0.0.7".parse().unwrap(),
                src_port: 50000,
                dest_ip: "10.0.0.1".parse().unwrap(),
                dest_port: 88,
                proto: 6,
                vlan: vec![],
            }),
            body: Body::Kerberos(KerberosBody {
                msg_type: "TGS_REQ".into(),
                sname: Some(sname.into()),
                etypes,
                ..Default::default()
            }),
            intel: Vec::new(),
            parent: None,
        }
    }

    #[test]
    fn native_rule_with_threshold_evaluates_and_carries_its_keys() {
        let s = set(&[("k.yml", KERBEROAST)]);
        assert!(s.report.rejected.is_empty(), "{:?}", s.report.rejected);
        assert_eq!(s.report.native, 1);
        let r = &s.rules[0];
        assert!(!r.emit, "a threshold rule's hits only feed its aggregate");
        let a = r.aggregate.as_ref().unwrap();
        assert_eq!(a.over, vec![0]);
        assert_eq!(a.window_ns, 60_000_000_000);
        assert!(
            matches!(&a.kind, AggKind::Distinct { field, min: 4 } if field == "kerberos.sname")
        );
        assert_eq!(
            r.fields(),
            // (keys of a selection in name order)
            vec![
                "kerberos.etypes",
                "kerberos.msg_type",
                "kerberos.sname",
                "src_ip"
            ]
        );
        let batch = vec![
            krb("MSSQLSvc/db1.corp:1433", vec![23, 18]),
            krb("krbtgt/CORP", vec![23]),
            krb("HTTP/web.corp", vec![18, 17]),
        ];
        let mut hits: Vec<Hit> = Vec::new();
        s.evaluate(&batch, &EvalCtx::default(), &mut hits);
        assert_eq!(hits.len(), 1);
        let h = &hits[0];
        assert_eq!((h.rule, h.record, h.ts_ns), (0, 0, 5));
        assert_eq!(
            h.indicator.as_ref().map(|i| (i.kind, i.value.as_str())),
            Some(("ip", "10.0.0.7"))
        );
        assert_eq!(
            h.values,
            vec![
                ("src_ip".to_string(), "10.0.0.7".to_string()),
                (
                    "kerberos.sname".to_string(),
                    "MSSQLSvc/db1.corp:1433".to_string()
                )
            ]
        );
        assert_eq!(
            h.reasons[0],
            "One host asked for service tickets for several SPNs with RC4"
        );
        assert!(
            h.reasons.iter().any(|x| x == "kerberos.etypes `23` is 23"),
            "{:?}",
            h.reasons
        );
    }

    #[test]
    fn refusals_name_file_line_rule_and_reason() {
        let bad_field =
            "id: a\nname: A\nevent_type: dns\ndetection:\n  s:\n    http.host: x\n  condition: s\n";
        let bad_mod = "id: b\nname: B\nevent_type: dns\ndetection:\n  s:\n    dns.query|sounds_like: x\n  condition: s\n";
        let bad_yaml = "id: c\nname: [unclosed\n";
        let neither = "title: nothing\n";
        let dup = "id: a\nname: A again\nevent_type: dns\ndetection:\n  s:\n    dns.query: x\n  condition: s\n";
        let ok =
            "id: a\nname: A\nevent_type: dns\ndetection:\n  s:\n    dns.query: x\n  condition: s\n";
        let s = set(&[
            ("f.yml", bad_field),
            ("m.yml", bad_mod),
            ("y.yml", bad_yaml),
            ("n.yml", neither),
            ("ok.yml", ok),
            ("dup.yml", dup),
        ]);
        let why: Vec<(String, u32, String)> = s
            .report
            .rejected
            .iter()
            .map(|r| (r.file.clone(), r.line, r.why.clone()))
            .collect();
        assert_eq!(s.report.native, 1, "{why:?}");
        assert_eq!(why.len(), 5, "{why:?}");
        assert_eq!(why[0].0, "f.yml");
        assert_eq!(why[0].1, 6, "the line of the field");
        assert!(
            why[0].2.contains("belongs to `http` records"),
            "{}",
            why[0].2
        );
        assert_eq!(why[1].1, 6);
        assert!(why[1].2.contains("modifier `sounds_like`"));
        assert!(why[2].2.starts_with("YAML"), "{}", why[2].2);
        assert!(why[3].2.contains("neither a native rule"));
        assert!(why[4].2.contains("duplicate rule id `a`"));
    }

    #[test]
    fn sigma_rule_and_correlation_over_it() {
        let base = "title: RC4 service ticket
id: 11111111-1111-1111-1111-111111111111
name: rc4_tgs
level: high
tags: [attack.credential-access, attack.t1558.003]
logsource:
  product: zeek
  service: kerberos
detection:
  selection:
    request_type: TGS
    cipher: rc4-hmac
  condition: selection
---
title: Many RC4 service tickets from one host
id: 22222222-2222-2222-2222-222222222222
correlation:
  type: value_count
  rules: [rc4_tgs]
  group-by: [id.orig_h]
  timespan: 5m
  condition:
    gte: 3
    field: service
level: critical
";
        let s = set(&[("c.yml", base)]);
        assert!(s.report.rejected.is_empty(), "{:?}", s.report.rejected);
        assert_eq!(s.report.sigma, 2);
        let (b, c) = (&s.rules[0], &s.rules[1]);
        assert_eq!(b.meta.mitre, vec!["T1558.003"]);
        assert_eq!(b.meta.priority, 2);
        assert!(!b.emit, "generate defaults to false");
        let a = c.aggregate.as_ref().unwrap();
        assert_eq!(a.over, vec![0]);
        assert_eq!(a.group_by, vec!["id.orig_h"]);
        let mut rec = krb("MSSQLSvc/db1", vec![23]);
        if let Body::Kerberos(k) = &mut rec.body {
            k.ticket_etype = Some(23);
        }
        let mut hits = Vec::new();
        s.evaluate(&[rec], &EvalCtx::default(), &mut hits);
        assert_eq!(hits.len(), 1);
        assert_eq!(
            hits[0].values,
            vec![
                ("id.orig_h".to_string(), "10.0.0.7".to_string()),
                ("service".to_string(), "MSSQLSvc/db1".to_string())
            ]
        );
    }
}
