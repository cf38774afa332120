//! Bindings for the anomaly detectors and the transaction risk scorer.
//!
//! Feature matrices arrive as contiguous float64 numpy arrays in either order
//! and are read in place.

use std::sync::Arc;

use arrow_array::builder::StringBuilder;
use numpy::{IntoPyArray, PyArray1, PyReadonlyArray2, PyUntypedArrayMethods};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};
use pyo3_arrow::input::AnyRecordBatch;
use pyo3_arrow::PyArray;

use crate::anomaly::ecod::Ecod;
use crate::anomaly::hbos::Hbos;
use crate::anomaly::iforest::{
    Contamination, IsolationForest, IsolationForestParams, MaxFeatures, MaxSamples,
};
use crate::anomaly::transactions::{
    self, FeatureConfig, Log, LogSchema, RefundPolicy, RiskConfig, RiskModel, Scored, FEATURE_NAMES,
};
use crate::anomaly::{percentile, Matrix};
use crate::error::Error;
use crate::python::convert::{from_bytes, read_table, to_bytes};

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

fn bytes<'py>(py: Python<'py>, data: Vec<u8>) -> Bound<'py, PyBytes> {
    PyBytes::new(py, &data)
}

// ---------------------------------------------------------------------------
// Isolation forest
// ---------------------------------------------------------------------------

/// Run `work` without the GIL on `n_jobs` threads (all cores when None).
fn in_pool<T: Send>(
    py: Python<'_>,
    n_jobs: Option<usize>,
    work: impl FnOnce() -> crate::error::Result<T> + Send,
) -> PyResult<T> {
    py.detach(|| match n_jobs {
        None => Ok(work()?),
        Some(n) => {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(n.max(1))
                .build()
                .map_err(|e| Error::Invalid(format!("could not start {n} threads: {e}")))?;
            Ok(pool.install(work)?)
        }
    })
}

#[derive(serde::Serialize, serde::Deserialize)]
struct NamedForest {
    forest: IsolationForest,
    feature_names: Vec<String>,
}

#[pyclass(module = "patronage._core", frozen)]
pub struct IsolationForestModel {
    inner: NamedForest,
}

#[pymethods]
impl IsolationForestModel {
    /// Fit; `max_samples` and `max_features` are resolved counts,
    /// `contamination` None for 'auto'.
    #[staticmethod]
    #[pyo3(signature = (x, feature_names, n_estimators, max_samples, max_features, contamination, bootstrap, seed, n_jobs=None))]
    #[allow(clippy::too_many_arguments)]
    fn fit(
        py: Python<'_>,
        x: PyReadonlyArray2<'_, f64>,
        feature_names: Vec<String>,
        n_estimators: usize,
        max_samples: usize,
        max_features: usize,
        contamination: Option<f64>,
        bootstrap: bool,
        seed: u64,
        n_jobs: Option<usize>,
    ) -> PyResult<Self> {
        let x = matrix(&x)?;
        let params = IsolationForestParams {
            n_estimators,
            max_samples: MaxSamples::Count(max_samples),
            max_features: MaxFeatures::Count(max_features),
            contamination: contamination.map_or(Contamination::Auto, Contamination::Share),
            bootstrap,
            seed,
        };
        let forest = in_pool(py, n_jobs, || {
            IsolationForest::fit(&x, &feature_names, &params)
        })?;
        Ok(IsolationForestModel {
            inner: NamedForest {
                forest,
                feature_names,
            },
        })
    }

    #[pyo3(signature = (x, n_jobs=None))]
    fn score_samples<'py>(
        &self,
        py: Python<'py>,
        x: PyReadonlyArray2<'_, f64>,
        n_jobs: Option<usize>,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let x = matrix(&x)?;
        let s = in_pool(py, n_jobs, || self.inner.forest.score_samples(&x))?;
        Ok(s.into_pyarray(py))
    }

    #[getter]
    fn offset(&self) -> f64 {
        self.inner.forest.offset
    }

    #[getter]
    fn n_features(&self) -> usize {
        self.inner.forest.n_features()
    }

    #[getter]
    fn feature_names(&self) -> Vec<String> {
        self.inner.feature_names.clone()
    }

    #[getter]
    fn max_samples(&self) -> usize {
        self.inner.forest.max_samples()
    }

    #[getter]
    fn n_estimators(&self) -> usize {
        self.inner.forest.n_estimators()
    }

    fn to_bytes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        Ok(bytes(py, to_bytes(&self.inner)?))
    }

    #[staticmethod]
    fn from_bytes(data: &[u8]) -> PyResult<Self> {
        let inner: NamedForest = from_bytes(data)?;
        inner.forest.validate()?;
        Ok(IsolationForestModel { inner })
    }
}

// ---------------------------------------------------------------------------
// HBOS and ECOD: PyOD-style fits with training scores and a threshold
// ---------------------------------------------------------------------------

/// A PyOD-style fit: the model, its training scores and the threshold at the
/// `1 - contamination` percentile of them.
#[derive(serde::Serialize, serde::Deserialize)]
struct ScoredFit<M> {
    model: M,
    feature_names: Vec<String>,
    decision_scores: Vec<f64>,
    threshold: f64,
}

impl<M> ScoredFit<M> {
    fn new(
        model: M,
        feature_names: Vec<String>,
        decision_scores: Vec<f64>,
        contamination: f64,
    ) -> PyResult<Self> {
        if !(contamination > 0.0 && contamination <= 0.5) {
            return Err(Error::argument(
                "contamination",
                format!("is {contamination}; it must be in (0, 0.5]"),
            )
            .into());
        }
        let threshold = percentile(&decision_scores, 100.0 * (1.0 - contamination));
        Ok(ScoredFit {
            model,
            feature_names,
            decision_scores,
            threshold,
        })
    }
}

/// The class `$name` with its own `fit` and the shared PyOD-style methods
/// (one `#[pymethods]` block per class).
macro_rules! scored_fit_methods {
    ($name:ident, $($fit:tt)*) => {
        #[pymethods]
        impl $name {
            $($fit)*

            #[getter]
            fn decision_scores<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
                PyArray1::from_slice(py, &self.inner.decision_scores)
            }

            #[getter]
            fn threshold(&self) -> f64 {
                self.inner.threshold
            }

            #[getter]
            fn n_features(&self) -> usize {
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
                n_jobs: Option<usize>,
            ) -> PyResult<Bound<'py, PyArray1<f64>>> {
                let x = matrix(&x)?;
                let s = in_pool(py, n_jobs, || self.inner.model.decision_function(&x))?;
                Ok(s.into_pyarray(py))
            }

            fn to_bytes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
                Ok(bytes(py, to_bytes(&self.inner)?))
            }

            #[staticmethod]
            fn from_bytes(data: &[u8]) -> PyResult<Self> {
                Ok($name {
                    inner: from_bytes(data)?,
                })
            }
        }
    };
}

#[pyclass(module = "patronage._core", frozen)]
pub struct HbosModel {
    inner: ScoredFit<Hbos>,
}

scored_fit_methods!(
    HbosModel,
    #[staticmethod]
    #[pyo3(signature = (x, feature_names, n_bins, alpha, tol, contamination, n_jobs=None))]
    #[allow(clippy::too_many_arguments)]
    fn fit(
        py: Python<'_>,
        x: PyReadonlyArray2<'_, f64>,
        feature_names: Vec<String>,
        n_bins: usize,
        alpha: f64,
        tol: f64,
        contamination: f64,
        n_jobs: Option<usize>,
    ) -> PyResult<Self> {
        let x = matrix(&x)?;
        let (model, scores) = in_pool(py, n_jobs, || {
            Hbos::fit(&x, &feature_names, n_bins, alpha, tol)
        })?;
        Ok(HbosModel {
            inner: ScoredFit::new(model, feature_names, scores, contamination)?,
        })
    }
);

#[pyclass(module = "patronage._core", frozen)]
pub struct EcodModel {
    inner: ScoredFit<Ecod>,
}

scored_fit_methods!(
    EcodModel,
    #[staticmethod]
    #[pyo3(signature = (x, feature_names, contamination, n_jobs=None))]
    fn fit(
        py: Python<'_>,
        x: PyReadonlyArray2<'_, f64>,
        feature_names: Vec<String>,
        contamination: f64,
        n_jobs: Option<usize>,
    ) -> PyResult<Self> {
        let x = matrix(&x)?;
        let (model, scores) = in_pool(py, n_jobs, || Ecod::fit(&x, &feature_names))?;
        Ok(EcodModel {
            inner: ScoredFit::new(model, feature_names, scores, contamination)?,
        })
    }
);

// ---------------------------------------------------------------------------
// Transaction risk
// ---------------------------------------------------------------------------

#[pyclass(module = "patronage._core")]
pub struct TransactionRiskModel {
    inner: RiskModel,
}

/// Column names of the log, as the Python layer passes them.
type Columns = (
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
);

fn schema(columns: Columns) -> LogSchema {
    let (customer, time, amount, merchant, category, place) = columns;
    LogSchema {
        customer,
        time,
        amount,
        merchant,
        category,
        place,
    }
}

fn read_log(py: Python<'_>, data: AnyRecordBatch, columns: Columns) -> PyResult<Log> {
    let table = read_table(data)?;
    let schema = schema(columns);
    Ok(py.detach(|| Log::read(&table, &schema))?)
}

fn scored_dict<'py>(py: Python<'py>, scored: Scored) -> PyResult<Bound<'py, PyDict>> {
    let n = scored.scores.len();
    let mut alert = vec![false; n];
    let mut reasons =
        StringBuilder::with_capacity(n, scored.alert_reasons.iter().map(|s| s.len()).sum());
    let mut next = scored
        .alert_rows
        .iter()
        .zip(&scored.alert_reasons)
        .peekable();
    for (row, flag) in alert.iter_mut().enumerate() {
        match next.peek() {
            Some(&(&r, text)) if r as usize == row => {
                *flag = true;
                reasons.append_value(text);
                next.next();
            }
            _ => reasons.append_null(),
        }
    }
    let dict = PyDict::new(py);
    dict.set_item("risk_score", scored.scores.into_pyarray(py))?;
    dict.set_item("alert", alert.into_pyarray(py))?;
    dict.set_item(
        "reasons",
        PyArray::from_array_ref(Arc::new(reasons.finish())),
    )?;
    if let Some(features) = scored.features {
        for (name, column) in FEATURE_NAMES.iter().zip(features) {
            dict.set_item(*name, column.into_pyarray(py))?;
        }
    }
    if let Some(contributions) = scored.contributions {
        for (name, column) in transactions::term_names().iter().zip(contributions) {
            dict.set_item(format!("risk_{name}"), column.into_pyarray(py))?;
        }
    }
    Ok(dict)
}

#[pymethods]
impl TransactionRiskModel {
    #[staticmethod]
    #[pyo3(signature = (data, columns, short_window_seconds, long_window_seconds, small_share, large_multiple, alert_rate, n_reasons, refunds))]
    #[allow(clippy::too_many_arguments)]
    fn fit(
        py: Python<'_>,
        data: AnyRecordBatch,
        columns: Columns,
        short_window_seconds: f64,
        long_window_seconds: f64,
        small_share: f64,
        large_multiple: f64,
        alert_rate: f64,
        n_reasons: usize,
        refunds: &str,
    ) -> PyResult<Self> {
        let refunds = match refunds {
            "ignore" => RefundPolicy::Ignore,
            "error" => RefundPolicy::Error,
            other => {
                return Err(Error::argument(
                    "refunds",
                    format!("is {other:?}; it must be 'ignore' or 'error'"),
                )
                .into())
            }
        };
        let config = RiskConfig {
            features: FeatureConfig {
                short_window_micros: (short_window_seconds * 1e6).round() as i64,
                long_window_micros: (long_window_seconds * 1e6).round() as i64,
                small_share,
                large_multiple,
            },
            alert_rate,
            n_reasons,
            refunds,
        };
        let log = read_log(py, data, columns)?;
        let inner = py.detach(|| RiskModel::fit(log, config))?;
        Ok(TransactionRiskModel { inner })
    }

    #[pyo3(signature = (data, columns, with_features=false))]
    fn score<'py>(
        &self,
        py: Python<'py>,
        data: AnyRecordBatch,
        columns: Columns,
        with_features: bool,
    ) -> PyResult<Bound<'py, PyDict>> {
        let log = read_log(py, data, columns)?;
        let scored = py.detach(|| self.inner.score(log, with_features))?;
        scored_dict(py, scored)
    }

    #[pyo3(signature = (data, columns, with_features=false))]
    fn score_new<'py>(
        &mut self,
        py: Python<'py>,
        data: AnyRecordBatch,
        columns: Columns,
        with_features: bool,
    ) -> PyResult<Bound<'py, PyDict>> {
        let log = read_log(py, data, columns)?;
        let inner = &mut self.inner;
        let scored = py.detach(|| inner.score_new(log, with_features))?;
        scored_dict(py, scored)
    }

    fn update(&mut self, py: Python<'_>, data: AnyRecordBatch, columns: Columns) -> PyResult<()> {
        let log = read_log(py, data, columns)?;
        let inner = &mut self.inner;
        Ok(py.detach(|| inner.update(log))?)
    }

    #[getter]
    fn threshold(&self) -> f64 {
        self.inner.threshold
    }

    #[getter]
    fn n_customers(&self) -> usize {
        self.inner.n_customers()
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
        Ok(bytes(py, to_bytes(&self.inner)?))
    }

    #[staticmethod]
    fn from_bytes(data: &[u8]) -> PyResult<Self> {
        let mut inner: RiskModel = from_bytes(data)?;
        inner.rebuild_index();
        Ok(TransactionRiskModel { inner })
    }
}
