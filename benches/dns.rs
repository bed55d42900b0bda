#![allow(clippy::expect_used, clippy::unwrap_used)]
//! Criterion: the DNS parser over real messages (UDP datagrams and a TCP stream of
//! length-prefixed messages), throughput in bytes and messages.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use tapir::proto::dns::parser::parse_message;
use tapir::proto::{dns, Direction, Transport};
use testkit::hex;
use testkit::session::Session;

/// sv_dns-udp-google-a-aaaa-mx.pcap frames 3, 4: AAAA google.com query and response.
const Q_AAAA: &str =
    "8d700120000100000000000106676f6f676c6503636f6d00001c00010000291000000000000000";
const R_AAAA: &str = "8d708180000100010000000106676f6f676c6503636f6d00001c0001c00c001c00010000012b00102607f8b0400f0801000000000000200e0000290200000000000000";
/// arkime_dns-wiresharkrepo.pcap frame 4: MX google.com, 6 MX and 6 A records.
const R_MX: &str = "f76f8180000100060000000606676f6f676c6503636f6d00000f0001c00c000f000100000228000a002805736d747034c00cc00c000f000100000228000a000a05736d747035c00cc00c000f000100000228000a000a05736d747036c00cc00c000f000100000228000a000a05736d747031c00cc00c000f000100000228000a000a05736d747032c00cc00c000f000100000228000a002805736d747033c00cc02a00010001000002580004d8ef251ac0400001000100000258000440e9a719c0560001000100000258000442660919c06c00010001000002580004d8ef3919c08200010001000002580004d8ef2519c09800010001000002580004d8ef391a";

fn bench(c: &mut Criterion) {
    let msgs = [hex::decode(Q_AAAA), hex::decode(R_AAAA), hex::decode(R_MX)];
    let bytes: usize = msgs.iter().map(Vec::len).sum();
    let n = 1000u64;
    let mut g = c.benchmark_group("dns");

    g.throughput(Throughput::Bytes(bytes as u64));
    g.bench_function("parse_message_bytes", |b| {
        b.iter(|| {
            msgs.iter()
                .map(|m| parse_message(m).map(|m| m.answers.len()).unwrap_or(0))
                .sum::<usize>()
        })
    });

    g.throughput(Throughput::Elements(2 * n));
    g.bench_function("udp_transactions_messages", |b| {
        b.iter(|| {
            let mut s = Session::new(Transport::Udp);
            let mut p = dns::new_parser(Transport::Udp);
            for _ in 0..n {
                s.data(&mut *p, Direction::ToServer, &msgs[0]);
                s.data(&mut *p, Direction::ToClient, &msgs[1]);
            }
            s.out.len()
        })
    });

    let mut stream = Vec::new();
    for _ in 0..n {
        let m = &msgs[2];
        stream.extend_from_slice(&(m.len() as u16).to_be_bytes());
        stream.extend_from_slice(m);
    }
    g.throughput(Throughput::Bytes(stream.len() as u64));
    g.bench_function("tcp_stream_bytes", |b| {
        b.iter(|| {
            let mut s = Session::new(Transport::Tcp);
            let mut p = dns::new_parser(Transport::Tcp);
            for chunk in stream.chunks(1460) {
                s.data(&mut *p, Direction::ToClient, chunk);
            }
            s.out.len()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
