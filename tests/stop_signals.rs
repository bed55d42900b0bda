//! Stopping without loss, through the binary: SIGTERM and SIGINT end a replay that is still
//! reading a pipe with every open flow written and the stop status record, exit status 0; what
//! was read reaches the output file within about a second while the pipe is quiet; a worker
//! that cannot start and an output that cannot be written stop the run with an error.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::path::Path;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use testkit::packets::Cap;

/// A finished HTTP transaction, then three connections that stay open and a DNS query.
fn capture() -> Vec<u8> {
    let mut c = Cap::new();
    c.conversation(
        [10, 0, 0, 1],
        40000,
        [192, 0, 2, 1],
        80,
        b"GET /done HTTP/1.1\r\nHost: example.test\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
    );
    for i in 0..3u8 {
        let (cl, sv) = ([10, 0, 1, i], [192, 0, 2, 10 + i]);
        let port = 41000 + u16::from(i);
        c.tcp(cl, sv, port, 80, 1000, 0, "S", &[]);
        c.tcp(sv, cl, 80, port, 5000, 1001, "SA", &[]);
        c.tcp(cl, sv, port, 80, 1001, 5001, "A", &[]);
    }
    c.udp(
        [10, 0, 2, 1],
        [192, 0, 2, 53],
        53000,
        53,
        &[
            0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, b'a', 0, 0, 1, 0, 1,
        ],
    );
    c.bytes
}

fn tapir() -> Command {
    Command::new(env!("CARGO_BIN_EXE_tapir"))
}

/// Starts `tapir replay -` writing to `out`, and feeds it `bytes` in pieces; the pipe stays
/// open (the returned stdin).
fn replay_from_pipe(out: &Path, bytes: &[u8], extra: &[&str]) -> (Child, ChildStdin) {
    let mut child = tapir()
        .args(["replay", "--no-progress", "-q", "-w", "2", "-o"])
        .arg(out)
        .args(extra)
        .arg("-")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    for piece in bytes.chunks(97) {
        // A run that stopped on its own (the output failed) closes the pipe.
        if stdin.write_all(piece).and_then(|_| stdin.flush()).is_err() {
            break;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    (child, stdin)
}

fn records(out: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(out)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// Waits for the process to end, killing it (and failing) after `limit`.
fn wait(child: &mut Child, limit: Duration) -> ExitStatus {
    let t = Instant::now();
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s;
        }
        if t.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("tapir did not end within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn stderr_of(child: &mut Child) -> String {
    let mut s = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = std::io::Read::read_to_string(&mut e, &mut s);
    }
    s
}

fn http_seen(out: &Path) -> bool {
    records(out)
        .iter()
        .any(|r| r["event_type"] == "http" && r["http"]["uri"] == "/done")
}

fn signal(child: &Child, sig: &str) {
    let st = Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(st.success());
}

fn stop_by(sig: &str) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.ndjson");
    let (mut child, stdin) = replay_from_pipe(&out, &capture(), &[]);
    // Everything was read once the finished transaction is out (the flush is at most a
    // second or so behind).
    let t = Instant::now();
    while !http_seen(&out) && t.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(50));
    }
    signal(&child, sig);
    let status = wait(&mut child, Duration::from_secs(20));
    drop(stdin);
    let stderr = stderr_of(&mut child);
    assert_eq!(status.code(), Some(0), "{sig}: {stderr}");
    let recs = records(&out);
    let open: Vec<&serde_json::Value> = recs
        .iter()
        .filter(|r| r["event_type"] == "flow" && r["flow"]["reason"] == "shutdown")
        .collect();
    for i in 0..3 {
        let ip = format!("10.0.1.{i}");
        assert!(
            open.iter()
                .any(|r| r["src_ip"] == ip.as_str() && r["proto"] == "TCP"),
            "{sig}: no shutdown flow record for {ip}: {recs:#?}"
        );
    }
    assert!(
        open.iter()
            .any(|r| r["src_ip"] == "10.0.2.1" && r["proto"] == "UDP"),
        "{sig}: no shutdown record of the UDP flow"
    );
    let stop = recs
        .iter()
        .find(|r| r["event_type"] == "sensor_status" && r["sensor_status"]["kind"] == "stop")
        .unwrap_or_else(|| panic!("{sig}: no stop status record: {recs:#?}"));
    assert!(stop.to_string().contains("stop requested"), "{sig}: {stop}");
}

#[test]
fn sigterm_ends_a_replay_from_a_pipe_without_loss() {
    stop_by("-TERM");
}

#[test]
fn sigint_ends_a_replay_from_a_pipe_without_loss() {
    stop_by("-INT");
}

/// The status interval is an hour: only the once-a-second flush can bring the records out
/// while the pipe stays open.
#[test]
fn records_reach_the_file_within_seconds_while_the_pipe_is_quiet() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.ndjson");
    let (mut child, stdin) =
        replay_from_pipe(&out, &capture(), &["--set", "output.status_interval=3600"]);
    let t = Instant::now();
    while !http_seen(&out) && t.elapsed() < Duration::from_millis(2500) {
        std::thread::sleep(Duration::from_millis(50));
    }
    let seen = http_seen(&out);
    let _ = child.kill();
    let _ = child.wait();
    drop(stdin);
    assert!(
        seen,
        "the finished transaction is still buffered after 2.5 s"
    );
}

/// Writing fails (disk full): the run stops with an error instead of reading on.
#[test]
fn an_output_write_error_stops_the_run() {
    if !Path::new("/dev/full").exists() {
        return;
    }
    let (mut child, stdin) = replay_from_pipe(Path::new("/dev/full"), &capture(), &[]);
    let status = wait(&mut child, Duration::from_secs(20));
    drop(stdin);
    let stderr = stderr_of(&mut child);
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("records lost"), "{stderr}");
}

/// A worker thread that cannot start (here: no address space for the stack asked for) fails
/// the run; its share of the traffic is not dropped silently.
#[test]
fn a_worker_that_cannot_start_fails_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("in.pcap");
    std::fs::write(&pcap, capture()).unwrap();
    let ok = tapir()
        .args(["replay", "-q", "-w", "2", "-o", "none"])
        .arg(&pcap)
        .output()
        .unwrap();
    assert!(ok.status.success());
    let out = tapir()
        // Statistics off: their writer thread would be the first that cannot start.
        .args(["replay", "-q", "-w", "2", "-o", "none"])
        .args(["--set", "stats.enabled=false"])
        .arg(&pcap)
        // 128 TiB: more than a process's whole address space.
        .env("RUST_MIN_STACK", (1u64 << 47).to_string())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("cannot start worker thread"), "{stderr}");
}

/// Limits are checked at start, and the message names the key.
#[test]
fn an_absurd_limit_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("in.pcap");
    std::fs::write(&pcap, capture()).unwrap();
    for set in ["decode.max_tunnel_depth=0", "flow.tcp_new_timeout=0"] {
        let out = tapir()
            .args(["replay", "-q", "-o", "none", "--set", set])
            .arg(&pcap)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{set}: {stderr}");
        let key = set.split('=').next().unwrap();
        assert!(stderr.contains(key), "{set}: {stderr}");
    }
}
