#![allow(clippy::expect_used, clippy::unwrap_used)]
//! Replays every capture of ../shared/pcaps/public/dns (and the DNS in encap/) and checks that
//! every DNS message tshark dissects (tests/expected/dns/<file>.json, made by make.py from the
//! oracle) is reported in a `dns` record: queries by id, name and type; responses also by
//! rcode and answers (name, type, data where the oracle normalises it).

mod common;

use common::{claim, parse, records_of, replay_files};
use serde_json::Value;
use tapir::config::Config;
use tapir::proto::dns::record::type_name;
use tapir::proto::{dns, Direction, ParseCtx, Transport};

/// Whether record `r` reports the message `e`.
type Matcher = fn(&Value, &Value) -> bool;

fn answers_match(e: &Value, k: &Value) -> bool {
    let exp = e["answers"].as_array().unwrap();
    let got = k["answers"].as_array().unwrap();
    exp.len() == got.len()
        && exp.iter().zip(got).all(|(x, g)| {
            let t = type_name(u16::try_from(x[1].as_u64().unwrap()).unwrap());
            g["name"] == x[0] && g["type"] == t.as_str() && (x[2].is_null() || g["data"] == x[2])
        })
}

fn query_matches(e: &Value, r: &Value) -> bool {
    let k = &r["dns"];
    // A record holds a query when it is unanswered or has a round-trip time.
    let has_query = k["rcode"].is_null() || k["rtt_ms"].is_number();
    has_query
        && k["id"] == e["id"]
        && k["query"] == e["name"]
        && k["qtype_code"] == e["qtype"]
        && k["transport"] == e["transport"]
}

fn response_matches(e: &Value, r: &Value) -> bool {
    let k = &r["dns"];
    k["id"] == e["id"]
        && k["query"] == e["name"]
        && k["qtype_code"] == e["qtype"]
        && k["transport"] == e["transport"]
        && k["rcode_code"] == e["rcode"]
        && answers_match(e, k)
}

#[test]
#[cfg_attr(
    not(tapir_corpus),
    ignore = "public corpus absent: set TAPIR_CORPUS or provide ../shared/pcaps/public"
)]
fn every_dns_message_is_reported() {
    let root = common::corpus();
    let exp_dir = format!("{}/tests/expected/dns", env!("CARGO_MANIFEST_DIR"));
    let mut names: Vec<String> = std::fs::read_dir(&exp_dir)
        .expect("expected dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().to_string())
        .filter(|n| n.ends_with(".json"))
        .collect();
    names.sort();
    assert!(!names.is_empty());
    let (mut queries, mut responses, mut transactions) = (0usize, 0usize, 0usize);
    for name in names {
        let pcap = name.trim_end_matches(".json");
        let path = ["dns", "encap"]
            .iter()
            .map(|d| root.join(d).join(pcap))
            .find(|p| p.is_file())
            .unwrap_or_else(|| panic!("{pcap} not in dns/ nor encap/"));
        let text = std::fs::read_to_string(format!("{exp_dir}/{name}")).unwrap();
        let expected: Vec<Value> = serde_json::from_str(&text).expect("expected json");
        let (summary, records) = records_of(&path, "dns");
        let mut used_q = vec![false; records.len()];
        let mut used_r = vec![false; records.len()];
        for e in &expected {
            if e.get("malformed").is_some() {
                // tcpdump_dns_fwdptr: tshark lists 10518 bogus queries; we refuse the message.
                eprintln!("{name}: malformed message skipped; summary: {summary:?}");
                continue;
            }
            let is_resp = e["qr"] == 1;
            let (used, f): (&mut Vec<bool>, Matcher) = if is_resp {
                (&mut used_r, response_matches)
            } else {
                (&mut used_q, query_matches)
            };
            if claim(&records, used, |r| f(e, r)).is_none() {
                panic!("{name}: message not reported: {e}\nrecords: {records:#?}");
            }
            if is_resp {
                responses += 1;
            } else {
                queries += 1;
            }
        }
        for (i, r) in records.iter().enumerate() {
            assert!(used_q[i] || used_r[i], "{name}: extra record {r}");
            if used_q[i] && used_r[i] {
                transactions += 1;
                assert!(r["dns"]["rtt_ms"].is_number(), "{r}");
            }
            if used_q[i] && !used_r[i] {
                assert!(r["dns"]["rcode"].is_null(), "{r}");
            }
        }
        eprintln!(
            "{name}: {} messages, {} records",
            expected.len(),
            records.len()
        );
    }
    eprintln!("{queries} queries, {responses} responses matched; {transactions} paired");
}

/// tcpdump_dns_fwdptr.pcap: a 63 KB fuzzed response with forward pointers and 64259
/// questions. The pipeline does not open a parser for it (the DNS probe refuses it); fed to
/// the parser directly it is refused quickly, with an anomaly, without a record.
#[test]
#[cfg_attr(
    not(tapir_corpus),
    ignore = "public corpus absent: set TAPIR_CORPUS or provide ../shared/pcaps/public"
)]
fn malformed_fuzz_frame_is_refused_and_counted() {
    let root = common::corpus();
    let path = root.join("dns/tcpdump_dns_fwdptr.pcap");
    let (_, lines) = replay_files(std::slice::from_ref(&path), &Config::default(), 1);
    assert!(parse(&lines).iter().all(|r| r["event_type"] != "dns"));
    let pkts = testkit::corpus::read_packets(&path);
    let (_, link, frame) = &pkts[0];
    assert_eq!(*link, 1, "Ethernet");
    let ihl = usize::from(frame[14] & 0x0f) * 4;
    let payload = &frame[14 + ihl + 8..];
    let (mut out, mut an) = (Vec::new(), Vec::new());
    let mut ctx = ParseCtx {
        ts_ns: 0,
        transport: Transport::Udp,
        out: &mut out,
        anomalies: &mut an,
    };
    let start = std::time::Instant::now();
    let mut p = dns::new_parser(Transport::Udp);
    p.on_data(Direction::ToClient, payload, &mut ctx);
    p.on_close(&mut ctx);
    assert!(start.elapsed().as_secs() < 5);
    assert!(out.is_empty());
    assert!(
        !an.is_empty() && an.iter().all(|a| a.starts_with("dns.")),
        "{an:?}"
    );
    eprintln!("fwdptr anomalies: {an:?}");
}
