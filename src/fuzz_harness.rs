//! The bodies of the fuzz targets in `fuzz/`, kept in the library so that `tests/fuzz_regress.rs`
//! replays the committed corpora and crash inputs through exactly the same code.
