//! Fuzz target `kerberos`: the body is `testkit::fuzz_harness::kerberos` (documented there), which
//! `tests/fuzz_regress.rs` also replays over `fuzz/regress/kerberos/`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| testkit::fuzz_harness::kerberos(data));
