//! A pcap record whose captured length exceeds the file's snap length is read (cut to the snap
//! length, as libpcap does) and counted, and the replay goes on to the end of the file.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

/// An Ethernet/IPv4/UDP frame from 10.0.0.1 to 10.0.0.2.
fn udp_frame(sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let udp_len = 8 + payload.len() as u16;
    let mut ip = vec![
        0x45, 0, 0, 0, 0, 1, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
    ];
    ip[2..4].copy_from_slice(&(20 + udp_len).to_be_bytes());
    let mut sum: u32 = ip
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], c[1]])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    ip[10..12].copy_from_slice(&(!(sum as u16)).to_be_bytes());
    let mut f = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 8, 0];
    f.extend_from_slice(&ip);
    for x in [sport, dport, udp_len, 0] {
        f.extend_from_slice(&x.to_be_bytes());
    }
    f.extend_from_slice(payload);
    f
}

/// A little-endian, microsecond pcap with snap length `snaplen`; each record carries all of
/// its frame, whatever the snap length says.
fn pcap(snaplen: u32, frames: &[Vec<u8>]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&0xA1B2_C3D4u32.to_le_bytes());
    v.extend_from_slice(&2u16.to_le_bytes());
    v.extend_from_slice(&4u16.to_le_bytes());
    for x in [0u32, 0, snaplen, 1] {
        v.extend_from_slice(&x.to_le_bytes());
    }
    for (i, f) in frames.iter().enumerate() {
        let len = f.len() as u32;
        for x in [1_700_000_000 + i as u32, 0, len, len] {
            v.extend_from_slice(&x.to_le_bytes());
        }
        v.extend_from_slice(f);
    }
    v
}

#[test]
fn record_over_snaplen_is_read_counted_and_replay_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("over_snaplen.pcap");
    // First record: 102 bytes under a snap length of 80; then a flow of three 63-byte packets.
    let mut frames = vec![udp_frame(1111, 53, &[b'x'; 60])];
    frames.extend((0..3).map(|_| udp_frame(2222, 9999, b"after the long record")));
    std::fs::write(&path, pcap(80, &frames)).unwrap();

    let out = Command::new(env!("CARGO_BIN_EXE_tapir"))
        .args([
            "replay",
            "-q",
            "--no-progress",
            "--sensor-id",
            "t",
            "-o",
            "-",
        ])
        .arg(&path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "exit {:?}: {stderr}", out.status);
    let records: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let stop = records
        .iter()
        .filter_map(|r| r.get("sensor_status"))
        .find(|s| s["kind"] == "stop")
        .expect("stop status record");
    assert_eq!(stop["errors"], serde_json::json!([]), "{stop}");
    assert_eq!(stop["capture"]["packets"], 4, "{stop}");
    assert_eq!(stop["capture"]["caplen_over_snaplen"], 1, "{stop}");
    assert_eq!(stop["capture"]["truncated"], 1, "{stop}");
    assert_eq!(
        stop["anomalies"]["capture.caplen_over_snaplen"], 1,
        "{stop}"
    );
    // The flow after the long record is there, with its three packets.
    let after = records
        .iter()
        .filter(|r| r["event_type"] == "flow")
        .find(|r| r["dest_port"] == 9999)
        .unwrap_or_else(|| panic!("no flow record for port 9999 in {records:?}"));
    assert_eq!(after["flow"]["pkts_toserver"], 3, "{after}");
}
