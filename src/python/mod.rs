//! Thin pyo3 binding layer: one module per domain.  A binding method reads
//! its table or arrays ([`convert`]), checks parameters against the
//! estimator's spec, runs the core through the one entry helper
//! ([`entry::Job`]: GIL released, Ctrl-C polled, thread pool chosen, errors
//! mapped) and returns one Arrow record batch or numpy array.  The native
//! module is private (`patronage._core`); the typed public API lives in the
//! Python package.

use pyo3::exceptions::{PyKeyboardInterrupt, PyTypeError, PyValueError};
use pyo3::prelude::*;

use crate::error::Error;

mod anomaly;
mod clv;
mod contract;
pub(crate) mod convert;
mod datasets;
mod entry;
mod recommend;
mod summary;

/// Where every core error becomes a Python exception.
impl From<Error> for PyErr {
    fn from(err: Error) -> PyErr {
        let message = err.to_string();
        if err == Error::Interrupted {
            PyKeyboardInterrupt::new_err(message)
        } else if err.is_type_error() {
            PyTypeError::new_err(message)
        } else {
            PyValueError::new_err(message)
        }
    }
}

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("FORMAT_VERSION", crate::persist::FORMAT_VERSION)?;
    contract::register(m)?;
    summary::register(m)?;
    datasets::register(m)?;
    clv::register(m)?;
    recommend::register(m)?;
    anomaly::register(m)?;
    Ok(())
}
