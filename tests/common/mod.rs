//! Helpers shared by the integration tests that need the `tapir` binary or the crate's build
//! environment (the corpus path); the rest of the test kit is the `testkit` crate.
#![allow(dead_code)]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use tapir::capture::{pcap_file, PacketSource};
use tapir::config::Config;
use tapir::export::NdjsonSink;
use tapir::pipeline::{replay, ReplayOptions, Summary};

/// The public capture corpus: `TAPIR_CORPUS`, else `../shared/pcaps/public` (see `build.rs`).
/// The tests that call this are `#[cfg_attr(not(tapir_corpus), ignore = "...")]`, so they are
/// reported as ignored, not passed, where it is absent.
pub fn corpus() -> PathBuf {
    PathBuf::from(env!("TAPIR_CORPUS_DIR"))
}

#[derive(Clone, Default)]
pub struct SharedBuf(pub Arc<Mutex<Vec<u8>>>);

impl Write for SharedBuf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .map_err(|_| std::io::Error::other("poisoned"))?
            .extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Replays files through `workers` workers and returns the summary and the NDJSON lines of
/// the protocol records (`sensor_status` records left out: [`replay_files_all`] has them).
pub fn replay_files(paths: &[PathBuf], cfg: &Config, workers: usize) -> (Summary, Vec<String>) {
    let (s, lines) = replay_files_all(paths, cfg, workers);
    let lines = lines
        .into_iter()
        .filter(|l| !l.contains("\"event_type\":\"sensor_status\""))
        .collect();
    (s, lines)
}

/// [`replay_files`] with every record, status records included.
pub fn replay_files_all(paths: &[PathBuf], cfg: &Config, workers: usize) -> (Summary, Vec<String>) {
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
            ..Default::default()
        },
    )
    .expect("replay");
    let bytes = buf.0.lock().expect("lock").clone();
    let text = String::from_utf8(bytes).expect("records are UTF-8");
    (summary, text.lines().map(str::to_string).collect())
}

/// Replays one capture (default config, one worker) and returns the summary and its records of
/// one `event_type`.
pub fn records_of(path: &std::path::Path, event_type: &str) -> (Summary, Vec<serde_json::Value>) {
    let (summary, lines) = replay_files(&[path.to_path_buf()], &Config::default(), 1);
    let records = parse(&lines)
        .into_iter()
        .filter(|r| r["event_type"] == event_type)
        .collect();
    (summary, records)
}

/// Claims for one expected item the first record not `used` yet that `matches` it: marks it
/// used and returns its index (None when every matching record is taken).
pub fn claim<T>(records: &[T], used: &mut [bool], matches: impl Fn(&T) -> bool) -> Option<usize> {
    let i = records
        .iter()
        .zip(used.iter())
        .position(|(r, u)| !*u && matches(r))?;
    used[i] = true;
    Some(i)
}

/// The records as JSON values, one per line.
pub fn parse(lines: &[String]) -> Vec<serde_json::Value> {
    lines
        .iter()
        .map(|l| serde_json::from_str(l).expect("each line is one JSON object"))
        .collect()
}

/// What one run of the `tapir` binary produced.
pub struct SensorRun {
    pub status: std::process::ExitStatus,
    pub stderr: String,
    /// Every record, status records included, in output order.
    pub records: Vec<serde_json::Value>,
}

impl SensorRun {
    /// The records of one type.
    pub fn of(&self, event_type: &str) -> Vec<&serde_json::Value> {
        self.records
            .iter()
            .filter(|r| r["event_type"] == event_type)
            .collect()
    }

    /// The body of the final `sensor_status` record.
    pub fn stop(&self) -> &serde_json::Value {
        let last = self.records.last().expect("at least the stop record");
        assert_eq!(last["sensor_status"]["kind"], "stop", "{last}");
        &last["sensor_status"]
    }

    /// Hits of the named limit in the stop record.
    pub fn limit_hits(&self, name: &str) -> u64 {
        self.stop()["limits"]
            .as_array()
            .expect("limits")
            .iter()
            .find(|l| l["name"] == name)
            .unwrap_or_else(|| panic!("no limit {name}"))["hits"]
            .as_u64()
            .expect("hits")
    }

    /// An anomaly counter of the stop record (0 when absent).
    pub fn anomaly(&self, name: &str) -> u64 {
        self.stop()["anomalies"][name].as_u64().unwrap_or(0)
    }

    /// The process's peak resident memory, from the stop record.
    pub fn peak_rss(&self) -> u64 {
        self.stop()["memory"]["peak_rss_bytes"]
            .as_u64()
            .expect("peak_rss_bytes (Linux)")
    }
}

/// Runs `tapir replay -` with the capture on standard input (streamed, so the capture itself
/// never sits in the sensor's memory and the peak RSS is the sensor's own) and `args`.
pub fn run_sensor(capture: &[u8], args: &[&str]) -> SensorRun {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("records.ndjson");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_tapir"))
        .args(["replay", "-q", "--no-progress", "-o"])
        .arg(&out)
        .args(args)
        .arg("-")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start tapir");
    let mut stdin = child.stdin.take().expect("stdin");
    let data = capture.to_vec();
    let feeder = std::thread::spawn(move || stdin.write_all(&data));
    let output = child.wait_with_output().expect("tapir runs");
    let _ = feeder.join();
    let text = std::fs::read_to_string(&out).unwrap_or_default();
    SensorRun {
        status: output.status,
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        records: text
            .lines()
            .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
            .collect(),
    }
}
