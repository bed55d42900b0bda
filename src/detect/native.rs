//! Native rules: YAML with the metadata a `detection` record carries, the record types read,
//! a Sigma-syntax `detection:` block over record fields, and an optional `threshold:`
//! (`docs/detection.md` has the format).

use serde_json::Value;

use super::compile::{self, FieldMap};
use super::fields::Plan;
use super::rule::{AggKind, RuleFormat, RuleMeta, Technology, ThreatLevel};
use super::EVENT_TYPES;

/// A native rule, compiled but not yet placed in a set.
pub(super) struct Parsed {
    pub meta: RuleMeta,
    pub event_types: Vec<&'static str>,
    pub detection: Value,
    pub indicator: Option<String>,
    pub threshold: Option<(Vec<String>, u64, AggKind)>,
}

fn str_field(doc: &Value, key: &str) -> Result<Option<String>, String> {
    match doc.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(_) => Err(format!("`{key}` must be a string")),
    }
}

fn str_list(v: Option<&Value>, key: &str) -> Result<Vec<String>, String> {
    match v {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(s)) => Ok(vec![s.clone()]),
        Some(Value::Array(a)) => a
            .iter()
            .map(|x| {
                x.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| format!("`{key}` must be a list of strings"))
            })
            .collect(),
        Some(_) => Err(format!("`{key}` must be a string or a list of strings")),
    }
}

/// Reads a native rule document.
pub(super) fn parse(doc: &Value, file: &str) -> Result<Parsed, String> {
    const KNOWN: [&str; 17] = [
        "id",
        "name",
        "version",
        "priority",
        "technology",
        "threat_name",
        "threat_level",
        "category",
        "mitre",
        "description",
        "reason",
        "updated",
        "event_type",
        "indicator",
        "detection",
        "threshold",
        "references",
    ];
    let obj = doc.as_object().ok_or("a rule must be a map")?;
    if let Some(k) = obj.keys().find(|k| !KNOWN.contains(&k.as_str())) {
        return Err(format!("unknown key `{k}`"));
    }
    let id = str_field(doc, "id")?.ok_or("missing `id`")?;
    let name = str_field(doc, "name")?.ok_or("missing `name`")?;
    let version = match doc.get("version") {
        None => 1,
        Some(v) => v
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .ok_or("`version` must be a whole number")?,
    };
    let priority = match doc.get("priority") {
        None => 3,
        Some(v) => v
            .as_u64()
            .filter(|p| (1..=4).contains(p))
            .map(|p| p as u8)
            .ok_or("`priority` must be 1 to 4")?,
    };
    let technology = match str_field(doc, "technology")? {
        None => Technology::Signature,
        Some(t) => Technology::parse(&t).ok_or_else(|| {
            format!("`technology: {t}`: one of signature, reputation, statistics, heuristic")
        })?,
    };
    let threat_level = match str_field(doc, "threat_level")? {
        None => ThreatLevel::Medium,
        Some(t) => ThreatLevel::parse(&t).ok_or_else(|| {
            format!("`threat_level: {t}`: one of informational, low, medium, high, critical")
        })?,
    };
    let mut event_types = Vec::new();
    for t in str_list(doc.get("event_type"), "event_type")? {
        let et = EVENT_TYPES.iter().find(|e| **e == t).ok_or_else(|| {
            format!(
                "`event_type: {t}` is not a record type ({})",
                EVENT_TYPES.join(", ")
            )
        })?;
        event_types.push(*et);
    }
    if event_types.is_empty() {
        return Err("missing `event_type`".into());
    }
    let detection = doc.get("detection").cloned().ok_or("missing `detection`")?;
    let threshold = match doc.get("threshold") {
        None | Some(Value::Null) => None,
        Some(t) => Some(threshold(t)?),
    };
    let description = str_field(doc, "description")?.unwrap_or_default();
    let meta = RuleMeta {
        threat_name: str_field(doc, "threat_name")?.unwrap_or_else(|| name.clone()),
        reason: str_field(doc, "reason")?.unwrap_or_else(|| name.clone()),
        category: str_field(doc, "category")?.unwrap_or_else(|| "policy".into()),
        mitre: str_list(doc.get("mitre"), "mitre")?,
        updated: str_field(doc, "updated")?,
        description,
        id,
        name,
        version,
        priority,
        technology,
        threat_level,
        format: RuleFormat::Native,
        file: file.to_string(),
    };
    Ok(Parsed {
        meta,
        event_types,
        detection,
        indicator: str_field(doc, "indicator")?,
        threshold,
    })
}

/// `threshold: {by, window, min, distinct}`.
fn threshold(t: &Value) -> Result<(Vec<String>, u64, AggKind), String> {
    let obj = t.as_object().ok_or("`threshold` must be a map")?;
    if let Some(k) = obj
        .keys()
        .find(|k| !["by", "window", "min", "distinct"].contains(&k.as_str()))
    {
        return Err(format!("threshold: unknown key `{k}`"));
    }
    let by = str_list(t.get("by"), "threshold.by")?;
    let window = t.get("window").ok_or("threshold: missing `window`")?;
    let window_ns = duration_ns(window).map_err(|e| format!("threshold.window: {e}"))?;
    let min = t
        .get("min")
        .and_then(Value::as_u64)
        .filter(|m| *m >= 1)
        .ok_or("threshold: `min` must be a whole number of at least 1")?;
    let kind = match t.get("distinct") {
        None | Some(Value::Null) => AggKind::Count { min },
        Some(Value::String(f)) => AggKind::Distinct {
            field: f.clone(),
            min,
        },
        Some(_) => return Err("threshold.distinct must be a field name".into()),
    };
    Ok((by, window_ns, kind))
}

/// `30s`, `5m`, `1h`, `1d`, or a number of seconds.
pub(super) fn duration_ns(v: &Value) -> Result<u64, String> {
    let secs = match v {
        Value::Number(n) => n.as_u64().ok_or("must be a whole number of seconds")?,
        Value::String(s) => {
            let s = s.trim();
            let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
            let n: u64 = num
                .parse()
                .map_err(|_| format!("`{s}` is not a duration"))?;
            let mult = match unit {
                "" | "s" => 1,
                "m" => 60,
                "h" => 3600,
                "d" => 86_400,
                _ => return Err(format!("`{s}`: unit must be s, m, h or d")),
            };
            n * mult
        }
        _ => return Err("must be a duration like 60s, 5m, 1h".into()),
    };
    if secs == 0 || secs > 30 * 86_400 {
        return Err("must be between 1 s and 30 days".into());
    }
    Ok(secs * 1_000_000_000)
}

/// Field names a native rule may use: record paths whose first segment is a common field or
/// one of the rule's record types, derived fields, `stats.*` and `keywords`.
pub(super) fn field_map<'a>(
    event_types: &'a [&'static str],
) -> impl Fn(&str) -> Result<String, String> + 'a {
    move |name: &str| {
        let first = name.split('.').next().unwrap_or_default();
        const COMMON: [&str; 13] = [
            "timestamp",
            "event_type",
            "sensor_id",
            "flow_id",
            "community_id",
            "src_ip",
            "src_port",
            "dest_ip",
            "dest_port",
            "proto",
            "vlan",
            "intel",
            "keywords",
        ];
        if COMMON.contains(&first) || first == "stats" || event_types.contains(&first) {
            Ok(name.to_string())
        } else if EVENT_TYPES.contains(&first) {
            Err(format!(
                "`{name}` belongs to `{first}` records, and the rule reads {}",
                event_types.join(", ")
            ))
        } else {
            Err(format!("`{name}` is not a record field"))
        }
    }
}

/// Compiles the detection block of a parsed native rule into `plan`.
pub(super) fn compile_into(p: &Parsed, plan: &mut Plan) -> Result<super::cond::Cond, String> {
    let map = field_map(&p.event_types);
    let fm: FieldMap<'_> = &map;
    compile::detection(&p.detection, fm, plan)
}
