//! Fuzz target `decode`: the body is `testkit::fuzz_harness::decode` (documented there), which
//! `tests/fuzz_regress.rs` also replays over `fuzz/regress/decode/`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| testkit::fuzz_harness::decode(data));
