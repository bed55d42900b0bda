//! The module layering of ARCHITECTURE.md ("Layers"), checked on the source: a module's
//! non-test code names (`crate::m`) only modules above it in the list. A new upward import (a
//! cycle in waiting) fails here with the file and the module it names.

use std::path::Path;

/// Top of the data path first; each module may import only those before it.
const LAYERS: &[&str] = &[
    "vocab", "util", "capture", "decode", "files", "config", "flow", "proto", "record", "enrich",
    "stats", "detect", "export", "status", "pipeline", "cmd",
];

fn rank(m: &str) -> Option<usize> {
    LAYERS.iter().position(|l| *l == m)
}

/// Source text before the first `#[cfg(test)]` (unit tests may reach further).
fn product_part(text: &str) -> &str {
    text.find("#[cfg(test)]").map_or(text, |i| &text[..i])
}

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The leading identifier of `s`.
fn ident(s: &str) -> &str {
    let s = s.trim_start();
    let end = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    &s[..end]
}

/// The modules named as `crate::name` or in `crate::{a::.., b}` in `text`.
fn crate_refs(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    for (i, m) in text.match_indices("crate::") {
        let rest = &text[i + m.len()..];
        let Some(group) = rest.strip_prefix('{') else {
            out.push(ident(rest));
            continue;
        };
        // The names at the group's top level: after `{` and after each `,` at depth 0.
        let mut depth = 0usize;
        let mut start = 0usize;
        for (j, c) in group.char_indices() {
            match c {
                '{' => depth += 1,
                '}' if depth == 0 => {
                    out.push(ident(&group[start..j]));
                    break;
                }
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    out.push(ident(&group[start..j]));
                    start = j + 1;
                }
                _ => {}
            }
        }
    }
    out.retain(|m| !m.is_empty());
    out
}

#[test]
fn imports_point_down_the_layers() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    assert!(files.len() > 50, "found only {} source files", files.len());
    let mut upward = Vec::new();
    let mut seen_modules = std::collections::BTreeSet::new();
    for f in &files {
        let rel = f.strip_prefix(&src).unwrap_or(f);
        let first = rel
            .components()
            .next()
            .and_then(|c| c.as_os_str().to_str())
            .unwrap_or("");
        let module = first.trim_end_matches(".rs");
        // Test-only files (`tests.rs`, `fixture_tests.rs`) are unit tests: they may reach further.
        if rel
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.ends_with("tests.rs"))
        {
            continue;
        }
        let Some(own) = rank(module) else { continue };
        seen_modules.insert(module);
        let text = std::fs::read_to_string(f).unwrap_or_default();
        for m in crate_refs(product_part(&text)) {
            if let Some(r) = rank(m) {
                if r > own {
                    upward.push(format!("{} names crate::{m}", rel.display()));
                }
            }
        }
    }
    assert_eq!(
        seen_modules.len(),
        LAYERS.len(),
        "a layer has no source: {seen_modules:?}"
    );
    upward.sort();
    upward.dedup();
    assert!(
        upward.is_empty(),
        "imports against the layers:\n{}",
        upward.join("\n")
    );
}

#[test]
fn the_check_sees_an_upward_import() {
    let text = "use crate::record::Body;\nuse crate::{flow::{a, b}, status};\n\
                fn f() { crate::pipeline::x(); }\n#[cfg(test)]\nuse crate::cmd;";
    assert_eq!(
        crate_refs(product_part(text)),
        vec!["record", "flow", "status", "pipeline"]
    );
}
