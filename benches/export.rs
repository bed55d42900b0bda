#![allow(clippy::expect_used, clippy::unwrap_used)]
//! Export throughput:
//!   1. the spool alone: records/s appended and committed (fsync per commit of 1000 records),
//!      and read back and acknowledged;
//!   2. the HTTPS transport to a local mutual-TLS receiver (batches of 1000 gzip'd records);
//!   3. the cost of export on replay: the enterprise mix (TAPIR_BENCH_FLOWS flows, default
//!      20000) replayed on one worker with no sink, a file sink, and an HTTPS sink through the
//!      spool (the replay's time includes delivering every record).

use std::io::BufWriter;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use tapir::capture::pcap_file;
use tapir::config::Config;
use tapir::export::spool::{Spool, SpoolBatch};
use tapir::export::{Exporter, HttpsTransport, Line, NdjsonSink, Transport};
use tapir::pipeline::{replay, ReplayOptions};
use testkit::https_receiver::{Receiver, TestPki};
use testkit::pcapgen::{generate, GenConfig, Profile};

fn record(i: u64) -> String {
    format!(
        r#"{{"timestamp":"2026-12-05T10:00:00.000000Z","event_type":"dns","sensor_id":"s","id":"r-{i}","flow_id":{i},"src_ip":"10.1.2.3","src_port":53000,"dest_ip":"10.1.1.53","dest_port":53,"proto":"UDP","dns":{{"query":"host{i}.example.com","qtype":"A","rcode":"NOERROR","answers":[{{"name":"host{i}.example.com","type":"A","data":"93.184.216.34","ttl":300}}]}}}}"#
    )
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let n = 200_000u64;
    let lines: Vec<String> = (0..n).map(record).collect();
    let bytes: usize = lines.iter().map(|l| l.len()).sum();

    // 1. The spool.
    let dir = tempfile::tempdir().unwrap();
    let (spool, mut w) = Spool::open(dir.path(), &["b".to_string()], 8 << 30).unwrap();
    let t = Instant::now();
    for (i, l) in lines.iter().enumerate() {
        w.append(l.as_bytes()).unwrap();
        if i % 1000 == 999 {
            w.commit().unwrap();
        }
    }
    w.commit().unwrap();
    let s = t.elapsed().as_secs_f64();
    println!(
        "spool append+commit : {:>9.0} records/s  {:>6.1} MB/s  (fsync every 1000 records)",
        n as f64 / s,
        bytes as f64 / s / 1e6
    );
    let mut r = spool.reader("b");
    let mut b = SpoolBatch::default();
    let t = Instant::now();
    let mut got = 0;
    while got < n as usize {
        r.read_batch(&mut b, 1000, 4 << 20, Duration::from_millis(10))
            .unwrap();
        got += b.len();
        if let Some(end) = b.end() {
            r.ack(end).unwrap();
        }
    }
    let s = t.elapsed().as_secs_f64();
    println!(
        "spool read+ack      : {:>9.0} records/s  (ack every 1000 records)",
        n as f64 / s
    );

    // 2. HTTPS.
    let pki_dir = tempfile::tempdir().unwrap();
    let pki = TestPki::generate(pki_dir.path()).unwrap();
    let rx = Receiver::start(&pki).unwrap();
    let mut https = HttpsTransport::new(&pki.https_sink("bench", &rx.url())).unwrap();
    let m = 50_000usize;
    let t = Instant::now();
    for chunk in lines[..m].chunks(1000) {
        let batch: Vec<Line<'_>> = chunk
            .iter()
            .map(|l| Line {
                event_type: "dns",
                flow_id: None,
                id: "",
                json: l.as_bytes(),
            })
            .collect();
        https.send(&batch).unwrap();
    }
    let s = t.elapsed().as_secs_f64();
    println!(
        "https transport     : {:>9.0} records/s  (gzip, mutual TLS, local receiver)",
        m as f64 / s
    );

    // 3. Replay with and without export.
    let flows: u64 = std::env::var("TAPIR_BENCH_FLOWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let data = root.join("target/bench-data");
    let _ = std::fs::create_dir_all(&data);
    let path = data.join(format!("enterprise-{flows}.pcap"));
    if !path.exists() {
        let cfg = GenConfig::new(Profile::Enterprise, 7, flows);
        generate(
            &cfg,
            &mut BufWriter::new(std::fs::File::create(&path).unwrap()),
        )
        .unwrap();
    }
    let p = path.to_string_lossy().to_string();
    let none = Config::default();
    let mut file = Config::default();
    let mut remote = Config::default();
    let work = tempfile::tempdir().unwrap();
    let sink_toml = format!(
        r#"
[[export.sink]]
name = "file"
type = "file"
path = "{0}/records.ndjson"
"#,
        work.path().display()
    );
    file.export = Config::from_toml(&sink_toml, "bench").unwrap().export;
    let mut https_sink = pki.https_sink("mdr", &rx.url());
    https_sink.categories = vec![
        "network".into(),
        "files".into(),
        "detections".into(),
        "statistics".into(),
        "service".into(),
    ];
    remote.export.allow_remote = true;
    remote.export.spool.dir = Some(work.path().join("spool").display().to_string());
    remote.export.sink = vec![https_sink];
    let mut base = None;
    for (what, cfg) in [
        ("no sink", &none),
        ("file sink", &file),
        ("https sink (spool)", &remote),
    ] {
        let mut best = f64::MAX;
        let mut records = 0;
        for _ in 0..3 {
            rx.clear();
            let src = pcap_file::open(&p, 1 << 34).unwrap();
            let ex = Exporter::start(&cfg.export, &cfg.home_net, None).unwrap();
            let sink = NdjsonSink::open(None, "bench").unwrap().with_exporter(ex);
            let t = Instant::now();
            let s = replay(
                vec![src],
                cfg,
                sink,
                ReplayOptions {
                    workers: 1,
                    progress: None,
                    ..Default::default()
                },
            )
            .unwrap();
            best = best.min(t.elapsed().as_secs_f64());
            records = s.output.records;
        }
        let rel = *base.get_or_insert(best);
        println!(
            "replay, {what:<19}: {:>8.0} records/s  {:.2}x time of no sink  ({records} records)",
            records as f64 / best,
            best / rel
        );
    }
}
