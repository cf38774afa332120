//! Bindings for the transaction simulator.

use numpy::IntoPyArray;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::datasets::{simulate, SimulationConfig};

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(simulate_transactions, m)?)?;
    Ok(())
}

/// Simulate a log; returns `(log columns, customer truth columns)` as dicts of
/// numpy arrays.  The Python layer validates and documents the parameters.
#[pyfunction]
#[pyo3(signature = (n_customers, seed, start_micros, acquisition_days, horizon_days, r, alpha, a, b, p, q, gamma, n_items, n_clusters, zipf_exponent, taste_strength, n_places, travel_rate, fraud_rate))]
#[allow(clippy::too_many_arguments)]
fn simulate_transactions<'py>(
    py: Python<'py>,
    n_customers: usize,
    seed: u64,
    start_micros: i64,
    acquisition_days: f64,
    horizon_days: f64,
    r: f64,
    alpha: f64,
    a: f64,
    b: f64,
    p: f64,
    q: f64,
    gamma: f64,
    n_items: usize,
    n_clusters: usize,
    zipf_exponent: f64,
    taste_strength: f64,
    n_places: usize,
    travel_rate: f64,
    fraud_rate: f64,
) -> PyResult<(Bound<'py, PyDict>, Bound<'py, PyDict>)> {
    let config = SimulationConfig {
        n_customers,
        seed,
        start_micros,
        acquisition_days,
        horizon_days,
        r,
        alpha,
        a,
        b,
        p,
        q,
        gamma,
        n_items,
        n_clusters,
        zipf_exponent,
        taste_strength,
        n_places,
        travel_rate,
        fraud_rate,
    };
    let sim = py.detach(|| simulate(&config))?;
    let log = PyDict::new(py);
    log.set_item("customer_id", sim.customer_id.into_pyarray(py))?;
    log.set_item("timestamp", sim.timestamp_micros.into_pyarray(py))?;
    log.set_item("amount", sim.amount.into_pyarray(py))?;
    log.set_item("item_id", sim.item_id.into_pyarray(py))?;
    log.set_item("category", sim.category.into_pyarray(py))?;
    log.set_item("place", sim.place.into_pyarray(py))?;
    log.set_item("is_fraud", sim.is_fraud.into_pyarray(py))?;
    let t = sim.customers;
    let truth = PyDict::new(py);
    truth.set_item("lambda", t.lambda.into_pyarray(py))?;
    truth.set_item("p", t.dropout_p.into_pyarray(py))?;
    truth.set_item("first_day", t.first_day.into_pyarray(py))?;
    truth.set_item("dropout_day", t.dropout_day.into_pyarray(py))?;
    truth.set_item("nu", t.nu.into_pyarray(py))?;
    truth.set_item("cluster", t.cluster.into_pyarray(py))?;
    truth.set_item("home_place", t.home_place.into_pyarray(py))?;
    truth.set_item("fraud_victim", t.fraud_victim.into_pyarray(py))?;
    truth.set_item("item_cluster", sim.item_cluster.into_pyarray(py))?;
    Ok((log, truth))
}
