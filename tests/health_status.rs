//! `sensor_status.health` through the binary: per-socket capture counters summing to the
//! capture block, memcaps matching `limits[]`, the rule file's version, the last error of the
//! component that logged, and the per-callsite log rate limit (`--log-rate`, `--log-format`).
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use common::run_sensor;
use sha1::{Digest, Sha1};
use testkit::packets::{Cap, SERVER};

/// `n` rules rejected at load (each logs the same warning) and one valid rule.
fn rules(n: usize) -> String {
    let mut r = String::from(
        "id: ok-rule\nname: ok\nversion: 1\nevent_type: dns\ndetection:\n  sel:\n    dns.query|endswith: .evil.example\n  condition: sel\n",
    );
    for i in 0..n {
        r.push_str(&format!(
            "---\nid: bad-{i}\nname: bad\nevent_type: nosuchtype\ndetection:\n  sel:\n    foo: bar\n  condition: sel\n"
        ));
    }
    r
}

fn capture() -> Vec<u8> {
    let mut c = Cap::new();
    let body = vec![b'x'; 2000];
    let mut response =
        format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len()).into_bytes();
    response.extend_from_slice(&body);
    c.conversation(
        [10, 4, 4, 4],
        40001,
        SERVER,
        80,
        b"GET / HTTP/1.1\r\nHost: a.example\r\n\r\n",
        &response,
    );
    for _ in 0..3 {
        c.ts_us += 1_000_000;
        c.udp([10, 5, 5, 5], [10, 6, 6, 6], 5000, 5001, b"tick");
    }
    c.bytes
}

const BAD: usize = 40;
const RATE: u64 = 5;

#[test]
fn health_block_is_consistent_with_the_counters_and_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rules.yml");
    let text = rules(BAD);
    std::fs::write(&path, &text).unwrap();
    let p = path.to_string_lossy().into_owned();
    let rate = RATE.to_string();
    let run = run_sensor(
        &capture(),
        &[
            "--no-default-rules",
            "--rules",
            &p,
            "--workers",
            "2",
            "--log-rate",
            &rate,
            "--set",
            "output.status_interval=1",
        ],
    );
    assert!(run.status.success(), "{}", run.stderr);
    let stop = run.stop();
    let h = &stop["health"];

    // Capture sources sum to the capture block.
    let socks = h["capture_sockets"].as_array().unwrap();
    assert!(!socks.is_empty(), "{h}");
    let sum = |k: &str| socks.iter().map(|s| s[k].as_u64().unwrap()).sum::<u64>();
    assert_eq!(sum("packets"), stop["capture"]["packets"].as_u64().unwrap());
    assert_eq!(sum("dropped"), stop["capture"]["dropped"].as_u64().unwrap());
    assert!(sum("packets") > 0);

    // Every memcap is a configured limit with the same value and hits.
    let memcaps = h["memcaps"].as_array().unwrap();
    for name in ["flow.max_flows", "reassembly.memcap", "defrag.memcap"] {
        let m = memcaps
            .iter()
            .find(|m| m["name"] == name)
            .unwrap_or_else(|| panic!("no memcap {name}: {h}"));
        let l = stop["limits"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["name"] == name)
            .unwrap();
        assert_eq!(m["cap"], l["limit"], "{name}");
        assert_eq!(m["hits"], l["hits"], "{name}");
        assert!(m["used"].is_u64(), "{name}: {m}");
    }
    let flows = memcaps
        .iter()
        .find(|m| m["name"] == "flow.max_flows")
        .unwrap();
    assert_eq!(flows["used"], stop["flows"]["active"]);
    let reasm = memcaps
        .iter()
        .find(|m| m["name"] == "reassembly.memcap")
        .unwrap();
    assert_eq!(reasm["used"], stop["memory"]["reassembly_bytes"]);

    // The rule file's version: its SHA-1 prefix and size.
    let v = &h["versions"][0];
    assert_eq!(v["kind"], "rules");
    assert_eq!(v["path"], p.as_str());
    let digest: String = Sha1::digest(text.as_bytes())
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(v["sha1"], digest.as_str());
    assert_eq!(v["bytes"], text.len() as u64);

    // The last error of the component that logged the rejected rules counts every one of
    // them, even those the rate limit kept out of the log.
    let errs = h["last_errors"].as_array().unwrap();
    let cmd = errs
        .iter()
        .find(|e| e["component"] == "cmd")
        .unwrap_or_else(|| panic!("{h}"));
    assert_eq!(cmd["level"], "warn");
    assert_eq!(cmd["count"], BAD as u64);
    assert!(cmd["message"]
        .as_str()
        .unwrap()
        .starts_with(&format!("rule not loaded: {p}:")));

    // The flood of one warning is cut to the rate limit; the rest is counted.
    let lines = run
        .stderr
        .lines()
        .filter(|l| l.contains("rule not loaded"))
        .count() as u64;
    assert!(
        lines >= RATE && lines < BAD as u64,
        "{lines} lines: {}",
        run.stderr
    );
    assert_eq!(lines + h["log_suppressed"].as_u64().unwrap(), BAD as u64);
    // The periodic records carry the block too.
    let periodic: Vec<_> = run
        .of("sensor_status")
        .into_iter()
        .filter(|r| r["sensor_status"]["kind"] == "periodic")
        .collect();
    assert!(!periodic.is_empty());
    for r in periodic {
        assert!(r["sensor_status"]["health"]["memcaps"].is_array(), "{r}");
    }
}

#[test]
fn without_a_rate_limit_every_warning_is_logged_as_json() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rules.yml");
    std::fs::write(&path, rules(7)).unwrap();
    let p = path.to_string_lossy().into_owned();
    let run = run_sensor(
        &capture(),
        &["--no-default-rules", "--rules", &p, "--log-format", "json"],
    );
    assert!(run.status.success(), "{}", run.stderr);
    let warnings: Vec<serde_json::Value> = run
        .stderr
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap())
        .filter(|v: &serde_json::Value| v["level"] == "WARN")
        .collect();
    assert_eq!(warnings.len(), 7, "{}", run.stderr);
    for w in &warnings {
        assert_eq!(w["target"], "tapir::cmd");
        assert!(w["fields"]["message"]
            .as_str()
            .unwrap()
            .starts_with("rule not loaded"));
    }
    assert_eq!(run.stop()["health"]["log_suppressed"], 0);
}

#[test]
fn an_unknown_log_format_is_refused() {
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_tapir"))
        .args(["--log-format", "xml", "config"])
        .output()
        .unwrap();
    assert!(!run.status.success());
    assert!(String::from_utf8_lossy(&run.stderr).contains("--log-format xml"));
}

#[test]
fn metrics_endpoint_refuses_a_remote_address_unless_allowed() {
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_tapir"))
        .args([
            "run",
            "--interface",
            "lo",
            "--metrics-listen",
            "0.0.0.0:9917",
            "-o",
            "none",
        ])
        .output()
        .unwrap();
    assert!(!run.status.success());
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(err.contains("status.metrics_allow_remote"), "{err}");
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_tapir"))
        .args(["run", "--interface", "lo", "--metrics-listen", "nonsense"])
        .output()
        .unwrap();
    assert!(!run.status.success());
    assert!(String::from_utf8_lossy(&run.stderr).contains("address:port"));
}

/// Under systemd (`Type=notify`): READY=1 when the output stage starts, STOPPING=1 at the end,
/// sent to `$NOTIFY_SOCKET`.
#[test]
fn sd_notify_ready_and_stopping() {
    use std::os::unix::net::UnixDatagram;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notify");
    let rx = UnixDatagram::bind(&path).unwrap();
    rx.set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .unwrap();
    let demo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("pcaps/demo.pcap");
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_tapir"))
        .args(["replay", "-q", "-o", "none"])
        .arg(&demo)
        .env("NOTIFY_SOCKET", &path)
        .env("WATCHDOG_USEC", "1000000")
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let mut got = Vec::new();
    let mut buf = [0u8; 64];
    while let Ok(n) = rx.recv(&mut buf) {
        got.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        if got.last().map(String::as_str) == Some("STOPPING=1") {
            break;
        }
    }
    assert_eq!(got.first().map(String::as_str), Some("READY=1"), "{got:?}");
    assert_eq!(
        got.last().map(String::as_str),
        Some("STOPPING=1"),
        "{got:?}"
    );
}
