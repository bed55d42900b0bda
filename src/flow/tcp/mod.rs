//! TCP: per-direction stream reassembly (sans-IO, see [`reassembly`]).

pub mod reassembly;
pub mod state;

pub use reassembly::{DirStream, MemBudget, ReassemblyConfig, ReassemblyStats, StreamEvent};
