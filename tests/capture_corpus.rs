//! The capture reader over the whole public corpus: every capture opens, reads to its end
//! without error, and gives the packet count its `MANIFEST.tsv` lists.
//!
//! The corpus is found through `TAPIR_CORPUS`, else `../shared/pcaps/public` beside the
//! checkout (`build.rs` sets the `tapir_corpus` cfg when it is there); where it is absent the
//! test is reported as ignored, with the reason.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use tapir::capture::{pcap_file, Next};
use tapir::decode::LINKTYPES;

#[test]
#[cfg_attr(
    not(tapir_corpus),
    ignore = "public corpus absent: set TAPIR_CORPUS or provide ../shared/pcaps/public"
)]
fn public_corpus_counts_match_manifest() {
    let dir = common::corpus();
    let manifest = std::fs::read_to_string(dir.join("MANIFEST.tsv")).unwrap();
    let mut lines = manifest.lines();
    let header: Vec<&str> = lines.next().unwrap().split('\t').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let (file_col, packets_col) = (col("file"), col("packets"));
    let mut checked = 0;
    for line in lines.filter(|l| !l.trim().is_empty()) {
        let cols: Vec<&str> = line.split('\t').collect();
        let name = cols[file_col];
        let want: u64 = cols[packets_col].parse().unwrap();
        let path = dir.join(name);
        let mut src = pcap_file::open(path.to_str().unwrap(), 1 << 30)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let mut n = 0u64;
        let mut first = None;
        loop {
            match src.next().unwrap_or_else(|e| panic!("{name}: {e}")) {
                Next::Packet(p) => {
                    n += 1;
                    first.get_or_insert(p.linktype);
                    assert!(p.data.len() as u64 <= u64::from(p.wire_len));
                }
                Next::Idle => panic!("{name}: idle"),
                Next::End => break,
            }
        }
        assert_eq!(n, want, "{name}: packet count");
        assert_eq!(src.stats().packets, want, "{name}: stats");
        let lt = first.unwrap();
        assert!(LINKTYPES.contains(&lt), "{name}: unknown link type {lt:?}");
        checked += 1;
    }
    assert!(checked > 0);
    eprintln!("checked {checked} captures in {}", dir.display());
}
