//! Floods through the whole sensor (the `tapir` binary, capture on stdin): memory stays under
//! the configured caps, what was dropped is counted in the stop `sensor_status` record, and the
//! valid transactions inside the flood are still reported.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use common::{run_sensor, Cap, Rng, SERVER};

const MIB: u64 = 1 << 20;

/// The valid HTTP exchange hidden in every flood.
fn real_http(c: &mut Cap) {
    c.conversation(
        [10, 9, 9, 9],
        40000,
        SERVER,
        80,
        b"GET /inside-the-flood HTTP/1.1\r\nHost: example.org\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
    );
}

fn assert_real_http_reported(r: &common::SensorRun) {
    assert!(
        r.of("http")
            .iter()
            .any(|h| h["http"]["uri"] == "/inside-the-flood" && h["http"]["status"] == 200),
        "the real transaction is missing; stderr: {}",
        r.stderr
    );
}

/// One million SYNs from random sources with room for 20 000 flows.
#[test]
fn syn_flood_from_a_million_sources() {
    let mut c = Cap::new();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let n: usize = std::env::var("TAPIR_FLOOD_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    for i in 0..n {
        if i == n / 2 {
            real_http(&mut c);
        }
        let r = rng.next();
        let src = [11, (r >> 8) as u8, (r >> 16) as u8, (r >> 24) as u8];
        c.tcp(
            src,
            SERVER,
            (r >> 32) as u16 | 1024,
            443,
            r as u32,
            0,
            "S",
            &[],
        );
    }
    let t = std::time::Instant::now();
    let r = run_sensor(&c.bytes, &["-w", "2", "--max-flows", "20000"]);
    eprintln!("syn flood: {:?}", t.elapsed());
    assert!(r.status.success(), "{}", r.stderr);
    let stop = r.stop();
    eprintln!("{}", serde_json::to_string(&stop["limits"]).unwrap());
    eprintln!("{}", serde_json::to_string(&stop["flows"]).unwrap());
    eprintln!("{}", serde_json::to_string(&stop["records"]).unwrap());
    assert_eq!(stop["capture"]["packets"], n as u64 + 8);
    // Most SYNs found the table full: refused or evicted, and counted.
    let hits = r.limit_hits("flow.max_flows");
    assert!(hits >= n as u64 - 20_000, "flow.max_flows hits {hits}");
    assert!(stop["flows"]["peak"].as_u64().unwrap() <= 20_002);
    assert_real_http_reported(&r);
    let peak = r.peak_rss();
    eprintln!("peak RSS {} MiB", peak / MIB);
    assert!(peak < 96 * MIB, "peak RSS {} MiB", peak / MIB);
}
