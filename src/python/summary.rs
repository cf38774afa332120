//! Bindings for the customer summary.

use pyo3::prelude::*;
use pyo3_arrow::input::AnyRecordBatch;
use pyo3_arrow::PyRecordBatch;

use super::convert::{batch_out, read_table, Arg};
use super::entry::Job;
use crate::summary::{self, Freq, LogColumns, SummaryOptions};

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(rfm_summary, m)?)?;
    m.add_function(wrap_pyfunction!(rfm_calibration_holdout, m)?)?;
    Ok(())
}

fn options(
    freq: &str,
    freq_multiplier: Arg,
    include_first_transaction: Arg,
) -> PyResult<SummaryOptions> {
    Ok(SummaryOptions {
        freq: Freq::parse(freq)?,
        freq_multiplier: freq_multiplier.number("freq_multiplier")?,
        include_first_transaction: include_first_transaction.flag("include_first_transaction")?,
    })
}

/// Customer summary table (ends as `(microseconds, is_utc)`).
#[pyfunction]
#[pyo3(signature = (data, customer_col, datetime_col, monetary_value_col, observation_period_end, freq, freq_multiplier, include_first_transaction))]
#[allow(clippy::too_many_arguments)]
fn rfm_summary(
    py: Python<'_>,
    data: AnyRecordBatch,
    customer_col: &str,
    datetime_col: &str,
    monetary_value_col: Option<&str>,
    observation_period_end: Option<(i64, bool)>,
    freq: &str,
    freq_multiplier: Arg,
    include_first_transaction: Arg,
) -> PyResult<PyRecordBatch> {
    let table = read_table(data)?;
    let columns = LogColumns {
        customer: customer_col,
        time: datetime_col,
        amount: monetary_value_col,
    };
    let opts = options(freq, freq_multiplier, include_first_transaction)?;
    let batch = Job::new().run(py, |ctl| {
        summary::summary_table(&table, columns, observation_period_end, opts, ctl)
    })?;
    Ok(batch_out(batch))
}

/// Calibration/holdout summary table.
#[pyfunction]
#[pyo3(signature = (data, customer_col, datetime_col, calibration_period_end, monetary_value_col, observation_period_end, freq, freq_multiplier, include_first_transaction))]
#[allow(clippy::too_many_arguments)]
fn rfm_calibration_holdout(
    py: Python<'_>,
    data: AnyRecordBatch,
    customer_col: &str,
    datetime_col: &str,
    calibration_period_end: (i64, bool),
    monetary_value_col: Option<&str>,
    observation_period_end: Option<(i64, bool)>,
    freq: &str,
    freq_multiplier: Arg,
    include_first_transaction: Arg,
) -> PyResult<PyRecordBatch> {
    let table = read_table(data)?;
    let columns = LogColumns {
        customer: customer_col,
        time: datetime_col,
        amount: monetary_value_col,
    };
    let opts = options(freq, freq_multiplier, include_first_transaction)?;
    let batch = Job::new().run(py, |ctl| {
        summary::calibration_holdout_table(
            &table,
            columns,
            calibration_period_end,
            observation_period_end,
            opts,
            ctl,
        )
    })?;
    Ok(batch_out(batch))
}
