//! The `tapir` binary end to end: the bundled demo capture, stdin and gzip input, damaged
//! captures, and output failures.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn tapir() -> Command {
    Command::new(env!("CARGO_BIN_EXE_tapir"))
}

fn demo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("pcaps/demo.pcap")
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("run tapir")
}

/// The protocol records of a run (status records left out: they carry times and memory).
fn records(out: &Output) -> Vec<serde_json::Value> {
    all_records(out)
        .into_iter()
        .filter(|r| r["event_type"] != "sensor_status")
        .collect()
}

fn all_records(out: &Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect()
}

/// (TCP flows, UDP flows) of a record set (protocol records carry the flow block too).
fn tcp_udp(recs: &[serde_json::Value]) -> (usize, usize) {
    let n = |p: &str| {
        recs.iter()
            .filter(|r| r["proto"] == p && r["event_type"] == "flow")
            .count()
    };
    (n("TCP"), n("UDP"))
}

#[test]
fn demo_replay_prints_records_and_summary() {
    let out = run(tapir().args(["replay", "--workers", "2"]).arg(demo()));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let recs = records(&out);
    // tshark: 18 TCP and 19 UDP conversations (tests/expected/demo_conversations.tsv).
    assert_eq!(tcp_udp(&recs), (18, 19));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("tapir summary"), "{stderr}");
    assert!(stderr.contains("Gbit/s"), "{stderr}");
    // Content-based detection finds the protocols the generator wrote.
    let protos: Vec<&str> = recs
        .iter()
        .filter_map(|r| r["flow"]["app_proto"].as_str())
        .collect();
    for p in ["http", "tls", "dns"] {
        assert!(protos.contains(&p), "{p} not detected: {protos:?}");
    }
    for r in &recs {
        for k in [
            "timestamp",
            "event_type",
            "sensor_id",
            "flow_id",
            "community_id",
            "src_ip",
            "dest_ip",
            "proto",
        ] {
            assert!(!r[k].is_null(), "{k} missing in {r}");
        }
        if r["event_type"] == "flow" {
            assert!(["inbound", "outbound", "internal", "external"]
                .contains(&r["flow"]["direction"].as_str().unwrap()));
        }
    }
}

/// A record without what differs from run to run: the sensor id given, the record `id`
/// (`<run>-<seq>`, a new run id every run) and the ids a detection names.
fn run_free(v: &mut serde_json::Value) {
    v["sensor_id"] = serde_json::Value::Null;
    if let Some(o) = v.as_object_mut() {
        o.remove("id");
    }
    if let Some(d) = v.get_mut("detection").and_then(|d| d.as_object_mut()) {
        d.remove("related");
        // When the rules were loaded: wall clock, new every run.
        d.remove("ruleset");
    }
}

#[test]
fn stdin_and_gzip_give_the_same_records() {
    let bytes = std::fs::read(demo()).unwrap();
    let base = {
        let mut r = records(&run(tapir().args(["replay", "-q", "-w", "1"]).arg(demo())));
        r.iter_mut().for_each(run_free);
        let mut s: Vec<String> = r.iter().map(|v| v.to_string()).collect();
        s.sort();
        s
    };
    let mut child = tapir()
        .args(["replay", "-q", "-w", "1", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let feed = std::thread::spawn(move || stdin.write_all(&bytes));
    let out = child.wait_with_output().unwrap();
    feed.join().unwrap().unwrap();
    assert!(out.status.success());
    let mut s: Vec<String> = records(&out)
        .into_iter()
        .map(|mut v| {
            run_free(&mut v);
            v.to_string()
        })
        .collect();
    s.sort();
    assert_eq!(s, base);

    let dir = tempfile::tempdir().unwrap();
    let gz = dir.path().join("demo.pcap.gz");
    let mut enc = flate2::write::GzEncoder::new(
        std::fs::File::create(&gz).unwrap(),
        flate2::Compression::fast(),
    );
    enc.write_all(&std::fs::read(demo()).unwrap()).unwrap();
    enc.finish().unwrap();
    let out = run(tapir().args(["replay", "-q", "-w", "1"]).arg(&gz));
    assert!(out.status.success());
    assert_eq!(records(&out).len(), base.len());
}

#[test]
fn truncated_capture_is_counted_not_fatal() {
    let bytes = std::fs::read(demo()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cut = dir.path().join("cut.pcap");
    std::fs::write(&cut, &bytes[..bytes.len() - 100]).unwrap();
    let out = run(tapir().args(["replay", "-w", "2"]).arg(&cut));
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("capture.malformed 1"), "{stderr}");
    assert!(!records(&out).is_empty());
}

#[test]
fn damaged_capture_gives_a_clear_message_and_keeps_earlier_records() {
    let mut bytes = std::fs::read(demo()).unwrap();
    // Record 11's caplen (classic pcap, little endian): walk the records to find it.
    let mut off = 24usize;
    for _ in 0..10 {
        let caplen = u32::from_le_bytes(bytes[off + 8..off + 12].try_into().unwrap()) as usize;
        off += 16 + caplen;
    }
    bytes[off + 8..off + 12].copy_from_slice(&0x7fff_0000u32.to_le_bytes());
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.pcap");
    std::fs::write(&bad, &bytes).unwrap();
    let out = run(tapir().args(["replay", "-w", "2"]).arg(&bad));
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("damaged capture at byte"), "{stderr}");
    // The flows of the first ten packets are still reported, and the stop status record
    // carries the error.
    assert!(!records(&out).is_empty());
    let all = all_records(&out);
    let stop = &all.last().unwrap()["sensor_status"];
    assert_eq!(stop["kind"], "stop");
    assert!(
        stop["errors"][0]
            .as_str()
            .unwrap()
            .contains("damaged capture at byte"),
        "{stop}"
    );

    let garbage = dir.path().join("garbage.pcap");
    std::fs::write(&garbage, b"this is not a capture file at all").unwrap();
    let out = run(tapir().args(["replay"]).arg(&garbage));
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a pcap or pcapng file"));
}

#[test]
fn output_failures_are_reported_with_a_non_zero_exit() {
    let out = run(tapir()
        .args(["replay", "-o", "/nonexistent-dir/x.ndjson"])
        .arg(demo()));
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot open output"));

    // The reader of `-o -` goes away before anything is written.
    let mut child = tapir()
        .args(["replay", "-q", "-o", "-"])
        .arg(demo())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("records lost"), "{stderr}");
}

#[test]
fn config_file_and_set_overrides() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("t.toml");
    std::fs::write(&cfg, "sensor_id = \"from-file\"\n[flow]\nmax_flows = 5\n").unwrap();
    let out = run(tapir()
        .args(["replay", "-w", "1", "-c"])
        .arg(&cfg)
        .arg(demo()));
    assert!(out.status.success());
    let recs = records(&out);
    assert!(recs.iter().all(|r| r["sensor_id"] == "from-file"));
    // Five flows at most at a time: the rest is counted, not tracked.
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("flow.cap_drops"), "{stderr}");

    let out = run(tapir()
        .args(["replay", "--set", "flow.max_flow=5"])
        .arg(demo()));
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("max_flow"));
}

#[test]
#[cfg_attr(
    not(tapir_corpus),
    ignore = "public corpus absent: set TAPIR_CORPUS or provide ../shared/pcaps/public"
)]
fn files_are_extracted_by_sha256_when_asked() {
    let root = common::corpus();
    let dir = tempfile::tempdir().unwrap();
    let x = dir.path().join("files");
    let out = run(tapir()
        .args(["replay", "-w", "2", "--set"])
        .arg(format!("files.extract_dir=\"{}\"", x.display()))
        .arg(root.join("http/zeek_http-pipelined-requests.pcap")));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("extracted"), "{stderr}");
    let recs = records(&out);
    let complete: std::collections::BTreeSet<String> = recs
        .iter()
        .filter(|r| r["event_type"] == "file" && r["file"]["complete"] == true)
        .map(|r| r["file"]["sha256"].as_str().unwrap().to_string())
        .collect();
    assert!(!complete.is_empty());
    let on_disk: std::collections::BTreeSet<String> = std::fs::read_dir(&x)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    assert_eq!(on_disk, complete);
    for name in &on_disk {
        use sha2::Digest;
        let bytes = std::fs::read(x.join(name)).unwrap();
        let digest = sha2::Sha256::digest(&bytes);
        let hex = testkit::hex::encode(&digest);
        assert_eq!(&hex, name);
    }
    // A directory that cannot be made is a clear error before anything runs.
    let out = run(tapir()
        .args(["replay", "--set", "files.extract_dir=\"/proc/no/such\""])
        .arg(demo()));
    assert_eq!(out.status.code(), Some(1));
}

/// The run starts and ends with a `sensor_status` record; periodic ones come in between; the
/// stop record's counters agree with what was written, and the metrics file says the same.
#[test]
fn status_records_frame_the_run_and_metrics_match() {
    let dir = tempfile::tempdir().unwrap();
    let metrics = dir.path().join("tapir.prom");
    let out = run(tapir()
        .args([
            "replay",
            "-q",
            "-w",
            "2",
            "--set",
            "output.status_interval=1",
        ])
        .arg("--set")
        .arg(format!("output.metrics_path=\"{}\"", metrics.display()))
        .arg(demo()));
    assert!(out.status.success());
    let all = all_records(&out);
    let status: Vec<&serde_json::Value> = all
        .iter()
        .filter(|r| r["event_type"] == "sensor_status")
        .collect();
    let kinds: Vec<&str> = status
        .iter()
        .map(|r| r["sensor_status"]["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds.first(), Some(&"start"), "{kinds:?}");
    assert_eq!(kinds.last(), Some(&"stop"), "{kinds:?}");
    // The demo capture spans 7 s: one periodic record per second boundary crossed.
    let periodic = kinds.iter().filter(|k| **k == "periodic").count();
    assert!((5..=8).contains(&periodic), "{kinds:?}");
    assert_eq!(all.first().unwrap()["event_type"], "sensor_status");
    assert_eq!(all.last().unwrap()["event_type"], "sensor_status");
    let stop = &all.last().unwrap()["sensor_status"];
    assert_eq!(stop["records"]["written"], all.len() as u64);
    let flows = all.iter().filter(|r| r["event_type"] == "flow").count() as u64;
    assert_eq!(stop["records"]["by_type"]["flow"], flows);
    assert_eq!(stop["flows"]["created"], flows);
    assert_eq!(stop["capture"]["packets"], 383);
    assert!(stop["memory"]["peak_rss_bytes"].as_u64().unwrap() > 1 << 20);
    assert!(stop["algorithms"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a["name"] == "http" && a["calls"].as_u64().unwrap() > 0));
    // Periodic counters only grow, and their periods follow each other.
    let mut last_packets = 0;
    let mut last_end = String::new();
    for s in &status {
        let s = &s["sensor_status"];
        let p = s["capture"]["packets"].as_u64().unwrap();
        assert!(p >= last_packets, "{s}");
        last_packets = p;
        if !last_end.is_empty() {
            assert_eq!(s["period_start"].as_str().unwrap(), last_end);
        }
        last_end = s["period_end"].as_str().unwrap().to_string();
    }
    let prom = std::fs::read_to_string(&metrics).unwrap();
    assert!(
        prom.contains("tapir_packets_total{sensor=\"tapir\"} 383"),
        "{prom}"
    );
    assert!(prom.contains(&format!(
        "tapir_records_total{{sensor=\"tapir\",event_type=\"flow\"}} {flows}"
    )));
    assert!(prom.contains("tapir_limit_hits_total{sensor=\"tapir\",limit=\"flow.max_flows\"} 0"));
}
