//! The counters summed across workers reach the `sensor_status` records whole: the end-of-run
//! summary (stderr) and the status records of the same run (the `tapir` binary, three workers)
//! agree on the defragmenter's conflicting overlaps and on the TCP reassembly byte counters,
//! and every periodic record after the traffic already shows them.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use std::process::Command;

use etherparse::{IpFragOffset, IpNumber, Ipv4Header};
use testkit::packets::{Cap, SERVER};

/// An IPv4 fragment of a UDP datagram: `payload` at byte `offset` of datagram `id`.
fn fragment(id: u16, offset: u16, more: bool, payload: &[u8]) -> Vec<u8> {
    let mut h = Ipv4Header::new(
        payload.len() as u16,
        64,
        IpNumber::UDP,
        [10, 2, 2, 2],
        [10, 3, 3, 3],
    )
    .unwrap();
    h.identification = id;
    h.more_fragments = more;
    h.fragment_offset = IpFragOffset::try_new(offset / 8).unwrap();
    h.header_checksum = h.calc_header_checksum();
    let mut b = Vec::new();
    h.write(&mut b).unwrap();
    b.extend_from_slice(payload);
    b
}

/// Two datagrams whose fragments overlap with differing bytes (first kept), an HTTP exchange
/// longer than `reassembly.depth` in both directions and one whose data runs past the client's FIN,
/// then packets on for a few seconds so that periodic status records follow.
fn capture() -> Vec<u8> {
    let mut c = Cap::new();
    for id in [7u16, 8] {
        c.ipv4_raw(&fragment(id, 0, true, &[0xaa; 16]));
        c.ipv4_raw(&fragment(id, 8, true, &[0xbb; 16]));
        c.ipv4_raw(&fragment(id, 24, false, &[0xcc; 8]));
    }
    let client = [10, 4, 4, 4];
    let body = vec![b'x'; 3000];
    let mut response =
        format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len()).into_bytes();
    response.extend_from_slice(&body);
    let request = b"GET /long HTTP/1.1\r\nHost: example.org\r\n\r\n";
    c.conversation(client, 40001, SERVER, 80, request, &response);
    // A second connection: the client's FIN comes ahead of its data, and the data then runs
    // past the FIN; what lies beyond it is discarded.
    let (cport, isn, sisn) = (40002, 5000u32, 7000u32);
    c.tcp(client, SERVER, cport, 80, isn, 0, "S", &[]);
    c.tcp(SERVER, client, 80, cport, sisn, isn + 1, "SA", &[]);
    c.tcp(client, SERVER, cport, 80, isn + 1, sisn + 1, "A", &[]);
    c.tcp(client, SERVER, cport, 80, isn + 11, sisn + 1, "AF", &[]);
    c.tcp(
        client,
        SERVER,
        cport,
        80,
        isn + 1,
        sisn + 1,
        "AP",
        b"GET / HTTPxxxxxxxxxx",
    );
    for _ in 0..5 {
        c.ts_us += 1_000_000;
        c.udp([10, 5, 5, 5], [10, 6, 6, 6], 5000, 5001, b"tick");
    }
    c.bytes
}

/// The numbers after `label` on the summary line starting with `line`.
fn summary_value(stderr: &str, line: &str, label: &str) -> u64 {
    let l = stderr
        .lines()
        .find(|l| l.starts_with(line))
        .unwrap_or_else(|| panic!("no summary line {line:?}: {stderr}"));
    let rest = &l[l
        .find(label)
        .unwrap_or_else(|| panic!("no {label:?} in {l:?}"))
        + label.len()..];
    rest.split_whitespace()
        .next()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no number after {label:?} in {l:?}"))
}

#[test]
fn summary_and_status_records_agree_on_summed_counters() {
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("in.pcap");
    let out = dir.path().join("out.ndjson");
    std::fs::write(&pcap, capture()).unwrap();
    let run = Command::new(env!("CARGO_BIN_EXE_tapir"))
        .args(["replay", "--no-progress", "--workers", "3", "-o"])
        .arg(&out)
        .args([
            "--set",
            "reassembly.depth=1000",
            "--set",
            "output.status_interval=1",
        ])
        .arg(&pcap)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{stderr}");
    let status: Vec<serde_json::Value> = std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|r| r["event_type"] == "sensor_status")
        .map(|r| r["sensor_status"].clone())
        .collect();
    let stop = status.last().unwrap();
    assert_eq!(stop["kind"], "stop");
    let periodic: Vec<&serde_json::Value> =
        status.iter().filter(|s| s["kind"] == "periodic").collect();
    assert!(periodic.len() >= 3, "{status:?}");

    let conflicting = summary_value(&stderr, "anomalies", "defrag.conflicting_overlaps");
    assert_eq!(conflicting, 2, "{stderr}");
    assert_eq!(
        stop["anomalies"]["defrag.conflicting_overlaps"],
        conflicting
    );
    for (label, field) in [
        ("delivered", "delivered_bytes"),
        ("depth dropped", "depth_dropped_bytes"),
        ("discarded", "discarded_bytes"),
    ] {
        let v = summary_value(&stderr, "tcp bytes", label);
        assert!(v > 0, "{field} is 0: {stderr}");
        assert_eq!(stop["tcp"][field], v, "{field}: {stop}");
    }
    // The traffic came before the last periodic records: they already count all of it, summed
    // over the workers and the dispatcher.
    let last = periodic.last().unwrap();
    assert_eq!(
        last["anomalies"]["defrag.conflicting_overlaps"],
        conflicting
    );
    for field in ["delivered_bytes", "depth_dropped_bytes", "discarded_bytes"] {
        assert_eq!(last["tcp"][field], stop["tcp"][field], "{field}: {last}");
    }
}
