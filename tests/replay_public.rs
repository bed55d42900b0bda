#![allow(clippy::expect_used, clippy::unwrap_used)]
//! Replays every public capture and compares the flow records with what tshark's conversation
//! statistics report (checked in under tests/expected/, see tests/expected/README.md).

mod common;

use std::collections::BTreeMap;

use common::{parse, replay_files, replay_files_all};
use tapir::config::Config;

/// (proto, endpoint A, endpoint B) with the endpoints in sorted order.
type ConvKey = (String, (String, u16), (String, u16));

fn conv_key(proto: &str, a: (String, u16), b: (String, u16)) -> (ConvKey, bool) {
    if a <= b {
        ((proto.to_lowercase(), a, b), false)
    } else {
        ((proto.to_lowercase(), b, a), true)
    }
}

/// tshark's conversations of one capture: key → (frames lo→hi, frames hi→lo).
fn expected(file: &str) -> BTreeMap<ConvKey, (u64, u64)> {
    let name = file.replace('/', "__");
    let path = format!(
        "{}/tests/expected/conversations/{name}.tsv",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut m = BTreeMap::new();
    for line in text.lines().skip(1) {
        let c: Vec<&str> = line.split('\t').collect();
        assert_eq!(c.len(), 9, "{path}: {line}");
        let port = |s: &str| s.parse::<u16>().expect("port");
        let n = |s: &str| s.parse::<u64>().expect("count");
        let (k, flipped) = conv_key(
            c[0],
            (c[1].to_string(), port(c[2])),
            (c[3].to_string(), port(c[4])),
        );
        let (ab, ba) = (n(c[5]), n(c[7]));
        let e = m.entry(k).or_insert((0, 0));
        if flipped {
            e.0 += ba;
            e.1 += ab;
        } else {
            e.0 += ab;
            e.1 += ba;
        }
    }
    m
}

/// Our TCP/UDP flows of the same capture, summed per conversation key the same way.
fn ours(records: &[serde_json::Value]) -> BTreeMap<ConvKey, (u64, u64)> {
    let mut m = BTreeMap::new();
    for r in records.iter().filter(|r| r["event_type"] == "flow") {
        let proto = r["proto"].as_str().unwrap_or("");
        if proto != "TCP" && proto != "UDP" {
            continue;
        }
        let ep = |ip: &str, port: &str| {
            (
                r[ip].as_str().unwrap_or("").to_string(),
                r[port].as_u64().unwrap_or(0) as u16,
            )
        };
        let (k, flipped) = conv_key(proto, ep("src_ip", "src_port"), ep("dest_ip", "dest_port"));
        let ts = r["flow"]["pkts_toserver"].as_u64().unwrap_or(0);
        let tc = r["flow"]["pkts_toclient"].as_u64().unwrap_or(0);
        let e = m.entry(k).or_insert((0, 0));
        if flipped {
            e.0 += tc;
            e.1 += ts;
        } else {
            e.0 += ts;
            e.1 += tc;
        }
    }
    m
}

fn corpus_files() -> Vec<String> {
    let path = format!(
        "{}/tests/expected/conversations.tsv",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(path).expect("conversations.tsv");
    text.lines()
        .skip(1)
        .filter_map(|l| l.split('\t').next().map(str::to_string))
        .collect()
}

fn test_config() -> Config {
    let mut cfg = Config::default();
    // tshark keys conversations by addresses and ports only.
    cfg.flow.vlan_in_key = false;
    cfg
}

#[test]
#[cfg_attr(
    not(tapir_corpus),
    ignore = "public corpus absent: set TAPIR_CORPUS or provide ../shared/pcaps/public"
)]
fn flows_match_tshark_conversations_on_every_public_capture() {
    let root = common::corpus();
    let cfg = test_config();
    let mut failures = Vec::new();
    for file in corpus_files() {
        let (summary, lines) = replay_files(&[root.join(&file)], &cfg, 1);
        assert!(summary.capture.packets > 0, "{file}: no packets read");
        let got = ours(&parse(&lines));
        let want = expected(&file);
        if got != want {
            let missing: Vec<_> = want
                .iter()
                .filter(|(k, v)| got.get(*k) != Some(v))
                .collect();
            let extra: Vec<_> = got
                .iter()
                .filter(|(k, v)| want.get(*k) != Some(v))
                .collect();
            failures.push(format!(
                "{file}: {} conversations expected, {} found\n  expected but not found (or other counts): {:?}\n  found but not expected (or other counts): {:?}",
                want.len(),
                got.len(),
                missing.iter().take(5).collect::<Vec<_>>(),
                extra.iter().take(5).collect::<Vec<_>>()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} captures differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Records sorted, without the fields that depend on the order in which workers produce
/// records: `http.target_ips` and `kerberos.kdc_name` (DNS answers learnt by another worker;
/// see `enrich::dns_cache`), and the record `id` (the run's id and the position in the
/// output).
fn order_free(lines: Vec<String>) -> Vec<String> {
    let mut v: Vec<String> = lines
        .into_iter()
        .map(|l| {
            let mut r: serde_json::Value = serde_json::from_str(&l).expect("json");
            if let Some(o) = r.as_object_mut() {
                o.remove("id");
            }
            if let Some(h) = r.get_mut("http").and_then(|h| h.as_object_mut()) {
                h.remove("target_ips");
            }
            if let Some(k) = r.get_mut("kerberos").and_then(|k| k.as_object_mut()) {
                k.remove("kdc_name");
            }
            r.to_string()
        })
        .collect();
    v.sort();
    v
}

#[test]
#[cfg_attr(
    not(tapir_corpus),
    ignore = "public corpus absent: set TAPIR_CORPUS or provide ../shared/pcaps/public"
)]
fn one_worker_and_several_give_the_same_records() {
    let root = common::corpus();
    let cfg = test_config();
    for file in corpus_files() {
        let path = root.join(&file);
        let (_, one) = replay_files(std::slice::from_ref(&path), &cfg, 1);
        let (_, four) = replay_files(std::slice::from_ref(&path), &cfg, 4);
        let (one, four) = (order_free(one), order_free(four));
        assert_eq!(one, four, "{file}: 1 worker and 4 workers differ");
    }
}

#[test]
#[cfg_attr(
    not(tapir_corpus),
    ignore = "public corpus absent: set TAPIR_CORPUS or provide ../shared/pcaps/public"
)]
fn all_captures_in_one_replay_without_errors() {
    let root = common::corpus();
    let files: Vec<_> = corpus_files().iter().map(|f| root.join(f)).collect();
    let (summary, lines) = replay_files_all(&files, &test_config(), 3);
    assert!(
        summary.capture_errors.is_empty(),
        "{:?}",
        summary.capture_errors
    );
    assert_eq!(summary.output.records as usize, lines.len());
    // The last record is the stop status, and it counts every record, itself included.
    let last: serde_json::Value = serde_json::from_str(lines.last().unwrap()).unwrap();
    assert_eq!(last["sensor_status"]["kind"], "stop");
    assert_eq!(
        last["sensor_status"]["records"]["written"],
        lines.len() as u64
    );
    assert_eq!(
        last["sensor_status"]["capture"]["packets"],
        summary.capture.packets
    );
    // Every packet of every capture is read (MANIFEST.tsv's `packets` column, capinfos).
    let manifest = std::fs::read_to_string(root.join("MANIFEST.tsv")).expect("MANIFEST.tsv");
    let mut lines_m = manifest.lines();
    let header: Vec<&str> = lines_m.next().unwrap_or("").split('\t').collect();
    let col = header
        .iter()
        .position(|h| *h == "packets")
        .expect("packets column");
    let want: u64 = lines_m
        .filter_map(|l| l.split('\t').nth(col))
        .filter_map(|n| n.parse::<u64>().ok())
        .sum();
    assert_eq!(summary.capture.packets, want);
    for r in parse(&lines) {
        assert!(r["event_type"].is_string(), "{r}");
        assert!(r["timestamp"].as_str().unwrap_or("").ends_with('Z'));
        if r["event_type"] == "sensor_status" {
            continue;
        }
        // Flow records, and the application records of the parsers (ldap, ...): all carry
        // the flow block.
        assert!(
            r["community_id"].as_str().unwrap_or("").starts_with("1:"),
            "{r}"
        );
        assert!(r["timestamp"].as_str().unwrap_or("").ends_with('Z'));
    }
}
