//! Fuzz target `smtp`: the body is `testkit::fuzz_harness::smtp` (documented there), which
//! `tests/fuzz_regress.rs` also replays over `fuzz/regress/smtp/`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| testkit::fuzz_harness::smtp(data));
