//! Thin pyo3 binding layer: one module per domain, each converting Python
//! objects to plain Rust types, releasing the GIL around the work, and
//! converting results back.  The native module is private (`patronage._core`);
//! the typed public API lives in the Python package.

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;

use crate::error::Error;

mod anomaly;
mod clv;
pub(crate) mod convert;
mod datasets;
mod recommend;
mod summary;

impl From<Error> for PyErr {
    fn from(err: Error) -> PyErr {
        let message = err.to_string();
        match err {
            Error::ColumnType { .. } | Error::ArgumentType { .. } => PyTypeError::new_err(message),
            _ => PyValueError::new_err(message),
        }
    }
}

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    summary::register(m)?;
    datasets::register(m)?;
    clv::register(m)?;
    recommend::register(m)?;
    anomaly::register(m)?;
    Ok(())
}
