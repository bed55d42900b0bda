//! `sensor_status.health`: the sensor's own condition in one place. Kernel drops per capture
//! socket, memcap pressure (used / cap / hits of every memory cap), export lag, the versions of
//! the rule and feed files loaded, and the last error of each component.
//!
//! The last errors come from a small bounded ring ([`note_error`]) that the tracing layer
//! [`ErrorRingLayer`] feeds with every WARN and ERROR event, so that what the log said last
//! also reaches the status records and the metrics.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use crate::record::sensor_status::{ComponentError, FileVersion};

/// Components kept in the ring (the oldest component's entry goes first).
pub const ERROR_RING_CAP: usize = 16;
/// Longest message kept (bytes, cut at a character boundary).
pub const ERROR_MESSAGE_MAX: usize = 512;

static RING: Mutex<VecDeque<ComponentError>> = Mutex::new(VecDeque::new());
static SUPPRESSED: AtomicU64 = AtomicU64::new(0);

/// Records `message` as the last error (or warning) of `component`.
pub fn note_error(component: &str, level: &'static str, message: &str) {
    let mut msg = message.to_string();
    if msg.len() > ERROR_MESSAGE_MAX {
        let mut cut = ERROR_MESSAGE_MAX;
        while !msg.is_char_boundary(cut) {
            cut -= 1;
        }
        msg.truncate(cut);
    }
    let Ok(mut ring) = RING.lock() else {
        return;
    };
    let mut count = 1;
    if let Some(i) = ring.iter().position(|e| e.component == component) {
        if let Some(old) = ring.remove(i) {
            count = old.count.saturating_add(1);
        }
    }
    while ring.len() >= ERROR_RING_CAP {
        ring.pop_front();
    }
    ring.push_back(ComponentError {
        component: component.to_string(),
        level,
        time: crate::record::rfc3339_micros(super::wall_ns()),
        message: msg,
        count,
    });
}

/// The last error of each component, oldest first.
pub fn last_errors() -> Vec<ComponentError> {
    RING.lock()
        .map(|r| r.iter().cloned().collect())
        .unwrap_or_default()
}

/// Log lines the rate limit suppressed since start.
pub fn suppressed_log_lines() -> u64 {
    SUPPRESSED.load(Ordering::Relaxed)
}

/// Counts `n` suppressed log lines.
pub fn add_suppressed(n: u64) {
    SUPPRESSED.fetch_add(n, Ordering::Relaxed);
}

/// A tracing layer that feeds WARN and ERROR events into the error ring; the component is the
/// event's target (module path) without the crate prefix.
pub struct ErrorRingLayer;

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for ErrorRingLayer {
    fn on_event(
        &self,
        event: &tracing::Event<'_>,
        _ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        let meta = event.metadata();
        let level = match *meta.level() {
            tracing::Level::ERROR => "error",
            tracing::Level::WARN => "warn",
            _ => return,
        };
        let mut v = MessageVisitor(String::new());
        event.record(&mut v);
        let target = meta.target();
        let component = target.strip_prefix("tapir::").unwrap_or(target);
        note_error(component, level, &v.0);
    }
}

/// Collects an event's message and fields as `message k=v ...`.
struct MessageVisitor(String);

impl tracing::field::Visit for MessageVisitor {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        use std::fmt::Write as _;
        if self.0.len() > ERROR_MESSAGE_MAX {
            return;
        }
        if field.name() == "message" {
            let sep = if self.0.is_empty() { "" } else { " " };
            let _ = write!(self.0, "{sep}{value:?}");
        } else {
            let sep = if self.0.is_empty() { "" } else { " " };
            let _ = write!(self.0, "{sep}{}={value:?}", field.name());
        }
    }

    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        if field.name() == "message" {
            self.record_debug(field, &format_args!("{value}"));
        } else {
            self.record_debug(field, &value);
        }
    }
}

/// The version of a loaded file: the first 16 hex digits of its SHA-1, its size and mtime.
/// A file that cannot be read is listed with an error instead.
pub fn file_version(kind: &'static str, path: &Path) -> FileVersion {
    use sha1::{Digest, Sha1};
    let mut v = FileVersion {
        kind,
        path: path.display().to_string(),
        sha1: None,
        bytes: None,
        mtime: None,
        error: None,
    };
    match std::fs::read(path) {
        Ok(data) => {
            let digest = Sha1::digest(&data);
            v.sha1 = Some(crate::util::hex::encode(
                digest.get(..8).unwrap_or_default(),
            ));
            v.bytes = Some(data.len() as u64);
            v.mtime = std::fs::metadata(path)
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map(|d| crate::record::rfc3339_micros(d.as_nanos() as u64));
        }
        Err(e) => v.error = Some(e.to_string()),
    }
    v
}

/// The rule and feed files a configuration loads, with their versions.
pub fn loaded_versions(cfg: &crate::config::Config) -> Vec<FileVersion> {
    loaded_files(cfg)
        .iter()
        .map(|(kind, p)| file_version(kind, p))
        .collect()
}

/// The rule and feed files a configuration loads ("rules" or "feed"): every `detect.rules`
/// path (a directory: its files, not dotfiles or `.md`), every `intel.paths` file and the
/// files of every `intel.dirs` directory. A path that is not there is listed as it is.
pub fn loaded_files(cfg: &crate::config::Config) -> Vec<(&'static str, PathBuf)> {
    let mut out = Vec::new();
    let mut add = |kind: &'static str, p: &Path| {
        if p.is_dir() {
            let mut files: Vec<_> = std::fs::read_dir(p)
                .map(|d| {
                    d.flatten()
                        .map(|e| e.path())
                        .filter(|f| f.is_file())
                        .filter(|f| {
                            !f.file_name()
                                .and_then(|n| n.to_str())
                                .is_some_and(|n| n.starts_with('.') || n.ends_with(".md"))
                        })
                        .collect()
                })
                .unwrap_or_default();
            files.sort();
            out.extend(files.into_iter().map(|f| (kind, f)));
        } else {
            out.push((kind, p.to_path_buf()));
        }
    };
    if cfg.detect.enabled {
        for r in &cfg.detect.rules {
            add("rules", Path::new(r));
        }
    }
    for p in &cfg.intel.paths {
        add("feed", Path::new(p));
    }
    for d in &cfg.intel.dirs {
        add("feed", Path::new(d));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ring_keeps_the_last_error_per_component_and_is_bounded() {
        for i in 0..(ERROR_RING_CAP + 5) {
            note_error(&format!("test_ring_{i}"), "warn", "x");
        }
        note_error("test_ring_20", "error", "second");
        let all = last_errors();
        assert!(all.len() <= ERROR_RING_CAP);
        let last = all
            .last()
            .map(|e| (e.component.as_str(), e.count, e.message.as_str()));
        assert_eq!(last, Some(("test_ring_20", 2, "second")));
        assert!(!all.iter().any(|e| e.component == "test_ring_0"));
    }

    #[test]
    fn long_messages_are_cut_at_a_char_boundary() {
        let long = "é".repeat(ERROR_MESSAGE_MAX);
        note_error("test_long", "error", &long);
        let e = last_errors()
            .into_iter()
            .find(|e| e.component == "test_long")
            .map(|e| e.message.len());
        assert!(e.is_some_and(|l| (ERROR_MESSAGE_MAX - 1..=ERROR_MESSAGE_MAX).contains(&l)));
    }

    #[test]
    fn file_versions_change_with_the_content() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let p = dir.path().join("r.yml");
        std::fs::write(&p, b"a").unwrap_or_else(|e| panic!("{e}"));
        let a = file_version("rules", &p);
        std::fs::write(&p, b"b").unwrap_or_else(|e| panic!("{e}"));
        let b = file_version("rules", &p);
        assert_eq!(a.bytes, Some(1));
        assert!(a.sha1.is_some() && a.sha1 != b.sha1);
        assert!(file_version("rules", &dir.path().join("none"))
            .error
            .is_some());
    }
}
