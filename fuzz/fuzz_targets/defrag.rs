//! Splits the input into packets (2-byte big-endian length prefixes), decodes each as Ethernet
//! or raw IP, pushes the fragments into a small Defragmenter and decodes what it rebuilds.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tapir::capture::LinkType;
use tapir::decode::defrag::{DefragConfig, Defragmenter};
use tapir::decode::{decode, DecodeConfig};

fuzz_target!(|data: &[u8]| {
    let Some((&mode, mut rest)) = data.split_first() else {
        return;
    };
    let lt = if mode & 1 == 0 {
        LinkType::ETHERNET
    } else {
        LinkType::RAW
    };
    let cfg = DecodeConfig::default();
    let mut df = Defragmenter::new(DefragConfig {
        memcap: 4096,
        timeout_ns: 1000,
        max_fragments: 16,
        max_trackers: 8,
    });
    let mut ts = 0u64;
    while let [a, b, tail @ ..] = rest {
        let len = (usize::from(*a) << 8 | usize::from(*b)).min(tail.len());
        let (pkt, next) = tail.split_at(len);
        rest = next;
        ts += 100;
        df.expire(ts);
        let Ok(d) = decode(lt, pkt, &cfg) else {
            continue;
        };
        if d.frag.is_none() {
            continue;
        }
        if let Some(whole) = df.push(ts, pkt, &d) {
            let _ = decode(lt, &whole, &cfg);
        }
        assert!(df.memory() <= 4096);
    }
});
