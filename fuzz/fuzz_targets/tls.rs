//! Fuzz the TLS parser: arbitrary bytes, cut into chunks by the first bytes, fed to both
//! directions; the parser must never panic and emit at most one record per hello.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tapir::proto::{tls, Direction, ParseCtx, Transport};

fuzz_target!(|data: &[u8]| {
    let Some((&ctl, rest)) = data.split_first() else {
        return;
    };
    let mut out = Vec::new();
    let mut anomalies = Vec::new();
    let mut p = tls::new_parser(Transport::Tcp);
    // Chunk sizes 1..=64 chosen by the control byte; every third chunk goes to the client.
    let size = usize::from(ctl % 64) + 1;
    for (i, chunk) in rest.chunks(size).enumerate() {
        let dir = if (i + usize::from(ctl >> 6)) % 3 == 0 {
            Direction::ToClient
        } else {
            Direction::ToServer
        };
        let mut ctx = ParseCtx {
            ts_ns: i as u64,
            transport: Transport::Tcp,
            out: &mut out,
            anomalies: &mut anomalies,
        };
        p.on_data(dir, chunk, &mut ctx);
        if i % 17 == 16 {
            p.on_gap(dir, 5, &mut ctx);
        }
    }
    let mut ctx = ParseCtx {
        ts_ns: u64::MAX,
        transport: Transport::Tcp,
        out: &mut out,
        anomalies: &mut anomalies,
    };
    p.on_close(&mut ctx);
    assert!(out.len() <= rest.len() / 11 + 1);
});
