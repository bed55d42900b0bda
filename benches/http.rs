#![allow(clippy::expect_used, clippy::unwrap_used)]
//! Criterion: the HTTP/1.x parser over request/response streams shaped like real browser
//! traffic (the heads of zeek_http-pipelined-requests.pcap): keep-alive GETs with
//! Content-Length bodies, chunked bodies and gzip bodies. Throughput in bytes and transactions.

use std::io::Write;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use tapir::proto::{http, Direction, Transport};
use testkit::session::Session;

const REQ: &str = "GET /style/enhanced.css HTTP/1.1\r\nHost: www.mozilla.org\r\nUser-Agent: Mozilla/5.0 (Windows; U; Windows NT 5.1; en-US; rv:1.9.1.5) Gecko/20091102 Firefox/3.5.5\r\nAccept: text/css,*/*;q=0.1\r\nAccept-Language: en-us,en;q=0.5\r\nAccept-Encoding: gzip,deflate\r\nAccept-Charset: ISO-8859-1,utf-8;q=0.7,*;q=0.7\r\nKeep-Alive: 300\r\nConnection: keep-alive\r\nReferer: http://www.mozilla.org/projects/calendar/\r\n\r\n";

fn resp_head(extra: &str) -> String {
    format!("HTTP/1.1 200 OK\r\nDate: Wed, 18 Nov 2009 20:58:04 GMT\r\nServer: Apache\r\nX-Backend-Server: pm-web01\r\nLast-Modified: Thu, 12 Nov 2009 21:21:29 GMT\r\nCache-Control: max-age=86400\r\nVary: Accept-Encoding\r\nContent-Type: text/css\r\nKeep-Alive: timeout=15, max=100\r\nConnection: Keep-Alive\r\n{extra}\r\n")
}

/// (client stream, server stream, transactions)
fn streams(kind: &str, n: usize) -> (Vec<u8>, Vec<u8>, u64) {
    let body: Vec<u8> = (0..8192u32)
        .map(|i| b"abcdefghij klmnopqrstuvwxyz\n"[(i % 28) as usize])
        .collect();
    let one = match kind {
        "length" => {
            let mut r = resp_head(&format!("Content-Length: {}\r\n", body.len())).into_bytes();
            r.extend_from_slice(&body);
            r
        }
        "chunked" => {
            let mut r = resp_head("Transfer-Encoding: chunked\r\n").into_bytes();
            for c in body.chunks(1000) {
                r.extend_from_slice(format!("{:x}\r\n", c.len()).as_bytes());
                r.extend_from_slice(c);
                r.extend_from_slice(b"\r\n");
            }
            r.extend_from_slice(b"0\r\n\r\n");
            r
        }
        _ => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            e.write_all(&body).unwrap();
            let gz = e.finish().unwrap();
            let mut r = resp_head(&format!(
                "Content-Encoding: gzip\r\nContent-Length: {}\r\n",
                gz.len()
            ))
            .into_bytes();
            r.extend_from_slice(&gz);
            r
        }
    };
    let client: Vec<u8> = REQ.as_bytes().repeat(n);
    let server: Vec<u8> = one.repeat(n);
    (client, server, n as u64)
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("http");
    for kind in ["length", "chunked", "gzip"] {
        let (cl, sv, n) = streams(kind, 200);
        let run = || {
            let mut s = Session::new(Transport::Tcp);
            let mut p = http::new_parser(Transport::Tcp);
            // Segment-sized pieces, request then response, as a keep-alive connection.
            for (a, b) in cl.chunks(REQ.len()).zip(sv.chunks(sv.len() / n as usize)) {
                s.data(&mut *p, Direction::ToServer, a);
                for seg in b.chunks(1448) {
                    s.data(&mut *p, Direction::ToClient, seg);
                }
            }
            s.close(&mut *p);
            s.out.len()
        };
        g.throughput(Throughput::Bytes((cl.len() + sv.len()) as u64));
        g.bench_function(format!("{kind}_bytes"), |b| b.iter(run));
        g.throughput(Throughput::Elements(n));
        g.bench_function(format!("{kind}_transactions"), |b| b.iter(run));
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
