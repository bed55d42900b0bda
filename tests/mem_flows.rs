//! A flood that makes flows two-sided with spoofed replies (each SYN answered by a forged
//! SYN-ACK) fills the flow table with flows that carry no data: new connections must still be
//! tracked (the least recently active data-less flow is evicted, counted), through the binary.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use common::run_sensor;
use testkit::packets::{Cap, SERVER};
use testkit::rng::Rng;

#[test]
fn spoofed_syn_ack_flood_does_not_keep_a_real_connection_out() {
    let mut c = Cap::new();
    let mut rng = Rng::new(0x5eed_f00d_1234_5678);
    let n = 5_000;
    for _ in 0..n {
        let r = rng.next();
        let src = [11, (r >> 8) as u8, (r >> 16) as u8, (r >> 24) as u8];
        let sp = (r >> 32) as u16 | 1024;
        let isn = r as u32;
        c.tcp(src, SERVER, sp, 80, isn, 0, "S", &[]);
        c.tcp(SERVER, src, 80, sp, 7, isn.wrapping_add(1), "SA", &[]);
    }
    // The table is full of two-sided flows without data; now a real exchange.
    c.conversation(
        [10, 9, 9, 9],
        40000,
        SERVER,
        80,
        b"GET /after-the-spoofed-flood HTTP/1.1\r\nHost: example.org\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
    );
    let r = run_sensor(&c.bytes, &["-w", "1", "--max-flows", "1000"]);
    assert!(r.status.success(), "{}", r.stderr);
    assert!(
        r.of("http")
            .iter()
            .any(|h| h["http"]["uri"] == "/after-the-spoofed-flood" && h["http"]["status"] == 200),
        "the real transaction is missing; stderr: {}",
        r.stderr
    );
    let evicted = r.anomaly("flow.evicted_idle_no_data");
    // Nearly every flow past the first thousand made room by evicting a data-less one.
    assert!(evicted >= (n - 1000) as u64 * 9 / 10, "evicted {evicted}");
    let hits = r.limit_hits("flow.max_flows");
    assert!(hits >= (n - 1000) as u64, "flow.max_flows hits {hits}");
    assert_eq!(r.anomaly("flow.cap_drops"), 0, "new flows refused");
    assert!(r.stop()["flows"]["peak"].as_u64().unwrap() <= 1000);
}
