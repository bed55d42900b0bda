//! Flows: the canonical key and symmetric hash, the per-worker table with timeouts, Community
//! ID, and TCP (state tracking and stream reassembly).

pub mod community_id;
pub mod key;
pub mod table;
pub mod tcp;
