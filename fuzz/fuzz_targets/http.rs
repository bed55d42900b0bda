//! Fuzz target `http`: the body is `testkit::fuzz_harness::http` (documented there), which
//! `tests/fuzz_regress.rs` also replays over `fuzz/regress/http/`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| testkit::fuzz_harness::http(data));
