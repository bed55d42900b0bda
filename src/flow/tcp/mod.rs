pub mod reassembly;
pub mod state;
pub use reassembly::{DirStream, MemBudget, ReassemblyConfig, ReassemblyStats, StreamEvent};
