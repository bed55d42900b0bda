//! The SigmaHQ rules under `../shared/sigma` (test data, Detection Rule License 1.1): every one
//! loads, or is refused with a reason this test pins down.

mod common;

use std::path::PathBuf;

/// `TAPIR_SIGMA`, else `sigma/` beside the capture corpus (`../shared/sigma`).
fn sigma_dir() -> Option<PathBuf> {
    let d = std::env::var_os("TAPIR_SIGMA")
        .map(PathBuf::from)
        .unwrap_or_else(|| common::corpus().join("../../sigma"));
    d.is_dir().then_some(d)
}

#[test]
#[cfg_attr(not(tapir_corpus), ignore = "needs ../shared (TAPIR_CORPUS)")]
fn every_sigma_rule_loads_or_is_refused_with_a_reason() {
    let Some(dir) = sigma_dir() else {
        eprintln!("no ../shared/sigma: skipped");
        return;
    };
    let set = tapir::detect::load(&[dir]).expect("rules folder reads");
    let r = &set.report;
    for x in &r.rejected {
        eprintln!("refused: {}:{} {:?}: {}", x.file, x.line, x.rule, x.why);
    }
    eprintln!(
        "files {} sigma {} rejected {}",
        r.files,
        r.sigma,
        r.rejected.len()
    );
    assert_eq!(r.files, 61);
    assert_eq!(r.sigma as usize + r.rejected.len(), 61);
    // The one refusal: the sensor does not record cookies (session secrets), so a rule on
    // `cs-cookie` cannot be honoured; it says so, with the line of the field.
    assert_eq!(r.rejected.len(), 1, "{:?}", r.rejected);
    let x = &r.rejected[0];
    assert!(x
        .file
        .ends_with("proxy_hktl_cobalt_strike_malleable_c2_requests.yml"));
    assert_eq!(
        x.rule.as_deref(),
        Some("f3f21ce1-cdef-4bfc-8328-ed2e826f5fac")
    );
    assert!(x.why.contains("cs-cookie"), "{}", x.why);
    assert!(x.line > 1);
    // Every loaded rule reads records of the type its log source names, and says which fields.
    for rule in &set.rules {
        assert_eq!(rule.meta.format.as_str(), "sigma");
        assert!(!rule.fields().is_empty(), "{}", rule.meta.id);
        assert_eq!(rule.event_types.len(), 1);
    }
}
