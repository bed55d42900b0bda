//! File sinks through the binary: several at once, each with its own type filter, rotated by
//! size with gzip and zstd compression; every record of the main output is in its sink's
//! files exactly once, and the current file keeps its stable name.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::io::Read;
use std::path::Path;

use serde_json::Value;

fn ids_in(dir: &Path, stem: &str) -> (Vec<String>, usize) {
    let mut ids = Vec::new();
    let mut files = 0;
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !name.starts_with(&format!("{stem}.")) {
            continue;
        }
        files += 1;
        let f = std::fs::File::open(e.path()).unwrap();
        let mut text = String::new();
        if name.ends_with(".gz") {
            flate2::read::GzDecoder::new(f)
                .read_to_string(&mut text)
                .unwrap();
        } else if name.ends_with(".zst") {
            zstd::stream::read::Decoder::new(f)
                .unwrap()
                .read_to_string(&mut text)
                .unwrap();
        } else {
            std::io::BufReader::new(f)
                .read_to_string(&mut text)
                .unwrap();
        }
        for l in text.lines() {
            let v: Value = serde_json::from_str(l).unwrap();
            ids.push(v["id"].as_str().unwrap().to_string());
        }
    }
    (ids, files)
}

#[test]
fn file_sinks_filter_rotate_compress_and_keep_every_record() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cap = d.join("mixed.pcap");
    std::fs::write(&cap, testkit::attacks::mixed(3)).unwrap();
    let cfg = format!(
        r#"
[export]
[[export.sink]]
name = "dns"
type = "file"
path = "{0}/dns.ndjson"
types = ["dns"]
rotate_bytes = 20000
compress = "gzip"
[[export.sink]]
name = "rest"
type = "file"
path = "{0}/rest.ndjson"
categories = ["network", "files", "detections"]
rotate_bytes = 50000
compress = "zstd"
"#,
        d.display()
    );
    std::fs::write(d.join("t.toml"), cfg).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tapir"))
        .args(["replay", "-q", "--no-progress", "-o"])
        .arg(d.join("main.ndjson"))
        .arg("-c")
        .arg(d.join("t.toml"))
        .arg(&cap)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let main: Vec<Value> = std::fs::read_to_string(d.join("main.ndjson"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let want = |f: &dyn Fn(&str) -> bool| -> BTreeSet<String> {
        main.iter()
            .filter(|r| f(r["event_type"].as_str().unwrap()))
            .map(|r| r["id"].as_str().unwrap().to_string())
            .collect()
    };
    let (dns, dns_files) = ids_in(d, "dns");
    let (rest, rest_files) = ids_in(d, "rest");
    assert!(dns_files >= 3, "dns sink rotated: {dns_files} files");
    assert!(rest_files >= 2, "rest sink rotated: {rest_files} files");
    assert!(d.join("dns.ndjson").exists() && d.join("rest.ndjson").exists());
    let dns_set: BTreeSet<String> = dns.iter().cloned().collect();
    assert_eq!(dns.len(), dns_set.len(), "no record twice");
    assert_eq!(dns_set, want(&|t| t == "dns"));
    let rest_set: BTreeSet<String> = rest.iter().cloned().collect();
    assert_eq!(rest.len(), rest_set.len());
    assert_eq!(rest_set, want(&|t| t != "sensor_status"));
    // The stop record says what each sink wrote.
    let stop = &main.last().unwrap()["sensor_status"];
    let sinks = stop["export"]["sinks"].as_array().unwrap();
    assert_eq!(sinks.len(), 2);
    assert_eq!(sinks[0]["name"], "dns");
    assert!(sinks[0]["rotations"].as_u64().unwrap() >= 2);
}
