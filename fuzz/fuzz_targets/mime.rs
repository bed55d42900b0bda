//! Fuzz target `mime`: the body is `testkit::fuzz_harness::mime` (documented there), which
//! `tests/fuzz_regress.rs` also replays over `fuzz/regress/mime/`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| testkit::fuzz_harness::mime(data));
