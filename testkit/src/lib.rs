//! Tapir's test kit: dev-only, never part of the product.
//!
//! One place for what the tests (`tests/`), the benchmarks (`benches/`), the fuzz targets
//! (`fuzz/`) and the `tapir-pcapgen` binary share: the synthetic capture generator
//! ([`pcapgen`]), the pcap writer ([`pcap`]), packet builders ([`packets`]), the PRNG ([`rng`]),
//! hex test vectors ([`hex`]), a hand-driven parser session ([`session`]), the public-corpus
//! reader ([`corpus`]), the bodies of the fuzz targets ([`fuzz_harness`]) and a mutual-TLS HTTPS
//! backend with its test PKI for the export tests ([`https_receiver`]) and, with the feature
//! `kafka`, a Kafka broker probe and topic reader (`kafka`).
#![deny(unsafe_code)]

pub mod attacks;
pub mod corpus;
pub mod fuzz_harness;
pub mod hex;
pub mod https_receiver;
#[cfg(feature = "kafka")]
pub mod kafka;
pub mod packets;
pub mod pcap;
pub mod pcapgen;
pub mod rng;
pub mod session;
pub mod tlsgen;
