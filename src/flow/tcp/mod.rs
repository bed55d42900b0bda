//! TCP: per-direction stream reassembly (sans-IO, see [`reassembly`]), its limits, budget and
//! counters ([`budget`]), and the connection state machine ([`state`]).

pub mod budget;
pub mod reassembly;
pub mod state;

pub use budget::{MemBudget, ReassemblyConfig, ReassemblyStats};
pub use reassembly::{DirStream, StreamEvent};
