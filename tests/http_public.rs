#![allow(clippy::expect_used, clippy::unwrap_used)]
//! Replays every capture of ../shared/pcaps/public/http (and the HTTP captures of encap/) and
//! checks that every HTTP transaction tshark dissects (tests/expected/http/*.json, made by
//! tests/expected/http/make.py from the oracle) is reported in an `http` record with the same
//! method, host, URI, user agent and status, and that a complete response body is reported as
//! a `file` record (listed in `http.file_ids`) whose sha256 is tshark's decoded body sha256.

mod common;

use common::{parse, replay_files};
use serde_json::Value;
use tapir::config::Config;

/// Whether record `r` reports the request side of transaction `e`.
fn request_matches(e: &Value, r: &Value) -> bool {
    let h = &r["http"];
    // tshark leaves out empty fields; the record may hold "" there.
    let same = |k: &str, rk: &str| {
        e[k] == h[rk] || (e[k].is_null() && h[rk].as_str().is_some_and(str::is_empty))
    };
    same("method", "method")
        && same("uri", "uri")
        && same("host", "host")
        && same("user_agent", "user_agent")
        && h["status"] == e["status"]
}

fn body_matches(e: &Value, r: &Value, files: &[Value]) -> bool {
    let Some(sha) = e["sha256"].as_str() else {
        return true;
    };
    r["http"]["response_body_len"] == e["entity_len"]
        && r["http"]["file_ids"].as_array().is_some_and(|ids| {
            ids.iter().any(|id| {
                files
                    .iter()
                    .any(|f| f["file"]["id"] == *id && f["file"]["sha256"] == sha)
            })
        })
}

#[test]
#[cfg_attr(
    not(tapir_corpus),
    ignore = "public corpus absent: set TAPIR_CORPUS or provide ../shared/pcaps/public"
)]
fn every_http_transaction_is_reported() {
    let root = common::corpus();
    let dir = format!("{}/tests/expected/http", env!("CARGO_MANIFEST_DIR"));
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .expect("expected dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    names.sort();
    assert!(!names.is_empty());
    let (mut total, mut matched, mut bodies, mut bodies_ok) = (0, 0, 0, 0);
    let mut misses = Vec::new();
    for exp_path in names {
        let exp: Value =
            serde_json::from_str(&std::fs::read_to_string(&exp_path).expect("read")).expect("json");
        let capture = exp["capture"].as_str().expect("capture");
        let path = root.join(capture);
        assert!(path.is_file(), "{capture} missing");
        let (_, lines) = replay_files(std::slice::from_ref(&path), &Config::default(), 1);
        let recs = parse(&lines);
        let http: Vec<&Value> = recs.iter().filter(|r| r["event_type"] == "http").collect();
        let files: Vec<Value> = recs
            .iter()
            .filter(|r| r["event_type"] == "file")
            .cloned()
            .collect();
        let mut ids: Vec<&str> = files
            .iter()
            .filter_map(|f| f["file"]["id"].as_str())
            .collect();
        let n_ids = ids.len();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), n_ids, "{capture}: file ids are not unique");
        for r in &http {
            for id in r["http"]["file_ids"].as_array().expect("file_ids") {
                assert!(
                    ids.contains(&id.as_str().expect("id")),
                    "{capture}: {id} has no file record"
                );
            }
        }
        let mut used = vec![false; http.len()];
        let txs = exp["transactions"].as_array().expect("transactions");
        // Full transactions first, then responses tshark could not pair.
        for pass in [false, true] {
            let this_pass = |e: &&Value| e["response_only"].as_bool().unwrap_or(false) == pass;
            for e in txs.iter().filter(this_pass) {
                total += 1;
                let candidate = |i: usize, r: &&Value| {
                    !used[i]
                        && if pass {
                            r["http"]["status"] == e["status"]
                        } else {
                            request_matches(e, r)
                        }
                };
                // Prefer the candidate whose body matches too (same request twice).
                let found = http
                    .iter()
                    .enumerate()
                    .position(|(i, r)| candidate(i, r) && body_matches(e, r, &files))
                    .or_else(|| http.iter().enumerate().position(|(i, r)| candidate(i, r)));
                match found {
                    Some(i) => {
                        used[i] = true;
                        matched += 1;
                        if e["sha256"].is_string() {
                            bodies += 1;
                            if body_matches(e, http[i], &files) {
                                bodies_ok += 1;
                            } else {
                                misses.push(format!("{capture}: body of {e} in {}", http[i]));
                            }
                        }
                    }
                    None => misses.push(format!("{capture}: {e}")),
                }
            }
        }
    }
    eprintln!("http: {matched}/{total} transactions, {bodies_ok}/{bodies} body sha256");
    for m in &misses {
        eprintln!("MISS {m}");
    }
    assert!(misses.is_empty(), "{} misses", misses.len());
}
