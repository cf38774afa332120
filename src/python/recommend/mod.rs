//! Bindings for recommendations: the interaction matrix (here), fitted
//! models and serving ([`model`]), splits and metrics ([`evaluation`]).

mod evaluation;
mod model;

use std::sync::Arc;

use numpy::{IntoPyArray, PyArray1, PyReadonlyArray1};
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use pyo3_arrow::input::AnyRecordBatch;
use pyo3_arrow::PyArray;

use super::convert::{from_py_bytes, read_table, to_py_bytes};
use super::entry::Job;
use crate::recommend::sparse::Csr;
use crate::recommend::Interactions;

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyInteractions>()?;
    m.add_class::<model::PyRecommender>()?;
    evaluation::register(m)?;
    Ok(())
}

/// A matrix's CSR arrays for scipy: `(shape, indptr, indices, data)`.
type CsrParts<'py> = (
    (usize, usize),
    Bound<'py, PyArray1<i64>>,
    Bound<'py, PyArray1<i32>>,
    Bound<'py, PyArray1<f32>>,
);

fn csr_parts<'py>(py: Python<'py>, m: &Csr) -> CsrParts<'py> {
    let indptr: Vec<i64> = m.indptr.iter().map(|&v| v as i64).collect();
    let indices: Vec<i32> = m.indices.iter().map(|&v| v as i32).collect();
    (
        (m.n_rows, m.n_cols),
        indptr.into_pyarray(py),
        indices.into_pyarray(py),
        m.data.clone().into_pyarray(py),
    )
}

#[pyclass(module = "patronage._core", name = "Interactions", frozen)]
pub struct PyInteractions {
    inner: Arc<Interactions>,
}

#[pymethods]
impl PyInteractions {
    #[staticmethod]
    #[pyo3(signature = (data, user_col, item_col, weight_col=None))]
    fn from_table(
        py: Python<'_>,
        data: AnyRecordBatch,
        user_col: &str,
        item_col: &str,
        weight_col: Option<&str>,
    ) -> PyResult<Self> {
        let table = read_table(data)?;
        let inner = Job::new().run(py, |_| {
            Interactions::from_table(&table, user_col, item_col, weight_col)
        })?;
        Ok(PyInteractions {
            inner: Arc::new(inner),
        })
    }

    #[staticmethod]
    fn from_csr(
        py: Python<'_>,
        shape: (usize, usize),
        indptr: PyReadonlyArray1<'_, i64>,
        indices: PyReadonlyArray1<'_, i32>,
        data: PyReadonlyArray1<'_, f64>,
    ) -> PyResult<Self> {
        let (indptr, indices, data) = (indptr.as_slice()?, indices.as_slice()?, data.as_slice()?);
        // The readonly borrows keep the arrays alive and unchanged while the
        // checks and copies run without the GIL.
        let inner = Job::new().run(py, |_| {
            Interactions::from_scipy(shape, indptr, indices, data)
        })?;
        Ok(PyInteractions {
            inner: Arc::new(inner),
        })
    }

    #[getter]
    fn shape(&self) -> (usize, usize) {
        (self.inner.matrix.n_rows, self.inner.matrix.n_cols)
    }

    #[getter]
    fn nnz(&self) -> usize {
        self.inner.matrix.nnz()
    }

    fn csr<'py>(&self, py: Python<'py>) -> CsrParts<'py> {
        csr_parts(py, &self.inner.matrix)
    }

    fn user_ids(&self) -> PyArray {
        PyArray::from_array_ref(self.inner.users.all())
    }

    fn item_ids(&self) -> PyArray {
        PyArray::from_array_ref(self.inner.items.all())
    }

    #[getter]
    fn user_col(&self) -> &str {
        &self.inner.user_col
    }

    #[getter]
    fn item_col(&self) -> &str {
        &self.inner.item_col
    }

    fn to_bytes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        to_py_bytes(py, self.inner.as_ref())
    }

    #[staticmethod]
    fn from_bytes(py: Python<'_>, data: &[u8]) -> PyResult<Self> {
        Ok(PyInteractions {
            inner: Arc::new(from_py_bytes(py, data)?),
        })
    }
}
