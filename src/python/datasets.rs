//! Bindings for the transaction simulator.

use numpy::{IntoPyArray, PyArray1};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use pyo3_arrow::PyRecordBatch;

use super::convert::{batch_out, params};
use super::entry::Job;
use crate::datasets::simulate::{simulate, SimulationConfig, SPEC};

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(simulate_transactions, m)?)?;
    Ok(())
}

/// Simulate a log: `(log, customers' truth, each item's cluster)`;
/// parameters as in the simulator's spec, the start in microseconds.
#[pyfunction]
fn simulate_transactions<'py>(
    py: Python<'py>,
    parameters: &Bound<'py, PyDict>,
    start_micros: i64,
) -> PyResult<(PyRecordBatch, PyRecordBatch, Bound<'py, PyArray1<i64>>)> {
    let p = params(&SPEC, parameters)?;
    let config = SimulationConfig::from_params(&p, start_micros)?;
    let (log, truth, clusters) = Job::new().run(py, |ctl| {
        let mut sim = simulate(&config, ctl)?;
        let clusters = std::mem::take(&mut sim.item_cluster);
        let (log, truth) = sim.into_tables(config.p)?;
        Ok((log, truth, clusters))
    })?;
    Ok((batch_out(log), batch_out(truth), clusters.into_pyarray(py)))
}
