//! Fuzz target `defrag`: the body is `tapir::fuzz_harness::defrag` (documented there), which
//! `tests/fuzz_regress.rs` also replays over `fuzz/regress/defrag/`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| tapir::fuzz_harness::defrag(data));
