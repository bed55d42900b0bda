#![allow(clippy::expect_used, clippy::unwrap_used)]
//! Criterion: the LDAP parser over real messages (a bind, a search with a 3-item AND filter,
//! its entries and result, from zeek_ldap-escaping_test.pcapng), fed as one TCP stream.
//! Reports bytes/s and messages/s.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use tapir::proto::ldap::new_parser;
use tapir::proto::{Direction, Transport};
use testkit::hex;
use testkit::session::Session;

const REQUESTS: &[&str] = &[
    "302a02010160250201030414636e3d61646d696e2c64633d6e6f646f6d61696e800a6d796c64617070617373",
    "306a020102636504000a01020a0100020100020100010100a050a30c04046e616d65040454657374a41604046d61696c300e820c406578616d706c652e636f6da128a312040464657074040a6163636f756e74696e67a312040464657074040a6f7065726174696f6e733000",
];
const RESPONSES: &[&str] = &[
    "300c02010161070a010004000400",
    "3011020102640c0408636e3d782c64633d3000",
    "300c02010265070a012004000400",
];

fn bench(c: &mut Criterion) {
    let rounds = 1_000;
    let req: Vec<u8> = REQUESTS
        .iter()
        .flat_map(|h| hex::decode(h))
        .collect::<Vec<_>>()
        .repeat(rounds);
    let resp: Vec<u8> = RESPONSES
        .iter()
        .flat_map(|h| hex::decode(h))
        .collect::<Vec<_>>()
        .repeat(rounds);
    let messages = ((REQUESTS.len() + RESPONSES.len()) * rounds) as u64;
    let bytes = (req.len() + resp.len()) as u64;
    let run = |chunk: usize| {
        let mut s = Session::new(Transport::Tcp);
        let mut p = new_parser(Transport::Tcp);
        for (a, b) in req.chunks(chunk).zip(resp.chunks(chunk)) {
            s.data(&mut *p, Direction::ToServer, a);
            s.data(&mut *p, Direction::ToClient, b);
        }
        s.close(&mut *p);
        s.out.len()
    };
    assert!(run(1460) >= rounds);

    let mut g = c.benchmark_group("ldap");
    g.throughput(Throughput::Bytes(bytes));
    g.bench_function("stream_1460_bytes", |b| b.iter(|| run(1460)));
    g.finish();
    let mut g = c.benchmark_group("ldap_messages");
    g.throughput(Throughput::Elements(messages));
    g.bench_function("stream_1460_msgs", |b| b.iter(|| run(1460)));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
