#![allow(clippy::expect_used, clippy::unwrap_used)]
//! Replays the committed fuzz corpora (`fuzz/regress/<target>/`: a minimized corpus per target,
//! plus every crash the fuzzers found, named `crash-<sha1>`) through the bodies of the fuzz
//! targets in `testkit::fuzz_harness`, so a fixed crash stays fixed without cargo-fuzz or nightly.
//! Also checks that every fuzz target in `fuzz/Cargo.toml` is in `TARGETS` and has a non-empty
//! regress directory, and the other way round.

use std::collections::BTreeSet;
use std::fs;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::Instant;

use testkit::fuzz_harness::TARGETS;

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

/// The `name = "..."` of every `[[bin]]` section of fuzz/Cargo.toml.
fn fuzz_bins() -> Vec<String> {
    let toml = fs::read_to_string(fuzz_dir().join("Cargo.toml")).unwrap();
    let mut bins = Vec::new();
    let mut in_bin = false;
    for line in toml.lines().map(str::trim) {
        if line.starts_with('[') {
            in_bin = line == "[[bin]]";
        } else if in_bin {
            if let Some(v) = line.strip_prefix("name") {
                let v = v
                    .trim_start()
                    .strip_prefix('=')
                    .expect("name = \"...\"")
                    .trim();
                bins.push(v.trim_matches('"').to_string());
            }
        }
    }
    bins
}

/// The inputs of one target's regress directory, sorted (hidden files skipped).
fn inputs(target: &str) -> Vec<PathBuf> {
    let dir = fuzz_dir().join("regress").join(target);
    let Ok(rd) = fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut v: Vec<PathBuf> = rd
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .filter(|p| !p.file_name().unwrap().to_string_lossy().starts_with('.'))
        .collect();
    v.sort();
    v
}

#[test]
fn every_fuzz_target_is_in_the_harness() {
    let bins = fuzz_bins();
    assert!(!bins.is_empty(), "no [[bin]] in fuzz/Cargo.toml");
    let names: BTreeSet<&str> = TARGETS.iter().map(|(n, _)| *n).collect();
    assert_eq!(names.len(), TARGETS.len(), "a name twice in TARGETS");
    for b in &bins {
        assert!(
            names.contains(b.as_str()),
            "fuzz target `{b}` has no entry in testkit::fuzz_harness::TARGETS"
        );
    }
    for n in &names {
        assert!(
            bins.iter().any(|b| b == n),
            "TARGETS has `{n}` but fuzz/Cargo.toml has no such [[bin]]"
        );
    }
}

#[test]
fn every_target_has_a_regress_corpus() {
    for (name, _) in TARGETS {
        assert!(
            !inputs(name).is_empty(),
            "fuzz/regress/{name}/ is missing or empty: add the target's minimized corpus \
             (see fuzz/regress/README.md)"
        );
    }
}

#[test]
fn regress_corpora_replay_without_panics() {
    // One thread per target; a panic is caught per input so every failing file gets named.
    let handles: Vec<_> = TARGETS
        .iter()
        .map(|&(name, run)| {
            std::thread::spawn(move || {
                let start = Instant::now();
                let mut failed = Vec::new();
                let files = inputs(name);
                for f in &files {
                    let data = fs::read(f).unwrap();
                    if panic::catch_unwind(AssertUnwindSafe(|| run(&data))).is_err() {
                        failed.push(f.display().to_string());
                    }
                }
                eprintln!(
                    "{name}: {} inputs in {:.1}s",
                    files.len(),
                    start.elapsed().as_secs_f64()
                );
                failed
            })
        })
        .collect();
    let failed: Vec<String> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    assert!(failed.is_empty(), "inputs that panic: {failed:#?}");
}
