//! HTTP over hand-built TCP that makes reassembly work: tiny segments, reordering,
//! retransmissions, overlaps, pipelining, chunked and gzip bodies — through the whole pipeline
//! (capture file → decode → flow → reassembly → HTTP parser → records).
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use std::io::Write;

use sha2::{Digest, Sha256};
use tapir::config::Config;

use testkit::packets::Cap;

/// Segment order: pairs swapped, every third segment sent twice.
fn shuffled(n: usize) -> Vec<usize> {
    let mut v = Vec::new();
    let mut i = 0;
    while i < n {
        if i + 1 < n {
            v.extend([i + 1, i]);
        } else {
            v.push(i);
        }
        if i % 3 == 0 {
            v.push(i);
        }
        i += 2;
    }
    v
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn chunked(body: &[u8], size: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for c in body.chunks(size) {
        out.extend_from_slice(format!("{:x}\r\n", c.len()).as_bytes());
        out.extend_from_slice(c);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\nX-Trailer: yes\r\n\r\n");
    out
}

#[test]
fn http_survives_tiny_reordered_retransmitted_segments() {
    // Near the top of the sequence space: the stream wraps past 2^32.
    let (cisn, sisn) = (0xffff_ff00u32, 0x1234_5678u32);
    let page: Vec<u8> = (0..20_000u32)
        .flat_map(|i| format!("line {i}\n").into_bytes())
        .collect();
    let gz = gzip(&page);
    let plain = b"hello, plain body".to_vec();
    let requests = b"GET /page.html HTTP/1.1\r\nHost: example.org\r\nUser-Agent: tricky/1.0\r\nAccept-Encoding: gzip\r\n\r\nGET /plain.txt HTTP/1.1\r\nHost: example.org\r\nUser-Agent: tricky/1.0\r\n\r\n".to_vec();
    let mut responses = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    let chunked_gz = chunked(&gz, 1000);
    responses.extend_from_slice(&chunked_gz);
    responses.extend_from_slice(
        format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n",
            plain.len()
        )
        .as_bytes(),
    );
    responses.extend_from_slice(&plain);

    let mut c = Cap::new();
    c.seg(true, cisn, 0, "S", &[]);
    c.seg(false, sisn, cisn.wrapping_add(1), "SA", &[]);
    c.seg(true, cisn.wrapping_add(1), sisn.wrapping_add(1), "A", &[]);
    // Both pipelined requests in 7-byte segments, reordered, with retransmissions.
    let n = requests.len().div_ceil(7);
    c.send(true, cisn, sisn.wrapping_add(1), &requests, 7, &shuffled(n));
    // An overlapping retransmission with different bytes: first wins, the request is unchanged.
    c.seg(
        true,
        cisn.wrapping_add(3),
        sisn.wrapping_add(1),
        "AP",
        b"XXXX",
    );
    let cend = cisn.wrapping_add(1).wrapping_add(requests.len() as u32);
    let n = responses.len().div_ceil(97);
    c.send(false, sisn, cend, &responses, 97, &shuffled(n));
    let send = sisn.wrapping_add(1).wrapping_add(responses.len() as u32);
    c.seg(true, cend, send, "AF", &[]);
    c.seg(false, send, cend.wrapping_add(1), "AF", &[]);
    c.seg(true, cend.wrapping_add(1), send.wrapping_add(1), "A", &[]);

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tricky.pcap");
    std::fs::write(&path, &c.bytes).unwrap();
    for workers in [1, 3] {
        let (summary, lines) =
            common::replay_files(std::slice::from_ref(&path), &Config::default(), workers);
        let recs = common::parse(&lines);
        assert!(summary.workers.reasm.out_of_order > 0);
        assert!(summary.workers.reasm.retransmissions > 0);
        let http: Vec<_> = recs.iter().filter(|r| r["event_type"] == "http").collect();
        assert_eq!(http.len(), 2, "{lines:#?}");
        let page_rec = http
            .iter()
            .find(|r| r["http"]["uri"] == "/page.html")
            .expect("page");
        assert_eq!(page_rec["http"]["status"], 200);
        assert_eq!(page_rec["http"]["user_agent"], "tricky/1.0");
        assert_eq!(page_rec["http"]["url"], "http://example.org/page.html");
        // Entity length: after de-chunking, before gunzip.
        assert_eq!(page_rec["http"]["response_body_len"], gz.len());
        let files: Vec<_> = recs.iter().filter(|r| r["event_type"] == "file").collect();
        let want = testkit::hex::encode(&Sha256::digest(&page));
        let f = files
            .iter()
            .find(|f| f["file"]["sha256"] == want.as_str())
            .unwrap_or_else(|| panic!("decoded page hash {want} not in {files:#?}"));
        assert_eq!(f["file"]["complete"], true);
        assert_eq!(f["file"]["size"], page.len());
        let plain_rec = http
            .iter()
            .find(|r| r["http"]["uri"] == "/plain.txt")
            .expect("plain");
        assert_eq!(plain_rec["http"]["response_body_len"], plain.len());
        let flow = recs.iter().find(|r| r["event_type"] == "flow").unwrap();
        assert_eq!(flow["flow"]["app_proto"], "http");
        assert_eq!(flow["flow"]["conn_state"], "SF");
        assert!(flow["flow"].get("gap_bytes").is_none(), "{flow}");
    }
}
