//! Feeds arbitrary bytes to the Kerberos parser over UDP (one datagram) and TCP (the bytes
//! split at the first byte's value, both directions): it must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tapir::proto::{kerberos, Direction, ParseCtx, Transport};

fuzz_target!(|data: &[u8]| {
    let mut out = Vec::new();
    let mut anomalies = Vec::new();
    for t in [Transport::Udp, Transport::Tcp] {
        let mut p = kerberos::new_parser(t);
        let mut ctx = ParseCtx { ts_ns: 0, transport: t, out: &mut out, anomalies: &mut anomalies };
        let cut = data.first().map_or(0, |b| usize::from(*b)).min(data.len());
        let (a, b) = data.split_at(cut);
        p.on_data(Direction::ToServer, a, &mut ctx);
        p.on_data(Direction::ToClient, b, &mut ctx);
        p.on_data(Direction::ToServer, b, &mut ctx);
        p.on_close(&mut ctx);
    }
});
