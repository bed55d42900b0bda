//! Fuzz target `pipeline`: the body is `testkit::fuzz_harness::pipeline` (documented there), which
//! `tests/fuzz_regress.rs` also replays over `fuzz/regress/pipeline/`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| testkit::fuzz_harness::pipeline(data));
