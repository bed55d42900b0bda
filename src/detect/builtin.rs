//! The default rules, compiled into the binary (`build.rs` embeds every `rules/**/*.yml` and
//! `*.yaml` of the repository), so that `tapir replay` detects with no setup; `detect.builtin =
//! false` or `--no-default-rules` leaves them out. [`super::load_sources`] loads them with the
//! rule files of the configuration.

include!(concat!(env!("OUT_DIR"), "/builtin_rules.rs"));

/// The default rules as (name under the repository, text) pairs.
pub fn sources() -> Vec<(String, String)> {
    BUILTIN
        .iter()
        .map(|(n, t)| ((*n).to_string(), (*t).to_string()))
        .collect()
}
