//! Bindings for evaluation: train/test splits and ranking metrics.

use numpy::{IntoPyArray, PyArray1};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use pyo3_arrow::input::AnyRecordBatch;

use crate::python::convert::{read_table, Arg};
use crate::python::entry::Job;
use crate::recommend::metrics::{self, RankingMetrics};
use crate::recommend::split::{self, Split};

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
#[pyo3(signature = (data, user_col, time_col, how, cutoff, k, test_size, seed))]
#[allow(clippy::too_many_arguments)]
fn split_mask<'py>(
    py: Python<'py>,
    data: AnyRecordBatch,
    user_col: &str,
    time_col: Option<&str>,
    how: &str,
    cutoff: Option<(i64, bool)>,
    k: Arg,
    test_size: Arg,
    seed: Arg,
) -> PyResult<Bound<'py, PyArray1<bool>>> {
    let seed = seed.count("random_state", 0)? as u64;
    let test_size = test_size.number("test_size")?;
    let how = Split::parse(how, cutoff, k.count("k", 1)?, test_size, seed)?;
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
    k: Arg,
    n_items: Arg,
) -> PyResult<Bound<'py, PyDict>> {
    let (k, n_items) = (k.count("k", 1)?, n_items.count("n_items", 1)?);
    let (recommendations, test) = (read_table(recommendations)?, read_table(test)?);
    let m = Job::new().run(py, |_| {
        metrics::from_tables(&recommendations, &test, user_col, item_col, k, n_items)
    })?;
    metrics_dict(py, m)
}
