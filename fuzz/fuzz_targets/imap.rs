//! Fuzz target `imap`: the body is `testkit::fuzz_harness::imap` (documented there), which
//! `tests/fuzz_regress.rs` also replays over `fuzz/regress/imap/`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| testkit::fuzz_harness::imap(data));
