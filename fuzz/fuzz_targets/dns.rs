//! Feeds arbitrary bytes to the DNS message parser (and the text forms of every record) and
//! through the DNS AppParser over UDP (one datagram) and TCP (the bytes split at the first
//! byte's value, both directions): it must never panic nor hang.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tapir::proto::dns::{parser, record};
use tapir::proto::{dns, Direction, ParseCtx, Transport};

fuzz_target!(|data: &[u8]| {
    if let Ok(msg) = parser::parse_message(data) {
        for q in &msg.questions {
            let _ = q.name.to_string();
        }
        for rr in msg.answers.iter().chain(&msg.authority).chain(&msg.additional) {
            let _ = rr.name.to_string();
            let _ = record::rdata_text(data, rr);
        }
        let _ = parser::opt(&msg);
    }
    let mut out = Vec::new();
    let mut anomalies = Vec::new();
    for t in [Transport::Udp, Transport::Tcp] {
        let mut p = dns::new_parser(t);
        let mut ctx = ParseCtx { ts_ns: 0, transport: t, out: &mut out, anomalies: &mut anomalies };
        let cut = data.first().map_or(0, |b| usize::from(*b)).min(data.len());
        let (a, b) = data.split_at(cut);
        p.on_data(Direction::ToServer, a, &mut ctx);
        p.on_data(Direction::ToClient, b, &mut ctx);
        p.on_data(Direction::ToServer, data, &mut ctx);
        p.on_close(&mut ctx);
    }
});
