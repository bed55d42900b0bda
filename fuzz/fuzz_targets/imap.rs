//! Fuzz target `imap`: the body is `tapir::fuzz_harness::imap` (documented there), which
//! `tests/fuzz_regress.rs` also replays over `fuzz/regress/imap/`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| tapir::fuzz_harness::imap(data));
