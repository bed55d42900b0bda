//! File analysis over real downloads from the public corpus (HTTP response bodies extracted
//! with tshark, checked in under tests/fixtures/files/):
//! - ndpi_exe_download_head.bin: the 13 296 bytes of "phn34ycjtghm.exe" (Content-Length
//!   679 008) present in ndpi_exe_download.pcap, a PE32 cut short. Expected values from
//!   `objdump -x` and python `pefile` on the same bytes.
//! - zeek_kb955430_head.cab: the first 4 KiB of a CAB from
//!   zeek_http-vnd.ms-cab-compressed-multi-conn.pcap.

use tapir::files::{detect_format, pe, FileMeta, FileTracker};

const EXE: &[u8] = include_bytes!("fixtures/files/ndpi_exe_download_head.bin");
const CAB: &[u8] = include_bytes!("fixtures/files/zeek_kb955430_head.cab");

#[test]
fn real_pe_cut_short() {
    let mut t = FileTracker::new(FileMeta {
        name: Some("phn34ycjtghm.exe".into()),
        source: "http",
        ..Default::default()
    });
    for c in EXE.chunks(1460) {
        t.update(c);
    }
    let body = t.finish("f1".into(), false);
    assert_eq!(body.format, "exe");
    assert!(!body.complete);
    let pe = body.pe.expect("pe summary");
    assert_eq!(pe["machine"], "x86");
    assert_eq!(pe["machine_id"], 0x14c);
    assert_eq!(pe["timestamp"], 1_569_391_927);
    assert_eq!(pe["compile_time"], "2019-09-25T06:12:07Z");
    assert_eq!(pe["subsystem"], "windows_gui");
    assert_eq!(pe["subsystem_id"], 2);
    assert_eq!(pe["characteristics"], "0x010f");
    assert_eq!(pe["dll"], false);
    assert_eq!(pe["entry_point"], 0x11162);
    assert_eq!(pe["image_base"], 0x40_0000);
    assert_eq!(pe["kind"], "pe32");
    assert_eq!(pe["partial"], true);
    assert_eq!(pe["signed"], false);
    assert_eq!(pe["num_sections"], 4);
    let secs = pe["sections"].as_array().expect("sections");
    let want = [
        (".text", 0x433a3, 0x44000, "0x60000020"),
        (".rdata", 0x13b60, 0x14000, "0x40000040"),
        (".data", 0x60c4, 0x3000, "0xc0000040"),
        (".rsrc", 0x301f2, 0x31000, "0x40000040"),
    ];
    assert_eq!(secs.len(), want.len());
    for (s, (name, vsize, raw, ch)) in secs.iter().zip(want) {
        assert_eq!(s["name"], name);
        assert_eq!(s["virtual_size"], vsize);
        assert_eq!(s["raw_size"], raw);
        assert_eq!(s["characteristics"], ch);
    }
    // pefile: .text entropy over the bytes present 5.808956768989395; others absent.
    assert_eq!(secs[0]["entropy"], 5.809);
    assert_eq!(secs[0]["raw_truncated"], true);
    assert!(secs[1].get("entropy").is_none());
    // The same bytes taken as a whole file: goblin can't read the imports of a cut file.
    let s = pe::summarize(EXE, true).expect("pe");
    assert_eq!(s.sections.len(), 4);
    assert!(s.imphash.is_none());
}

#[test]
fn real_cab() {
    assert_eq!(
        detect_format(CAB),
        (
            "cab".to_string(),
            Some("application/vnd.ms-cab-compressed".to_string())
        )
    );
    let mut t = FileTracker::new(FileMeta::default());
    t.update(CAB);
    let body = t.finish("c".into(), false);
    assert_eq!(body.format, "cab");
    assert!(body.pe.is_none());
}
