//! Decodes every packet of the public capture corpus and compares the innermost addresses and
//! ports with what tshark reported (tests/expected/decode/*.tsv, made by generate.py there).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use tapir::capture::LinkType;
use tapir::decode::{decode, DecodeConfig, L4};

#[test]
#[cfg_attr(
    not(tapir_corpus),
    ignore = "public corpus absent: set TAPIR_CORPUS or provide ../shared/pcaps/public"
)]
fn public_captures_match_tshark() {
    let root = common::corpus();
    let exp_dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/expected/decode");
    let cfg = DecodeConfig::default();
    let mut files = 0;
    let mut matched_files = 0;
    let mut packets = 0;
    let mut failures = Vec::new();
    for (rel, path) in testkit::corpus::captures(&root) {
        let exp_path = format!("{exp_dir}/{}.tsv", rel.replace('/', "__"));
        let Ok(exp) = std::fs::read_to_string(&exp_path) else {
            eprintln!("no expectation for {rel}: skipped");
            continue;
        };
        files += 1;
        let pkts = testkit::corpus::read_packets(&path);
        let mut file_ok = true;
        for (line, (_, lt, data)) in exp.lines().zip(pkts.iter()) {
            packets += 1;
            let c: Vec<&str> = line.split('\t').collect();
            let (frame, esrc, edst) = (c[0], c[1], c[2]);
            let (esp, edp) = (
                c.get(3).copied().unwrap_or(""),
                c.get(4).copied().unwrap_or(""),
            );
            let got = match decode(LinkType(*lt), data, &cfg) {
                Err(e) => {
                    if esrc != "-" {
                        format!("Err({e:?})")
                    } else {
                        continue;
                    }
                }
                Ok(d) => {
                    let (sp, dp) = match d.l4 {
                        L4::Tcp {
                            src_port, dst_port, ..
                        }
                        | L4::Udp {
                            src_port, dst_port, ..
                        } => (src_port.to_string(), dst_port.to_string()),
                        _ => (String::new(), String::new()),
                    };
                    // Non-first fragments carry no ports (tshark agrees with reassembly off).
                    format!("{}\t{}\t{sp}\t{dp}", d.src, d.dst)
                }
            };
            let want = if esrc == "-" {
                "not ip".to_string()
            } else {
                format!("{esrc}\t{edst}\t{esp}\t{edp}")
            };
            if got != want {
                file_ok = false;
                failures.push(format!("{rel} frame {frame}: got [{got}] want [{want}]"));
            }
        }
        assert_eq!(exp.lines().count(), pkts.len(), "{rel}: packet count");
        if file_ok {
            matched_files += 1;
        }
    }
    eprintln!("{matched_files}/{files} captures ({packets} packets) match tshark");
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
