//! patronage: customer analytics with a Rust core.
//!
//! The algorithmic modules (`table`, `summary`, `datasets`, `clv`, `recommend`,
//! `anomaly`) are plain Rust, free of pyo3, and tested with `cargo test`;
//! so are the rules every estimator follows at the boundary: its contract
//! (`spec`), cancellation and progress (`control`) and saved bytes
//! (`persist`).  `python` is the thin binding layer that converts types,
//! releases the GIL and polls for Ctrl-C.

pub mod anomaly;
pub mod clv;
pub mod control;
pub mod datasets;
pub mod error;
pub mod hashing;
pub mod persist;
pub mod recommend;
pub mod spec;
pub mod summary;
pub mod table;

mod python;

pub use error::{Error, Result};
