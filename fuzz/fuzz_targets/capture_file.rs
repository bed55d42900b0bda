//! Fuzz target `capture_file`: the body is `testkit::fuzz_harness::capture_file` (documented there), which
//! `tests/fuzz_regress.rs` also replays over `fuzz/regress/capture_file/`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| testkit::fuzz_harness::capture_file(data));
