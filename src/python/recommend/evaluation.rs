//! Bindings for evaluation: train/test splits and ranking metrics.

use numpy::{IntoPyArray, PyArray1, PyReadonlyArray1};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use pyo3_arrow::input::{AnyArray, AnyRecordBatch};

use super::column;
use crate::error::{Error, Result};
use crate::python::convert::read_table;
use crate::recommend::ids::IdMap;
use crate::recommend::{metrics, split};
use crate::table;

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(split_mask, m)?)?;
    m.add_function(wrap_pyfunction!(ranking_metrics, m)?)?;
    Ok(())
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
    k: usize,
    test_size: f64,
    seed: u64,
) -> PyResult<Bound<'py, PyArray1<bool>>> {
    let table = read_table(data)?;
    if table.num_rows() == 0 {
        return Err(
            Error::Invalid("the interactions table has no rows; nothing to split".into()).into(),
        );
    }
    let need_time = || {
        time_col
            .ok_or_else(|| Error::argument("time_col", format!("is required to split by '{how}'")))
    };
    let mask = py.detach(|| -> Result<Vec<bool>> {
        match how {
            "time" => {
                let column = table.column(need_time()?)?;
                let times = table::wall_times(&column)?;
                let (t, utc) = cutoff.ok_or_else(|| Error::argument("cutoff", "is required"))?;
                let t = if utc { times.utc_to_wall(t) } else { t };
                Ok(split::by_time(&times.micros, t))
            }
            "last" => {
                let users = table::encode_ids(&table.column(user_col)?)?;
                let column = table.column(need_time()?)?;
                let times = table::wall_times(&column)?;
                split::last_k(&users.codes, &times.micros, k)
            }
            "random" => {
                let users = table::encode_ids(&table.column(user_col)?)?;
                split::random(&users.codes, users.n_unique(), test_size, seed)
            }
            other => Err(Error::argument(
                "how",
                format!("must be 'time', 'last' or 'random', got '{other}'"),
            )),
        }
    })?;
    Ok(mask.into_pyarray(py))
}

/// Ranking metrics of recommendation lists against held-out items.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn ranking_metrics<'py>(
    py: Python<'py>,
    rec_users: AnyArray,
    rec_items: AnyArray,
    rec_ranks: PyReadonlyArray1<'py, i64>,
    test_users: AnyArray,
    test_items: AnyArray,
    k: usize,
    n_items: usize,
) -> PyResult<Bound<'py, PyDict>> {
    let rec_users = column("recommendations user", rec_users)?;
    let rec_items = column("recommendations item", rec_items)?;
    let test_users = column("test user", test_users)?;
    let test_items = column("test item", test_items)?;
    let ranks = rec_ranks.as_slice()?.to_vec();
    let m = py.detach(|| -> Result<metrics::RankingMetrics> {
        if test_users.is_empty() {
            return Err(Error::Invalid("the test set has no rows".into()));
        }
        let (test_user_codes, users) = IdMap::encode(&test_users)?;
        let rec_user_codes = users.lookup(&rec_users)?;
        let (rec_item_codes, items) = IdMap::encode(&rec_items)?;
        let n_rec_items = items.len() as u32;
        // Test items never recommended get codes of their own past the
        // recommended ones (the same code for the same item).
        let (test_codes, _) = IdMap::encode(&test_items)?;
        let test_item_codes: Vec<u32> = items
            .lookup(&test_items)?
            .into_iter()
            .zip(&test_codes)
            .map(|(c, &t)| c.unwrap_or(n_rec_items + t))
            .collect();
        let mut relevant: Vec<Vec<u32>> = vec![Vec::new(); users.len()];
        for (&u, &i) in test_user_codes.iter().zip(&test_item_codes) {
            relevant[u as usize].push(i);
        }
        for r in relevant.iter_mut() {
            r.sort_unstable();
            r.dedup();
        }
        let mut ranked: Vec<Vec<(i64, u32)>> = vec![Vec::new(); users.len()];
        for ((u, &i), &r) in rec_user_codes.iter().zip(&rec_item_codes).zip(&ranks) {
            if let Some(u) = u {
                ranked[*u as usize].push((r, i));
            }
        }
        let recommended: Vec<Vec<u32>> = ranked
            .into_iter()
            .map(|mut l| {
                l.sort_unstable();
                l.into_iter().map(|p| p.1).collect()
            })
            .collect();
        metrics::ranking_metrics(&recommended, &relevant, k, n_items)
    })?;
    let d = PyDict::new(py);
    d.set_item("precision", m.precision)?;
    d.set_item("recall", m.recall)?;
    d.set_item("map", m.map)?;
    d.set_item("ndcg", m.ndcg)?;
    d.set_item("auc", m.auc)?;
    d.set_item("hit_rate", m.hit_rate)?;
    d.set_item("coverage", m.coverage)?;
    d.set_item("n_users", m.n_users)?;
    Ok(d)
}
