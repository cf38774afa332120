//! The estimators' contracts, for the Python layer: names, defaults and
//! what each parameter accepts, read from the core's specs.

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList};

use super::convert::{from_py_bytes, to_py_bytes};
use crate::persist::SavedEstimator;
use crate::spec::{self, Literal};

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(contract, m)?)?;
    m.add_function(wrap_pyfunction!(contract_names, m)?)?;
    m.add_function(wrap_pyfunction!(save_estimator, m)?)?;
    m.add_function(wrap_pyfunction!(load_estimator, m)?)?;
    Ok(())
}

/// The names of every contract (estimators and the simulator).
#[pyfunction]
fn contract_names() -> Vec<&'static str> {
    spec::all().iter().map(|s| s.name).collect()
}

/// The bytes `save` writes: an estimator's class, parameters (JSON) and
/// fitted model, in the checked envelope.
#[pyfunction]
#[pyo3(signature = (class_path, params_json, model=None))]
fn save_estimator<'py>(
    py: Python<'py>,
    class_path: String,
    params_json: String,
    model: Option<Vec<u8>>,
) -> PyResult<Bound<'py, PyBytes>> {
    let saved = SavedEstimator {
        class: class_path,
        params: params_json,
        model,
    };
    to_py_bytes(py, &saved)
}

/// What [`save_estimator`] wrote, checked: `(class_path, params_json, model)`.
#[pyfunction]
fn load_estimator<'py>(
    py: Python<'py>,
    data: &[u8],
) -> PyResult<(String, String, Option<Bound<'py, PyBytes>>)> {
    let saved: SavedEstimator = from_py_bytes(py, data)?;
    let model = saved.model.map(|m| PyBytes::new(py, &m));
    Ok((saved.class, saved.params, model))
}

/// A contract: `{"name", "params": [{"name", "default", "accepts", "unit",
/// "doc"}], "columns", "fitted"}`.
#[pyfunction]
fn contract<'py>(py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyDict>> {
    let spec = spec::find(name)?;
    let params = PyList::empty(py);
    for p in spec.params {
        let d = PyDict::new(py);
        d.set_item("name", p.name)?;
        match p.default {
            Literal::None => d.set_item("default", py.None())?,
            Literal::Bool(b) => d.set_item("default", b)?,
            Literal::Int(i) => d.set_item("default", i)?,
            Literal::Float(f) => d.set_item("default", f)?,
            Literal::Str(s) => d.set_item("default", s)?,
        }
        d.set_item("accepts", p.describe())?;
        d.set_item("unit", p.unit)?;
        d.set_item("doc", p.doc)?;
        params.append(d)?;
    }
    let out = PyDict::new(py);
    out.set_item("name", spec.name)?;
    out.set_item("params", params)?;
    out.set_item("columns", spec.columns.to_vec())?;
    out.set_item("fitted", spec.fitted.to_vec())?;
    Ok(out)
}
