//! Finds the public capture corpus for the tests; the product itself does not use it.
//!
//! The corpus is the directory named by `TAPIR_CORPUS` when that is set (relative to this
//! directory when relative), else `../shared/pcaps/public` beside the repository. Every target
//! is compiled with `TAPIR_CORPUS_DIR` set to that path; where the directory exists, with the cfg
//! `tapir_corpus` too, and the tests that need the corpus are
//! `#[cfg_attr(not(tapir_corpus), ignore = "...")]`: without it they are reported as ignored,
//! not passed.

use std::path::PathBuf;

fn main() {
    println!("cargo::rustc-check-cfg=cfg(tapir_corpus)");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=TAPIR_CORPUS");
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let dir = match std::env::var_os("TAPIR_CORPUS").filter(|v| !v.is_empty()) {
        Some(v) => manifest.join(v),
        None => manifest.join("../shared/pcaps/public"),
    };
    println!("cargo:rustc-env=TAPIR_CORPUS_DIR={}", dir.display());
    if dir.is_dir() {
        println!("cargo:rustc-cfg=tapir_corpus");
    }
    // Run again when the corpus appears, goes or changes: watch it, or the nearest directory
    // where it would appear. Not a missing path (cargo would run this script on every build) nor
    // one that holds this repository (its `target/` changes on every build): where only such an
    // ancestor exists, a corpus put there later is seen after `touch build.rs` (or with
    // `TAPIR_CORPUS` set).
    let here = manifest.canonicalize().unwrap_or_else(|_| manifest.clone());
    let watched = dir
        .ancestors()
        .find(|p| p.exists())
        .and_then(|p| p.canonicalize().ok())
        .filter(|p| !here.starts_with(p));
    if let Some(p) = watched {
        println!("cargo:rerun-if-changed={}", p.display());
    }
}
