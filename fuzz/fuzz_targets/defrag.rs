//! Fuzz target `defrag`: the body is `testkit::fuzz_harness::defrag` (documented there), which
//! `tests/fuzz_regress.rs` also replays over `fuzz/regress/defrag/`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| testkit::fuzz_harness::defrag(data));
