//! A capture file that another process truncates while `tapir replay` reads it (log rotation)
//! must not kill the process (a mapped file gives SIGBUS): the replay reports that the file
//! shrank, keeps what it read, and exits normally.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A classic pcap of `n` non-IP Ethernet frames of `len` bytes (cheap for the pipeline).
fn write_pcap(path: &Path, n: u32, len: usize) {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    for x in [0xA1B2_C3D4u32, 0x0004_0002, 0, 0, 65535, 1] {
        f.write_all(&x.to_le_bytes()).unwrap();
    }
    let mut frame = vec![0u8; len];
    frame[12..14].copy_from_slice(&0x88B5u16.to_be_bytes());
    for i in 0..n {
        frame[14..18].copy_from_slice(&i.to_be_bytes());
        for x in [
            1_700_000_000 + i / 1000,
            (i % 1000) * 1000,
            len as u32,
            len as u32,
        ] {
            f.write_all(&x.to_le_bytes()).unwrap();
        }
        f.write_all(&frame).unwrap();
    }
    f.flush().unwrap();
}

/// Whether process `pid` has `path` open or mapped.
fn holds(pid: u32, path: &Path) -> bool {
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .into_iter()
        .flatten()
        .flatten()
        .any(|e| std::fs::read_link(e.path()).is_ok_and(|l| l == path));
    fds || std::fs::read_to_string(format!("/proc/{pid}/maps"))
        .is_ok_and(|m| m.contains(path.to_str().unwrap()))
}

#[test]
fn file_truncated_during_replay_is_reported_not_fatal() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rotating.pcap").canonicalize_or_self();
    // 300 MB: far more than the replay reads before the truncation below.
    write_pcap(&path, 200_000, 1500);
    let child = Command::new(env!("CARGO_BIN_EXE_tapir"))
        .args([
            "replay",
            "-q",
            "--no-progress",
            "-w",
            "1",
            "--sensor-id",
            "t",
            "-o",
            "-",
        ])
        .arg(&path)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !holds(pid, &path) {
        assert!(
            Instant::now() < deadline,
            "the replay never opened the file"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    // Rotation: the file is cut to 1 MB while the replay is at its start.
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(1 << 20)
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.signal(), None, "killed by a signal: {stderr}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stop: serde_json::Value = stdout
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter_map(|r| r.get("sensor_status").cloned())
        .find(|s| s["kind"] == "stop")
        .unwrap_or_else(|| panic!("no stop status: {stderr}"));
    let errors = stop["errors"].to_string();
    assert!(
        errors.contains("shrank"),
        "errors: {errors}; stderr: {stderr}"
    );
    let packets = stop["capture"]["packets"].as_u64().unwrap();
    assert!(packets > 0 && packets < 200_000, "{packets} packets");
}

trait CanonicalizeOrSelf {
    fn canonicalize_or_self(self) -> std::path::PathBuf;
}

impl CanonicalizeOrSelf for std::path::PathBuf {
    /// The path as /proc shows it (temp dirs may sit behind a symlink).
    fn canonicalize_or_self(self) -> std::path::PathBuf {
        let (Some(parent), Some(name)) = (self.parent(), self.file_name()) else {
            return self;
        };
        parent.canonicalize().map(|p| p.join(name)).unwrap_or(self)
    }
}
