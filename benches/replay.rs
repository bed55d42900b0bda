#![allow(clippy::expect_used, clippy::unwrap_used)]
//! End-to-end replay benchmark (issue 16; `docs/performance.md`). Generates a seeded capture
//! once (kept under target/bench-data/), then measures
//!   1. just reading it (the capture reader alone: the floor),
//!   2. for each worker count in TAPIR_BENCH_WORKERS (default "1,2"): the pipeline alone
//!      (decode, flows, reassembly, detection; `proto.parsers = false`, no output) and the
//!      complete sensor (every parser, the three file hashes, statistics, the default rules,
//!      NDJSON serialised and written to /dev/null),
//!
//! and prints, per run: Gbit/s and Mpkt/s (in total and per worker), records/s, CPU-seconds
//! of the whole process and by thread (reader, workers, output, statistics writer, the rest),
//! Gbit/s per CPU-second, the peak of anonymous resident memory during the run (the mapped
//! capture file is file-backed memory and is not counted);
//!   3. the memory of a tracked flow: TAPIR_BENCH_FLOWTABLE (default 200 000) TCP connections
//!      opened with a full handshake and left open, replayed through the complete sensor: the
//!      anonymous memory the run adds, divided by the flows tracked at its peak.
//!
//! Settings (environment):
//! - TAPIR_BENCH_PROFILE: `enterprise` (default: most flows small, DNS-heavy, a long tail of
//!   names, most bytes in a few large transfers) or `bench` (fewer, larger flows);
//! - TAPIR_BENCH_MB: capture size in MB (default 400);
//! - TAPIR_BENCH_WORKERS: worker counts, comma-separated (default "1,2");
//! - TAPIR_BENCH_RUNS: runs per configuration, the fastest is printed (default 2).

use std::collections::BTreeMap;
use std::io::BufWriter;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tapir::capture::{pcap_file, Next};
use tapir::config::Config;
use tapir::export::NdjsonSink;
use tapir::pipeline::{replay, ReplayOptions};
use testkit::pcapgen::{generate, GenConfig, Profile};

/// Clock ticks per second of /proc's CPU times (USER_HZ: 100 on every Linux build that matters).
const TICKS: f64 = 100.0;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// utime + stime (ticks) of a /proc `stat` line: fields 14 and 15, after the `(comm)`.
fn stat_ticks(stat: &str) -> Option<u64> {
    let rest = stat.get(stat.rfind(')')? + 2..)?;
    let f: Vec<&str> = rest.split_whitespace().collect();
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

/// CPU ticks of the whole process so far, the threads that have ended included.
fn process_ticks() -> u64 {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| stat_ticks(&s))
        .unwrap_or(0)
}

/// Anonymous resident memory now (`RssAnon`), bytes.
fn rss_anon() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("RssAnon:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

/// The thread group a thread's name belongs to.
fn group(comm: &str) -> &'static str {
    match comm.trim() {
        c if c.starts_with("tapir-worker") => "workers",
        "tapir-reader" => "reader",
        "tapir-output" => "output",
        "tapir-stats" => "stats",
        // The thread that called `replay`: the dispatcher.
        _ => "dispatcher+other",
    }
}

/// CPU ticks by thread id (with the thread's name), and the peak anonymous memory.
type Seen = (BTreeMap<u32, (String, u64)>, u64);

/// Samples every thread's CPU time and the anonymous memory while a run goes on (threads end
/// with the run, so their last sample, at most one period old, is what they are credited with).
struct Sampler {
    stop: Arc<AtomicBool>,
    seen: Arc<Mutex<Seen>>,
    join: Option<std::thread::JoinHandle<()>>,
}

impl Sampler {
    fn start() -> Sampler {
        let stop = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(Mutex::new((BTreeMap::new(), 0u64)));
        let (st, se) = (stop.clone(), seen.clone());
        let join = std::thread::spawn(move || {
            let own = std::fs::read_to_string("/proc/thread-self/stat")
                .ok()
                .and_then(|s| s.split_whitespace().next()?.parse::<u32>().ok());
            while !st.load(Ordering::Relaxed) {
                let anon = rss_anon();
                let mut now = Vec::new();
                if let Ok(dir) = std::fs::read_dir("/proc/self/task") {
                    for e in dir.flatten() {
                        let Some(tid) = e.file_name().to_str().and_then(|t| t.parse().ok()) else {
                            continue;
                        };
                        if Some(tid) == own {
                            continue;
                        }
                        let comm =
                            std::fs::read_to_string(e.path().join("comm")).unwrap_or_default();
                        let ticks = std::fs::read_to_string(e.path().join("stat"))
                            .ok()
                            .and_then(|s| stat_ticks(&s));
                        if let Some(t) = ticks {
                            now.push((tid, comm.trim().to_string(), t));
                        }
                    }
                }
                let mut g = se.lock().unwrap();
                for (tid, comm, t) in now {
                    g.0.insert(tid, (comm, t));
                }
                g.1 = g.1.max(anon);
                drop(g);
                std::thread::sleep(Duration::from_millis(5));
            }
        });
        Sampler {
            stop,
            seen,
            join: Some(join),
        }
    }

    /// CPU seconds by thread group, and the peak anonymous memory seen.
    fn finish(mut self) -> (BTreeMap<&'static str, f64>, u64) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(j) = self.join.take() {
            let _ = j.join();
        }
        let g = self.seen.lock().unwrap();
        let mut by = BTreeMap::new();
        for (comm, t) in g.0.values() {
            *by.entry(group(comm)).or_insert(0.0) += *t as f64 / TICKS;
        }
        (by, g.1)
    }
}

struct Run {
    wall: f64,
    cpu: f64,
    by_thread: BTreeMap<&'static str, f64>,
    anon_peak: u64,
    anon_before: u64,
    records: u64,
    flows: u64,
    peak_flows: u64,
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` does not: only run for real under bench.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let mb: u64 = env_or("TAPIR_BENCH_MB", 400);
    let runs: usize = env_or("TAPIR_BENCH_RUNS", 2).max(1);
    let profile_name = std::env::var("TAPIR_BENCH_PROFILE").unwrap_or_else(|_| "enterprise".into());
    let profile = match profile_name.as_str() {
        "bench" => Profile::Bench,
        "enterprise" => Profile::Enterprise,
        other => panic!("TAPIR_BENCH_PROFILE={other}: enterprise or bench"),
    };
    let workers: Vec<usize> = std::env::var("TAPIR_BENCH_WORKERS")
        .unwrap_or_else(|_| "1,2".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench-data");
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join(format!("{profile_name}-{mb}mb.pcap"));
    if !path.exists() {
        let t = Instant::now();
        let mut cfg = GenConfig::new(profile, 42, 0);
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
        "capture        : {} ({profile_name}), {pkts} packets, {:.0} MB",
        path.display(),
        bytes as f64 / 1e6
    );
    println!(
        "read only      : {:>7.2} Gbit/s  {:>6.2} Mpkt/s  (best of 3)",
        bytes as f64 * 8.0 / best_read / 1e9,
        pkts as f64 / best_read / 1e6,
    );

    let mut sensor = Config::default();
    sensor.output.path = None;
    let mut pipeline = sensor.clone();
    pipeline.proto.parsers = false;
    pipeline.stats.enabled = false;
    for (what, cfg, w) in workers
        .iter()
        .flat_map(|&w| [("pipeline", &pipeline, w), ("sensor  ", &sensor, w)])
    {
        let full = what.starts_with("sensor");
        let mut best: Option<Run> = None;
        for _ in 0..runs {
            let src = pcap_file::open(&p, 1 << 34).expect("open");
            let sink = NdjsonSink::open(full.then_some("/dev/null"), "bench").expect("sink");
            let anon_before = rss_anon();
            let sampler = Sampler::start();
            let cpu0 = process_ticks();
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
            let wall = t.elapsed().as_secs_f64();
            let cpu = (process_ticks() - cpu0) as f64 / TICKS;
            let (by_thread, anon_peak) = sampler.finish();
            let run = Run {
                wall,
                cpu,
                by_thread,
                anon_peak,
                anon_before,
                records: s.output.records,
                flows: s.workers.flow.created,
                peak_flows: s.workers.flow.peak,
            };
            if best.as_ref().is_none_or(|b| run.cpu < b.cpu) {
                best = Some(run);
            }
        }
        let Some(r) = best else { continue };
        let gbps = bytes as f64 * 8.0 / r.wall / 1e9;
        let mpps = pkts as f64 / r.wall / 1e6;
        let threads: Vec<String> = r
            .by_thread
            .iter()
            .map(|(k, v)| format!("{k} {v:.2}"))
            .collect();
        let anon = r.anon_peak.saturating_sub(r.anon_before);
        println!(
            "{what} {w:>2} wk : {gbps:>7.2} Gbit/s  {mpps:>6.2} Mpkt/s  ({:.2} Gbit/s, {:.2} Mpkt/s per worker); {:.0} records/s; {:.2}x read time",
            gbps / w as f64,
            mpps / w as f64,
            r.records as f64 / r.wall,
            r.wall / best_read
        );
        println!(
            "               CPU {:.2} s = {:.2} Gbit/s per CPU-second [{}]; anonymous memory peak {:.1} MiB (+{:.1} MiB in the run); {} flows, peak {} concurrent",
            r.cpu,
            bytes as f64 * 8.0 / r.cpu.max(0.01) / 1e9,
            threads.join(", "),
            r.anon_peak as f64 / 1048576.0,
            anon as f64 / 1048576.0,
            r.flows,
            r.peak_flows,
        );
    }

    // 3. Bytes per tracked flow.
    let n: u32 = env_or("TAPIR_BENCH_FLOWTABLE", 200_000);
    if n > 0 {
        let fpath = dir.join(format!("flowtable-{n}.pcap"));
        if !fpath.exists() {
            let mut c = testkit::packets::Cap::new();
            for i in 0..n {
                let client = [10, 64 + (i >> 16) as u8, (i >> 8) as u8, i as u8];
                let server = [192, 0, 2, 80];
                let port = 1024 + (i % 60_000) as u16;
                c.tcp(client, server, port, 443, 1000, 0, "S", &[]);
                c.tcp(server, client, 443, port, 5000, 1001, "SA", &[]);
                c.tcp(client, server, port, 443, 1001, 5001, "A", &[]);
            }
            std::fs::write(&fpath, &c.bytes).expect("write flow-table capture");
        }
        let mut cfg = sensor.clone();
        cfg.output.path = None;
        let src = pcap_file::open(&fpath.to_string_lossy(), 1 << 34).expect("open");
        let sink = NdjsonSink::open(None, "bench").expect("sink");
        let anon_before = rss_anon();
        let sampler = Sampler::start();
        let s = replay(
            vec![src],
            &cfg,
            sink,
            ReplayOptions {
                workers: 1,
                progress: None,
                ..Default::default()
            },
        )
        .expect("replay");
        let (_, anon_peak) = sampler.finish();
        let added = anon_peak.saturating_sub(anon_before);
        let peak = s.workers.flow.peak.max(1);
        println!(
            "flow table     : {peak} concurrent TCP flows (handshake done, no data): +{:.1} MiB anonymous = {:.0} B per tracked flow",
            added as f64 / 1048576.0,
            added as f64 / peak as f64
        );
    }
}
