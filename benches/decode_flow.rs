#![allow(clippy::expect_used, clippy::unwrap_used)]
//! Criterion: the per-packet hot path without threads — decode, flow key + hash, flow table
//! lookup/update — over the packets of a generated capture.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use tapir::capture::{pcap_file::CaptureFile, Next, PacketSource};
use tapir::config::{Config, FlowSection};
use tapir::decode::{decode, DecodeConfig};
use tapir::flow::key::FlowKey;
use tapir::flow::table::FlowTable;
use testkit::pcapgen::{generate, GenConfig, Profile};

fn packets() -> Vec<(u64, Vec<u8>)> {
    let mut buf = Vec::new();
    let cfg = GenConfig::new(Profile::Bench, 7, 2_000);
    generate(&cfg, &mut buf).expect("generate");
    let mut src = CaptureFile::from_bytes(buf, "bench").expect("capture");
    let mut out = Vec::new();
    while let Ok(Next::Packet(p)) = src.next() {
        out.push((p.ts_ns, p.data.to_vec()));
    }
    out
}

fn bench(c: &mut Criterion) {
    let pkts = packets();
    let bytes: u64 = pkts.iter().map(|(_, d)| d.len() as u64).sum();
    let dcfg = DecodeConfig::default();
    let lt = tapir::capture::LinkType::ETHERNET;

    let mut g = c.benchmark_group("hot_path");
    g.throughput(Throughput::Elements(pkts.len() as u64));
    g.bench_function("decode", |b| {
        b.iter(|| {
            let mut n = 0u64;
            for (_, d) in &pkts {
                if let Ok(x) = decode(lt, d, &dcfg) {
                    n += u64::from(x.proto);
                }
            }
            n
        })
    });
    let hasher = foldhash::fast::RandomState::default();
    g.bench_function("decode+flow_hash", |b| {
        b.iter(|| {
            let mut n = 0u64;
            for (_, d) in &pkts {
                if let Ok(x) = decode(lt, d, &dcfg) {
                    n ^= FlowKey::of(&x, true).0.hash_with(&hasher);
                }
            }
            n
        })
    });
    let fcfg = FlowSection::default();
    g.bench_function("decode+flow_table", |b| {
        b.iter(|| {
            let mut t: FlowTable<()> = FlowTable::new(&fcfg, 100_000);
            let mut ended = 0u64;
            for (ts, d) in &pkts {
                if let Ok(x) = decode(lt, d, &dcfg) {
                    let _ = t.track(&x, *ts, d.len() as u32, &mut |_, _, _| ended += 1);
                }
            }
            t.len() as u64 + ended
        })
    });
    g.finish();
    let mut g = c.benchmark_group("hot_path_bytes");
    g.throughput(Throughput::Bytes(bytes));
    g.bench_function("decode+flow_table", |b| {
        b.iter(|| {
            let mut t: FlowTable<()> = FlowTable::new(&fcfg, 100_000);
            for (ts, d) in &pkts {
                if let Ok(x) = decode(lt, d, &dcfg) {
                    let _ = t.track(&x, *ts, d.len() as u32, &mut |_, _, _| {});
                }
            }
            t.len()
        })
    });
    g.finish();
    let _ = Config::default();
}

criterion_group!(benches, bench);
criterion_main!(benches);
