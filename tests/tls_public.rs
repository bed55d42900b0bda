#![allow(clippy::expect_used, clippy::unwrap_used)]
//! Replays the public TLS captures (and the TLS hellos of http/ndpi_emotet.pcap) and checks
//! that every ClientHello tshark shows is reported with the same SNI, ALPN, JA3 and JA3
//! string, and every ServerHello with the same JA3S (tests/expected/tls/, from the oracle).

mod common;

use common::{parse, replay_files};
use serde_json::Value;
use tapir::config::Config;

fn expected_files() -> Vec<(String, Value)> {
    let dir = format!("{}/tests/expected/tls", env!("CARGO_MANIFEST_DIR"));
    let mut out = Vec::new();
    for e in std::fs::read_dir(&dir).expect("expected dir") {
        let p = e.expect("entry").path();
        if p.extension().and_then(|x| x.to_str()) != Some("json") {
            continue;
        }
        let v: Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
        out.push((v["file"].as_str().unwrap().to_string(), v));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn same_flow(r: &Value, h: &Value) -> bool {
    let (a, b) = (r["src_port"].as_u64(), r["dest_port"].as_u64());
    let (s, d) = (h["sport"].as_u64(), h["dport"].as_u64());
    (a == s && b == d) || (a == d && b == s)
}

#[test]
#[cfg_attr(
    not(tapir_corpus),
    ignore = "public corpus absent: set TAPIR_CORPUS or provide ../shared/pcaps/public"
)]
fn tls_hellos_match_tshark() {
    let root = common::corpus();
    let (mut ch_ok, mut ch_all, mut sh_ok, mut sh_all) = (0, 0, 0, 0);
    let mut failures = Vec::new();
    for (file, exp) in expected_files() {
        let path = root.join(&file);
        if !path.is_file() {
            eprintln!("skipped: {file} not present");
            continue;
        }
        let (_, lines) = replay_files(&[path], &Config::default(), 1);
        let recs = parse(&lines);
        let tls: Vec<&Value> = recs.iter().filter(|r| r["event_type"] == "tls").collect();
        for h in exp["hellos"].as_array().unwrap() {
            let flow: Vec<&Value> = tls.iter().copied().filter(|r| same_flow(r, h)).collect();
            if h["kind"] == "client_hello" {
                ch_all += 1;
                let alpn = h["alpn"].clone();
                let found = flow.iter().any(|r| {
                    let t = &r["tls"];
                    t["sni"] == h["sni"]
                        && t["alpn"] == alpn
                        && t["ja3"] == h["ja3"]
                        && t["ja3_string"] == h["ja3_string"]
                        && t["ech"] == h["ech"]
                });
                if found {
                    ch_ok += 1;
                } else {
                    failures.push(format!(
                        "{file} frame {}: ClientHello {h} vs {flow:?}",
                        h["frame"]
                    ));
                }
            } else {
                sh_all += 1;
                let found = flow.iter().any(|r| {
                    r["tls"]["ja3s"] == h["ja3s"] && r["tls"]["ja3s_string"] == h["ja3s_string"]
                });
                if found {
                    sh_ok += 1;
                } else {
                    failures.push(format!(
                        "{file} frame {}: ServerHello {h} vs {flow:?}",
                        h["frame"]
                    ));
                }
            }
        }
    }
    eprintln!("ClientHellos {ch_ok}/{ch_all}, ServerHellos {sh_ok}/{sh_all}");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
