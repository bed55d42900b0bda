//! Fuzz target `pipeline`: the body is `tapir::fuzz_harness::pipeline` (documented there), which
//! `tests/fuzz_regress.rs` also replays over `fuzz/regress/pipeline/`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| tapir::fuzz_harness::pipeline(data));
