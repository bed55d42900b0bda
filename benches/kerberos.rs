#![allow(clippy::expect_used, clippy::unwrap_used)]
//! Criterion: the Kerberos parser over real PDUs (TCP framing and UDP), throughput in bytes and
//! messages.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use tapir::proto::{kerberos, Direction, Transport};
use testkit::hex;
use testkit::session::Session;

/// ndpi_kerberos.pcap frame 32: a KRB-ERROR with its TCP record mark.
const ERR: &str = "000000847e8181307fa003020105a10302011ea411180f32303139303230353033333834395aa50502030c9c32a60302010da9101b0e484150505943524146542e4f5247aa273025a00302010aa11e301c1b1a6a6f686e736f6e2d70632440484150505943524146542e4f5247ac1904173015a103020103a20e040cbb0000c00000000003000000";

fn bench(c: &mut Criterion) {
    let tcp = hex::decode(ERR);
    let n = 1000u64;
    let stream: Vec<u8> = (0..n).flat_map(|_| tcp.iter().copied()).collect();
    let mut g = c.benchmark_group("kerberos");
    g.throughput(Throughput::Bytes(stream.len() as u64));
    g.bench_function("tcp_bytes", |b| {
        b.iter(|| {
            let mut s = Session::new(Transport::Tcp);
            let mut p = kerberos::new_parser(Transport::Tcp);
            s.data(&mut *p, Direction::ToClient, &stream);
            s.out.len()
        })
    });
    g.throughput(Throughput::Elements(n));
    g.bench_function("udp_messages", |b| {
        b.iter(|| {
            let mut s = Session::new(Transport::Udp);
            let mut p = kerberos::new_parser(Transport::Udp);
            for _ in 0..n {
                s.data(&mut *p, Direction::ToClient, &tcp[4..]);
            }
            s.out.len()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
