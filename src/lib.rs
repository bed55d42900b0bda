//! Tapir, a network traffic analysis sensor.
//!
//! The data path, one module per stage:
//! capture → decode → flow (+ TCP reassembly) → proto (app detection, parsers) → record → export.
//! `pipeline` runs the per-worker stages on threads; `cmd` holds the commands of the binary.
#![deny(unsafe_code)]

pub mod capture;
pub mod cmd;
pub mod config;
pub mod decode;
pub mod detect;
pub mod enrich;
pub mod export;
pub mod files;
pub mod flow;
pub mod pipeline;
pub mod proto;
pub mod record;
pub mod stats;
pub mod status;
pub mod util;
pub mod vocab;
