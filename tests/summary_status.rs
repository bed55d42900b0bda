//! Every counter of the end-of-run summary reaches the final `sensor_status` record, with the
//! same value: the `tapir` binary writes the summary as JSON (`--summary-json`, its counters
//! named as in the status records) and the records; this walks both documents and compares
//! every numeric leaf, on public captures (where the corpus is present) and generated ones.
//! A summary counter missing from the stop record fails too (a counter that never reaches the
//! status records), except the run's own figures (`run`: time, throughput, peak memory) and
//! what passive learning kept (`learned`, written whole by `--learned-out`).
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// Numeric leaves of `v` by path ("tcp.gaps", "limits.flow.max_flows.hits"); an array of
/// objects with a `name` is read as an object keyed by the names.
fn leaves(v: &Value, path: &str, out: &mut BTreeMap<String, f64>) {
    let join = |k: &str| {
        if path.is_empty() {
            k.to_string()
        } else {
            format!("{path}.{k}")
        }
    };
    match v {
        Value::Number(n) => {
            out.insert(path.to_string(), n.as_f64().unwrap());
        }
        Value::Object(m) => {
            for (k, x) in m {
                leaves(x, &join(k), out);
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                match x.get("name").and_then(Value::as_str) {
                    Some(name) => leaves(x, &join(name), out),
                    None => leaves(x, &join(&i.to_string()), out),
                }
            }
        }
        _ => {}
    }
}

/// Replays `inputs` through the binary (two workers) with `extra` options; returns the
/// summary JSON and the stop status record.
fn run(inputs: &[PathBuf], extra: &[&str]) -> (Value, Value) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("records.ndjson");
    let summary = dir.path().join("summary.json");
    let res = Command::new(env!("CARGO_BIN_EXE_tapir"))
        .args(["replay", "--no-progress", "-q", "-w", "2", "-o"])
        .arg(&out)
        .arg("--summary-json")
        .arg(&summary)
        .args(extra)
        .args(inputs)
        .output()
        .unwrap();
    assert!(
        res.status.success(),
        "{}",
        String::from_utf8_lossy(&res.stderr)
    );
    let summary: Value = serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap();
    let text = std::fs::read_to_string(&out).unwrap();
    let last: Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(last["sensor_status"]["kind"], "stop", "{last}");
    (summary, last["sensor_status"].clone())
}

/// Compares the two documents; returns how many counters were compared.
fn agree(what: &str, summary: &Value, stop: &Value) -> usize {
    let mut s = BTreeMap::new();
    leaves(summary, "", &mut s);
    let mut t = BTreeMap::new();
    leaves(stop, "", &mut t);
    let mut compared = 0;
    let mut problems = Vec::new();
    for (k, v) in &s {
        if k.starts_with("run.") || k.starts_with("learned.") {
            continue;
        }
        match t.get(k) {
            Some(x) if x == v => compared += 1,
            Some(x) => problems.push(format!("{k}: summary {v}, stop record {x}")),
            None => problems.push(format!("{k}: summary {v}, not in the stop record")),
        }
    }
    assert!(problems.is_empty(), "{what}:\n{}", problems.join("\n"));
    // The blocks both have are whole on the status side too: a status counter of these
    // blocks that the summary lacks is named.
    let blocks = [
        "capture.",
        "decode.",
        "tcp.",
        "records.",
        "anomalies.",
        "limits.",
        "extract.",
    ];
    let missing: Vec<&String> = t
        .keys()
        .filter(|k| blocks.iter().any(|b| k.starts_with(b)) && !s.contains_key(*k))
        .collect();
    assert!(
        missing.is_empty(),
        "{what}: in the stop record only: {missing:?}"
    );
    compared
}

fn check(what: &str, inputs: &[PathBuf], extra: &[&str]) -> (Value, Value) {
    let (summary, stop) = run(inputs, extra);
    let n = agree(what, &summary, &stop);
    eprintln!("{what}: {n} counters agree");
    // Not a vacuous comparison: the capture, decode, flow, TCP, record and limit counters.
    assert!(n >= 35, "{what}: only {n} counters compared");
    (summary, stop)
}

fn generated(dir: &Path, flows: u64) -> PathBuf {
    use testkit::pcapgen::{generate, GenConfig, Profile};
    let p = dir.join(format!("gen-{flows}.pcap"));
    let mut w = std::io::BufWriter::new(std::fs::File::create(&p).unwrap());
    generate(&GenConfig::new(Profile::Demo, 7, flows), &mut w).unwrap();
    drop(w);
    p
}

/// A generated capture, once as it is and once with limits reached (a small flow table, a
/// shallow reassembly depth, file extraction with a tiny size cap): the limit hits, anomalies
/// and extraction counters agree too.
#[test]
fn summary_and_stop_record_agree_on_a_generated_capture() {
    let dir = tempfile::tempdir().unwrap();
    let cap = generated(dir.path(), 300);
    check("generated", std::slice::from_ref(&cap), &[]);
    let files = dir.path().join("files");
    let extract = format!("files.extract_dir={}", files.display());
    let (summary, stop) = check(
        "generated, limits reached",
        &[cap],
        &[
            "--max-flows",
            "20",
            "--set",
            "reassembly.depth=2000",
            "--set",
            &extract,
            "--set",
            "files.extract_max_size=1000",
        ],
    );
    let hits = |name: &str| {
        summary["limits"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["name"] == name)
            .unwrap()["hits"]
            .as_u64()
            .unwrap()
    };
    assert!(hits("flow.max_flows") > 0, "{summary}");
    assert!(hits("reassembly.depth") > 0, "{summary}");
    assert!(stop["extract"].is_object(), "{stop}");
}

#[test]
#[cfg_attr(
    not(tapir_corpus),
    ignore = "public corpus absent: set TAPIR_CORPUS or provide ../shared/pcaps/public"
)]
fn summary_and_stop_record_agree_on_public_captures() {
    let root = common::corpus();
    for set in [
        vec![
            root.join("http/ndpi_exe_download.pcap"),
            root.join("http/zeek_http-pipelined-requests.pcap"),
        ],
        vec![
            root.join("smtp/zeek_smtp.pcap"),
            root.join("dns/ndpi_bad-dns-traffic.pcap"),
            root.join("dns/zeek_ipv6-fragmented-dns.pcap"),
        ],
        vec![
            root.join("encap/zeek_gre-sample.pcap"),
            root.join("encap/zeek_vxlan-encapsulated-http.pcap"),
            root.join("krb/ndpi_kerberos.pcap"),
        ],
    ] {
        let what = set
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(" + ");
        check(&what, &set, &[]);
    }
}
