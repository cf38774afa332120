//! Bindings for the anomaly detectors and the transaction risk scorer.
//!
//! Feature matrices arrive as contiguous float64 numpy arrays in either order
//! and are read in place.

use std::sync::RwLock;

use numpy::{IntoPyArray, PyArray1, PyReadonlyArray2, PyUntypedArrayMethods};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};
use pyo3_arrow::input::AnyRecordBatch;
use pyo3_arrow::PyRecordBatch;

use super::convert::{batch_out, from_py_bytes, params, read_table, to_py_bytes, Arg};
use super::entry::Job;
use crate::anomaly::ecod::{self, Ecod};
use crate::anomaly::hbos::{self, Hbos};
use crate::anomaly::iforest::{self, IsolationForest, IsolationForestParams};
use crate::anomaly::scored::ScoredFit;
use crate::anomaly::transactions::{self, RiskModel, FEATURE_NAMES};
use crate::anomaly::Matrix;
use crate::control::Control;
use crate::error::{Error, Result};

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<IsolationForestModel>()?;
    m.add_class::<HbosModel>()?;
    m.add_class::<EcodModel>()?;
    m.add_class::<TransactionRiskModel>()?;
    Ok(())
}

/// The numpy array as a matrix over its own buffer, in C or Fortran order.
fn matrix<'a>(x: &'a PyReadonlyArray2<'_, f64>) -> PyResult<Matrix<'a>> {
    let (n_rows, n_cols) = x.as_array().dim();
    let not_contiguous = || {
        Error::argument_type(
            "X",
            "must be a contiguous float64 array (C or Fortran order)",
        )
    };
    let data = x.as_slice().map_err(|_| not_contiguous())?;
    if x.is_c_contiguous() {
        Ok(Matrix::row_major(data, n_rows, n_cols)?)
    } else if x.is_fortran_contiguous() {
        Ok(Matrix::new(data, n_rows, n_cols)?)
    } else {
        Err(not_contiguous().into())
    }
}

fn numpy<T: numpy::Element>(py: Python<'_>, values: Vec<T>) -> Bound<'_, PyArray1<T>> {
    values.into_pyarray(py)
}

/// One value per row of `x`, computed on `n_jobs` threads.
fn per_row<'py, T: numpy::Element + Send>(
    py: Python<'py>,
    x: PyReadonlyArray2<'_, f64>,
    n_jobs: Option<i64>,
    f: impl FnOnce(&Matrix<'_>, &Control) -> Result<Vec<T>> + Send,
) -> PyResult<Bound<'py, PyArray1<T>>> {
    let x = matrix(&x)?;
    let values = Job::new().n_jobs(n_jobs).run(py, |ctl| f(&x, ctl))?;
    Ok(numpy(py, values))
}

#[pyclass(module = "patronage._core", frozen)]
pub struct IsolationForestModel {
    inner: IsolationForest,
}

#[pymethods]
impl IsolationForestModel {
    #[staticmethod]
    fn fit(
        py: Python<'_>,
        x: PyReadonlyArray2<'_, f64>,
        feature_names: Vec<String>,
        params: &Bound<'_, PyDict>,
    ) -> PyResult<Self> {
        let p = self::params(&iforest::SPEC, params)?;
        let forest_params = IsolationForestParams::from_params(&p);
        let x = matrix(&x)?;
        let inner = Job::new().n_jobs(p.int("n_jobs")).run(py, |ctl| {
            IsolationForest::fit(&x, &feature_names, &forest_params, ctl)
        })?;
        Ok(IsolationForestModel { inner })
    }

    #[pyo3(signature = (x, n_jobs=None))]
    fn score_samples<'py>(
        &self,
        py: Python<'py>,
        x: PyReadonlyArray2<'_, f64>,
        n_jobs: Option<i64>,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        per_row(py, x, n_jobs, |x, ctl| self.inner.score_samples(x, ctl))
    }

    #[pyo3(signature = (x, n_jobs=None))]
    fn decision_function<'py>(
        &self,
        py: Python<'py>,
        x: PyReadonlyArray2<'_, f64>,
        n_jobs: Option<i64>,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        per_row(py, x, n_jobs, |x, ctl| self.inner.decision_function(x, ctl))
    }

    #[pyo3(signature = (x, n_jobs=None))]
    fn predict<'py>(
        &self,
        py: Python<'py>,
        x: PyReadonlyArray2<'_, f64>,
        n_jobs: Option<i64>,
    ) -> PyResult<Bound<'py, PyArray1<i64>>> {
        per_row(py, x, n_jobs, |x, ctl| self.inner.predict(x, ctl))
    }

    #[getter]
    fn model_name(&self) -> &'static str {
        iforest::SPEC.name
    }

    #[getter]
    fn offset(&self) -> f64 {
        self.inner.offset
    }

    #[getter]
    fn n_features(&self) -> usize {
        self.inner.n_features()
    }

    #[getter]
    fn feature_names(&self) -> Vec<String> {
        self.inner.feature_names.clone()
    }

    #[getter]
    fn max_samples(&self) -> usize {
        self.inner.max_samples()
    }

    #[getter]
    fn n_estimators(&self) -> usize {
        self.inner.n_estimators()
    }

    fn to_bytes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        to_py_bytes(py, &self.inner)
    }

    #[staticmethod]
    fn from_bytes(py: Python<'_>, data: &[u8]) -> PyResult<Self> {
        Ok(IsolationForestModel {
            inner: from_py_bytes(py, data)?,
        })
    }
}

/// A PyOD-style detector class (`$model` fitted by its spec `$spec`) with
/// its training scores and threshold.
macro_rules! scored_fit_class {
    ($class:ident, $model:ty, $spec:expr) => {
        #[pyclass(module = "patronage._core", frozen)]
        pub struct $class {
            inner: ScoredFit<$model>,
        }

        #[pymethods]
        impl $class {
            #[staticmethod]
            fn fit(
                py: Python<'_>,
                x: PyReadonlyArray2<'_, f64>,
                feature_names: Vec<String>,
                params: &Bound<'_, PyDict>,
            ) -> PyResult<Self> {
                let p = self::params(&$spec, params)?;
                let x = matrix(&x)?;
                let inner = Job::new()
                    .n_jobs(p.int("n_jobs"))
                    .run(py, |ctl| ScoredFit::fit(&x, &feature_names, &p, ctl))?;
                Ok($class { inner })
            }

            #[getter]
            fn decision_scores<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
                PyArray1::from_slice(py, &self.inner.decision_scores)
            }

            /// PyOD's training labels: 1 above the threshold, else 0.
            fn labels<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<i64>> {
                numpy(py, self.inner.labels(&self.inner.decision_scores))
            }

            #[getter]
            fn threshold(&self) -> f64 {
                self.inner.threshold
            }

            #[getter]
            fn model_name(&self) -> &'static str {
                $spec.name
            }

            #[getter]
            fn n_features(&self) -> usize {
                use crate::anomaly::scored::Detector;
                self.inner.model.n_features()
            }

            #[getter]
            fn feature_names(&self) -> Vec<String> {
                self.inner.feature_names.clone()
            }

            #[pyo3(signature = (x, n_jobs=None))]
            fn decision_function<'py>(
                &self,
                py: Python<'py>,
                x: PyReadonlyArray2<'_, f64>,
                n_jobs: Option<i64>,
            ) -> PyResult<Bound<'py, PyArray1<f64>>> {
                per_row(py, x, n_jobs, |x, ctl| self.inner.decision_function(x, ctl))
            }

            /// PyOD's labels of new rows: 1 above the threshold, else 0.
            #[pyo3(signature = (x, n_jobs=None))]
            fn predict<'py>(
                &self,
                py: Python<'py>,
                x: PyReadonlyArray2<'_, f64>,
                n_jobs: Option<i64>,
            ) -> PyResult<Bound<'py, PyArray1<i64>>> {
                per_row(py, x, n_jobs, |x, ctl| {
                    Ok(self.inner.labels(&self.inner.decision_function(x, ctl)?))
                })
            }

            fn to_bytes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
                to_py_bytes(py, &self.inner)
            }

            #[staticmethod]
            fn from_bytes(py: Python<'_>, data: &[u8]) -> PyResult<Self> {
                Ok($class {
                    inner: from_py_bytes(py, data)?,
                })
            }
        }
    };
}

scored_fit_class!(HbosModel, Hbos, hbos::SPEC);
scored_fit_class!(EcodModel, Ecod, ecod::SPEC);

/// A fitted scorer with its customers' states: streaming updates take the
/// write lock (one at a time), scoring the read lock (many at once); locks
/// are taken without the GIL.
#[pyclass(module = "patronage._core", frozen)]
pub struct TransactionRiskModel {
    inner: RwLock<RiskModel>,
}

impl TransactionRiskModel {
    fn read(&self) -> std::sync::RwLockReadGuard<'_, RiskModel> {
        self.inner.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, RiskModel> {
        self.inner.write().unwrap_or_else(|e| e.into_inner())
    }
}

#[pymethods]
impl TransactionRiskModel {
    #[staticmethod]
    fn fit(py: Python<'_>, data: AnyRecordBatch, params: &Bound<'_, PyDict>) -> PyResult<Self> {
        let p = self::params(&transactions::SPEC, params)?;
        let table = read_table(data)?;
        let model = Job::new().run(py, |ctl| RiskModel::fit(&table, &p, ctl))?;
        Ok(TransactionRiskModel {
            inner: RwLock::new(model),
        })
    }

    /// Scores of a whole log, each customer from scratch.
    #[pyo3(signature = (data, with_features))]
    fn score(
        &self,
        py: Python<'_>,
        data: AnyRecordBatch,
        with_features: Arg,
    ) -> PyResult<PyRecordBatch> {
        let (table, with_features) = (read_table(data)?, with_features.flag("features")?);
        let batch = Job::new().run(py, |ctl| {
            self.read().score(&table, with_features, ctl)?.into_batch()
        })?;
        Ok(batch_out(batch))
    }

    /// Scores of new transactions, then added to the customers' states.
    #[pyo3(signature = (data, with_features))]
    fn score_new(
        &self,
        py: Python<'_>,
        data: AnyRecordBatch,
        with_features: Arg,
    ) -> PyResult<PyRecordBatch> {
        let (table, with_features) = (read_table(data)?, with_features.flag("features")?);
        let batch = Job::new().run(py, |ctl| {
            self.write()
                .score_new(&table, with_features, ctl)?
                .into_batch()
        })?;
        Ok(batch_out(batch))
    }

    fn update(&self, py: Python<'_>, data: AnyRecordBatch) -> PyResult<()> {
        let table = read_table(data)?;
        Job::new().run(py, |ctl| self.write().update(&table, ctl))
    }

    /// The columns it reads, by the parameter naming each.
    fn columns<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let schema = Job::new().run(py, |_| Ok(self.read().schema.clone()))?;
        let d = PyDict::new(py);
        for (param, column) in schema.by_parameter() {
            d.set_item(param, column)?;
        }
        Ok(d)
    }

    #[getter]
    fn threshold(&self, py: Python<'_>) -> PyResult<f64> {
        Job::new().run(py, |_| Ok(self.read().threshold))
    }

    #[getter]
    fn n_customers(&self, py: Python<'_>) -> PyResult<usize> {
        Job::new().run(py, |_| Ok(self.read().n_customers()))
    }

    fn without_history(&self, py: Python<'_>) -> PyResult<Self> {
        let model = Job::new().run(py, |_| Ok(self.read().without_history()))?;
        Ok(TransactionRiskModel {
            inner: RwLock::new(model),
        })
    }

    #[getter]
    fn model_name(&self) -> &'static str {
        transactions::SPEC.name
    }

    #[staticmethod]
    fn feature_names() -> Vec<&'static str> {
        FEATURE_NAMES.to_vec()
    }

    #[staticmethod]
    fn term_names() -> Vec<&'static str> {
        transactions::term_names()
    }

    fn to_bytes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let model = Job::new().run(py, |_| Ok(self.read().clone()))?;
        to_py_bytes(py, &model)
    }

    #[staticmethod]
    fn from_bytes(py: Python<'_>, data: &[u8]) -> PyResult<Self> {
        Ok(TransactionRiskModel {
            inner: RwLock::new(from_py_bytes(py, data)?),
        })
    }
}
