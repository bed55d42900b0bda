//! Replays every public LDAP capture and checks each search tshark shows is reported with the
//! same message id, base object, scope, filter, attributes, result code and entry count.
//! Expected values (from the oracle's tshark dissection) live in tests/expected/ldap/.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::PathBuf;

use serde_json::Value;
use tapir::config::Config;

fn expected_files() -> Vec<PathBuf> {
    let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/expected/ldap"));
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("tests/expected/ldap")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    v.sort();
    v
}

/// The comparable part of a search, as the oracle gives it and as our record gives it.
fn key(v: &Value) -> String {
    serde_json::json!([
        v["message_id"],
        v["base_object"],
        v["scope"],
        v["filter"],
        v["attributes"],
        v["result_code"],
        v["entries"],
    ])
    .to_string()
}

#[test]
#[cfg_attr(
    not(tapir_corpus),
    ignore = "public corpus absent: set TAPIR_CORPUS or provide ../shared/pcaps/public"
)]
fn every_public_ldap_search_is_reported() {
    let root = common::corpus();
    let mut total = 0;
    for exp_path in expected_files() {
        let exp: Value =
            serde_json::from_str(&std::fs::read_to_string(&exp_path).unwrap()).unwrap();
        let file = exp["file"].as_str().unwrap();
        let pcap = root.join("ldap").join(file);
        assert!(pcap.is_file(), "{} missing", pcap.display());
        let (_summary, lines) = common::replay_files(&[pcap], &Config::default(), 1);
        let recs = common::parse(&lines);
        let mut ours: Vec<String> = recs
            .iter()
            .filter(|r| r["event_type"] == "ldap" && r["ldap"]["operation"] == "search")
            .map(|r| key(&r["ldap"]))
            .collect();
        let mut want: Vec<String> = exp["searches"]
            .as_array()
            .unwrap()
            .iter()
            .map(key)
            .collect();
        ours.sort();
        want.sort();
        assert_eq!(ours, want, "{file}");
        total += want.len();
    }
    assert!(total >= 33, "only {total} searches checked");
}

#[test]
#[cfg_attr(
    not(tapir_corpus),
    ignore = "public corpus absent: set TAPIR_CORPUS or provide ../shared/pcaps/public"
)]
fn binds_are_reported_without_passwords() {
    let root = common::corpus();
    let pcap = root.join("ldap/zeek_ldap-simpleauth-diff-port.pcap");
    let (_summary, lines) = common::replay_files(&[pcap], &Config::default(), 1);
    let recs = common::parse(&lines);
    let binds: Vec<&Value> = recs
        .iter()
        .filter(|r| r["event_type"] == "ldap" && r["ldap"]["operation"] == "bind")
        .collect();
    assert_eq!(binds.len(), 2, "{lines:#?}");
    for b in &binds {
        assert_eq!(b["ldap"]["auth"], "simple");
        assert!(b["ldap"]["result_code"].is_u64());
    }
    assert!(!lines.iter().any(|l| l.contains("password")), "{lines:#?}");
}
