//! Fuzz target `http`: the body is `tapir::fuzz_harness::http` (documented there), which
//! `tests/fuzz_regress.rs` also replays over `fuzz/regress/http/`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| tapir::fuzz_harness::http(data));
