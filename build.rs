//! Embeds the default detection rules (`rules/**/*.yml`, `*.yaml`) into the binary
//! (`detect::builtin`), and finds the public capture corpus for the tests (the product itself
//! does not use the corpus).
//!
//! The corpus is the directory named by `TAPIR_CORPUS` when that is set (relative to this
//! directory when relative), else `../shared/pcaps/public` beside the repository. Every target
//! is compiled with `TAPIR_CORPUS_DIR` set to that path; where the directory exists, with the cfg
//! `tapir_corpus` too, and the tests that need the corpus are
//! `#[cfg_attr(not(tapir_corpus), ignore = "...")]`: without it they are reported as ignored,
//! not passed.

use std::path::{Path, PathBuf};

/// Every `.yml`/`.yaml` file under `dir`, sorted, as paths relative to `root`.
fn rule_files(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut paths: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    paths.sort();
    for p in paths {
        let hidden = p
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with('.'));
        if hidden {
            continue;
        }
        if p.is_dir() {
            rule_files(root, &p, out);
        } else if p
            .extension()
            .and_then(|x| x.to_str())
            .is_some_and(|x| x == "yml" || x == "yaml")
        {
            if let Ok(rel) = p.strip_prefix(root) {
                out.push(rel.to_path_buf());
            }
        }
    }
}

/// Writes `$OUT_DIR/builtin_rules.rs`: `BUILTIN: &[(&str, &str)]`, (path under the
/// repository, text) of every default rule file.
fn embed_rules(manifest: &Path) {
    println!("cargo:rerun-if-changed=rules");
    let mut files = Vec::new();
    rule_files(manifest, &manifest.join("rules"), &mut files);
    let mut code = String::from("pub static BUILTIN: &[(&str, &str)] = &[\n");
    for f in &files {
        let name = f.to_string_lossy().replace('\\', "/");
        let abs = manifest.join(f);
        code.push_str(&format!(
            "    ({:?}, include_str!({:?})),\n",
            name,
            abs.to_string_lossy()
        ));
    }
    code.push_str("];\n");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").unwrap_or_default());
    if let Err(e) = std::fs::write(out.join("builtin_rules.rs"), code) {
        println!("cargo::error=cannot write builtin_rules.rs: {e}");
    }
}

fn main() {
    let manifest0 = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    embed_rules(&manifest0);
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
