//! Application protocols: detection of the protocol a flow speaks (the parsers come later).

pub mod detect;

pub use detect::{by_port, detect, probe, AppProto, Confidence, Direction, Transport};
