//! Fuzz target `pop3`: the body is `testkit::fuzz_harness::pop3` (documented there), which
//! `tests/fuzz_regress.rs` also replays over `fuzz/regress/pop3/`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| testkit::fuzz_harness::pop3(data));
