//! Fuzz target `dns`: the body is `testkit::fuzz_harness::dns` (documented there), which
//! `tests/fuzz_regress.rs` also replays over `fuzz/regress/dns/`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| testkit::fuzz_harness::dns(data));
