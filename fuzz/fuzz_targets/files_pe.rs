//! Fuzz target `files_pe`: the body is `testkit::fuzz_harness::files_pe` (documented there), which
//! `tests/fuzz_regress.rs` also replays over `fuzz/regress/files_pe/`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| testkit::fuzz_harness::files_pe(data));
