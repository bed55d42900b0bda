//! Decodes arbitrary bytes; the first byte picks the link type.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tapir::capture::LinkType;
use tapir::decode::{decode, DecodeConfig};

const LINKTYPES: [LinkType; 11] = [
    LinkType::NULL,
    LinkType::ETHERNET,
    LinkType::RAW,
    LinkType::IEEE802_11,
    LinkType::LOOP,
    LinkType::LINUX_SLL,
    LinkType::IEEE802_11_RADIOTAP,
    LinkType::IPV4,
    LinkType::IPV6,
    LinkType::NFLOG,
    LinkType::LINUX_SLL2,
];

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let lt = LINKTYPES[first as usize % LINKTYPES.len()];
    let cfg = DecodeConfig {
        max_tunnel_depth: 1 + first / 16,
        ..DecodeConfig::default()
    };
    if let Ok(d) = decode(lt, rest, &cfg) {
        assert!(d.ip_offset < rest.len());
        assert!(d.vlans.as_slice().len() <= tapir::decode::MAX_VLANS);
    }
});
