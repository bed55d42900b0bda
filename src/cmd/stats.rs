//! `tapir stats`: reads the network statistics a replay (`--state DIR`) or a live run kept.
//! Human-readable tables by default, `--json` for scripts (one JSON document).

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

use crate::record::rfc3339_micros;
use crate::stats::domain::{normalise, registered};
use crate::stats::{DomainStats, Store};

#[derive(Debug, clap::Args)]
pub struct StatsArgs {
    /// The state directory (holds stats.redb).
    #[arg(long, value_name = "DIR")]
    pub state: PathBuf,
    /// JSON instead of tables.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub what: StatsQuery,
}

#[derive(Debug, clap::Subcommand)]
pub enum StatsQuery {
    /// Registered domains: by requests (--top N, the default), newest first (--newest), or
    /// seen by the fewest hosts (--rarest).
    Domains {
        /// The N domains with the most requests.
        #[arg(long, value_name = "N")]
        top: Option<usize>,
        /// Most recently first seen first.
        #[arg(long, conflicts_with_all = ["top", "rarest"])]
        newest: bool,
        /// Fewest distinct hosts (then fewest requests) first.
        #[arg(long, conflicts_with_all = ["top", "newest"])]
        rarest: bool,
        /// Rows shown with --newest and --rarest (and --top without N).
        #[arg(long, value_name = "N", default_value_t = 20)]
        limit: usize,
    },
    /// One domain (a registered domain or a host name under it) and its host names.
    Domain { name: String },
    /// One file by SHA-256.
    File { sha256: String },
    /// One internal host by address: its names and the accounts seen on it.
    Host { ip: std::net::IpAddr },
}

fn time(ns: u64) -> Value {
    if ns == 0 {
        Value::Null
    } else {
        Value::String(rfc3339_micros(ns))
    }
}

/// The names a host goes by, from the hosts table ("source:name" → "name"), deduplicated.
fn host_names(store: &Store, ip: &str) -> Result<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    if let Some(h) = store.host(ip)? {
        for n in &h.names.items {
            let name = n.split_once(':').map_or(n.as_str(), |(_, v)| v).to_string();
            if !out.contains(&name) {
                out.push(name);
            }
        }
    }
    Ok(out)
}

fn domain_json(store: &Store, name: &str, d: &DomainStats, with_hosts: bool) -> Result<Value> {
    let mut v = json!({
        "domain": name,
        "requests": d.requests,
        "hosts": d.distinct_hosts(),
        "users": d.distinct_users(),
        "first_seen": time(d.first_seen),
        "last_seen": time(d.last_seen),
        "bytes_up": d.bytes_up,
        "bytes_down": d.bytes_down,
        "content_types": d.content_types.items,
    });
    if with_hosts {
        let mut hosts = Vec::new();
        for ip in &d.hosts.items {
            hosts.push(json!({"ip": ip, "names": host_names(store, ip)?}));
        }
        v["host_list"] = Value::Array(hosts);
        v["host_list_complete"] = Value::Bool(d.hosts.is_exact());
        v["users_md5"] = json!(d.users_md5.items);
    }
    Ok(v)
}

pub fn run(args: &StatsArgs) -> Result<()> {
    let store = Store::open_existing(&args.state)
        .with_context(|| format!("no statistics store in {}", args.state.display()))?;
    let out = match &args.what {
        StatsQuery::Domains {
            top,
            newest,
            rarest,
            limit,
        } => {
            let mut all = store.all_domains(false)?;
            if *newest {
                all.sort_by(|a, b| b.1.first_seen.cmp(&a.1.first_seen).then(a.0.cmp(&b.0)));
            } else if *rarest {
                all.sort_by(|a, b| {
                    (a.1.distinct_hosts(), a.1.requests, &a.0).cmp(&(
                        b.1.distinct_hosts(),
                        b.1.requests,
                        &b.0,
                    ))
                });
            } else {
                all.sort_by(|a, b| b.1.requests.cmp(&a.1.requests).then(a.0.cmp(&b.0)));
            }
            all.truncate(top.unwrap_or(*limit));
            let rows = all
                .iter()
                .map(|(n, d)| domain_json(&store, n, d, false))
                .collect::<Result<Vec<_>>>()?;
            Value::Array(rows)
        }
        StatsQuery::Domain { name } => {
            let Some(fqdn) = normalise(name) else {
                bail!("not a domain name: {name}");
            };
            let reg = registered(&fqdn).to_string();
            let Some(d) = store.domain(&reg)? else {
                bail!("{reg} was not seen");
            };
            let mut v = domain_json(&store, &reg, &d, true)?;
            let mut subs = Vec::new();
            for (n, s) in store.fqdns_under(&reg)? {
                subs.push(domain_json(&store, &n, &s, n == fqdn)?);
            }
            v["names"] = Value::Array(subs);
            v
        }
        StatsQuery::File { sha256 } => {
            let key: [u8; 32] = crate::util::hex::decode(sha256.trim())
                .and_then(|b| b.try_into().ok())
                .with_context(|| format!("not a SHA-256: {sha256}"))?;
            let Some(f) = store.file(&key)? else {
                bail!("file {sha256} was not seen");
            };
            let mut hosts = Vec::new();
            for (ip, t) in &f.first_by_host {
                hosts.push(
                    json!({"ip": ip, "names": host_names(&store, ip)?, "first_seen": time(*t)}),
                );
            }
            json!({
                "sha256": sha256.trim().to_ascii_lowercase(),
                "seen": f.count,
                "hosts": f.distinct_hosts(),
                "first_seen": time(f.first_seen),
                "last_seen": time(f.last_seen),
                "host_list": hosts,
                "names": f.names.items,
                "sources": f.sources.items,
                "origins": f.origins.items,
            })
        }
        StatsQuery::Host { ip } => {
            let key = ip.to_string();
            let Some(h) = store.host(&key)? else {
                bail!("host {ip} was not seen");
            };
            json!({
                "ip": key,
                "first_seen": time(h.first_seen),
                "last_seen": time(h.last_seen),
                "names": h.names.items,
                "accounts": h.accounts.items,
            })
        }
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        print!("{}", table(&out));
    }
    Ok(())
}

/// A plain-text rendering: an array of flat objects as a table, an object as key: value lines
/// (nested arrays of objects as indented tables).
fn table(v: &Value) -> String {
    fn cell(v: &Value) -> String {
        match v {
            Value::Null => "-".into(),
            Value::String(s) => s.clone(),
            Value::Array(a) => a.iter().map(cell).collect::<Vec<_>>().join(","),
            other => other.to_string(),
        }
    }
    fn rows(a: &[Value], indent: &str) -> String {
        let Some(Value::Object(first)) = a.first() else {
            return format!("{indent}(none)\n");
        };
        let cols: Vec<&String> = first
            .keys()
            .filter(|k| !matches!(first.get(*k), Some(Value::Array(x)) if x.iter().any(Value::is_object)))
            .collect();
        let cells: Vec<Vec<String>> = a
            .iter()
            .map(|r| {
                cols.iter()
                    .map(|c| cell(r.get(c.as_str()).unwrap_or(&Value::Null)))
                    .collect()
            })
            .collect();
        let widths: Vec<usize> = cols
            .iter()
            .enumerate()
            .map(|(i, c)| {
                cells
                    .iter()
                    .filter_map(|r| r.get(i).map(String::len))
                    .chain([c.len()])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let line = |vals: Vec<&str>| {
            let mut s = indent.to_string();
            for (v, w) in vals.iter().zip(&widths) {
                s.push_str(&format!("{v:<w$}  "));
            }
            s.trim_end().to_string() + "\n"
        };
        let mut out = line(cols.iter().map(|c| c.as_str()).collect());
        for r in &cells {
            out.push_str(&line(r.iter().map(String::as_str).collect()));
        }
        out
    }
    match v {
        Value::Array(a) => rows(a, ""),
        Value::Object(m) => {
            let mut out = String::new();
            for (k, x) in m {
                match x {
                    Value::Array(a) if a.iter().any(Value::is_object) => {
                        out.push_str(&format!("{k}:\n{}", rows(a, "  ")));
                    }
                    _ => out.push_str(&format!("{k}: {}\n", cell(x))),
                }
            }
            out
        }
        other => format!("{}\n", cell(other)),
    }
}
