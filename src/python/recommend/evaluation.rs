//! Bindings for evaluation: train/test splits and ranking metrics.

use numpy::{IntoPyArray, PyArray1};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use pyo3_arrow::input::AnyRecordBatch;

use crate::python::convert::read_table;
use crate::python::entry::Job;
use crate::recommend::metrics::{self, RankingMetrics};
use crate::recommend::split::{self, Split};
use crate::spec::positive;

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(split_mask, m)?)?;
    m.add_function(wrap_pyfunction!(ranking_metrics, m)?)?;
    Ok(())
}

/// The metrics as a dict.
pub(super) fn metrics_dict(py: Python<'_>, m: RankingMetrics) -> PyResult<Bound<'_, PyDict>> {
    let d = PyDict::new(py);
    for (name, value) in m.named() {
        d.set_item(name, value)?;
    }
    d.set_item("n_users", m.n_users)?;
    Ok(d)
}

/// Test-row mask of a split: `how` is "time" (rows at or after `cutoff`),
/// "last" (each user's `k` latest rows) or "random" (`test_size` of rows).
#[pyfunction]
#[pyo3(signature = (data, user_col, time_col, how, cutoff=None, k=1, test_size=0.2, seed=0))]
#[allow(clippy::too_many_arguments)]
fn split_mask<'py>(
    py: Python<'py>,
    data: AnyRecordBatch,
    user_col: &str,
    time_col: Option<&str>,
    how: &str,
    cutoff: Option<(i64, bool)>,
    k: i64,
    test_size: f64,
    seed: u64,
) -> PyResult<Bound<'py, PyArray1<bool>>> {
    let how = Split::parse(how, cutoff, positive("k", k)?, test_size, seed)?;
    let table = read_table(data)?;
    let mask = Job::new().run(py, |_| split::mask(&table, user_col, time_col, how))?;
    Ok(mask.into_pyarray(py))
}

/// Ranking metrics of a recommendations table (user, item, rank) against a
/// test table (user, item).
#[pyfunction]
fn ranking_metrics<'py>(
    py: Python<'py>,
    recommendations: AnyRecordBatch,
    test: AnyRecordBatch,
    user_col: &str,
    item_col: &str,
    k: i64,
    n_items: i64,
) -> PyResult<Bound<'py, PyDict>> {
    let (k, n_items) = (positive("k", k)?, positive("n_items", n_items)?);
    let (recommendations, test) = (read_table(recommendations)?, read_table(test)?);
    let m = Job::new().run(py, |_| {
        metrics::from_tables(&recommendations, &test, user_col, item_col, k, n_items)
    })?;
    metrics_dict(py, m)
}
