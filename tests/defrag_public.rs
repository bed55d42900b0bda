//! Reassembles the fragmented DNS captures of the public corpus.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashSet;

use tapir::capture::LinkType;
use tapir::decode::defrag::{DefragConfig, Defragmenter};
use tapir::decode::{decode, DecodeConfig, L4};

#[test]
#[cfg_attr(
    not(tapir_corpus),
    ignore = "public corpus absent: set TAPIR_CORPUS or provide ../shared/pcaps/public"
)]
fn public_fragmented_dns_reassembles() {
    let root = common::corpus();
    let cfg = DecodeConfig::default();
    for rel in [
        "dns/ndpi_dns_fragmented.pcap",
        "dns/zeek_ipv6-fragmented-dns.pcap",
    ] {
        let path = root.join(rel);
        if !path.exists() {
            eprintln!("{rel} absent: skipped");
            continue;
        }
        let mut defrag = Defragmenter::new(DefragConfig::default());
        let mut firsts = HashSet::new();
        let mut lasts = HashSet::new();
        let mut rebuilt = 0;
        for (ts, lt, data) in testkit::corpus::read_packets(&path) {
            let Ok(d) = decode(LinkType(lt), &data, &cfg) else {
                continue;
            };
            let Some(f) = d.frag else {
                continue;
            };
            // Datagrams whose first and last fragments were both captured (the IPv6 capture
            // holds a lone last fragment of an earlier datagram).
            if f.offset == 0 {
                firsts.insert((d.src, d.dst, f.id));
            }
            if !f.more {
                lasts.insert((d.src, d.dst, f.id));
            }
            let Some(whole) = defrag.push(ts, &data, &d) else {
                continue;
            };
            rebuilt += 1;
            let w = decode(LinkType(lt), &whole, &cfg).expect("rebuilt decodes");
            assert!(w.frag.is_none(), "{rel}: rebuilt still a fragment");
            assert_eq!(w.anomaly, None, "{rel}: rebuilt anomaly");
            assert_eq!(w.ip_offset + w.ip_len, whole.len());
            let L4::Udp { payload, .. } = w.l4 else {
                panic!("{rel}: rebuilt is not UDP: {:?}", w.l4);
            };
            let ulen = u16::from_be_bytes([
                whole[w.ip_len + w.ip_offset - payload.len() - 4],
                whole[w.ip_len + w.ip_offset - payload.len() - 3],
            ]);
            assert_eq!(payload.len() + 8, ulen as usize, "{rel}: UDP length");
        }
        let datagrams: HashSet<_> = firsts.intersection(&lasts).collect();
        let st = defrag.stats();
        eprintln!(
            "{rel}: {} datagrams, {rebuilt} rebuilt, {st:?}",
            datagrams.len()
        );
        assert!(!datagrams.is_empty(), "{rel}: no fragments found");
        assert_eq!(rebuilt, datagrams.len(), "{rel}: all datagrams rebuilt");
        assert_eq!(st.invalid + st.overlaps + st.memcap_drops, 0);
    }
}
