//! Sigma rules, loaded unchanged: the log sources the sensor produces, their field names mapped
//! onto record fields, `level` and `attack.*` tags onto the detection's threat level and MITRE
//! technique, and correlation rules (`event_count`, `value_count`, `temporal`) onto aggregates.
//! Anything the sensor cannot honour is refused with the reason, never half-loaded.

use serde_json::Value;

use super::native::duration_ns;
use super::rule::{AggKind, RuleFormat, RuleMeta, Technology, ThreatLevel};

/// A log source the sensor produces: the record type it reads and how Sigma names its fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    Dns,
    Proxy,
    Webserver,
    ZeekDns,
    ZeekHttp,
    ZeekKerberos,
    ZeekX509,
    ZeekSsl,
}

impl Source {
    pub fn event_type(self) -> &'static str {
        match self {
            Source::Dns | Source::ZeekDns => "dns",
            Source::Proxy | Source::Webserver | Source::ZeekHttp => "http",
            Source::ZeekKerberos => "kerberos",
            Source::ZeekX509 | Source::ZeekSsl => "tls",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Source::Dns => "category: dns",
            Source::Proxy => "category: proxy",
            Source::Webserver => "category: webserver",
            Source::ZeekDns => "zeek dns",
            Source::ZeekHttp => "zeek http",
            Source::ZeekKerberos => "zeek kerberos",
            Source::ZeekX509 => "zeek x509",
            Source::ZeekSsl => "zeek ssl",
        }
    }

    /// The record field whose value a detection of this source is about.
    pub fn indicator(self) -> &'static str {
        match self {
            Source::Dns | Source::ZeekDns => "dns.query",
            Source::Proxy | Source::Webserver | Source::ZeekHttp => "http.url",
            Source::ZeekKerberos => "kerberos.cname",
            Source::ZeekX509 => "tls.certificate.serial",
            Source::ZeekSsl => "tls.sni",
        }
    }

    /// A Sigma field name of this source as a record field.
    pub fn field(self, name: &str) -> Result<String, String> {
        // Connection fields every source shares (Sigma's generic names and Zeek's `id.*`).
        let common = match name {
            "src_ip" | "c-ip" | "id.orig_h" | "ClientIP" => Some("src_ip"),
            "dst_ip" | "s-ip" | "id.resp_h" | "DestinationIp" => Some("dest_ip"),
            "src_port" | "id.orig_p" => Some("src_port"),
            "dst_port" | "s-port" | "id.resp_p" | "DestinationPort" => Some("dest_port"),
            _ => None,
        };
        if let Some(c) = common {
            return Ok(c.to_string());
        }
        let http = |n: &str| -> Option<&'static str> {
            Some(match n {
                // Proxy logs write the full URL.
                "c-uri" | "cs-uri" if self == Source::Proxy => "http.url",
                "c-uri" | "cs-uri" | "uri" => "http.uri",
                "c-uri-stem" | "cs-uri-stem" => "http.uri_path",
                "c-uri-query" | "cs-uri-query" => "http.uri_query",
                "c-uri-extension" => "http.uri_extension",
                "c-useragent" | "cs-user-agent" | "user_agent" => "http.user_agent",
                "cs-host" | "host" | "r-dns" => "http.hostname",
                "cs-method" | "method" => "http.method",
                "cs-referrer" | "cs-referer" | "referrer" => "http.referrer",
                "sc-status" | "status_code" => "http.status",
                "cs-version" | "version" => "http.version",
                "cs-bytes" | "request_body_len" => "http.request_body_len",
                "sc-bytes" | "response_body_len" => "http.response_body_len",
                "cs-content-type" => "http.request_content_type",
                "sc-content-type" | "resp_mime_types" => "http.response_content_type",
                "status_msg" => "http.status_msg",
                "username" | "cs-username" => "http.auth_user",
                _ => return None,
            })
        };
        let dns = |n: &str| -> Option<&'static str> {
            Some(match n {
                "query" | "QueryName" => "dns.query",
                "answer" | "answers" | "QueryResults" => "dns.answers.data",
                "record_type" | "qtype_name" | "QueryType" => "dns.qtype",
                "qtype" => "dns.qtype_code",
                "rcode_name" => "dns.rcode",
                "rcode" => "dns.rcode_code",
                "qclass_name" => "dns.qclass",
                "qclass" => "dns.qclass_code",
                "trans_id" => "dns.id",
                "proto" => "dns.transport",
                "Z" => "dns.z",
                "rejected" => "dns.rejected",
                "TTLs" => "dns.answers.ttl",
                _ => return None,
            })
        };
        let mapped = match self {
            Source::Proxy | Source::Webserver | Source::ZeekHttp => http(name),
            Source::Dns | Source::ZeekDns => dns(name),
            Source::ZeekKerberos => match name {
                "request_type" => Some("kerberos.request_type"),
                "client" => Some("kerberos.upn"),
                "service" => Some("kerberos.sname"),
                "success" => Some("kerberos.success"),
                "error_msg" => Some("kerberos.error_name"),
                "till" => Some("kerberos.till"),
                "cipher" => Some("kerberos.ticket_etype_name"),
                _ => None,
            },
            Source::ZeekX509 => match name {
                "certificate.serial" => Some("tls.certificate.serial"),
                "certificate.subject" => Some("tls.certificate.subject"),
                "certificate.issuer" => Some("tls.certificate.issuer"),
                "certificate.not_valid_before" => Some("tls.certificate.not_before"),
                "certificate.not_valid_after" => Some("tls.certificate.not_after"),
                _ => None,
            },
            Source::ZeekSsl => match name {
                "server_name" => Some("tls.sni"),
                "version" => Some("tls.version"),
                "ja3" => Some("tls.ja3"),
                "ja4" => Some("tls.ja4"),
                "next_protocol" => Some("tls.alpn"),
                "subject" => Some("tls.certificate.subject"),
                "issuer" => Some("tls.certificate.issuer"),
                _ => None,
            },
        };
        mapped.map(str::to_string).ok_or_else(|| {
            format!(
                "the sensor's {} records have no field Sigma calls `{name}`",
                self.event_type()
            )
        })
    }
}

/// Which source a `logsource:` block names.
pub fn source(ls: &Value) -> Result<Source, String> {
    let get = |k: &str| {
        ls.get(k)
            .and_then(Value::as_str)
            .map(str::to_ascii_lowercase)
    };
    let (cat, prod, svc) = (get("category"), get("product"), get("service"));
    let s = match (cat.as_deref(), prod.as_deref(), svc.as_deref()) {
        (Some("dns"), None, None) => Source::Dns,
        (Some("proxy"), None, None) => Source::Proxy,
        (Some("webserver"), None, None) => Source::Webserver,
        (None, Some("zeek"), Some("dns")) => Source::ZeekDns,
        (None, Some("zeek"), Some("http")) => Source::ZeekHttp,
        (None, Some("zeek"), Some("kerberos")) => Source::ZeekKerberos,
        (None, Some("zeek"), Some("x509")) => Source::ZeekX509,
        (None, Some("zeek"), Some("ssl")) => Source::ZeekSsl,
        _ => {
            return Err(format!(
                "logsource {} is not one the sensor produces (category dns, proxy, webserver; product zeek with service dns, http, kerberos, x509, ssl)",
                serde_json::to_string(ls).unwrap_or_default()
            ))
        }
    };
    Ok(s)
}

/// The metadata of a Sigma rule (or correlation) document.
pub(super) fn meta(doc: &Value, file: &str) -> Result<RuleMeta, String> {
    let s = |k: &str| doc.get(k).and_then(Value::as_str).map(str::to_string);
    let title = s("title").ok_or("missing `title`")?;
    let id = s("id").ok_or("missing `id`")?;
    let level = match s("level") {
        None => ThreatLevel::Medium,
        Some(l) => {
            ThreatLevel::parse(&l).ok_or_else(|| format!("`level: {l}` is not a Sigma level"))?
        }
    };
    let priority = match level {
        ThreatLevel::Critical => 1,
        ThreatLevel::High => 2,
        ThreatLevel::Medium => 3,
        ThreatLevel::Low | ThreatLevel::Informational => 4,
    };
    let mut mitre = Vec::new();
    if let Some(Value::Array(tags)) = doc.get("tags") {
        for t in tags.iter().filter_map(Value::as_str) {
            let Some(rest) = t.strip_prefix("attack.") else {
                continue;
            };
            let up = rest.to_ascii_uppercase();
            if up.starts_with('T') && up[1..].chars().next().is_some_and(|c| c.is_ascii_digit()) {
                mitre.push(up);
            }
        }
    }
    let description = s("description").unwrap_or_default();
    Ok(RuleMeta {
        reason: if description.is_empty() {
            title.clone()
        } else {
            description.clone()
        },
        threat_name: title.clone(),
        name: title,
        id,
        version: 1,
        priority,
        technology: Technology::Signature,
        threat_level: level,
        category: "sigma".into(),
        mitre,
        description,
        format: RuleFormat::Sigma,
        file: file.to_string(),
        updated: s("modified").or_else(|| s("date")),
    })
}

/// A correlation document: (rules it references by name or id, group-by, window, kind, generate).
pub(super) struct Correlation {
    pub rules: Vec<String>,
    pub group_by: Vec<String>,
    pub window_ns: u64,
    pub kind: AggKind,
    pub generate: bool,
}

pub(super) fn correlation(doc: &Value) -> Result<Correlation, String> {
    let c = doc.get("correlation").ok_or("missing `correlation`")?;
    let ty = c
        .get("type")
        .and_then(Value::as_str)
        .ok_or("correlation: missing `type`")?;
    let rules: Vec<String> = match c.get("rules") {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        _ => return Err("correlation: `rules` must name the rules it correlates".into()),
    };
    if rules.is_empty() {
        return Err("correlation: `rules` is empty".into());
    }
    let group_by: Vec<String> = match c.get("group-by") {
        None => Vec::new(),
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        Some(_) => return Err("correlation: `group-by` must be a list of fields".into()),
    };
    let window_ns = duration_ns(
        c.get("timespan")
            .or_else(|| c.get("timeframe"))
            .ok_or("correlation: missing `timespan`")?,
    )
    .map_err(|e| format!("correlation.timespan: {e}"))?;
    let cond = c.get("condition");
    let min = |cond: Option<&Value>| -> Result<u64, String> {
        let cond = cond.ok_or("correlation: missing `condition`")?;
        for (k, v) in cond.as_object().into_iter().flatten() {
            let n = v.as_u64();
            match (k.as_str(), n) {
                ("gte", Some(n)) => return Ok(n.max(1)),
                ("gt", Some(n)) => return Ok(n + 1),
                ("eq", Some(_)) | ("lt", Some(_)) | ("lte", Some(_)) => {
                    return Err(format!(
                        "correlation condition `{k}`: only thresholds from below (gte, gt) fire as a stream arrives"
                    ))
                }
                ("field", _) => {}
                _ => return Err(format!("correlation condition `{k}` is not supported")),
            }
        }
        Err("correlation: `condition` needs gte or gt".into())
    };
    let kind = match ty {
        "event_count" => AggKind::Count { min: min(cond)? },
        "value_count" => {
            let field = cond
                .and_then(|c| c.get("field"))
                .and_then(Value::as_str)
                .ok_or("value_count: `condition.field` names the field to count")?;
            AggKind::Distinct {
                field: field.to_string(),
                min: min(cond)?,
            }
        }
        "temporal" => AggKind::Temporal { ordered: false },
        "temporal_ordered" => AggKind::Temporal { ordered: true },
        other => return Err(format!("correlation type `{other}` is not supported")),
    };
    Ok(Correlation {
        rules,
        group_by,
        window_ns,
        kind,
        generate: doc
            .get("generate")
            .and_then(Value::as_bool)
            .unwrap_or(false),
    })
}
