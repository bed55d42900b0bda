#![allow(clippy::expect_used, clippy::unwrap_used)]
//! Threat-intel benchmark: generates a feed of 5 M mixed indicators (Zeek TSV; set
//! TAPIR_INTEL_N for another count) and a realistic capture (the pcapgen bench profile, 200 MB;
//! TAPIR_BENCH_MB), then measures
//!   1. loading the feed: time, the set's memory against the file's size, RSS growth;
//!   2. replaying the capture through the complete sensor without and with the feed loaded
//!      (best of TAPIR_BENCH_RUNS, default 3, alternating), and the slowdown.
//!
//! Generated files are kept under target/bench-data/ (never committed).

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use tapir::capture::pcap_file;
use tapir::config::Config;
use tapir::enrich::intel::{IntelConfig, IntelHandle};
use tapir::export::NdjsonSink;
use tapir::pipeline::{replay, ReplayOptions};

fn env_u64(k: &str, d: u64) -> u64 {
    std::env::var(k)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(d)
}

/// The benchmark capture: pcapgen's bench profile. The one place that calls the generator.
fn bench_capture(dir: &Path, mb: u64) -> PathBuf {
    use testkit::pcapgen::{generate, GenConfig, Profile};
    let path = dir.join(format!("intel-bench-{mb}mb.pcap"));
    if !path.exists() {
        let mut cfg = GenConfig::new(Profile::Bench, 42, 0);
        cfg.target_bytes = Some(mb * 1_000_000);
        let f = std::fs::File::create(&path).expect("create bench capture");
        generate(&cfg, &mut BufWriter::new(f)).expect("generate");
    }
    path
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn word(&mut self, len: usize) -> String {
        (0..len)
            .map(|_| (b'a' + (self.next() % 26) as u8) as char)
            .collect()
    }
    fn hex(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| format!("{:016x}", self.next()))
            .collect::<String>()[..n]
            .to_string()
    }
}

/// A feed of `n` indicators: 40 % domains, 20 % addresses (v4 and v6), 5 % networks, 15 %
/// hashes (MD5, SHA-1, SHA-256), 15 % URLs, 5 % emails; a few sources and descriptions.
fn bench_feed(dir: &Path, n: u64) -> PathBuf {
    let path = dir.join(format!("intel-{n}.intel"));
    if path.exists() {
        return path;
    }
    let f = std::fs::File::create(&path).expect("create feed");
    let mut w = BufWriter::new(f);
    writeln!(
        w,
        "#fields\tindicator\tindicator_type\tmeta.source\tmeta.desc"
    )
    .unwrap();
    let tlds = ["com", "net", "org", "info", "co.uk", "ru", "io"];
    let descs = [
        "phishing",
        "c2",
        "malware download",
        "scanner",
        "spam",
        "botnet",
    ];
    let mut r = Rng(0x9e37_79b9_7f4a_7c15);
    for i in 0..n {
        let x = r.next();
        let src = format!("feed-{}", x % 8);
        let desc = descs[(x >> 8) as usize % descs.len()];
        let tld = tlds[(x >> 16) as usize % tlds.len()];
        let (ind, ty) = match i % 20 {
            0..=7 => {
                let sub = if x & 1 == 0 {
                    format!("{}.", r.word(4))
                } else {
                    String::new()
                };
                (format!("{sub}{}{}.{tld}", r.word(8), i), "Intel::DOMAIN")
            }
            8..=10 => {
                let a = r.next();
                (
                    format!(
                        "{}.{}.{}.{}",
                        11 + a % 180,
                        (a >> 8) & 255,
                        (a >> 16) & 255,
                        (a >> 24) & 255
                    ),
                    "Intel::ADDR",
                )
            }
            11 => {
                let a = r.next();
                (
                    format!(
                        "2a0{}:{:x}:{:x}::{:x}",
                        a % 10,
                        (a >> 8) & 0xffff,
                        (a >> 24) & 0xffff,
                        (a >> 40) & 0xffff
                    ),
                    "Intel::ADDR",
                )
            }
            12 => {
                let a = r.next();
                (
                    format!(
                        "{}.{}.{}.0/24",
                        11 + a % 180,
                        (a >> 8) & 255,
                        (a >> 16) & 255
                    ),
                    "Intel::SUBNET",
                )
            }
            13 => (r.hex(32), "Intel::FILE_HASH"),
            14 => (r.hex(40), "Intel::FILE_HASH"),
            15 => (r.hex(64), "Intel::FILE_HASH"),
            16..=18 => (
                format!(
                    "{}{}.{tld}/{}/{}.php?id={}",
                    r.word(7),
                    i,
                    r.word(5),
                    r.word(6),
                    x % 100_000
                ),
                "Intel::URL",
            ),
            _ => (
                format!("{}{}@{}.{tld}", r.word(6), i, r.word(7)),
                "Intel::EMAIL",
            ),
        };
        writeln!(w, "{ind}\t{ty}\t{src}\t{desc}").unwrap();
    }
    w.flush().unwrap();
    path
}

/// CPU seconds used by this process so far, all threads (the machine may be shared: wall time
/// alone would measure the neighbours too). /proc ticks are USER_HZ, 100 on Linux.
fn cpu_s() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, a)| a);
    let f: Vec<u64> = after
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0))
        .collect();
    // Fields 14 and 15 (utime, stime) are the 12th and 13th after the command name.
    (f.get(11).copied().unwrap_or(0) + f.get(12).copied().unwrap_or(0)) as f64 / 100.0
}

fn rss() -> u64 {
    tapir::status::memory_usage().map_or(0, |m| m.rss_bytes)
}

fn run(p: &str, cfg: &Config, workers: usize, intel: Option<IntelHandle>) -> (f64, f64, u64) {
    let src = pcap_file::open(p, 1 << 34).expect("open");
    let sink = NdjsonSink::open(None, "bench").expect("sink");
    let t = Instant::now();
    let c = cpu_s();
    let s = replay(
        vec![src],
        cfg,
        sink,
        ReplayOptions {
            workers,
            progress: None,
            intel,
            ..Default::default()
        },
    )
    .expect("replay");
    (t.elapsed().as_secs_f64(), cpu_s() - c, s.workers.records)
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let n = env_u64("TAPIR_INTEL_N", 5_000_000);
    let mb = env_u64("TAPIR_BENCH_MB", 200);
    let runs = env_u64("TAPIR_BENCH_RUNS", 3);
    let workers = env_u64("TAPIR_BENCH_WORKERS", 1) as usize;
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench-data");
    let _ = std::fs::create_dir_all(&dir);
    let feed = bench_feed(&dir, n);
    let disk = std::fs::metadata(&feed).unwrap().len();

    // 1. Load.
    let icfg = IntelConfig {
        paths: vec![feed.display().to_string()],
        check_interval: 0,
        ..IntelConfig::default()
    };
    let rss0 = rss();
    let t = Instant::now();
    let c = cpu_s();
    let handle = IntelHandle::load(&icfg).expect("load feed");
    let load_s = t.elapsed().as_secs_f64();
    let load_cpu = cpu_s() - c;
    let rss1 = rss();
    let set = handle.current();
    println!(
        "load     : {} indicators ({} bad, {} duplicates) from {:.0} MB in {load_s:.2} s ({load_cpu:.2} s CPU) = {:.2} M/s",
        set.len(),
        set.feeds()[0].bad_lines,
        set.feeds()[0].duplicates,
        disk as f64 / 1e6,
        set.len() as f64 / load_s / 1e6
    );
    println!(
        "memory   : set {:.0} MB = {:.2}x the file; RSS grew {:.0} MB = {:.2}x",
        set.memory_bytes() as f64 / 1e6,
        set.memory_bytes() as f64 / disk as f64,
        rss1.saturating_sub(rss0) as f64 / 1e6,
        rss1.saturating_sub(rss0) as f64 / disk as f64
    );
    drop(set);

    // 2. Replay without and with the feed.
    let cap = bench_capture(&dir, mb);
    let p = cap.display().to_string();
    let mut plain = Config::default();
    plain.output.path = None;
    let (mut best_plain, mut best_with) = (f64::MAX, f64::MAX);
    let (mut cpu_plain, mut cpu_with) = (f64::MAX, f64::MAX);
    let mut records = 0;
    for _ in 0..runs {
        let (a, ca, r) = run(&p, &plain, workers, None);
        best_plain = best_plain.min(a);
        cpu_plain = cpu_plain.min(ca);
        records = r;
        let (b, cb, _) = run(&p, &plain, workers, Some(handle.clone()));
        best_with = best_with.min(b);
        cpu_with = cpu_with.min(cb);
    }
    // Hits are counted over all the runs with the feed.
    let hits = handle.current().hit_count() / runs.max(1);
    println!(
        "replay   : {:.0} MB, {records} records, {workers} worker(s), best of {runs}: without feed {best_plain:.3} s, with {} indicators {best_with:.3} s: {:+.1} % ({hits} hits per run)",
        std::fs::metadata(&cap).map_or(0, |m| m.len()) as f64 / 1e6,
        handle.current().len(),
        (best_with / best_plain - 1.0) * 100.0
    );
    println!(
        "replay   : CPU time without feed {cpu_plain:.2} s, with {cpu_with:.2} s: {:+.1} %",
        (cpu_with / cpu_plain - 1.0) * 100.0
    );
}
