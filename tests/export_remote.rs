//! Delivery to the backend through the binary, nothing lost: a real HTTPS receiver with mutual
//! TLS (test CA made with rcgen), the spool between the sensor and it.
//! - The receiver is stopped in the middle of a replay for a while and restarted: every record
//!   arrives (ids compared), none is missing, none is invented; duplicates only from retries.
//! - The sensor is killed with SIGKILL while it cannot deliver; a restart on the same spool
//!   sends everything that was not acknowledged.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use testkit::https_receiver::{Receiver, TestPki};

fn config(dir: &Path, url: &str, extra: &str) -> std::path::PathBuf {
    let text = format!(
        r#"
[output]
status_interval = 0
[export]
allow_remote = true
drain_timeout_s = 120
{extra}
[export.spool]
dir = "{d}/spool"
[[export.sink]]
name = "mdr"
type = "https"
url = "{url}"
ca = "{d}/pki/ca.pem"
cert = "{d}/pki/client.pem"
key = "{d}/pki/client.key"
categories = ["network", "files", "detections", "statistics", "service"]
profile = "hashed"
batch_records = 25
retry_initial_ms = 20
retry_max_ms = 200
timeout_s = 5
"#,
        d = dir.display()
    );
    let p = dir.join("t.toml");
    std::fs::write(&p, text).unwrap();
    p
}

fn sensor(cfg: &Path, out: &Path, input: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_tapir"))
        .args(["replay", "-q", "--no-progress", "-w", "2", "-o"])
        .arg(out)
        .arg("-c")
        .arg(cfg)
        .arg(input)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn ids(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            v["id"].as_str().unwrap().to_string()
        })
        .collect()
}

fn last_record(path: &Path) -> Option<Value> {
    let text = std::fs::read_to_string(path).ok()?;
    serde_json::from_str(text.lines().last()?).ok()
}

fn wait_until(max: Duration, mut f: impl FnMut() -> bool) -> bool {
    let t = Instant::now();
    while t.elapsed() < max {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// Starts `tapir replay -` and feeds it half of `cap`; once records of it reached the backend
/// (the spool commits every second) the receiver is stopped and the rest is fed. Returns the
/// running sensor once the replay has ended (its stop record written) while the backend is
/// down: it keeps retrying from the spool.
fn replay_through_an_outage(cfg: &Path, out: &Path, cap: &[u8], rx: &mut Receiver) -> Child {
    let mut child = sensor(cfg, out, "-");
    let mut stdin = child.stdin.take().unwrap();
    let half = cap.len() / 2;
    stdin.write_all(&cap[..half]).unwrap();
    stdin.flush().unwrap();
    assert!(
        rx.wait_for_lines(1, Duration::from_secs(30)),
        "nothing arrived"
    );
    rx.stop();
    stdin.write_all(&cap[half..]).unwrap();
    drop(stdin);
    assert!(wait_until(Duration::from_secs(30), || last_record(out)
        .is_some_and(|r| r["sensor_status"]["kind"] == "stop")));
    child
}

#[test]
fn receiver_down_in_the_middle_nothing_lost() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let pki = TestPki::generate(&d.join("pki")).unwrap();
    let mut rx = Receiver::start(&pki).unwrap();
    let cfg = config(d, &rx.url(), "");
    let cap = testkit::attacks::mixed(5);
    let out = d.join("main.ndjson");
    let mut child = replay_through_an_outage(&cfg, &out, &cap, &mut rx);
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        child.try_wait().unwrap().is_none(),
        "the sensor waits for the backend"
    );
    rx.restart().unwrap();
    let status = child.wait().unwrap();
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert!(status.success(), "{err}");

    let want: BTreeSet<String> = ids(&out).into_iter().collect();
    let got_all = rx.ids();
    let got: BTreeSet<String> = got_all.iter().cloned().collect();
    assert!(want.len() > 200, "{} records", want.len());
    assert_eq!(got, want, "every record arrived, none invented");
    // Duplicates only where a batch was retried: at most the batches in flight when it went.
    let dups = got_all.len() - got.len();
    assert!(dups <= 25 * 2, "{dups} duplicates");
    // The sensor saw the outage and said so.
    assert!(err.contains("export sink mdr: sending"), "{err}");
    let stop = last_record(&out).unwrap();
    assert_eq!(stop["sensor_status"]["export"]["sinks"][0]["name"], "mdr");
    // What left was hashed by the profile: no local address in clear.
    assert!(rx.lines().iter().all(|l| !l.contains("\"src_ip\":\"10.")));
}

#[test]
fn sigkill_during_export_then_restart_resends_what_was_not_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let pki = TestPki::generate(&d.join("pki")).unwrap();
    let mut rx = Receiver::start(&pki).unwrap();
    let cfg = config(d, &rx.url(), "");
    let cap = testkit::attacks::mixed(9);
    let out1 = d.join("run1.ndjson");
    let mut child = replay_through_an_outage(&cfg, &out1, &cap, &mut rx);
    // Everything is in the spool, part of it acknowledged; the sensor is retrying. Kill it.
    std::thread::sleep(Duration::from_millis(300));
    child.kill().unwrap(); // SIGKILL
    let st = child.wait().unwrap();
    assert!(!st.success());
    let before: BTreeSet<String> = rx.ids().into_iter().collect();
    let run1: BTreeSet<String> = ids(&out1).into_iter().collect();
    assert!(
        !before.is_empty() && before.len() < run1.len(),
        "{} of {}",
        before.len(),
        run1.len()
    );

    // Restart on the same spool with nothing new to capture: the spool resends the rest.
    rx.restart().unwrap();
    let empty = d.join("empty.pcap");
    std::fs::write(&empty, &cap[..24]).unwrap();
    let out2 = d.join("run2.ndjson");
    let mut child = sensor(&cfg, &out2, &empty.display().to_string());
    drop(child.stdin.take());
    let status = child.wait().unwrap();
    assert!(status.success());
    let got: BTreeSet<String> = rx.ids().into_iter().collect();
    for id in &run1 {
        assert!(
            got.contains(id),
            "record {id} of the killed run never arrived"
        );
    }
    for id in ids(&out2) {
        assert!(
            got.contains(&id),
            "record {id} of the second run never arrived"
        );
    }
    // What had been acknowledged before the kill was not sent again: at most the records the
    // first run had not had acknowledged (all of them when the batch in flight at the outage
    // was its first) and the second run's.
    let resent = rx.ids().len() - before.len();
    let acked = std::fs::read_to_string(d.join("spool/cursor.mdr"))
        .ok()
        .and_then(|t| t.trim().parse::<usize>().ok());
    assert!(acked.is_some(), "the sink's cursor is persisted");
    assert!(
        resent <= run1.len() + ids(&out2).len(),
        "only the unacknowledged records (and the batch in flight) are resent"
    );
}

#[test]
fn remote_sinks_need_the_grant() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    TestPki::generate(&d.join("pki")).unwrap();
    let cfg = config(d, "https://127.0.0.1:9/x", "");
    let text = std::fs::read_to_string(&cfg)
        .unwrap()
        .replace("allow_remote = true", "allow_remote = false");
    std::fs::write(&cfg, text).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_tapir"))
        .args(["replay", "-q", "-o", "none", "-c"])
        .arg(&cfg)
        .arg("pcaps/demo.pcap")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("allow_remote"), "{err}");
}
