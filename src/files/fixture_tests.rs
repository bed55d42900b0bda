//! Byte-fixture tests for magic, the PE summary, the tracker and extraction.

use super::*;

fn put16(b: &mut [u8], off: usize, v: u16) {
    b[off..off + 2].copy_from_slice(&v.to_le_bytes());
}
fn put32(b: &mut [u8], off: usize, v: u32) {
    b[off..off + 4].copy_from_slice(&v.to_le_bytes());
}
fn put64(b: &mut [u8], off: usize, v: u64) {
    b[off..off + 8].copy_from_slice(&v.to_le_bytes());
}

/// Minimal PE: headers (0x200), .text (raw 0x200, RVA 0x1000), .idata (raw 0x400, RVA 0x2000)
/// importing kernel32!CreateFileA, kernel32!ExitProcess and foo.dll ordinal 7.
/// `cert`: a WIN_CERTIFICATE payload appended at 0x600 and pointed at by the security directory.
pub(crate) fn build_pe(pe64: bool, dll: bool, cert: Option<&[u8]>) -> Vec<u8> {
    let mut b = vec![0u8; 0x600];
    b[0] = b'M';
    b[1] = b'Z';
    put32(&mut b, 0x3c, 0x80);
    b[0x80..0x84].copy_from_slice(b"PE\0\0");
    let coff = 0x84;
    put16(&mut b, coff, if pe64 { 0x8664 } else { 0x14c });
    put16(&mut b, coff + 2, 2);
    put32(&mut b, coff + 4, 1_600_000_000); // 2020-09-13T12:26:40Z
    let opt_size: u16 = if pe64 { 240 } else { 224 };
    put16(&mut b, coff + 16, opt_size);
    let mut ch = 0x0002 | 0x0020;
    if dll {
        ch |= 0x2000;
    }
    if !pe64 {
        ch |= 0x0100;
    }
    put16(&mut b, coff + 18, ch);
    let opt = coff + 20;
    put16(&mut b, opt, if pe64 { 0x20b } else { 0x10b });
    put32(&mut b, opt + 4, 0x200); // SizeOfCode
    put32(&mut b, opt + 16, 0x1010); // entry point
    put32(&mut b, opt + 20, 0x1000); // BaseOfCode
    if pe64 {
        put64(&mut b, opt + 24, 0x1_4000_0000);
    } else {
        put32(&mut b, opt + 28, 0x40_0000);
    }
    put32(&mut b, opt + 32, 0x1000); // SectionAlignment
    put32(&mut b, opt + 36, 0x200); // FileAlignment
    put16(&mut b, opt + 40, 6); // OS version
    put16(&mut b, opt + 48, 6); // subsystem version
    put32(&mut b, opt + 56, 0x3000); // SizeOfImage
    put32(&mut b, opt + 60, 0x200); // SizeOfHeaders
    put16(&mut b, opt + 68, 3); // windows_cui
    let (nrva, dirs) = if pe64 { (108, 112) } else { (92, 96) };
    put32(&mut b, opt + nrva, 16);
    put32(&mut b, opt + dirs + 8, 0x2000); // import directory
    put32(&mut b, opt + dirs + 12, 0x3c);
    if let Some(c) = cert {
        put32(&mut b, opt + dirs + 32, 0x600);
        put32(&mut b, opt + dirs + 36, (c.len() + 8) as u32);
    }
    let sec = opt + usize::from(opt_size);
    for (i, (name, rva, raw, ch)) in [
        (b".text\0\0\0", 0x1000u32, 0x200u32, 0x6000_0020u32),
        (b".idata\0\0", 0x2000, 0x400, 0xc000_0040),
    ]
    .iter()
    .enumerate()
    {
        let h = sec + i * 40;
        b[h..h + 8].copy_from_slice(*name);
        put32(&mut b, h + 8, 0x180);
        put32(&mut b, h + 12, *rva);
        put32(&mut b, h + 16, 0x200);
        put32(&mut b, h + 20, *raw);
        put32(&mut b, h + 36, *ch);
    }
    // .text: some code-like bytes
    for (i, x) in b[0x200..0x400].iter_mut().enumerate() {
        *x = (i * 7 % 251) as u8;
    }
    // .idata at file 0x400 = RVA 0x2000
    let f = |rva: u32| 0x400 + (rva - 0x2000) as usize;
    let w = if pe64 { 8 } else { 4 };
    // descriptor 1: kernel32
    put32(&mut b, f(0x2000), 0x2040);
    put32(&mut b, f(0x2000) + 12, 0x2140);
    put32(&mut b, f(0x2000) + 16, 0x2080);
    // descriptor 2: foo.dll
    put32(&mut b, f(0x2014), 0x20c0);
    put32(&mut b, f(0x2014) + 12, 0x2150);
    put32(&mut b, f(0x2014) + 16, 0x20e0);
    for table in [0x2040u32, 0x2080] {
        let o = f(table);
        if pe64 {
            put64(&mut b, o, 0x2100);
            put64(&mut b, o + w, 0x2120);
        } else {
            put32(&mut b, o, 0x2100);
            put32(&mut b, o + w, 0x2120);
        }
    }
    for table in [0x20c0u32, 0x20e0] {
        let o = f(table);
        if pe64 {
            put64(&mut b, o, 0x8000_0000_0000_0007);
        } else {
            put32(&mut b, o, 0x8000_0007);
        }
    }
    b[f(0x2102)..f(0x2102) + 12].copy_from_slice(b"CreateFileA\0");
    b[f(0x2122)..f(0x2122) + 12].copy_from_slice(b"ExitProcess\0");
    b[f(0x2140)..f(0x2140) + 13].copy_from_slice(b"KERNEL32.dll\0");
    b[f(0x2150)..f(0x2150) + 8].copy_from_slice(b"foo.dll\0");
    if let Some(c) = cert {
        b.extend_from_slice(&((c.len() + 8) as u32).to_le_bytes());
        b.extend_from_slice(&0x0200u16.to_le_bytes());
        b.extend_from_slice(&2u16.to_le_bytes());
        b.extend_from_slice(c);
    }
    b
}

use crate::proto::ber::encode as tlv;

fn cat(parts: &[Vec<u8>]) -> Vec<u8> {
    parts.concat()
}

fn name_o(org: &str) -> Vec<u8> {
    let cn = tlv(
        0x31,
        &tlv(
            0x30,
            &cat(&[vec![0x06, 0x03, 0x55, 0x04, 0x03], tlv(0x0c, b"CN x")]),
        ),
    );
    let o = tlv(
        0x31,
        &tlv(
            0x30,
            &cat(&[
                vec![0x06, 0x03, 0x55, 0x04, 0x0a],
                tlv(0x0c, org.as_bytes()),
            ]),
        ),
    );
    tlv(0x30, &cat(&[cn, o]))
}

fn cert(serial: &[u8], org: &str) -> Vec<u8> {
    let alg = tlv(0x30, &[0x06, 0x03, 0x2a, 0x03, 0x04]);
    let validity = tlv(
        0x30,
        &cat(&[tlv(0x17, b"200101000000Z"), tlv(0x17, b"300101000000Z")]),
    );
    let tbs = tlv(
        0x30,
        &cat(&[
            tlv(0xa0, &tlv(0x02, &[2])),
            tlv(0x02, serial),
            alg.clone(),
            name_o("Issuer CA"),
            validity,
            name_o(org),
            tlv(0x30, &cat(&[alg.clone(), tlv(0x03, &[0, 1, 2])])),
        ]),
    );
    tlv(0x30, &cat(&[tbs, alg, tlv(0x03, &[0, 9, 9])]))
}

/// PKCS#7 SignedData with a decoy certificate first and the signer's second.
pub(crate) fn pkcs7(org: &str) -> Vec<u8> {
    let certs = tlv(
        0xa0,
        &cat(&[cert(&[0x11], "Decoy CA Org"), cert(&[0x05, 0x39], org)]),
    );
    let signer = tlv(
        0x30,
        &cat(&[
            tlv(0x02, &[1]),
            tlv(0x30, &cat(&[name_o("Issuer CA"), tlv(0x02, &[0x05, 0x39])])),
            tlv(0x30, &[0x06, 0x03, 0x2a, 0x03, 0x05]),
        ]),
    );
    let sd = tlv(
        0x30,
        &cat(&[
            tlv(0x02, &[1]),
            tlv(0x31, &[]),
            tlv(0x30, &[0x06, 0x03, 0x2a, 0x03, 0x06]),
            certs,
            tlv(0x31, &signer),
        ]),
    );
    tlv(
        0x30,
        &cat(&[
            vec![
                0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02,
            ],
            tlv(0xa0, &sd),
        ]),
    )
}

fn imphash_expected() -> String {
    let d =
        <md5::Md5 as sha2::Digest>::digest(b"kernel32.createfilea,kernel32.exitprocess,foo.ord7");
    d.iter().map(|x| format!("{x:02x}")).collect()
}

#[test]
fn pe32_summary() {
    let b = build_pe(false, false, None);
    let s = pe::summarize(&b, true).unwrap();
    assert_eq!(s.kind, Some("pe32"));
    assert_eq!((s.machine, s.machine_id), ("x86", 0x14c));
    assert_eq!(s.compile_time.as_deref(), Some("2020-09-13T12:26:40Z"));
    assert_eq!(
        (s.subsystem, s.subsystem_id),
        (Some("windows_cui"), Some(3))
    );
    assert_eq!(s.characteristics, "0x0122");
    assert_eq!(
        s.characteristics_flags,
        vec!["executable", "large_address_aware", "32bit_machine"]
    );
    assert!(!s.dll);
    assert_eq!(s.entry_point, Some(0x1010));
    assert_eq!(s.image_base, Some(0x40_0000));
    assert_eq!(s.num_sections, 2);
    assert_eq!(s.sections.len(), 2);
    assert_eq!(s.sections[0].name, ".text");
    assert_eq!(s.sections[0].virtual_size, 0x180);
    assert_eq!(s.sections[0].raw_size, 0x200);
    assert_eq!(s.sections[0].characteristics, "0x60000020");
    assert_eq!(s.sections[1].name, ".idata");
    // Entropy, imphash and sections checked against python pefile on the same bytes
    // (.text 7.96572485347337, .idata 1.111639615257117, imphash 8be504c0...).
    assert_eq!(s.sections[0].entropy, Some(7.966));
    assert_eq!(s.sections[1].entropy, Some(1.112));
    assert_eq!(imphash_expected(), "8be504c0d5f45ee06361df4d9b777a55");
    assert_eq!(s.imports, Some(3));
    assert_eq!(s.imphash.as_deref(), Some(imphash_expected().as_str()));
    assert!(!s.signed && !s.malformed && !s.partial);
    assert_eq!(magic::detect(&b).0, "exe");
}

#[test]
fn pe32plus_dll_summary() {
    let b = build_pe(true, true, None);
    let s = pe::summarize(&b, true).unwrap();
    assert_eq!(s.kind, Some("pe32+"));
    assert_eq!((s.machine, s.machine_id), ("x86_64", 0x8664));
    assert!(s.dll);
    assert!(s.characteristics_flags.contains(&"dll"));
    assert_eq!(s.image_base, Some(0x1_4000_0000));
    assert_eq!(s.sections.len(), 2);
    assert_eq!(s.imports, Some(3));
    assert_eq!(s.imphash.as_deref(), Some(imphash_expected().as_str()));
    assert_eq!(magic::detect(&b).0, "dll");
    let v = pe_summary(&b).unwrap();
    assert_eq!(v["machine"], "x86_64");
    assert_eq!(v["sections"][1]["name"], ".idata");
    assert!(v.get("malformed").is_none());
}

#[test]
fn authenticode_signer_org() {
    let b = build_pe(false, false, Some(&pkcs7("Contoso Ltd")));
    let s = pe::summarize(&b, true).unwrap();
    assert!(s.signed);
    assert_eq!(s.signer_org.as_deref(), Some("Contoso Ltd"));
    // Garbage certificate: signed but unknown signer.
    let b = build_pe(false, false, Some(&[0x30, 0x03, 0x01, 0x02]));
    let s = pe::summarize(&b, true).unwrap();
    assert!(s.signed);
    assert_eq!(s.signer_org.as_deref(), Some("unknown"));
    // Security directory pointing past the bytes: not counted as signed.
    let mut b = build_pe(false, false, Some(&pkcs7("X")));
    b.truncate(0x610);
    let s = pe::summarize(&b, false).unwrap();
    assert!(!s.signed);
    assert!(s.signature_declared);
    assert_eq!(s.signer_org, None);
}

#[test]
fn truncated_pe_headers_only() {
    let b = build_pe(false, false, None);
    for cut in [0, 1, 2, 0x40, 0x84, 0x90, 0xa0, 0x150, 0x190, 0x1b0, 0x300] {
        let s = pe::summarize(&b[..cut], false);
        if cut < 0x84 {
            assert!(s.is_none(), "cut {cut}");
            continue;
        }
        let s = s.unwrap();
        assert!(s.partial);
        assert!(s.imports.is_none());
    }
    let s = pe::summarize(&b[..0x300], false).unwrap();
    assert_eq!(s.sections.len(), 2);
    assert!(s.sections[0].raw_truncated);
    assert_eq!(s.sections[1].entropy, None);
    // A "whole" file that is cut: goblin fails, reported as malformed with the headers read.
    let s = pe::summarize(&b[..0x300], true).unwrap();
    assert_eq!(s.machine, "x86");
    assert_eq!(s.sections.len(), 2);
}

#[test]
fn absurd_pe_values() {
    let mut b = build_pe(false, false, None);
    put16(&mut b, 0x86, 0xffff); // NumberOfSections
    let s = pe::summarize(&b, true).unwrap();
    assert!(s.malformed);
    assert_eq!(s.num_sections, 0xffff);
    assert!(s.sections.len() <= pe::MAX_SECTIONS);

    let mut b = build_pe(true, false, None);
    let sec = 0x84 + 20 + 240;
    put32(&mut b, sec + 16, 0xffff_ffff); // raw size
    put32(&mut b, sec + 20, 0xffff_fff0); // raw pointer
    put16(&mut b, 0x84 + 16, 0xffff); // optional header size
    let s = pe::summarize(&b, true).unwrap();
    assert_eq!(s.machine, "x86_64");

    let mut b = build_pe(false, false, None);
    put32(&mut b, 0x3c, 0xffff_fffe); // e_lfanew
    assert!(pe::summarize(&b, true).is_none());
    assert_eq!(magic::detect(&b).0, "pe");

    let mut b = build_pe(false, false, None);
    put16(&mut b, 0x84 + 20, 0x1234); // bad optional magic
    let s = pe::summarize(&b, true).unwrap();
    assert!(s.malformed);
    assert!(s.imports.is_none());

    // Import descriptors pointing everywhere.
    let mut b = build_pe(false, false, None);
    for i in 0..10 {
        put32(&mut b, 0x400 + i * 4, 0xffff_fff0 - i as u32);
    }
    let _ = pe::summarize(&b, true).unwrap();
}

#[test]
fn entropy_constant_vs_random() {
    assert_eq!(pe::entropy(&[]), 0.0);
    assert_eq!(pe::entropy(&[0x41; 4096]), 0.0);
    let all: Vec<u8> = (0..=255u8).cycle().take(256 * 16).collect();
    assert!((pe::entropy(&all) - 8.0).abs() < 1e-9);
    let mut x: u32 = 12345;
    let rnd: Vec<u8> = (0..65536)
        .map(|_| {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            (x >> 16) as u8
        })
        .collect();
    assert!(pe::entropy(&rnd) > 7.9);
    assert!((pe::entropy(b"aabb") - 1.0).abs() < 1e-9);
}

#[test]
fn magic_fixtures() {
    let zip_ooxml = cat(&[
        b"PK\x03\x04\x14\x00\x06\x00".to_vec(),
        vec![0; 22],
        b"[Content_Types].xml".to_vec(),
        b"...word/document.xml".to_vec(),
    ]);
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (b"\x7fELF\x02\x01\x01\0".to_vec(), "elf"),
        (vec![0xcf, 0xfa, 0xed, 0xfe, 7, 0, 0, 1], "macho"),
        (vec![0xca, 0xfe, 0xba, 0xbe, 0, 0, 0, 2, 0, 0], "macho"),
        (
            vec![0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1, 0, 0],
            "ole",
        ),
        (zip_ooxml, "ooxml"),
        (b"PK\x03\x04\x14\0\0\0\x08\0hello.txt".to_vec(), "zip"),
        (b"%PDF-1.7\n%\xe2\xe3".to_vec(), "pdf"),
        (b"\r\n\r\n%PDF-1.4".to_vec(), "pdf"),
        (b"{\\rtf1\\ansi".to_vec(), "rtf"),
        (b"#!/bin/sh\necho hi\n".to_vec(), "script"),
        (b"#!/usr/bin/env python3\n".to_vec(), "script"),
        (b"<!DOCTYPE html><html>".to_vec(), "html"),
        (b"\xef\xbb\xbf\r\n<html><body>".to_vec(), "html"),
        (b"  <div>x</div><script>".to_vec(), "html"),
        (b"<?xml version=\"1.0\"?><a/>".to_vec(), "xml"),
        (b"{\"a\": 1}".to_vec(), "json"),
        (b"[1, 2]".to_vec(), "json"),
        (b"MSCF\0\0\0\0\x10\x20\0\0".to_vec(), "cab"),
        (vec![0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0], "gzip"),
        (vec![0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c, 0, 4], "7z"),
        (b"Rar!\x1a\x07\x01\x00".to_vec(), "rar"),
        (b"Rar!\x1a\x07\x00".to_vec(), "rar"),
        (b"MZ\x90\0".to_vec(), "pe"),
        (b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec(), "png"),
        (b"hello world".to_vec(), "unknown"),
        (b"{not json".to_vec(), "unknown"),
        (Vec::new(), "unknown"),
    ];
    for (bytes, want) in cases {
        assert_eq!(
            magic::detect(&bytes).0,
            want,
            "{:?}",
            &bytes[..bytes.len().min(16)]
        );
    }
    assert_eq!(
        magic::detect(b"PK\x03\x04[Content_Types].xml xl/workbook.xml")
            .1
            .as_deref(),
        Some("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    );
}

#[test]
fn magic_never_panics_on_prefixes() {
    let samples: Vec<Vec<u8>> = vec![
        build_pe(false, true, None),
        b"\xef\xbb\xbf  [".to_vec(),
        b"\xca\xfe\xba\xbe".to_vec(),
        vec![0xff; 70_000],
    ];
    for s in samples {
        for cut in 0..s.len().min(700) {
            let _ = magic::detect(&s[..cut]);
            let _ = pe::pe_summary(&s[..cut]);
        }
    }
}

fn track(chunks: &[&[u8]], complete: bool) -> FileBody {
    let mut t = FileTracker::new(FileMeta {
        source: "http",
        ..Default::default()
    });
    for c in chunks {
        t.update(c);
    }
    t.finish("f".into(), complete)
}

#[test]
fn tracker_fills_pe() {
    let b = build_pe(false, false, Some(&pkcs7("Contoso Ltd")));
    // One byte first: the decision waits for two.
    let body = track(&[&b[..1], &b[1..700], &b[700..]], true);
    assert_eq!(body.format, "exe");
    let pe = body.pe.unwrap();
    assert_eq!(pe["machine"], "x86");
    assert_eq!(pe["imports"], 3);
    assert_eq!(pe["signer_org"], "Contoso Ltd");
    assert!(pe.get("partial").is_none());

    // Incomplete: header-only, no imports.
    let body = track(&[&b[..0x500]], false);
    let pe = body.pe.unwrap();
    assert_eq!(pe["partial"], true);
    assert!(pe.get("imports").is_none());

    // A gap: summary from the head before the gap.
    let mut t = FileTracker::new(FileMeta::default());
    t.update(&b[..0x300]);
    t.gap(100);
    t.update(&b[0x364..]);
    let body = t.finish("g".into(), true);
    assert!(!body.complete);
    let pe = body.pe.unwrap();
    assert_eq!(pe["partial"], true);
    assert_eq!(pe["sections"].as_array().unwrap().len(), 2);

    // Not a PE: no buffer, no summary.
    let body = track(&[b"%PDF-1.5 ...", &[0; 1000]], true);
    assert_eq!(body.format, "pdf");
    assert!(body.pe.is_none());
    let json = serde_json::to_value(&body).unwrap();
    assert!(json.get("pe").is_none());
    assert!(json.get("extracted").is_none());
}

#[test]
fn tracker_over_cap_uses_head() {
    let mut b = build_pe(true, false, None);
    b.resize(PE_MAX_BYTES + 10, 0xcc);
    let body = track(&[&b[..1 << 20], &b[1 << 20..]], true);
    assert_eq!(body.size, (PE_MAX_BYTES + 10) as u64);
    let pe = body.pe.unwrap();
    assert_eq!(pe["machine"], "x86_64");
    assert_eq!(pe["partial"], true);
    assert!(pe.get("imphash").is_none());
    // A PE buffered from its start and then past the cap: counted (as `file.pe_too_large`,
    // by `ParseCtx::emit`), not written.
    let body = track(&[&b[..1024], &b[1024..]], true);
    assert!(body.pe_too_large);
    assert!(serde_json::to_value(&body)
        .unwrap()
        .get("pe_too_large")
        .is_none());
    let (mut out, mut anomalies) = (Vec::new(), Vec::new());
    let mut ctx = crate::proto::ParseCtx {
        ts_ns: 0,
        transport: crate::vocab::Transport::Tcp,
        out: &mut out,
        anomalies: &mut anomalies,
    };
    ctx.emit(crate::proto::AppBody::File(body));
    assert_eq!(anomalies, ["file.pe_too_large"]);
    let small = track(&[&build_pe(true, false, None)], true);
    assert!(!small.pe_too_large);
}

#[test]
fn extraction() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = ExtractConfig {
        dir: Some(dir.path().join("x")),
        formats: vec!["pe".into(), "pdf".into()],
        max_file_size: 2000,
        disk_cap: 3000,
    };
    let mut ex = Extractor::new(cfg).unwrap();
    let pe_bytes = build_pe(false, false, None);
    let run = |ex: &mut Extractor, data: &[u8], complete: bool| {
        let mut sink = ex.start(None).unwrap();
        let mut t = FileTracker::new(FileMeta::default());
        for c in data.chunks(100) {
            t.update(c);
            ex.write(&mut sink, c);
        }
        let body = t.finish("f".into(), complete);
        ex.finish(sink, &body).map(|p| (p, body))
    };
    assert!(run(&mut ex, &[b'%'; 2500], true).is_none());
    assert_eq!(ex.stats().skipped_size, 1);
    let (path, body) = run(&mut ex, &pe_bytes, true).unwrap();
    assert_eq!(path.file_name().unwrap().to_str().unwrap(), body.sha256);
    assert_eq!(std::fs::read(&path).unwrap(), pe_bytes);
    // Dedup.
    assert!(run(&mut ex, &pe_bytes, true).is_some());
    assert_eq!(ex.stats().written, 1);
    assert_eq!(ex.stats().duplicates, 1);
    // Format filter, incomplete, size.
    assert!(run(&mut ex, b"hello world", true).is_none());
    assert_eq!(ex.stats().skipped_format, 1);
    assert!(run(&mut ex, b"%PDF-1.4 x", false).is_none());
    assert_eq!(ex.stats().skipped_incomplete, 1);
    assert!(ex.start(Some(5000)).is_none());
    assert_eq!(ex.stats().skipped_size, 2);
    // Disk cap: 1536 written, 1536 more would pass 3000.
    let mut other = pe_bytes.clone();
    other[0x300] ^= 1;
    assert!(run(&mut ex, &other, true).is_none());
    assert_eq!(ex.stats().disk_cap_hits, 1);
    // No temp files left behind; a dropped sink removes its file.
    let sink = ex.start(None).unwrap();
    drop(sink);
    let names: Vec<_> = std::fs::read_dir(dir.path().join("x"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names, vec![body.sha256.clone()]);
    // Off by default.
    let mut off = Extractor::new(ExtractConfig::default()).unwrap();
    assert!(!off.enabled());
    assert!(off.start(None).is_none());
}

/// Poor man's fuzzing (cargo-fuzz is not installed here): mutated PE fixtures through the
/// tracker and the summary, whole and cut.
#[test]
fn mutated_pes_do_not_panic() {
    let bases = [
        build_pe(false, false, Some(&pkcs7("Org"))),
        build_pe(true, true, None),
    ];
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for i in 0..1500 {
        let mut b = bases[i % 2].clone();
        for _ in 0..(next() % 8 + 1) {
            let pos = (next() % b.len() as u64) as usize;
            b[pos] = match next() % 3 {
                0 => 0xff,
                1 => 0,
                _ => next() as u8,
            };
        }
        let cut = if i % 5 == 0 {
            (next() % b.len() as u64) as usize
        } else {
            b.len()
        };
        let b = &b[..cut];
        let _ = pe::summarize(b, true);
        let body = track(&[b], i % 3 != 0);
        assert_eq!(magic::is_pe(&body.format), b.starts_with(b"MZ"));
    }
}

#[test]
fn bogus_import_descriptors_are_not_handed_to_goblin() {
    // 5000 non-zero descriptors whose lookup tables point at the same long run of thunks.
    let mut b = build_pe(false, false, None);
    let sec1 = 0x84 + 20 + 224 + 40;
    b.resize(0x400 + 0x20000, 0);
    put32(&mut b, sec1 + 8, 0x20000); // .idata virtual size
    put32(&mut b, sec1 + 16, 0x20000); // raw size
    for i in 0..5000 {
        let d = 0x400 + i * 20;
        put32(&mut b, d, 0x2000 + 0x19000);
        put32(&mut b, d + 12, 0x2140);
        put32(&mut b, d + 16, 0x2000 + 0x19000);
    }
    for i in 0..100 {
        put32(&mut b, 0x400 + 0x19000 + i * 4, 0x2100);
    }
    let s = pe::summarize(&b, true).unwrap();
    assert!(s.malformed);
    assert!(s.imports.is_none());
    assert_eq!(s.sections.len(), 2);
}
