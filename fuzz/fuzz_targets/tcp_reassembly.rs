//! Fuzzes one direction of TCP reassembly with small caps.
//!
//! Input: 4 bytes of ISN, 1 byte of configuration, then records of
//! `[op, off_lo, off_hi, flags, len]` followed by `len` payload bytes (cut to what is left).
//! `op & 1`: an ACK from the peer instead of a segment; `op & 2`: the offset is shifted 16 bits
//! (far jumps, wrap-around). Checks: the buffer and the budget stay within their caps, the
//! delivered bytes never exceed the bytes fed, and closing releases all the memory.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tapir::flow::tcp::{DirStream, MemBudget, ReassemblyConfig, ReassemblyStats, StreamEvent};

const MEMCAP: usize = 4096;

fuzz_target!(|data: &[u8]| {
    if data.len() < 5 {
        return;
    }
    let isn = u32::from_le_bytes([data[0], data[1], data[2], data[3]]);
    let conf = data[4];
    let cfg = ReassemblyConfig {
        depth: if conf & 0x80 != 0 {
            u64::from(conf & 0x7f) * 16
        } else {
            0
        },
        max_buffered_per_dir: usize::from(conf & 0x0f) * 64,
    };
    let mut mem = MemBudget::new(MEMCAP);
    let mut stats = ReassemblyStats::default();
    let mut stream = DirStream::new();
    let mut fed: u64 = 0;
    let mut delivered: u64 = 0;
    let mut ended = false;
    let sink = |e: StreamEvent<'_>, delivered: &mut u64, ended: &mut bool| match e {
        StreamEvent::Data(d) => {
            assert!(!d.is_empty());
            assert!(!*ended, "data after the end");
            *delivered += d.len() as u64;
        }
        StreamEvent::Fin | StreamEvent::Rst => *ended = true,
        StreamEvent::Gap(_) | StreamEvent::DepthReached => {}
    };

    let mut rest = &data[5..];
    while rest.len() >= 5 {
        let (op, flags, len) = (rest[0], rest[3], usize::from(rest[4]));
        let raw = u16::from_le_bytes([rest[1], rest[2]]);
        let off = if op & 2 != 0 {
            u32::from(raw) << 16
        } else {
            raw as i16 as i32 as u32
        };
        let seq = isn.wrapping_add(off);
        rest = &rest[5..];
        let payload = &rest[..len.min(rest.len())];
        rest = &rest[payload.len()..];
        if op & 1 != 0 {
            stream.acked(seq, &cfg, &mut mem, &mut stats, &mut |e| {
                sink(e, &mut delivered, &mut ended)
            });
        } else {
            fed += payload.len() as u64;
            stream.segment(seq, flags, payload, &cfg, &mut mem, &mut stats, &mut |e| {
                sink(e, &mut delivered, &mut ended)
            });
        }
        assert!(delivered <= fed);
        assert!(mem.used() <= MEMCAP);
        assert!(stream.buffered() <= cfg.max_buffered_per_dir);
        if cfg.depth > 0 {
            assert!(delivered <= cfg.depth);
        }
    }
    stream.close(&cfg, &mut mem, &mut stats, &mut |e| {
        sink(e, &mut delivered, &mut ended)
    });
    assert!(delivered <= fed);
    assert_eq!(delivered, stats.delivered_bytes);
    assert_eq!(stream.buffered(), 0);
    assert_eq!(mem.used(), 0);
});
