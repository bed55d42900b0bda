//! Fuzz the capture file reader: arbitrary bytes (pcap, pcapng, gzip or garbage) must never
//! panic, and every packet handed out must lie inside the shared buffer.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tapir::capture::{CaptureFile, Next, PacketSource};

fuzz_target!(|data: &[u8]| {
    let Ok(mut src) = CaptureFile::from_bytes(data.to_vec(), "fuzz") else {
        return;
    };
    let shared = src.shared_buffer();
    let range = shared.as_deref().map(|b| b.as_ptr_range());
    let mut n = 0u64;
    loop {
        match src.next() {
            Ok(Next::Packet(p)) => {
                n += 1;
                assert!(p.data.len() as u64 <= u64::from(p.wire_len));
                if let (Some(r), false) = (&range, p.data.is_empty()) {
                    assert!(r.contains(&p.data.as_ptr()));
                    assert!(p.data.as_ptr_range().end <= r.end);
                }
            }
            Ok(Next::Idle) => unreachable!("a capture file never idles"),
            Ok(Next::End) | Err(_) => break,
        }
    }
    assert_eq!(src.stats().packets, n);
    // After the end (or an error) the source stays ended.
    assert!(matches!(src.next(), Ok(Next::End)));
});
