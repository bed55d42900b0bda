//! TCP: per-direction stream reassembly (sans-IO, see [`reassembly`]).

pub mod reassembly;

pub use reassembly::{DirStream, MemBudget, ReassemblyConfig, ReassemblyStats, StreamEvent};
