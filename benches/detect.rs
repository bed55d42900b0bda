#![allow(clippy::expect_used, clippy::unwrap_used)]
//! The cost of detection on replay: the enterprise mix (many small DNS flows, HTTP with files,
//! TLS; TAPIR_BENCH_FLOWS flows, default 20000) replayed on one worker with
//!   1. detection off,
//!   2. the default rules,
//!   3. the default rules and the Sigma corpus (`TAPIR_SIGMA`, else `../shared/sigma` when it
//!      is there),
//!
//! best of 3 each, printing records/s, Mpkt/s and the time relative to detection off.

use std::io::BufWriter;
use std::path::PathBuf;
use std::time::Instant;

use tapir::capture::pcap_file;
use tapir::config::Config;
use tapir::export::NdjsonSink;
use tapir::pipeline::{replay, ReplayOptions};
use testkit::pcapgen::{generate, GenConfig, Profile};

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let flows: u64 = std::env::var("TAPIR_BENCH_FLOWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let dir = root.join("target/bench-data");
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join(format!("enterprise-{flows}.pcap"));
    if !path.exists() {
        let cfg = GenConfig::new(Profile::Enterprise, 7, flows);
        let f = std::fs::File::create(&path).expect("create capture");
        generate(&cfg, &mut BufWriter::new(f)).expect("generate");
    }
    let p = path.to_string_lossy().to_string();
    let sigma = std::env::var("TAPIR_SIGMA")
        .map(PathBuf::from)
        .unwrap_or_else(|_| root.join("../shared/sigma"));

    let mut off = Config::default();
    off.detect.enabled = false;
    let defaults = Config::default();
    let mut with_sigma = Config::default();
    let mut runs = vec![("detection off", off), ("default rules", defaults)];
    if sigma.is_dir() {
        with_sigma.detect.rules.push(sigma.display().to_string());
        runs.push(("default + Sigma corpus", with_sigma));
    } else {
        eprintln!(
            "no Sigma corpus at {} (TAPIR_SIGMA): third run left out",
            sigma.display()
        );
    }
    let mut base = None;
    for (what, cfg) in &runs {
        let rules = tapir::cmd::load_rules(cfg).expect("rules");
        let n_rules = rules.as_ref().map_or(0, |r| r.rules.len());
        let mut best = f64::MAX;
        let (mut records, mut pkts, mut detections) = (0, 0, 0);
        for _ in 0..3 {
            let src = pcap_file::open(&p, 1 << 34).expect("open");
            let sink = NdjsonSink::open(None, "bench").expect("sink");
            let t = Instant::now();
            let s = replay(
                vec![src],
                cfg,
                sink,
                ReplayOptions {
                    workers: 1,
                    progress: None,
                    rules: rules.clone(),
                    link: None,
                    ..Default::default()
                },
            )
            .expect("replay");
            best = best.min(t.elapsed().as_secs_f64());
            records = s.output.records;
            pkts = s.capture.packets;
            detections = s.output.by_type.get("detection").copied().unwrap_or(0);
        }
        let rel = *base.get_or_insert(best);
        println!(
            "{what:<24}: {n_rules:>3} rules  {:>8.0} records/s  {:>5.2} Mpkt/s  {:.2}x time of detection off  ({records} records, {detections} detections)",
            records as f64 / best,
            pkts as f64 / best / 1e6,
            best / rel
        );
    }
}
