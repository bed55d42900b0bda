//! Detection through the binary: a generated capture replayed with a rule file (and without
//! the default rules), on several workers: a rule that fires per hit (repeats suppressed), a
//! threshold over hosts' DNS queries that spans flows on different workers, and decoys that
//! must stay quiet. The detection records carry the contract's fixed paths and name, in
//! `related[]`, records of the same output by their `id`.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use std::collections::HashMap;

use common::run_sensor;
use testkit::packets::Cap;

const DNS_SERVER: [u8; 4] = [10, 1, 1, 53];
const VICTIM: [u8; 4] = [10, 1, 1, 10];
const TUNNELLER: [u8; 4] = [10, 1, 1, 20];
const QUIET: [u8; 4] = [10, 1, 1, 30];

const RULES: &str = r#"
id: test-evil-domain
name: "Query for a domain under evil.example"
version: 3
priority: 1
technology: signature
threat_name: EvilDomain
threat_level: high
category: intel
mitre: [T1071.004]
reason: "A host asked for a name under a known-bad domain"
updated: 2026-12-01
event_type: dns
indicator: dns.query
detection:
  sel:
    dns.query|endswith: .evil.example
  condition: sel
---
id: test-many-subdomains
name: "Many subdomains of tunnel.example from one host"
version: 1
priority: 2
technology: heuristic
threat_name: DnsTunnel
threat_level: medium
category: dns_tunnel
reason: "One host asked for many different names under one domain"
event_type: dns
detection:
  sel:
    dns.query|endswith: .tunnel.example
  condition: sel
threshold:
  by: [src_ip]
  window: 60s
  distinct: dns.query
  min: 4
"#;

fn name(n: &str) -> Vec<u8> {
    let mut v = Vec::new();
    for l in n.split('.') {
        v.push(l.len() as u8);
        v.extend_from_slice(l.as_bytes());
    }
    v.push(0);
    v
}

/// A query for `q` (type A) and its NXDOMAIN answer, from `client`:`sport`.
fn dns(c: &mut Cap, client: [u8; 4], sport: u16, id: u16, q: &str) {
    let mut m = id.to_be_bytes().to_vec();
    m.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    m.extend(name(q));
    m.extend_from_slice(&[0, 1, 0, 1]);
    c.udp(client, DNS_SERVER, sport, 53, &m);
    let mut r = m.clone();
    r[2] = 0x81;
    r[3] = 0x83;
    c.udp(DNS_SERVER, client, 53, sport, &r);
}

fn capture() -> Vec<u8> {
    let mut c = Cap::new();
    // The same bad name three times (three flows): one detection, two repeats suppressed.
    for i in 0..3u16 {
        dns(&mut c, VICTIM, 41000 + i, 100 + i, "c2.evil.example");
    }
    // Decoys: a name that only ends like it, a name that only contains it.
    dns(&mut c, QUIET, 42000, 200, "notevil.example");
    dns(&mut c, QUIET, 42001, 201, "evil.example.org");
    // Five different names under tunnel.example from one host, each from its own port (so on
    // different workers): one threshold detection.
    for i in 0..5u16 {
        let q = format!("x{i}aGVsbG8.tunnel.example");
        dns(&mut c, TUNNELLER, 43000 + i * 7, 300 + i, &q);
    }
    // Another host with three: below the threshold.
    for i in 0..3u16 {
        let q = format!("y{i}.tunnel.example");
        dns(&mut c, QUIET, 44000 + i * 7, 400 + i, &q);
    }
    c.bytes
}

#[test]
fn detections_through_the_binary() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("test-rules.yml");
    std::fs::write(&rules, RULES).unwrap();
    let rules = rules.to_string_lossy().into_owned();
    let run = run_sensor(
        &capture(),
        &[
            "--no-default-rules",
            "--rules",
            &rules,
            "--workers",
            "4",
            "--set",
            "detect.task_id=\"task-42\"",
        ],
    );
    assert!(run.status.success(), "{}", run.stderr);

    // Every record has a unique id.
    let by_id: HashMap<&str, &serde_json::Value> = run
        .records
        .iter()
        .map(|r| (r["id"].as_str().expect("every record has an id"), r))
        .collect();
    assert_eq!(by_id.len(), run.records.len(), "ids are unique");

    let dets = run.of("detection");
    assert_eq!(dets.len(), 2, "{dets:#?}");
    let evil = dets
        .iter()
        .find(|d| d["detection"]["rule"]["id"] == "test-evil-domain")
        .expect("the evil.example detection");
    let d = &evil["detection"];
    assert_eq!(d["rule"]["name"], "Query for a domain under evil.example");
    assert_eq!(d["rule"]["version"], 3);
    assert_eq!(d["rule"]["priority"], 1);
    assert_eq!(d["rule"]["technology"], "signature");
    assert_eq!(d["rule"]["format"], "native");
    assert_eq!(d["category"], "intel");
    assert_eq!(d["threat_name"], "EvilDomain");
    assert_eq!(d["threat_level"], "high");
    assert_eq!(d["indicator"]["type"], "domain");
    assert_eq!(d["indicator"]["value"], "c2.evil.example");
    assert_eq!(
        d["reasons"][0],
        "A host asked for a name under a known-bad domain"
    );
    assert_eq!(d["mitre"][0], "T1071.004");
    assert_eq!(d["object"]["type"], "domain");
    assert_eq!(d["source"]["client_ip"], "10.1.1.10");
    assert_eq!(d["sensor"]["task_id"], "task-42");
    assert_eq!(evil["src_ip"], "10.1.1.10");
    let related = d["related"].as_array().unwrap();
    assert_eq!(related.len(), 1);
    let rec = by_id[related[0].as_str().unwrap()];
    assert_eq!(rec["event_type"], "dns");
    assert_eq!(rec["dns"]["query"], "c2.evil.example");

    let tun = dets
        .iter()
        .find(|d| d["detection"]["rule"]["id"] == "test-many-subdomains")
        .expect("the tunnel detection");
    let d = &tun["detection"];
    assert_eq!(d["category"], "dns_tunnel");
    assert_eq!(d["indicator"]["type"], "ip");
    assert_eq!(d["indicator"]["value"], "10.1.1.20");
    assert_eq!(tun["src_ip"], "10.1.1.20");
    let related = d["related"].as_array().unwrap();
    assert_eq!(related.len(), 4);
    let mut queries: Vec<&str> = related
        .iter()
        .map(|id| {
            let r = by_id[id.as_str().unwrap()];
            assert_eq!(r["event_type"], "dns");
            assert_eq!(r["src_ip"], "10.1.1.20");
            r["dns"]["query"].as_str().unwrap()
        })
        .collect();
    queries.sort();
    queries.dedup();
    assert_eq!(queries.len(), 4, "four distinct names: {queries:?}");
    assert!(
        d["reasons"].as_array().unwrap().iter().any(|r| r
            .as_str()
            .unwrap()
            .starts_with("4 distinct dns.query from src_ip 10.1.1.20 within 60 s")),
        "{d}"
    );

    // The stop record counts what happened.
    let st = &run.stop()["detect"];
    assert_eq!(st["rules_native"], 2);
    assert_eq!(st["detections"], 2);
    // 3 evil hits (2 suppressed) + 5 + 3 tunnel hits; the fifth tunneller hit comes after the
    // detection: suppressed too.
    assert_eq!(st["hits"], 11);
    assert_eq!(st["suppressed"], 3);
    let algos: Vec<&str> = run.stop()["algorithms"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a["name"].as_str())
        .collect();
    assert!(algos.contains(&"detection_rules"), "{algos:?}");
    assert!(algos.contains(&"detection_correlate"), "{algos:?}");
}

/// `--set detect.enabled=false`: no detection record, no `detect` block.
#[test]
fn detection_off() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("test-rules.yml");
    std::fs::write(&rules, RULES).unwrap();
    let rules = rules.to_string_lossy().into_owned();
    let run = run_sensor(
        &capture(),
        &["--rules", &rules, "--set", "detect.enabled=false"],
    );
    assert!(run.status.success(), "{}", run.stderr);
    assert!(run.of("detection").is_empty());
    assert!(run.stop().get("detect").is_none());
}

/// `tapir rules check`: lists the rules; a broken file is named with its line, exit status 1.
#[test]
fn rules_check() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.yml");
    std::fs::write(&good, RULES).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tapir"))
        .args(["rules", "check"])
        .arg(&good)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("rule test-evil-domain  [native]"), "{text}");
    assert!(text.contains("dns.query"), "{text}");
    assert!(text.contains("2 rules loaded"), "{text}");

    let bad = dir.path().join("bad.yml");
    std::fs::write(
        &bad,
        "id: broken\nname: Broken\nevent_type: dns\ndetection:\n  sel:\n    dns.query|nosuchmodifier: x\n  condition: sel\n",
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tapir"))
        .args(["rules", "check"])
        .arg(&bad)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("rejected"), "{text}");
    assert!(text.contains("bad.yml:"), "{text}");
}
