#![allow(clippy::expect_used, clippy::unwrap_used)]
//! Network statistics benchmark (issue 13; `docs/stats.md`, section "Cost"):
//!   1. `stats/observe_dns`: a worker's collector taking DNS query records (a long tail of
//!      names from a few thousand internal clients), handing its delta to the store writer
//!      whenever it is full, as a worker does;
//!   2. `stats/commit_5000_new`: one store commit of 5 000 new registered domains into a
//!      store on disk (merge, encode, redb write transaction, fsync);
//!   3. `stats/commit_5000_existing`: the same names again (read, merge, write back).
//!
//! The end-to-end cost (replay with statistics on against off) is a command line in
//! `docs/stats.md`, timed with `farm-bench`.

use std::net::{IpAddr, Ipv4Addr};

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use tapir::config::Config;
use tapir::proto::dns::DnsBody;
use tapir::record::{Body, FlowRef, Record};
use tapir::stats::{caps_from, Collector, Delta, DomainStats, Stats, Store};

/// A deterministic long tail: `label.site<idx>.<suffix>`, idx skewed towards small values.
fn name(i: u64) -> String {
    let x = i.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 11;
    let u = (x % 1_000_000) as f64 / 1e6;
    let idx = (u * u * u * 300_000.0) as u64;
    let suffix = [
        "com",
        "net",
        "org",
        "co.uk",
        "io",
        "de",
        "com.au",
        "github.io",
    ][(idx % 8) as usize];
    let label = ["www", "api", "cdn", "mail"][(x % 4) as usize];
    format!("{label}.site{idx}.{suffix}")
}

fn dns_record(i: u64) -> Record {
    let client = IpAddr::V4(Ipv4Addr::new(
        10,
        1 + (i % 4) as u8,
        (i / 4 % 20) as u8,
        10 + (i % 240) as u8,
    ));
    Record {
        ts_ns: 1_709_542_800_000_000_000 + i * 1_000_000,
        flow: Some(FlowRef {
            flow_id: i,
            community_id: String::new(),
            src_ip: client,
            src_port: 40_000,
            dest_ip: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 53)),
            dest_port: 53,
            proto: 17,
            vlan: Vec::new(),
        }),
        body: Body::Dns(DnsBody {
            query: Some(name(i)),
            ..Default::default()
        }),
        intel: Vec::new(),
        parent: None,
    }
}

fn config() -> Config {
    Config {
        home_net: vec!["10.0.0.0/8".parse().unwrap()],
        ..Default::default()
    }
}

fn observe(c: &mut Criterion) {
    let cfg = config();
    let stats = Stats::open(&cfg, None, false).unwrap();
    let shared = stats.shared();
    let writer = stats.start().unwrap();
    let mut col = Collector::new(shared);
    let recs: Vec<Record> = (0..20_000).map(dns_record).collect();
    let mut g = c.benchmark_group("stats");
    g.throughput(Throughput::Elements(recs.len() as u64));
    g.bench_function("observe_dns", |b| {
        let mut recs = recs.clone();
        b.iter(|| {
            for r in recs.iter_mut() {
                col.observe(r);
                if col.full() {
                    col.send();
                }
            }
        })
    });
    g.finish();
    col.send();
    drop(col);
    writer.finish();
}

fn delta(from: u64, n: u64) -> Delta {
    let mut d = Delta::default();
    for i in from..from + n {
        let mut s = DomainStats {
            requests: 1,
            first_seen: 1_709_542_800_000_000_000 + i,
            last_seen: 1_709_542_800_000_000_000 + i,
            ..Default::default()
        };
        s.hosts
            .add(&format!("10.1.{}.{}", i % 20, 10 + i % 240), 64);
        d.domains.insert(format!("bench{i}.example.com"), s);
    }
    d.now_ns = 1_709_542_800_000_000_000 + from + n;
    d
}

fn commit(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let caps = caps_from(&config().stats);
    let mut store = Store::open(Some(dir.path()), caps).unwrap();
    let mut g = c.benchmark_group("stats");
    g.throughput(Throughput::Elements(5_000));
    g.sample_size(20);
    let mut next = 0u64;
    g.bench_function("commit_5000_new", |b| {
        b.iter_batched(
            || {
                next += 5_000;
                delta(next, 5_000)
            },
            |d| store.commit(&d).unwrap(),
            BatchSize::LargeInput,
        )
    });
    let same = delta(0, 5_000);
    store.commit(&same).unwrap();
    g.bench_function("commit_5000_existing", |b| {
        b.iter(|| store.commit(&same).unwrap())
    });
    g.finish();
}

criterion_group!(benches, observe, commit);
criterion_main!(benches);
