//! Fuzz target `tcp_reassembly`: the body is `testkit::fuzz_harness::tcp_reassembly` (documented there), which
//! `tests/fuzz_regress.rs` also replays over `fuzz/regress/tcp_reassembly/`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| testkit::fuzz_harness::tcp_reassembly(data));
