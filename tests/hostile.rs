//! Hostile traffic through the whole pipeline: the sensor keeps running within its caps,
//! counts what it dropped, and still reports the valid transaction inside the garbage.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use tapir::config::Config;
use testkit::packets::{Cap, SERVER};

/// 60 000 SYNs from random sources around one real HTTP connection, with room for 1 000 flows.
#[test]
fn syn_flood_is_bounded_and_the_real_connection_is_reported() {
    let mut c = Cap::new();
    let mut rng = testkit::rng::Rng::new(0x9e37_79b9_7f4a_7c15);
    let mut flood = |c: &mut Cap, n: usize| {
        for _ in 0..n {
            c.random_syn(&mut rng, SERVER, 80);
        }
    };
    flood(&mut c, 30_000);
    let (ci, si) = (1000u32, 5000u32);
    let req = b"GET /inside-the-flood HTTP/1.1\r\nHost: example.org\r\n\r\n";
    let resp = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    c.seg(true, ci, 0, "S", &[]);
    flood(&mut c, 50);
    c.seg(false, si, ci + 1, "SA", &[]);
    c.seg(true, ci + 1, si + 1, "A", &[]);
    flood(&mut c, 50);
    c.seg(true, ci + 1, si + 1, "AP", req);
    flood(&mut c, 50);
    c.seg(false, si + 1, ci + 1 + req.len() as u32, "AP", resp);
    flood(&mut c, 30_000);
    c.seg(
        true,
        ci + 1 + req.len() as u32,
        si + 1 + resp.len() as u32,
        "AF",
        &[],
    );

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("flood.pcap");
    std::fs::write(&path, &c.bytes).unwrap();
    let mut cfg = Config::default();
    cfg.flow.max_flows = 1_000;
    let (summary, lines) = common::replay_files(&[path], &cfg, 2);
    let f = &summary.workers.flow;
    // Bounded: no worker held more than its share of the cap.
    assert!(f.peak <= 1_000, "peak {}", f.peak);
    // The oldest half-open flow makes room for each new one: every SYN is tracked, none is
    // refused, and the evictions are counted.
    assert!(f.emergency_evictions > 58_000, "{f:?}");
    assert_eq!(f.cap_drops, 0, "{f:?}");
    assert!(f.created >= 60_100, "{f:?}");
    assert_eq!(summary.capture.packets, 60_156);
    let recs = common::parse(&lines);
    let http: Vec<_> = recs.iter().filter(|r| r["event_type"] == "http").collect();
    assert_eq!(http.len(), 1, "the real transaction is lost");
    assert_eq!(http[0]["http"]["uri"], "/inside-the-flood");
    assert_eq!(http[0]["http"]["status"], 200);
}
