//! Unit tests of the HTTP parser with byte fixtures.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;

use sha2::{Digest, Sha256};

use super::HttpBody;
use crate::files::FileBody;
use crate::proto::AppBody;
use crate::proto::{Direction, ParseCtx, Transport};

use Direction::{ToClient as S, ToServer as C};

#[derive(Default)]
struct Out {
    http: Vec<HttpBody>,
    files: Vec<FileBody>,
    anomalies: Vec<&'static str>,
}

fn run_steps(steps: &[(Direction, &[u8])], chunk: usize) -> Out {
    let played = crate::proto::conversation::play_steps(
        &mut *super::new_parser(Transport::Tcp),
        Transport::Tcp,
        steps,
        chunk,
    );
    let (out, anomalies) = (played.out, played.anomalies);
    let mut o = Out {
        anomalies,
        ..Out::default()
    };
    for e in out {
        match e.body {
            AppBody::Http(h) => o.http.push(h),
            AppBody::File(f) => o.files.push(f),
            _ => {}
        }
    }
    o
}

fn run(steps: &[(Direction, &[u8])]) -> Out {
    run_steps(steps, usize::MAX)
}

fn sha(b: &[u8]) -> String {
    Sha256::digest(b)
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect()
}

#[test]
fn simple_get() {
    let o = run(&[
        (C, b"GET /a/b.txt?x=1 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: ua/1\r\nReferer: http://r/\r\n\r\n"),
        (S, b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nServer: srv\r\nContent-Length: 5\r\n\r\nhello"),
    ]);
    assert_eq!(o.http.len(), 1);
    let h = &o.http[0];
    assert_eq!(h.method.as_deref(), Some("GET"));
    assert_eq!(h.host.as_deref(), Some("example.com"));
    assert_eq!(h.uri.as_deref(), Some("/a/b.txt?x=1"));
    assert_eq!(h.url.as_deref(), Some("http://example.com/a/b.txt?x=1"));
    assert_eq!(h.version.as_deref(), Some("HTTP/1.1"));
    assert_eq!(h.user_agent.as_deref(), Some("ua/1"));
    assert_eq!(h.referrer.as_deref(), Some("http://r/"));
    assert_eq!(h.status, Some(200));
    assert_eq!(h.status_msg.as_deref(), Some("OK"));
    assert_eq!(h.server.as_deref(), Some("srv"));
    assert_eq!(h.response_body_len, 5);
    assert_eq!(h.response_complete, Some(true));
    assert_eq!(o.files.len(), 1);
    let f = &o.files[0];
    assert_eq!(h.file_ids, vec![f.id.clone()]);
    assert_eq!(f.sha256, sha(b"hello"));
    assert_eq!(f.name.as_deref(), Some("b.txt"));
    assert_eq!(f.mime_type.as_deref(), Some("text/plain"));
    assert!(f.complete);
    assert!(h.target_ips.is_empty());
}

#[test]
fn pipelining_and_keep_alive() {
    let o = run(&[
        (C, b"GET /1 HTTP/1.1\r\nHost: h\r\n\r\nGET /2 HTTP/1.1\r\nHost: h\r\n\r\nHEAD /3 HTTP/1.1\r\nHost: h\r\n\r\n"),
        (S, b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\naHTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\nbbHTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n"),
        (C, b"GET /4 HTTP/1.1\r\nHost: h\r\n\r\n"),
        (S, b"HTTP/1.1 304 Not Modified\r\nContent-Length: 7\r\n\r\n"),
    ]);
    let got: Vec<_> = o
        .http
        .iter()
        .map(|h| {
            (
                h.uri.clone().unwrap(),
                h.status.unwrap(),
                h.response_body_len,
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            ("/1".into(), 200, 1),
            ("/2".into(), 404, 2),
            ("/3".into(), 200, 0),
            ("/4".into(), 304, 0)
        ]
    );
    assert_eq!(o.files.len(), 2);
    assert!(o.anomalies.is_empty(), "{:?}", o.anomalies);
}

const CHUNKED: &[u8] = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: 1\r\n\r\n";

#[test]
fn chunked_with_trailers() {
    let o = run(&[
        (C, b"GET / HTTP/1.1\r\nHost: h\r\n\r\n"),
        (S, CHUNKED),
        (C, b"GET /n HTTP/1.1\r\n\r\n"),
    ]);
    assert_eq!(o.http.len(), 2);
    assert_eq!(o.http[0].response_body_len, 11);
    assert_eq!(o.http[0].response_complete, Some(true));
    assert_eq!(o.files[0].sha256, sha(b"hello world"));
    // A chunk extension is legal but rare: reported.
    assert_eq!(o.anomalies, vec!["http.chunk_extension"]);
}

#[test]
fn chunked_byte_by_byte() {
    for chunk in [1, 2, 3, 7] {
        let o = run_steps(
            &[
                (C, b"GET / HTTP/1.1\r\nHost: h\r\n\r\n"),
                (S, CHUNKED),
                (S, b"HTTP/1.1 200 OK\r\n\r\n"),
            ],
            chunk,
        );
        assert_eq!(o.http[0].response_body_len, 11, "chunk {chunk}");
        assert_eq!(o.files[0].sha256, sha(b"hello world"));
        assert!(o.files[0].complete);
        assert!(o.anomalies.contains(&"http.response_without_request"));
    }
}

#[test]
fn gzip_body_is_decoded() {
    let plain = b"the quick brown fox jumps over the lazy dog ".repeat(50);
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(&plain).unwrap();
    let gz = e.finish().unwrap();
    let mut resp = format!(
        "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: {}\r\n\r\n",
        gz.len()
    )
    .into_bytes();
    resp.extend_from_slice(&gz);
    for chunk in [1, 100, usize::MAX] {
        let o = run_steps(
            &[(C, b"GET /x HTTP/1.1\r\nHost: h\r\n\r\n"), (S, &resp)],
            chunk,
        );
        assert_eq!(o.http[0].response_body_len, gz.len() as u64);
        assert_eq!(o.http[0].content_encoding.as_deref(), Some("gzip"));
        assert_eq!(o.files[0].sha256, sha(&plain));
        assert_eq!(o.files[0].size, plain.len() as u64);
        assert!(o.files[0].complete);
    }
}

#[test]
fn deflate_raw_and_zlib() {
    let plain = b"abcabcabcabc".repeat(20);
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    z.write_all(&plain).unwrap();
    let mut r = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    r.write_all(&plain).unwrap();
    for body in [z.finish().unwrap(), r.finish().unwrap()] {
        let mut resp = format!(
            "HTTP/1.1 200 OK\r\nContent-Encoding: deflate\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes();
        resp.extend_from_slice(&body);
        let o = run_steps(&[(C, b"GET / HTTP/1.1\r\n\r\n"), (S, &resp)], 1);
        assert_eq!(o.files[0].sha256, sha(&plain));
    }
}

#[test]
fn brotli_body() {
    let plain = b"brotli brotli brotli".repeat(30);
    let mut c = brotli::CompressorWriter::new(Vec::new(), 4096, 5, 22);
    c.write_all(&plain).unwrap();
    let br = c.into_inner();
    let mut resp = format!(
        "HTTP/1.1 200 OK\r\nContent-Encoding: br\r\nContent-Length: {}\r\n\r\n",
        br.len()
    )
    .into_bytes();
    resp.extend_from_slice(&br);
    let o = run(&[(C, b"GET / HTTP/1.1\r\n\r\n"), (S, &resp)]);
    assert_eq!(o.files[0].sha256, sha(&plain));
}

#[test]
fn decompression_bomb_is_capped() {
    let plain = vec![0u8; 60 << 20];
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(&plain).unwrap();
    let gz = e.finish().unwrap();
    let mut resp = format!(
        "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: {}\r\n\r\n",
        gz.len()
    )
    .into_bytes();
    resp.extend_from_slice(&gz);
    let o = run(&[(C, b"GET / HTTP/1.1\r\n\r\n"), (S, &resp)]);
    assert!(o.anomalies.contains(&"http.decompression_bomb"));
    assert!(!o.files[0].complete);
    assert_eq!(o.http[0].response_body_len, gz.len() as u64);
    // Decoded up to the limit of the first 16 KiB fed (1000 times as much), hashed as such.
    assert_eq!(o.files[0].size, 16_384_000);
    assert_eq!(o.files[0].sha256, sha(&plain[..16_384_000]));
}

#[test]
fn brotli_bomb_is_cut_while_decoding() {
    // 256 MiB of zeros in a few hundred bytes: the decoder's output used to be collected whole
    // before the size was checked (a 1 GiB bomb took 1 GiB of memory).
    let mut c = brotli::CompressorWriter::new(Vec::new(), 1 << 16, 5, 24);
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..256 {
        c.write_all(&zeros).unwrap();
    }
    let br = c.into_inner();
    assert!(br.len() < 4096, "{}", br.len());
    let mut resp = format!(
        "HTTP/1.1 200 OK\r\nContent-Encoding: br\r\nContent-Length: {}\r\n\r\n",
        br.len()
    )
    .into_bytes();
    resp.extend_from_slice(&br);
    for chunk in [100, usize::MAX] {
        let o = run_steps(&[(C, b"GET / HTTP/1.1\r\n\r\n"), (S, &resp)], chunk);
        assert_eq!(o.anomalies, vec!["http.decompression_bomb"]);
        let f = &o.files[0];
        assert!(!f.complete);
        // Under 1 000 coded bytes: the floor of the ratio check is the limit, and exactly
        // that much was hashed.
        assert_eq!(f.size, super::body::RATIO_FLOOR);
        assert_eq!(f.sha256, sha(&zeros));
        assert_eq!(o.http[0].response_complete, Some(true));
    }
}

#[test]
fn continue_100_and_post_body() {
    let o = run(&[
        (C, b"POST /up HTTP/1.1\r\nHost: h\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 7\r\nExpect: 100-continue\r\n\r\n"),
        (S, b"HTTP/1.1 100 Continue\r\n\r\n"),
        (C, b"a=1&b=2"),
        (S, b"HTTP/1.1 201 Created\r\nLocation: /up/1\r\nContent-Length: 0\r\n\r\n"),
    ]);
    assert_eq!(o.http.len(), 1);
    let h = &o.http[0];
    assert_eq!(h.status, Some(201));
    assert_eq!(h.location.as_deref(), Some("/up/1"));
    assert_eq!(h.request_body_len, 7);
    assert_eq!(
        h.request_content_type.as_deref(),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(h.file_ids.len(), 1);
    assert_eq!(o.files[0].sha256, sha(b"a=1&b=2"));
}

#[test]
fn head_and_204_have_no_body() {
    let o = run(&[
        (C, b"HEAD / HTTP/1.1\r\n\r\nDELETE /x HTTP/1.1\r\n\r\nGET /y HTTP/1.1\r\n\r\n"),
        (S, b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\nHTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
    ]);
    let st: Vec<_> = o.http.iter().map(|h| h.status.unwrap()).collect();
    assert_eq!(st, vec![200, 204, 200]);
    assert_eq!(o.files.len(), 1);
}

#[test]
fn connect_stops_parsing() {
    let o = run(&[
        (
            C,
            b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
        ),
        (S, b"HTTP/1.1 200 Connection established\r\n\r\n"),
        (C, b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage"),
        (S, b"\x16\x03\x03 more tls"),
    ]);
    assert_eq!(o.http.len(), 1);
    assert_eq!(o.http[0].method.as_deref(), Some("CONNECT"));
    assert_eq!(o.http[0].status, Some(200));
    assert!(o.anomalies.is_empty(), "{:?}", o.anomalies);
}

#[test]
fn connect_refused_goes_on() {
    let o = run(&[
        (C, b"CONNECT example.com:443 HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\n\r\n"),
        (S, b"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
    ]);
    assert_eq!(o.http.len(), 2);
    assert_eq!(o.http[1].status, Some(200));
}

#[test]
fn upgrade_101_stops() {
    let o = run(&[
        (C, b"GET /ws HTTP/1.1\r\nUpgrade: websocket\r\n\r\n"),
        (S, b"HTTP/1.1 101 Switching Protocols\r\n\r\n\x81\x05hello"),
        (C, b"\x81\x85zzzzz"),
    ]);
    assert_eq!(o.http.len(), 1);
    assert_eq!(o.http[0].status, Some(101));
    assert!(o.anomalies.is_empty());
}

#[test]
fn body_until_close() {
    let o = run(&[
        (C, b"GET /f.bin HTTP/1.0\r\n\r\n"),
        (
            S,
            b"HTTP/1.0 200 OK\r\nContent-Disposition: attachment; filename=\"real.bin\"\r\n\r\nabc",
        ),
        (S, b"def"),
    ]);
    assert_eq!(o.http.len(), 1);
    assert_eq!(o.http[0].version.as_deref(), Some("HTTP/1.0"));
    assert_eq!(o.http[0].response_body_len, 6);
    assert_eq!(o.http[0].response_complete, Some(true));
    assert_eq!(o.files[0].sha256, sha(b"abcdef"));
    assert_eq!(o.files[0].name.as_deref(), Some("real.bin"));
    assert!(o.files[0].complete);
}

#[test]
fn truncated_body_and_unanswered_request() {
    let o = run(&[
        (C, b"GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n"),
        (S, b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"),
    ]);
    assert_eq!(o.http.len(), 2);
    assert_eq!(o.http[0].response_complete, Some(false));
    assert_eq!(o.http[0].response_body_len, 3);
    assert!(!o.files[0].complete);
    assert_eq!(o.http[1].status, None);
}

#[test]
fn oversized_head() {
    let mut req = b"GET / HTTP/1.1\r\n".to_vec();
    for i in 0..5000 {
        req.extend_from_slice(format!("X-{i}: {}\r\n", "v".repeat(20)).as_bytes());
    }
    let o = run_steps(&[(C, &req)], 1000);
    assert!(
        o.anomalies.contains(&"http.head_too_large")
            || o.anomalies.contains(&"http.too_many_headers")
    );
    let mut req = b"GET / HTTP/1.1\r\nX: ".to_vec();
    req.extend_from_slice(&vec![b'a'; 70_000]);
    let o = run_steps(&[(C, &req)], 1000);
    assert!(o.anomalies.contains(&"http.head_too_large"));
    assert!(o.http.is_empty());
}

#[test]
fn garbage_then_resync() {
    let o = run(&[
        (
            C,
            b"\x00\x01\x02 binary junk\r\nmore junk\r\nGET /ok HTTP/1.1\r\nHost: h\r\n\r\n",
        ),
        (S, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
    ]);
    assert!(o.anomalies.contains(&"http.malformed_request"));
    assert_eq!(o.http.len(), 1);
    assert_eq!(o.http[0].uri.as_deref(), Some("/ok"));
}

#[test]
fn bad_chunk_size_stops() {
    let o = run(&[
        (C, b"GET / HTTP/1.1\r\n\r\n"),
        (
            S,
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n",
        ),
    ]);
    assert!(o.anomalies.contains(&"http.bad_chunk_size"));
    assert_eq!(o.http.len(), 1);
    assert_eq!(o.http[0].response_complete, Some(false));
}

#[test]
fn gap_in_body_and_head() {
    let mut p = super::new_parser(Transport::Tcp);
    let mut out = Vec::new();
    let mut an = Vec::new();
    let mut ctx = ParseCtx {
        ts_ns: 1,
        transport: Transport::Tcp,
        out: &mut out,
        anomalies: &mut an,
    };
    p.on_data(C, b"GET / HTTP/1.1\r\n\r\n", &mut ctx);
    p.on_data(
        S,
        b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nab",
        &mut ctx,
    );
    p.on_gap(S, 5, &mut ctx);
    p.on_data(S, b"cde", &mut ctx);
    p.on_data(C, b"GET /2 HT", &mut ctx);
    p.on_gap(C, 10, &mut ctx);
    p.on_data(C, b"junk\r\nGET /3 HTTP/1.1\r\n\r\n", &mut ctx);
    p.on_close(&mut ctx);
    let https: Vec<_> = out
        .iter()
        .filter_map(|e| {
            if let AppBody::Http(h) = &e.body {
                Some(h.clone())
            } else {
                None
            }
        })
        .collect();
    let files: Vec<_> = out
        .iter()
        .filter_map(|e| {
            if let AppBody::File(f) = &e.body {
                Some(f.clone())
            } else {
                None
            }
        })
        .collect();
    assert_eq!(https[0].response_body_len, 10);
    assert_eq!(https[0].response_complete, Some(true));
    assert!(!files[0].complete);
    assert_eq!(files[0].gap_bytes, 5);
    assert_eq!(https[1].uri.as_deref(), Some("/3"));
}

#[test]
fn auth_in_record() {
    let o = run(&[
        (
            C,
            b"GET / HTTP/1.1\r\nAuthorization: Basic dXNlcjpzZWNyZXQ=\r\n\r\n",
        ),
        (S, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
    ]);
    assert_eq!(o.http[0].auth_scheme.as_deref(), Some("Basic"));
    assert_eq!(o.http[0].auth_user.as_deref(), Some("user"));
    let json = serde_json::to_string(&o.http[0]).unwrap();
    assert!(!json.contains("secret") && !json.contains("dXNlcjpzZWNyZXQ"));
}

#[test]
fn random_splits_do_not_change_result() {
    let req: &[u8] = b"POST /p HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\nGET /q HTTP/1.1\r\nHost: h\r\n\r\n";
    let resp: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nxyzHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nqq\r\n0\r\n\r\n";
    let whole = run(&[(C, req), (S, resp)]);
    for n in 1..20 {
        let o = run_steps(&[(C, req), (S, resp)], n);
        assert_eq!(o.http.len(), whole.http.len());
        for (a, b) in o.http.iter().zip(&whole.http) {
            assert_eq!(
                (
                    a.uri.clone(),
                    a.status,
                    a.request_body_len,
                    a.response_body_len
                ),
                (
                    b.uri.clone(),
                    b.status,
                    b.request_body_len,
                    b.response_body_len
                )
            );
        }
        assert_eq!(o.files.len(), 3);
    }
}

#[test]
fn http09_request_and_raw_response() {
    let o = run(&[(C, b"GET /\r\n\r\n"), (S, b"<html>hello</html>\n")]);
    assert_eq!(o.http.len(), 1, "{:?}", o.anomalies);
    assert_eq!(o.http[0].method.as_deref(), Some("GET"));
    assert_eq!(o.http[0].uri.as_deref(), Some("/"));
    assert_eq!(o.http[0].status, None);
}

#[test]
fn odd_version_text() {
    let o = run(&[
        (C, b"GET /Hello Arkime HTTP/1.0\r\n\r\n"),
        (S, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
    ]);
    // A stray token before the version: the URI is the first token (Apache, tshark).
    assert_eq!(o.http[0].uri.as_deref(), Some("/Hello"));
    assert_eq!(o.http[0].version.as_deref(), Some("Arkime HTTP/1.0"));
    assert!(o.anomalies.contains(&"http.odd_request_line"));
    assert_eq!(o.http[0].status, Some(200));
}

#[test]
fn mutated_input_never_panics() {
    // Fixtures with bytes flipped, cut and split at pseudo-random places, gaps included.
    let base: Vec<u8> = [
        &b"POST /p HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Encoding: gzip\r\n\r\n3\r\nabc\r\n0\r\nT: 1\r\n\r\n"[..],
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 4\r\nContent-Encoding: deflate\r\n\r\nxyzw",
        CHUNKED,
    ]
    .concat();
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut rnd = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for _ in 0..3000 {
        let mut d = base.clone();
        for _ in 0..(rnd() % 6) {
            let i = (rnd() as usize) % d.len();
            d[i] = rnd() as u8;
        }
        let mut p = super::new_parser(Transport::Tcp);
        let (mut out, mut an) = (Vec::new(), Vec::new());
        let mut ctx = ParseCtx {
            ts_ns: 0,
            transport: Transport::Tcp,
            out: &mut out,
            anomalies: &mut an,
        };
        let mut rest = &d[..];
        while !rest.is_empty() {
            let n = 1 + (rnd() as usize) % rest.len().min(40);
            let dir = if rnd() % 2 == 0 { C } else { S };
            if rnd() % 50 == 0 {
                p.on_gap(dir, (rnd() % 20) as u32 + 1, &mut ctx);
            }
            p.on_data(dir, &rest[..n], &mut ctx);
            rest = &rest[n..];
        }
        p.on_close(&mut ctx);
    }
}

#[test]
fn large_head_byte_by_byte_is_linear() {
    let mut req = b"GET /big HTTP/1.1\r\nHost: h\r\n".to_vec();
    for i in 0..100 {
        req.extend_from_slice(format!("X-{i}: {}\r\n", "v".repeat(500)).as_bytes());
    }
    req.extend_from_slice(b"\r\n");
    let start = std::time::Instant::now();
    let o = run_steps(&[(C, &req), (S, b"HTTP/1.1 204 No Content\r\n\r\n")], 1);
    assert!(start.elapsed() < std::time::Duration::from_secs(5));
    assert_eq!(o.http.len(), 1);
    assert_eq!(o.http[0].uri.as_deref(), Some("/big"));
    assert_eq!(o.http[0].status, Some(204));
}

#[test]
fn mislabelled_coding_keeps_the_entity() {
    for chunk in [1, usize::MAX] {
        let o = run_steps(
            &[
                (C, b"GET / HTTP/1.1\r\n\r\n"),
                (S, b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 11\r\n\r\nplain text!"),
            ],
            chunk,
        );
        assert!(o.anomalies.contains(&"http.decode_error"));
        assert_eq!(o.files[0].sha256, sha(b"plain text!"));
        assert!(o.files[0].complete);
    }
}

#[test]
fn lenient_heads() {
    let o = run(&[
        (C, b"GET  /a  HTTP/1.1\nHost : h\nX-Fold: a\n  b\n\nGET /b HTTP/1.1\r\nHost: h\r\n\r\n"),
        (S, b"HTTP/1.1 200\nContent-Length: 1\n\nxHTTP/1.0  404  Not Found\r\nServer : s\r\nContent-Length: 0\r\n\r\n"),
    ]);
    assert_eq!(o.http.len(), 2, "{:?}", o.anomalies);
    assert_eq!(o.http[0].uri.as_deref(), Some("/a"));
    assert_eq!(o.http[0].host.as_deref(), Some("h"));
    assert_eq!(o.http[0].status, Some(200));
    assert_eq!(o.http[1].status, Some(404));
    assert_eq!(o.http[1].server.as_deref(), Some("s"));
}

#[test]
fn http09_response_longer_than_the_junk_window() {
    let body = vec![b'z'; 5000];
    for chunk in [1000, usize::MAX] {
        let o = run_steps(
            &[(C, b"GET /long HTTP/1.1\r\nHost: h\r\n\r\n"), (S, &body)],
            chunk,
        );
        assert_eq!(o.http.len(), 1);
        assert_eq!(o.http[0].status, None);
        assert_eq!(o.files.len(), 1);
        assert_eq!(o.files[0].sha256, sha(&body));
        assert!(o.files[0].complete);
        assert_eq!(o.anomalies, vec!["http.http09_response"]);
    }
}

#[test]
fn midstream_response_bytes_are_not_http09() {
    // A capture picked up inside a response: its bytes come before any request; a request
    // then waits while the old body goes on. The next status line still pairs with it.
    let tail = vec![b'x'; 5000];
    let o = run(&[
        (S, b"rest of an earlier body\r\n"),
        (C, b"GET /next HTTP/1.1\r\nHost: h\r\n\r\n"),
        (S, &tail),
        (S, b"\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
    ]);
    assert_eq!(o.http.len(), 1, "{:?}", o.anomalies);
    assert_eq!(o.http[0].uri.as_deref(), Some("/next"));
    assert_eq!(o.http[0].status, Some(200));
    assert_eq!(o.files[0].sha256, sha(b"ok"));
    assert!(!o.anomalies.contains(&"http.http09_response"));
}

#[test]
fn multipart_split_anywhere() {
    let body = b"preamble\r\n--b\r\nContent-Disposition: form-data; name=\"f\"; filename=\"a.txt\"\r\n\r\nline one\r\n--b-not\r\nend\r\n--b\r\nContent-Disposition: form-data; name=\"t\"\r\n\r\ntext\r\n--b--\r\nepilogue";
    let mut req = format!(
        "POST /u HTTP/1.1\r\nContent-Type: multipart/form-data; boundary=\"b\"\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    req.extend_from_slice(body);
    for chunk in [1, 2, 3, 5, 7, 64, usize::MAX] {
        let o = run_steps(
            &[
                (C, &req),
                (S, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
            ],
            chunk,
        );
        let h = &o.http[0];
        assert_eq!(h.form_parts.len(), 1, "chunk {chunk}: {:?}", o.anomalies);
        let p = &h.form_parts[0];
        assert_eq!(p.field.as_deref(), Some("f"));
        assert_eq!(p.name.as_deref(), Some("a.txt"));
        assert_eq!(
            p.sha256,
            sha(b"line one\r\n--b-not\r\nend"),
            "chunk {chunk}"
        );
        assert!(p.complete);
        assert_eq!(h.file_ids.len(), 2);
        assert!(o.anomalies.is_empty(), "{:?}", o.anomalies);
    }
}
