//! Bindings for the lifetime-value models: one native class holding a
//! fitted model; the Python estimators in `patronage.clv` wrap it.

use numpy::{IntoPyArray, PyArray1, PyArray2, PyReadonlyArray1};
use pyo3::prelude::*;
use pyo3_arrow::input::AnyRecordBatch;
use rayon::prelude::*;

use crate::clv::models::Row;
use crate::clv::predict::{self, Discounting};
use crate::clv::{fit, FitOptions, Fitted, ModelKind};
use crate::error::{Error, Result};
use crate::python::convert::{from_bytes, read_table, to_bytes};
use crate::table;

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<ClvModel>()?;
    Ok(())
}

fn parse_kind(name: &str) -> Result<ModelKind> {
    Ok(match name {
        "BetaGeo" => ModelKind::BetaGeo,
        "ModifiedBetaGeo" => ModelKind::ModifiedBetaGeo,
        "ParetoNBD" => ModelKind::ParetoNbd,
        "BetaGeoBetaBinom" => ModelKind::BetaGeoBetaBinom,
        "ShiftedBetaGeo" => ModelKind::ShiftedBetaGeo,
        "GammaGamma" => ModelKind::GammaGamma,
        other => return Err(Error::argument("model", format!("unknown model {other:?}"))),
    })
}

/// Read up to three numeric columns as rows (an empty name gives zeros).
fn read_rows(data: AnyRecordBatch, columns: [String; 3]) -> PyResult<Vec<Row>> {
    let table = read_table(data)?;
    let mut values = Vec::with_capacity(3);
    for name in &columns {
        values.push(if name.is_empty() {
            None
        } else {
            let column = table.column(name)?;
            Some(table::values_f64(&column)?.into_owned())
        });
    }
    let n = table.num_rows();
    Ok((0..n)
        .map(|i| std::array::from_fn(|k| values[k].as_ref().map_or(0.0, |v| v[i])))
        .collect())
}

fn per_row(values: &PyReadonlyArray1<f64>, n: usize, name: &str) -> Result<Vec<f64>> {
    let values = values.as_array();
    if values.len() != n {
        return Err(Error::argument(
            name,
            format!("has {} values for {n} customers", values.len()),
        ));
    }
    if values.iter().any(|v| !(v.is_finite() && *v >= 0.0)) {
        return Err(Error::argument(name, "must be finite and >= 0"));
    }
    Ok(values.to_vec())
}

/// A fitted buy-till-you-die or spend model.
#[pyclass(module = "patronage._core", frozen)]
pub struct ClvModel {
    fitted: Fitted,
}

#[pymethods]
impl ClvModel {
    /// Fit `model` on the `columns` of `data` (see `ModelKind::columns`).
    #[staticmethod]
    #[pyo3(signature = (model, data, columns, weights=None, penalizer=0.0, initial_params=None, max_iter=500, tol=1e-8))]
    #[allow(clippy::too_many_arguments)]
    fn fit(
        py: Python<'_>,
        model: &str,
        data: AnyRecordBatch,
        columns: [String; 3],
        weights: Option<PyReadonlyArray1<f64>>,
        penalizer: f64,
        initial_params: Option<Vec<f64>>,
        max_iter: usize,
        tol: f64,
    ) -> PyResult<Self> {
        let kind = parse_kind(model)?;
        let rows = read_rows(data, columns)?;
        let weights = weights.map(|w| w.as_array().to_vec());
        let options = FitOptions {
            penalizer,
            initial: initial_params,
            max_iter,
            gradient_tol: tol,
            ..FitOptions::default()
        };
        let fitted = py.detach(|| fit(kind, &rows, weights.as_deref(), &options))?;
        Ok(ClvModel { fitted })
    }

    /// A model with given parameters (no data), e.g. published estimates.
    #[staticmethod]
    fn from_params(model: &str, params: Vec<f64>) -> PyResult<Self> {
        let kind = parse_kind(model)?;
        if params.len() != kind.n_params() || params.iter().any(|p| !(p.is_finite() && *p > 0.0)) {
            return Err(Error::argument(
                "params",
                format!("needs {} finite values > 0", kind.n_params()),
            )
            .into());
        }
        let n = params.len();
        Ok(ClvModel {
            fitted: Fitted {
                kind,
                params,
                std_errors: vec![f64::NAN; n],
                covariance: vec![f64::NAN; n * n],
                log_likelihood: f64::NAN,
                n_samples: 0.0,
                n_distinct_rows: 0,
                n_excluded: 0,
                iterations: 0,
                converged: true,
                penalizer: 0.0,
            },
        })
    }

    #[getter]
    fn model(&self) -> &'static str {
        self.fitted.kind.name()
    }
    #[getter]
    fn param_names(&self) -> Vec<&'static str> {
        self.fitted.kind.param_names().to_vec()
    }
    #[getter]
    fn params(&self) -> Vec<f64> {
        self.fitted.params.clone()
    }
    #[getter]
    fn std_errors(&self) -> Vec<f64> {
        self.fitted.std_errors.clone()
    }
    #[getter]
    fn covariance<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let n = self.fitted.params.len();
        let rows: Vec<Vec<f64>> = self
            .fitted
            .covariance
            .chunks(n)
            .map(|r| r.to_vec())
            .collect();
        Ok(PyArray2::from_vec2(py, &rows)?)
    }
    #[getter]
    fn log_likelihood(&self) -> f64 {
        self.fitted.log_likelihood
    }
    #[getter]
    fn aic(&self) -> f64 {
        self.fitted.aic()
    }
    #[getter]
    fn bic(&self) -> f64 {
        self.fitted.bic()
    }
    #[getter]
    fn n_samples(&self) -> f64 {
        self.fitted.n_samples
    }
    #[getter]
    fn n_distinct_rows(&self) -> usize {
        self.fitted.n_distinct_rows
    }
    #[getter]
    fn n_excluded(&self) -> usize {
        self.fitted.n_excluded
    }
    #[getter]
    fn iterations(&self) -> usize {
        self.fitted.iterations
    }
    #[getter]
    fn converged(&self) -> bool {
        self.fitted.converged
    }

    /// Log-likelihood of each row under the fitted parameters.
    fn row_log_likelihood<'py>(
        &self,
        py: Python<'py>,
        data: AnyRecordBatch,
        columns: [String; 3],
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let rows = read_rows(data, columns)?;
        let (kind, p) = (self.fitted.kind, &self.fitted.params);
        kind.validate(&rows)?;
        let out = py.detach(|| predict::map_rows(&rows, |r| kind.log_likelihood(p, r)));
        Ok(out.into_pyarray(py))
    }

    /// Expected purchases in the next `t` periods (one `t` per customer).
    fn conditional_expected_purchases<'py>(
        &self,
        py: Python<'py>,
        data: AnyRecordBatch,
        columns: [String; 3],
        t: PyReadonlyArray1<f64>,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        self.per_customer(
            py,
            data,
            columns,
            t,
            predict::conditional_expected_purchases,
        )
    }

    /// Probability alive (BG/BB: alive `t` opportunities from now).
    fn probability_alive<'py>(
        &self,
        py: Python<'py>,
        data: AnyRecordBatch,
        columns: [String; 3],
        t: PyReadonlyArray1<f64>,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        self.per_customer(py, data, columns, t, predict::probability_alive)
    }

    /// Pareto/NBD `P(X(T, T + t) = n | history)` per customer.
    fn conditional_probability_of_n<'py>(
        &self,
        py: Python<'py>,
        data: AnyRecordBatch,
        columns: [String; 3],
        t: PyReadonlyArray1<f64>,
        n: u32,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        self.require(ModelKind::ParetoNbd)?;
        self.per_customer(py, data, columns, t, |_, p, row, t| {
            predict::pareto_conditional_probability_of_n(p, row, t, n)
        })
    }

    /// Expected purchases of a new customer over each of `t`.
    fn expected_purchases_new<'py>(
        &self,
        py: Python<'py>,
        t: PyReadonlyArray1<f64>,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let (kind, p) = (self.fitted.kind, &self.fitted.params);
        map_times(py, &t, |t| Ok(predict::expected_purchases_new(kind, p, t)))
    }

    /// `P(X(t) = n)` for a new customer, for each `t`.
    fn probability_of_n_purchases<'py>(
        &self,
        py: Python<'py>,
        t: PyReadonlyArray1<f64>,
        n: u32,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let (kind, p) = (self.fitted.kind, &self.fitted.params);
        map_times(py, &t, |t| {
            predict::probability_of_n_purchases(kind, p, t, n)
        })
    }

    /// Gamma-Gamma expected mean spend per customer.
    fn expected_average_spend<'py>(
        &self,
        py: Python<'py>,
        data: AnyRecordBatch,
        columns: [String; 3],
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        self.require(ModelKind::GammaGamma)?;
        let rows = read_rows(data, columns)?;
        check_spend_rows(&rows)?;
        let p = &self.fitted.params;
        let out = py.detach(|| {
            predict::map_rows(&rows, |[x, m, _]| predict::expected_average_spend(p, x, m))
        });
        Ok(out.into_pyarray(py))
    }

    /// Shifted-beta-geometric survival and retention at each `t`.
    fn survival<'py>(
        &self,
        py: Python<'py>,
        t: PyReadonlyArray1<f64>,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        self.require(ModelKind::ShiftedBetaGeo)?;
        let p = &self.fitted.params;
        map_times(py, &t, |t| Ok(predict::sbg_survival(p, t)))
    }

    fn retention_rate<'py>(
        &self,
        py: Python<'py>,
        t: PyReadonlyArray1<f64>,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        self.require(ModelKind::ShiftedBetaGeo)?;
        let p = &self.fitted.params;
        map_times(py, &t, |t| Ok(predict::sbg_retention(p, t)))
    }

    /// Discounted value of each customer's purchases over `months`, each
    /// purchase worth `spend` (one value per customer).
    #[pyo3(signature = (data, columns, spend, months, discount_rate, periods_per_month, continuous=false, steps_per_month=4))]
    #[allow(clippy::too_many_arguments)]
    fn lifetime_value<'py>(
        &self,
        py: Python<'py>,
        data: AnyRecordBatch,
        columns: [String; 3],
        spend: PyReadonlyArray1<f64>,
        months: usize,
        discount_rate: f64,
        periods_per_month: f64,
        continuous: bool,
        steps_per_month: usize,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let (kind, p) = (self.fitted.kind, &self.fitted.params);
        if !kind.is_continuous() {
            return Err(Error::Invalid(format!(
                "lifetime value needs a BetaGeo, ModifiedBetaGeo or ParetoNBD model, not {}",
                kind.name()
            ))
            .into());
        }
        if !(discount_rate.is_finite() && discount_rate > -1.0) {
            return Err(Error::argument("discount_rate", "must be finite and > -1").into());
        }
        if !(periods_per_month.is_finite() && periods_per_month > 0.0) || steps_per_month == 0 {
            return Err(Error::argument(
                "freq",
                "must give a positive number of periods per month",
            )
            .into());
        }
        let rows = read_rows(data, columns)?;
        kind.validate(&rows)?;
        let spend = spend.as_array().to_vec();
        if spend.len() != rows.len() {
            return Err(Error::argument(
                "monetary_value",
                format!("has {} values for {} customers", spend.len(), rows.len()),
            )
            .into());
        }
        let discounting = if continuous {
            Discounting::Continuous {
                rate: discount_rate,
                periods_per_month,
                steps_per_month,
            }
        } else {
            Discounting::Monthly {
                rate: discount_rate,
                periods_per_month,
            }
        };
        let out = py.detach(|| {
            rows.par_iter()
                .zip(spend.par_iter())
                .with_min_len(256)
                .map(|(r, &m)| predict::lifetime_value(kind, p, *r, m, months, discounting))
                .collect::<Vec<f64>>()
        });
        Ok(out.into_pyarray(py))
    }

    fn to_bytes(&self) -> PyResult<Vec<u8>> {
        to_bytes(&self.fitted)
    }

    #[staticmethod]
    fn from_bytes(data: &[u8]) -> PyResult<Self> {
        Ok(ClvModel {
            fitted: from_bytes(data)?,
        })
    }
}

impl ClvModel {
    fn require(&self, kind: ModelKind) -> Result<()> {
        if self.fitted.kind == kind {
            Ok(())
        } else {
            Err(Error::Invalid(format!(
                "this needs a {} model, not {}",
                kind.name(),
                self.fitted.kind.name()
            )))
        }
    }

    fn per_customer<'py>(
        &self,
        py: Python<'py>,
        data: AnyRecordBatch,
        columns: [String; 3],
        t: PyReadonlyArray1<f64>,
        f: impl Fn(ModelKind, &[f64], Row, f64) -> f64 + Sync,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let (kind, p) = (self.fitted.kind, &self.fitted.params);
        if !(kind.is_continuous() || kind == ModelKind::BetaGeoBetaBinom) {
            return Err(Error::Invalid(format!(
                "this prediction is not defined for the {} model",
                kind.name()
            ))
            .into());
        }
        let rows = read_rows(data, columns)?;
        kind.validate(&rows)?;
        let t = per_row(&t, rows.len(), "t")?;
        let out = py.detach(|| {
            rows.par_iter()
                .zip(t.par_iter())
                .with_min_len(1024)
                .map(|(r, &t)| f(kind, p, *r, t))
                .collect::<Vec<f64>>()
        });
        Ok(out.into_pyarray(py))
    }
}

/// Gamma-Gamma predictions accept customers without repeat purchases
/// (they get the population mean) but not negative or missing values.
/// `f` of every time in `t` (a model-level prediction), in parallel and
/// without the GIL.
fn map_times<'py>(
    py: Python<'py>,
    t: &PyReadonlyArray1<f64>,
    f: impl Fn(f64) -> Result<f64> + Sync,
) -> PyResult<Bound<'py, PyArray1<f64>>> {
    let t = t.as_array().to_vec();
    let out = py.detach(|| {
        t.par_iter()
            .with_min_len(256)
            .map(|&t| f(t))
            .collect::<Result<Vec<f64>>>()
    })?;
    Ok(out.into_pyarray(py))
}

fn check_spend_rows(rows: &[Row]) -> Result<()> {
    for (i, &[x, m, _]) in rows.iter().enumerate() {
        if !(x.is_finite() && x >= 0.0) {
            return Err(Error::column_value(
                "frequency",
                format!("must be finite and >= 0 (row {i})"),
            ));
        }
        if !(m.is_finite() && m >= 0.0) {
            return Err(Error::column_value(
                "monetary_value",
                format!("must be finite and >= 0 (row {i})"),
            ));
        }
    }
    Ok(())
}
