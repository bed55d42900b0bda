//! Tapir, a network traffic analysis sensor.
//!
//! The data path, one module per stage:
//! capture → decode → flow (+ TCP reassembly) → proto (app parsers) → record → export.
//! `pipeline` runs the per-worker stages on threads; `cmd` holds the commands of the binary.
#![deny(unsafe_code)]

pub mod capture;
pub mod decode;
pub mod pcapgen;
