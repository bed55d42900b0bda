#![allow(clippy::expect_used, clippy::unwrap_used)]
//! Criterion: TLS handshake parsing — a real ClientHello (Chrome with ECH)
//! through the parser, with JA3 and JA4, reported as handshakes per second.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use tapir::proto::tls::{fingerprint, new_parser, parser};
use tapir::proto::{Direction, Transport};
use testkit::hex;
use testkit::session::Session;

/// Chrome 118 ClientHello record (zeek_tls13-ech.pcap, frame 7).
const CHROME: &str = include_str!("tls_chrome_ch.hex");

fn bench(c: &mut Criterion) {
    let rec = hex::decode(CHROME.trim());
    let mut g = c.benchmark_group("tls");
    g.throughput(Throughput::Elements(1));
    g.bench_function("client_hello_ja3_ja4", |b| {
        b.iter(|| {
            let ch = parser::parse_client_hello(std::hint::black_box(&rec[9..])).unwrap();
            let (_, j3) = fingerprint::ja3(&ch);
            let j4 = fingerprint::ja4(&ch, false);
            j3.len() + j4.len()
        })
    });
    g.bench_function("parser_handshake_record", |b| {
        b.iter(|| {
            let mut s = Session::new(Transport::Tcp);
            let mut p = new_parser(Transport::Tcp);
            s.data(&mut *p, Direction::ToServer, std::hint::black_box(&rec));
            s.close(&mut *p);
            s.out.len()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
