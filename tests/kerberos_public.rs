#![allow(clippy::expect_used, clippy::unwrap_used)]
//! Replays every capture of ../shared/pcaps/public/krb and checks that every Kerberos PDU tshark
//! dissects (tests/expected/kerberos/<file>.json, copied from the oracle) is reported in a
//! `kerberos` record with the same values.

mod common;

use common::{claim, records_of};
use serde_json::Value;

/// Whether a record reports a PDU.
type Matcher = fn(&Value, &Value) -> bool;

fn s(v: &Value) -> Option<String> {
    v.as_str().map(str::to_string)
}

/// Whether record `r` reports the PDU `e` (as its request, its answer or a lone message).
fn request_matches(e: &Value, r: &Value) -> bool {
    let k = &r["kerberos"];
    let opts = e["kdc_options"].as_str().map(|o| format!("0x{o}"));
    k["msg_type"] == e["t"]
        && k["nonce"] == e["nonce"]
        && k["till"] == e["till"]
        && k["rtime"] == e["rtime"]
        && k["realm"] == e["realm"]
        && k["sname"] == e["sname"]
        && k["etypes"] == e["etypes"]
        && k["padata_types"] == e["padata_types"]
        && s(&k["kdc_options"]) == opts
        && (e["cname"].is_null() || k["cname"] == e["cname"])
        && k["transport"] == e["transport"]
}

fn reply_matches(e: &Value, r: &Value) -> bool {
    let k = &r["kerberos"];
    (k["reply_msg_type"] == e["t"] || (k["reply_msg_type"].is_null() && k["msg_type"] == e["t"]))
        && k["crealm"] == e["crealm"]
        && k["ticket_etype"] == e["ticket_etype"]
        && k["enc_part_etype"] == e["enc_part_etype"]
        && (k["msg_type"] == "AS_REQ" || k["cname"] == e["cname"])
        && k["transport"] == e["transport"]
}

fn error_matches(e: &Value, r: &Value) -> bool {
    let k = &r["kerberos"];
    let lone = k["reply_msg_type"].is_null() && k["msg_type"] == "KRB_ERROR";
    (k["reply_msg_type"] == "KRB_ERROR" || lone)
        && k["error_code"] == e["error_code"]
        && k["error_name"] == e["error_name"]
        && (!lone || (k["realm"] == e["realm"] && k["sname"] == e["sname"]))
        && k["transport"] == e["transport"]
}

#[test]
#[cfg_attr(
    not(tapir_corpus),
    ignore = "public corpus absent: set TAPIR_CORPUS or provide ../shared/pcaps/public"
)]
fn every_kerberos_pdu_is_reported() {
    let root = common::corpus();
    let dir = root.join("krb");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("krb dir")
        .map(|e| e.expect("entry").path())
        .collect();
    files.sort();
    assert!(!files.is_empty());
    let mut total = 0usize;
    for path in files {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let exp_path = format!(
            "{}/tests/expected/kerberos/{name}.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let text = std::fs::read_to_string(&exp_path).unwrap_or_else(|e| panic!("{exp_path}: {e}"));
        let expected: Vec<Value> = serde_json::from_str(&text).expect("expected json");
        let (_, records) = records_of(&path, "kerberos");
        // Each record holds at most one request and one answer.
        let mut used_req = vec![false; records.len()];
        let mut used_rep = vec![false; records.len()];
        for e in &expected {
            if e.get("missed").is_some() {
                eprintln!("{name}: known miss: {e}");
                continue;
            }
            let t = e["t"].as_str().unwrap();
            let (used, f): (&mut Vec<bool>, Matcher) = match t {
                "AS_REQ" | "TGS_REQ" => (&mut used_req, request_matches),
                "AS_REP" | "TGS_REP" => (&mut used_rep, reply_matches),
                _ => (&mut used_rep, error_matches),
            };
            if claim(&records, used, |r| f(e, r)).is_none() {
                panic!("{name}: PDU not reported: {e}\nrecords: {records:#?}");
            }
            total += 1;
        }
        // No record without a PDU behind it.
        for (i, r) in records.iter().enumerate() {
            assert!(used_req[i] || used_rep[i], "{name}: extra record {r}");
        }
        let reqs = expected
            .iter()
            .filter(|e| e.get("missed").is_none())
            .filter(|e| matches!(e["t"].as_str(), Some("AS_REQ" | "TGS_REQ")))
            .count();
        assert_eq!(used_req.iter().filter(|u| **u).count(), reqs, "{name}");
        eprintln!("{name}: {} PDUs, {} records", expected.len(), records.len());
    }
    eprintln!("{total} Kerberos PDUs matched");
}
