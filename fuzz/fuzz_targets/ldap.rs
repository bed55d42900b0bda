//! Fuzz target `ldap`: the body is `testkit::fuzz_harness::ldap` (documented there), which
//! `tests/fuzz_regress.rs` also replays over `fuzz/regress/ldap/`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| testkit::fuzz_harness::ldap(data));
