#![allow(clippy::expect_used, clippy::unwrap_used)]
//! End-to-end replay benchmark: generates a realistic capture (default 400 MB; set
//! TAPIR_BENCH_MB), then measures
//!   1. just reading it (the capture reader alone: the floor),
//!   2. for each worker count in TAPIR_BENCH_WORKERS (default "1,2"): the pipeline alone
//!      (decode, flows, reassembly, detection; `proto.parsers = false`) and the complete
//!      sensor (all protocol parsers, file hashing), records counted but not written;
//!
//! and prints Gbit/s and Mpkt/s in total and per worker. The file is kept under
//! target/bench-data/ between runs.

use std::io::BufWriter;
use std::path::PathBuf;
use std::time::Instant;

use tapir::capture::{pcap_file, Next};
use tapir::config::Config;
use tapir::export::NdjsonSink;
use tapir::pipeline::{replay, ReplayOptions};
use testkit::pcapgen::{generate, GenConfig, Profile};

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` does not: only run for real under bench.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let mb: u64 = std::env::var("TAPIR_BENCH_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(400);
    let workers: Vec<usize> = std::env::var("TAPIR_BENCH_WORKERS")
        .unwrap_or_else(|_| "1,2".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench-data");
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join(format!("bench-{mb}mb.pcap"));
    if !path.exists() {
        let t = Instant::now();
        let mut cfg = GenConfig::new(Profile::Bench, 42, u64::MAX / 4);
        cfg.target_bytes = Some(mb << 20);
        let f = std::fs::File::create(&path).expect("create bench capture");
        let s = generate(&cfg, &mut BufWriter::new(f)).expect("generate");
        eprintln!(
            "generated {} ({} packets, {} TCP + {} UDP flows) in {:.1}s",
            path.display(),
            s.packets,
            s.tcp_flows,
            s.udp_flows,
            t.elapsed().as_secs_f64()
        );
    }
    let p = path.to_string_lossy().to_string();

    // 1. The floor: read every packet and touch its bytes.
    let mut best_read = f64::MAX;
    let (mut pkts, mut bytes) = (0u64, 0u64);
    for _ in 0..3 {
        let t = Instant::now();
        let mut src = pcap_file::open(&p, 1 << 34).expect("open");
        let (mut n, mut b, mut x) = (0u64, 0u64, 0u8);
        while let Ok(Next::Packet(pk)) = src.next() {
            n += 1;
            b += u64::from(pk.wire_len);
            x ^= pk.data.first().copied().unwrap_or(0);
        }
        std::hint::black_box(x);
        best_read = best_read.min(t.elapsed().as_secs_f64());
        (pkts, bytes) = (n, b);
    }
    println!(
        "read only      : {:>7.2} Gbit/s  {:>6.2} Mpkt/s  ({pkts} packets, {:.0} MB, best of 3)",
        bytes as f64 * 8.0 / best_read / 1e9,
        pkts as f64 / best_read / 1e6,
        bytes as f64 / 1e6
    );

    let mut sensor = Config::default();
    sensor.output.path = None;
    let mut pipeline = sensor.clone();
    pipeline.proto.parsers = false;
    for (what, cfg, w) in workers
        .iter()
        .flat_map(|&w| [("pipeline", &pipeline, w), ("sensor  ", &sensor, w)])
    {
        let mut best = f64::MAX;
        let mut flows = 0;
        for _ in 0..2 {
            let src = pcap_file::open(&p, 1 << 34).expect("open");
            let sink = NdjsonSink::open(None, "bench").expect("sink");
            let t = Instant::now();
            let s = replay(
                vec![src],
                cfg,
                sink,
                ReplayOptions {
                    workers: w,
                    progress: None,
                    ..Default::default()
                },
            )
            .expect("replay");
            best = best.min(t.elapsed().as_secs_f64());
            flows = s.workers.flow.created;
        }
        let gbps = bytes as f64 * 8.0 / best / 1e9;
        let mpps = pkts as f64 / best / 1e6;
        println!(
            "{what} {w:>2} wk : {gbps:>7.2} Gbit/s  {mpps:>6.2} Mpkt/s  = {:.2} Gbit/s, {:.2} Mpkt/s per worker; {flows} flows; {:.2}x read time",
            gbps / w as f64,
            mpps / w as f64,
            best / best_read
        );
    }
}
