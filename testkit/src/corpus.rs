//! Reading the public capture corpus with an independent reader (`pcap-parser`), for the tests
//! that check the product's own reader and decoders against it. Where the corpus lies is the
//! build script's business (`build.rs` at the repository root: `TAPIR_CORPUS`, else
//! `../shared/pcaps/public`); these helpers take its directory.
#![allow(clippy::expect_used)]

use std::io::Read;
use std::path::PathBuf;

use pcap_parser::pcapng::Block;
use pcap_parser::traits::PcapNGPacketBlock;
use pcap_parser::{PcapBlockOwned, PcapError};

/// One packet of a capture: (timestamp ns, link type, bytes).
pub type Pkt = (u64, u16, Vec<u8>);

/// Reads every packet of a pcap / pcapng (optionally gzip'd) file.
pub fn read_packets(path: &std::path::Path) -> Vec<Pkt> {
    let raw = std::fs::read(path).expect("read capture");
    let bytes = if path.extension().is_some_and(|e| e == "gz") {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&raw[..])
            .read_to_end(&mut out)
            .expect("gunzip");
        out
    } else {
        raw
    };
    let mut reader =
        pcap_parser::create_reader(bytes.len().max(65536) + 16, &bytes[..]).expect("reader");
    let mut out = Vec::new();
    let mut legacy_lt = 1u16;
    let mut if_lt: Vec<(u16, u64)> = Vec::new();
    loop {
        match reader.next() {
            Ok((offset, block)) => {
                match block {
                    PcapBlockOwned::LegacyHeader(h) => legacy_lt = h.network.0 as u16,
                    PcapBlockOwned::Legacy(b) => {
                        let ts = u64::from(b.ts_sec) * 1_000_000_000 + u64::from(b.ts_usec) * 1000;
                        let n = (b.caplen as usize).min(b.data.len());
                        out.push((ts, legacy_lt, b.data[..n].to_vec()));
                    }
                    PcapBlockOwned::NG(Block::SectionHeader(_)) => if_lt.clear(),
                    PcapBlockOwned::NG(Block::InterfaceDescription(idb)) => {
                        if_lt.push((idb.linktype.0 as u16, 1))
                    }
                    PcapBlockOwned::NG(Block::EnhancedPacket(epb)) => {
                        let lt = if_lt.get(epb.if_id as usize).map_or(1, |x| x.0);
                        let ts = ((u64::from(epb.ts_high) << 32) | u64::from(epb.ts_low))
                            .wrapping_mul(1000);
                        out.push((ts, lt, epb.packet_data().to_vec()));
                    }
                    PcapBlockOwned::NG(Block::SimplePacket(spb)) => {
                        let lt = if_lt.first().map_or(1, |x| x.0);
                        out.push((0, lt, spb.packet_data().to_vec()));
                    }
                    _ => {}
                }
                reader.consume(offset);
            }
            Err(PcapError::Eof) => break,
            Err(PcapError::Incomplete(_)) => {
                if reader.refill().is_err() {
                    break;
                }
            }
            Err(e) => panic!("{}: {e:?}", path.display()),
        }
    }
    out
}

/// Every capture file of the corpus, as (relative "dir/file", path).
pub fn captures(root: &std::path::Path) -> Vec<(String, PathBuf)> {
    let mut v = Vec::new();
    for d in std::fs::read_dir(root).expect("corpus dir").flatten() {
        let dn = d.file_name().to_string_lossy().into_owned();
        if dn == "expected" || dn == "peer_expected" || !d.path().is_dir() {
            continue;
        }
        for f in std::fs::read_dir(d.path()).expect("dir").flatten() {
            let fname = f.file_name().to_string_lossy().into_owned();
            if fname.contains(".pcap") {
                v.push((format!("{dn}/{fname}"), f.path()));
            }
        }
    }
    v.sort();
    v
}
