//! Feeds arbitrary bytes to the SMTP parser as a conversation: each piece starts with a control
//! byte (bit 0: direction, bits 1..7: piece length; 0xfe/0xff: a gap of the next byte's size in
//! that direction), then on_close. It must never panic, whatever the order or the split.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tapir::proto::{email::smtp, Direction, ParseCtx, Transport};

fuzz_target!(|data: &[u8]| {
    let mut out = Vec::new();
    let mut anomalies = Vec::new();
    let mut ctx = ParseCtx { ts_ns: 0, transport: Transport::Tcp, out: &mut out, anomalies: &mut anomalies };
    let mut p = smtp::new_parser(Transport::Tcp);
    let mut rest = data;
    while let Some((&ctl, tail)) = rest.split_first() {
        let dir = if ctl & 1 == 0 { Direction::ToServer } else { Direction::ToClient };
        if ctl >= 0xfe {
            let len = tail.first().map_or(1, |b| u32::from(*b) + 1);
            p.on_gap(dir, len, &mut ctx);
            rest = tail.get(1..).unwrap_or_default();
            continue;
        }
        let n = usize::from(ctl >> 1).max(1).min(tail.len());
        let (piece, tail) = tail.split_at(n);
        p.on_data(dir, piece, &mut ctx);
        rest = tail;
    }
    p.on_close(&mut ctx);
});
