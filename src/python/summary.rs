//! Bindings for the customer summary.

use numpy::IntoPyArray;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use pyo3_arrow::input::AnyRecordBatch;
use pyo3_arrow::PyArray;

use crate::error::Result;
use crate::python::convert::read_table;
use crate::summary::{self, Freq, Log, Summary, SummaryOptions};
use crate::table::{self, Column, Table};

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(rfm_summary, m)?)?;
    m.add_function(wrap_pyfunction!(rfm_calibration_holdout, m)?)?;
    Ok(())
}

/// The columns of a transaction log, looked up by name (errors name them).
struct LogColumns {
    customer: Column,
    time: Column,
    amount: Option<Column>,
}

impl LogColumns {
    fn read(table: &Table, customer: &str, time: &str, amount: Option<&str>) -> Result<Self> {
        Ok(LogColumns {
            customer: table.column(customer)?,
            time: table.column(time)?,
            amount: amount.map(|c| table.column(c)).transpose()?,
        })
    }

    /// Decode the columns and run `f` on the log; `end` values arrive as
    /// `(micros, is_utc)` and are turned into the column's wall-clock time.
    fn with_log<T>(
        &self,
        ends: [Option<(i64, bool)>; 2],
        f: impl FnOnce(Log<'_>, [Option<i64>; 2]) -> Result<(T, Vec<u32>)>,
    ) -> Result<(T, pyo3_arrow::PyArray)> {
        let ids = table::encode_ids(&self.customer)?;
        let times = table::wall_times(&self.time)?;
        let amounts = match &self.amount {
            Some(column) => {
                let values = table::values_f64(column)?;
                table::require_finite(&column.name, &values)?;
                Some(values)
            }
            None => None,
        };
        let log = Log {
            customers: &ids.codes,
            n_customers: ids.n_unique(),
            times: &times.micros,
            amounts: amounts.as_deref(),
        };
        let ends = ends.map(|e| e.map(|(t, utc)| if utc { times.utc_to_wall(t) } else { t }));
        let (result, customers) = f(log, ends)?;
        let rows: Vec<usize> = customers
            .iter()
            .map(|&c| ids.first_rows[c as usize])
            .collect();
        let id_values = table::take_rows(&self.customer, &rows)?;
        Ok((result, PyArray::from_array_ref(id_values)))
    }
}

fn options(
    freq: &str,
    freq_multiplier: f64,
    include_first_transaction: bool,
) -> Result<SummaryOptions> {
    Ok(SummaryOptions {
        freq: Freq::parse(freq)?,
        freq_multiplier,
        include_first_transaction,
    })
}

fn put_summary(dict: &Bound<'_, PyDict>, s: Summary, suffix: &str) -> PyResult<()> {
    let py = dict.py();
    dict.set_item(format!("frequency{suffix}"), s.frequency.into_pyarray(py))?;
    dict.set_item(format!("recency{suffix}"), s.recency.into_pyarray(py))?;
    dict.set_item(format!("T{suffix}"), s.t.into_pyarray(py))?;
    if let Some(m) = s.monetary_value {
        dict.set_item(format!("monetary_value{suffix}"), m.into_pyarray(py))?;
    }
    Ok(())
}

/// Customer summary; returns a dict of columns (ids as an Arrow array).
#[pyfunction]
#[pyo3(signature = (data, customer_col, datetime_col, monetary_value_col=None, observation_period_end=None, freq="D", freq_multiplier=1.0, include_first_transaction=false))]
#[allow(clippy::too_many_arguments)]
fn rfm_summary<'py>(
    py: Python<'py>,
    data: AnyRecordBatch,
    customer_col: &str,
    datetime_col: &str,
    monetary_value_col: Option<&str>,
    observation_period_end: Option<(i64, bool)>,
    freq: &str,
    freq_multiplier: f64,
    include_first_transaction: bool,
) -> PyResult<Bound<'py, PyDict>> {
    let table = read_table(data)?;
    let columns = LogColumns::read(&table, customer_col, datetime_col, monetary_value_col)?;
    let opts = options(freq, freq_multiplier, include_first_transaction)?;
    let (summary, ids) = py.detach(|| {
        columns.with_log([observation_period_end, None], |log, [end, _]| {
            let s = summary::rfm_summary(log, end, opts)?;
            let customers = s.customers.clone();
            Ok((s, customers))
        })
    })?;
    let dict = PyDict::new(py);
    dict.set_item(customer_col, ids)?;
    put_summary(&dict, summary, "")?;
    Ok(dict)
}

/// Calibration/holdout summary; returns a dict of columns.
#[pyfunction]
#[pyo3(signature = (data, customer_col, datetime_col, calibration_period_end, monetary_value_col=None, observation_period_end=None, freq="D", freq_multiplier=1.0, include_first_transaction=false))]
#[allow(clippy::too_many_arguments)]
fn rfm_calibration_holdout<'py>(
    py: Python<'py>,
    data: AnyRecordBatch,
    customer_col: &str,
    datetime_col: &str,
    calibration_period_end: (i64, bool),
    monetary_value_col: Option<&str>,
    observation_period_end: Option<(i64, bool)>,
    freq: &str,
    freq_multiplier: f64,
    include_first_transaction: bool,
) -> PyResult<Bound<'py, PyDict>> {
    let table = read_table(data)?;
    let columns = LogColumns::read(&table, customer_col, datetime_col, monetary_value_col)?;
    let opts = options(freq, freq_multiplier, include_first_transaction)?;
    let (result, ids) = py.detach(|| {
        columns.with_log(
            [Some(calibration_period_end), observation_period_end],
            |log, [cal_end, end]| {
                let cal_end = cal_end.unwrap_or_default();
                let r = summary::rfm_calibration_holdout(log, cal_end, end, opts)?;
                let customers = r.calibration.customers.clone();
                Ok((r, customers))
            },
        )
    })?;
    let dict = PyDict::new(py);
    dict.set_item(customer_col, ids)?;
    put_summary(&dict, result.calibration, "_cal")?;
    dict.set_item(
        "frequency_holdout",
        result.frequency_holdout.into_pyarray(py),
    )?;
    if let Some(m) = result.monetary_value_holdout {
        dict.set_item("monetary_value_holdout", m.into_pyarray(py))?;
    }
    dict.set_item("duration_holdout", result.duration_holdout)?;
    Ok(dict)
}
