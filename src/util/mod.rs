//! Small helpers every layer may use; a leaf: imports nothing of the crate.

pub mod hex;
pub mod tar;
