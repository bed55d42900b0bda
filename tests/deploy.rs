//! The shipped deployment files agree: every path the example configuration (`deploy/tapir.toml`)
//! makes the sensor write (records, the Prometheus metrics file, and the extraction directory
//! of its commented example) lies in a directory the systemd unit (`deploy/tapir.service`,
//! `ProtectSystem=strict`) leaves writable.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::path::{Path, PathBuf};

fn read(name: &str) -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("deploy")
        .join(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// The directories the unit lets the service write to.
fn writable(unit: &str) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    for line in unit.lines() {
        let Some((key, value)) = line.trim().split_once('=') else {
            continue;
        };
        let base = match key.trim() {
            "ReadWritePaths" => "",
            "LogsDirectory" => "/var/log",
            "StateDirectory" => "/var/lib",
            "CacheDirectory" => "/var/cache",
            "RuntimeDirectory" => "/run",
            _ => continue,
        };
        for v in value.split_whitespace() {
            // "-" marks a path that may be missing; "+" and ":" options do not apply here.
            let v = v.trim_start_matches(['-', '+']);
            let v = v.split(':').next().unwrap_or(v);
            dirs.push(if base.is_empty() {
                PathBuf::from(v)
            } else {
                Path::new(base).join(v)
            });
        }
    }
    dirs
}

#[test]
fn configured_output_paths_are_writable_under_the_unit() {
    let unit = read("tapir.service");
    assert!(
        unit.contains("ProtectSystem=strict"),
        "the unit changed its sandbox"
    );
    let dirs = writable(&unit);
    let conf_text = read("tapir.toml");
    let conf: toml::Table = toml::from_str(&conf_text).expect("deploy/tapir.toml parses");
    let mut paths: Vec<(String, String)> = Vec::new();
    for (table, key) in [("output", "path"), ("output", "metrics_path")] {
        let v = conf[table][key].as_str().expect("a path string");
        paths.push((format!("{table}.{key}"), v.to_string()));
    }
    let export = &conf["export"];
    paths.push((
        "export.spool.dir/".into(),
        format!("{}/x", export["spool"]["dir"].as_str().expect("spool dir")),
    ));
    for sink in export["sink"].as_array().expect("[[export.sink]]") {
        if let Some(p) = sink.get("path").and_then(|p| p.as_str()) {
            paths.push(("export.sink.path".into(), p.to_string()));
        }
    }
    // The commented example of `files.extract_dir` must work once uncommented.
    let extract = conf_text
        .lines()
        .find_map(|l| l.trim().strip_prefix("# extract_dir = "))
        .and_then(|r| r.split('"').nth(1))
        .expect("extract_dir example");
    paths.push(("files.extract_dir/".into(), format!("{extract}/x")));
    for (what, p) in &paths {
        // Files are written next to themselves (temporary file, then rename): the directory
        // holding them must be writable.
        let dir = Path::new(p).parent().expect("an absolute file path");
        assert!(
            dirs.iter().any(|d| dir.starts_with(d)),
            "{what} = {p:?} is not writable under deploy/tapir.service (writable: {dirs:?})"
        );
    }
}
