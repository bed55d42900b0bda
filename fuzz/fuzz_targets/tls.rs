//! Fuzz target `tls`: the body is `testkit::fuzz_harness::tls` (documented there), which
//! `tests/fuzz_regress.rs` also replays over `fuzz/regress/tls/`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| testkit::fuzz_harness::tls(data));
