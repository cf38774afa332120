//! Data sets: the transaction simulator (CDNOW ships as files in the Python
//! package, read there).

pub mod simulate;

pub use simulate::{simulate, Simulation, SimulationConfig};
