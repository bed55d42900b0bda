//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use tapir::capture::{pcap_file, PacketSource};
use tapir::config::Config;
use tapir::export::NdjsonSink;
use tapir::pipeline::{replay, ReplayOptions, Summary};

/// The public capture corpus, when this checkout has `../shared` beside it.
pub fn public_pcaps() -> Option<PathBuf> {
    let candidates = [
        PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/pcaps/public")),
        PathBuf::from("/work/shared/pcaps/public"),
    ];
    let found = candidates.into_iter().find(|p| p.join("MANIFEST.tsv").is_file());
    if found.is_none() {
        eprintln!("skipped: ../shared/pcaps/public is not present");
    }
    found
}

#[derive(Clone, Default)]
pub struct SharedBuf(pub Arc<Mutex<Vec<u8>>>);

impl Write for SharedBuf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().map_err(|_| std::io::Error::other("poisoned"))?.extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Replays files through `workers` workers and returns the summary and the NDJSON lines.
pub fn replay_files(paths: &[PathBuf], cfg: &Config, workers: usize) -> (Summary, Vec<String>) {
    let sources: Vec<Box<dyn PacketSource>> = paths
        .iter()
        .map(|p| pcap_file::open(&p.to_string_lossy(), 1 << 30).expect("open capture"))
        .collect();
    let buf = SharedBuf::default();
    let sink = NdjsonSink::with_writer("test", Some(Box::new(buf.clone())), &cfg.sensor_id);
    let summary = replay(
        sources,
        cfg,
        sink,
        ReplayOptions {
            workers,
            progress: None,
        },
    )
    .expect("replay");
    let bytes = buf.0.lock().expect("lock").clone();
    let text = String::from_utf8(bytes).expect("records are UTF-8");
    (summary, text.lines().map(str::to_string).collect())
}

pub fn parse(lines: &[String]) -> Vec<serde_json::Value> {
    lines
        .iter()
        .map(|l| serde_json::from_str(l).expect("each line is one JSON object"))
        .collect()
}
