//! patronage: customer analytics with a Rust core.
//!
//! The algorithmic modules (`table`, `summary`, `datasets`, `clv`, `recommend`,
//! `anomaly`) are plain Rust, free of pyo3, and tested with `cargo test`.
//! `python` is the thin binding layer that converts types and releases the GIL.

pub mod anomaly;
pub mod clv;
pub mod datasets;
pub mod error;
pub mod recommend;
pub mod summary;
pub mod table;

mod python;

pub use error::{Error, Result};
