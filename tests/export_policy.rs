//! The data-provision policy through the binary, on every record type the sensor writes: the
//! public captures and the generated attack mix (for detections with hosts, users and mail)
//! are replayed once with three file sinks: `clear`, `hashed` and `withheld`. Every personal
//! value of the clear output (local addresses, mail addresses, subjects, user and host names,
//! wherever they are) must be absent from the other two; the hashed output carries the MD5
//! the document asks for in its place; nothing else changes; categories filter whole types.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;
use std::path::Path;

use serde_json::Value;

fn md5(s: &str) -> String {
    use md5::{Digest, Md5};
    Md5::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn read(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect()
}

fn local(ip: &str) -> bool {
    match ip.parse::<IpAddr>() {
        Ok(IpAddr::V4(v)) => v.is_private(),
        Ok(IpAddr::V6(v)) => {
            (v.segments()[0] & 0xfe00) == 0xfc00 || (v.segments()[0] & 0xffc0) == 0xfe80
        }
        Err(_) => false,
    }
}

/// Paths (arrays transparent) whose values are personal, by class.
const PERSONAL: [(&str, &str); 15] = [
    ("email.mail_from", "email"),
    ("email.rcpt_to", "email"),
    ("email.from", "email"),
    ("email.to", "email"),
    ("email.cc", "email"),
    ("file.sender", "email"),
    ("detection.source.sender", "email"),
    ("email.subject", "subject"),
    ("kerberos.cname", "user"),
    ("kerberos.upn", "user"),
    ("ldap.bind_name", "user"),
    ("http.auth_user", "user"),
    ("detection.source.client_host", "host"),
    ("kerberos.kdc_name", "host"),
    ("email.helo", "host"),
];

fn collect(v: &Value, path: &str, out: &mut Vec<(String, String)>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                collect(x, &p, out);
            }
        }
        Value::Array(a) => a.iter().for_each(|x| collect(x, path, out)),
        Value::String(s) => out.push((path.to_string(), s.clone())),
        _ => {}
    }
}

#[test]
#[cfg_attr(
    not(tapir_corpus),
    ignore = "public corpus absent: set TAPIR_CORPUS or provide ../shared/pcaps/public"
)]
fn no_withheld_value_reaches_a_sink_on_any_record_type() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let attack = d.join("attacks.pcap");
    std::fs::write(&attack, testkit::attacks::mixed(7)).unwrap();
    let cfg = format!(
        r#"
[output]
status_interval = 0
[export]
[[export.sink]]
name = "clear"
type = "file"
path = "{0}/clear.ndjson"
profile = "clear"
[[export.sink]]
name = "hashed"
type = "file"
path = "{0}/hashed.ndjson"
profile = "hashed"
[[export.sink]]
name = "withheld"
type = "file"
path = "{0}/withheld.ndjson"
profile = "withheld"
[[export.sink]]
name = "detections"
type = "file"
path = "{0}/detections.ndjson"
profile = "hashed"
categories = ["detections", "service"]
"#,
        d.display()
    );
    std::fs::write(d.join("t.toml"), cfg).unwrap();
    let mut files: Vec<String> = testkit::corpus::captures(&common::corpus())
        .into_iter()
        .map(|(_, p)| p.display().to_string())
        .collect();
    files.push(attack.display().to_string());
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tapir"))
        .args([
            "replay",
            "-q",
            "--no-progress",
            "-w",
            "1",
            "-o",
            "none",
            "-c",
        ])
        .arg(d.join("t.toml"))
        .args(&files)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let clear = read(&d.join("clear.ndjson"));
    let hashed = read(&d.join("hashed.ndjson"));
    let withheld = read(&d.join("withheld.ndjson"));
    let dets = read(&d.join("detections.ndjson"));
    assert_eq!(clear.len(), hashed.len());
    assert_eq!(clear.len(), withheld.len());
    let types: BTreeSet<&str> = clear
        .iter()
        .filter_map(|r| r["event_type"].as_str())
        .collect();
    for t in [
        "flow",
        "dns",
        "http",
        "file",
        "email",
        "kerberos",
        "ldap",
        "tls",
        "detection",
        "sensor_status",
    ] {
        assert!(
            types.contains(t),
            "no {t} record to check the policy on: {types:?}"
        );
    }
    let det_types: BTreeSet<&str> = dets
        .iter()
        .filter_map(|r| r["event_type"].as_str())
        .collect();
    assert_eq!(det_types, BTreeSet::from(["detection", "sensor_status"]));

    // Every personal value of the clear output, by class.
    let mut personal: BTreeMap<String, &str> = BTreeMap::new();
    let mut local_ips = BTreeSet::new();
    let mut per_class: HashMap<&str, usize> = HashMap::new();
    for r in &clear {
        let mut strings = Vec::new();
        collect(r, "", &mut strings);
        for (p, s) in strings {
            if local(&s) {
                local_ips.insert(s.clone());
            }
            if let Some((_, class)) = PERSONAL.iter().find(|(pp, _)| *pp == p) {
                if s.len() >= 3 {
                    personal.insert(s.clone(), class);
                    *per_class.entry(class).or_default() += 1;
                }
            }
        }
    }
    for class in ["email", "subject", "user", "host"] {
        assert!(
            per_class.get(class).copied().unwrap_or(0) > 0,
            "no {class} value in the captures"
        );
    }
    assert!(local_ips.len() > 10);

    let by_id = |rs: &[Value]| -> HashMap<String, Value> {
        rs.iter()
            .map(|r| (r["id"].as_str().unwrap().to_string(), r.clone()))
            .collect()
    };
    let hashed_by_id = by_id(&hashed);
    for (name, out) in [
        ("hashed", &hashed),
        ("withheld", &withheld),
        ("detections", &dets),
    ] {
        for r in out.iter() {
            let mut strings = Vec::new();
            collect(r, "", &mut strings);
            for (p, s) in strings {
                assert!(!local_ips.contains(&s), "{name}: local address {s} at {p}");
                if let Some(class) = personal.get(&s) {
                    // A value can be personal in one record and harmless in another only if
                    // it is also, e.g., a domain: never at a personal path.
                    assert!(
                        !PERSONAL.iter().any(|(pp, _)| *pp == p),
                        "{name}: {class} value {s:?} in clear at {p}"
                    );
                }
            }
        }
    }
    // The hashed output has the MD5 in place of the clear value; the rest is unchanged.
    let mut checked = 0;
    for r in &clear {
        let id = r["id"].as_str().unwrap();
        let h = &hashed_by_id[id];
        for key in ["src_ip", "dest_ip"] {
            if let Some(ip) = r[key].as_str() {
                let want = if local(ip) { md5(ip) } else { ip.to_string() };
                assert_eq!(h[key], want.as_str(), "{id} {key}");
                checked += 1;
            }
        }
        if let Some(s) = r["email"]["subject"].as_str() {
            assert_eq!(h["email"]["subject"], md5(s).as_str());
        }
        if let Some(c) = r["kerberos"]["cname"].as_str() {
            assert_eq!(h["kerberos"]["cname"], md5(&c.to_lowercase()).as_str());
        }
        if let Some(m) = r["email"]["mail_from"].as_str() {
            let (l, dom) = m.rsplit_once('@').unwrap();
            let want = format!("{}@{}", md5(&l.to_lowercase()), md5(&dom.to_lowercase()));
            assert_eq!(h["email"]["mail_from"], want.as_str());
        }
        for key in ["event_type", "timestamp", "flow_id", "community_id"] {
            assert_eq!(r[key], h[key], "{id}: {key} changed");
        }
        if r["event_type"] == "dns" {
            assert_eq!(r["dns"]["query"], h["dns"]["query"], "domains stay");
        }
    }
    assert!(checked > 100);
    // Withheld: the fields are gone, not emptied.
    let w = withheld.iter().find(|r| r["email"]["subject"].is_string());
    assert!(w.is_none(), "a subject left in the withheld output");
}
