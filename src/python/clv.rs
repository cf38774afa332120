//! Bindings for the lifetime-value models: one native class per family of
//! models, so a prediction a model does not have is not a method of it.
//!
//! * `PurchaseModel`: BG/NBD, MBG/NBD, Pareto/NBD (continuous time);
//! * `OpportunityModel`: BG/BB (discrete opportunities);
//! * `ChurnModel`: shifted-beta-geometric (contractual churn);
//! * `SpendModel`: Gamma-Gamma, with lifetime value from a purchase model.

use numpy::{IntoPyArray, PyArray1, PyArrayMethods, PyReadonlyArray1};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};
use pyo3_arrow::input::AnyRecordBatch;

use super::convert::{from_py_bytes, params, read_table, to_py_bytes, values, Arg};
use super::entry::Job;
use crate::clv::customers::{self, require_family, CovariateColumns, ValueOptions, Weights};
use crate::clv::intervals::{IntervalOptions, Intervals};
use crate::clv::models::Row;
use crate::clv::predict;
use crate::clv::uncertainty;
use crate::clv::{Continuous, Fitted, ModelKind};
use crate::error::{Error, Result};

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PurchaseModel>()?;
    m.add_class::<OpportunityModel>()?;
    m.add_class::<ChurnModel>()?;
    m.add_class::<SpendModel>()?;
    m.add_function(wrap_pyfunction!(periods_per_month, m)?)?;
    Ok(())
}

/// Periods of `freq` in a month, as lifetime value converts them.
#[pyfunction]
fn periods_per_month(freq: &str) -> PyResult<f64> {
    Ok(customers::periods_per_month(freq)?)
}

/// Fit the model named `model` (a spec name) on the summary `data`.
fn fit_model(
    py: Python<'_>,
    model: &str,
    data: AnyRecordBatch,
    parameters: &Bound<'_, PyDict>,
    weights: Option<&Bound<'_, PyAny>>,
    initial_params: Option<Vec<f64>>,
    covariates: Option<&Bound<'_, PyAny>>,
) -> PyResult<Fitted> {
    let kind = ModelKind::parse(model)?;
    let checked = params(kind.spec(), parameters)?;
    let table = read_table(data)?;
    let column;
    let array;
    let weights = match weights {
        None => None,
        Some(w) if w.is_none() => None,
        Some(w) => {
            if let Ok(name) = w.extract::<String>() {
                column = name;
                Some(Weights::Column(&column))
            } else if let Ok(values) = w.extract::<PyReadonlyArray1<'_, f64>>() {
                array = values.as_array().to_vec();
                Some(Weights::Values(&array))
            } else {
                return Err(PyTypeError::new_err(
                    "argument 'weights' must be a column name or one float per customer",
                ));
            }
        }
    };
    let covariates = match covariates {
        Some(c) if !c.is_none() => Some(covariate_columns(c)?),
        _ => None,
    };
    Job::new().run(py, |ctl| {
        customers::fit_table(
            kind,
            &table,
            &checked,
            weights,
            initial_params,
            covariates.as_ref(),
            ctl,
        )
    })
}

/// `covariates`: a list of columns, or a dict of parameter name to columns.
fn covariate_columns(value: &Bound<'_, PyAny>) -> PyResult<CovariateColumns> {
    let problem = "argument 'covariates' must be a list of column names or a dict of parameter \
                   name to a list of column names";
    if let Ok(dict) = value.cast::<PyDict>() {
        let mut by_param = Vec::new();
        let mut columns: Vec<String> = Vec::new();
        for (param, names) in dict.iter() {
            let param: String = param.extract().map_err(|_| PyTypeError::new_err(problem))?;
            let names: Vec<String> = names.extract().map_err(|_| PyTypeError::new_err(problem))?;
            for name in &names {
                if !columns.contains(name) {
                    columns.push(name.clone());
                }
            }
            by_param.push((param, names));
        }
        return Ok(CovariateColumns {
            columns,
            by_param: Some(by_param),
        });
    }
    if value.is_instance_of::<pyo3::types::PyString>() {
        return Err(PyTypeError::new_err(problem));
    }
    let columns: Vec<String> = value.extract().map_err(|_| PyTypeError::new_err(problem))?;
    Ok(CovariateColumns {
        columns,
        by_param: None,
    })
}

/// Everything a fit says about its estimates, for the Python layer.
fn evidence<'py>(py: Python<'py>, f: &Fitted) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    let n = f.params.len();
    d.set_item("model", f.kind.name())?;
    d.set_item("param_names", f.kind.param_names().to_vec())?;
    d.set_item("params", f.params.clone())?;
    d.set_item("std_errors", f.std_errors.clone())?;
    let covariance = f.covariance.clone().into_pyarray(py).reshape([n, n])?;
    d.set_item("covariance", covariance)?;
    d.set_item("log_likelihood", f.log_likelihood)?;
    d.set_item("aic", f.aic())?;
    d.set_item("bic", f.bic())?;
    d.set_item("n_samples", f.n_samples)?;
    d.set_item("n_distinct_rows", f.n_distinct_rows)?;
    d.set_item("n_excluded", f.n_excluded)?;
    d.set_item("n_zero_spend", f.n_zero_spend)?;
    d.set_item("iterations", f.iterations)?;
    d.set_item("converged", f.converged)?;
    d.set_item("dropout_at_boundary", f.dropout_at_boundary())?;
    match &f.covariates {
        None => d.set_item("covariates", py.None())?,
        Some(c) => {
            let cov = PyDict::new(py);
            let size = n + c.std_errors.len();
            cov.set_item("columns", c.design.names())?;
            cov.set_item("names", c.names(f.kind))?;
            cov.set_item("coefficients", c.coefficients())?;
            cov.set_item("std_errors", c.std_errors.clone())?;
            let full = c
                .covariance
                .clone()
                .into_pyarray(py)
                .reshape([size, size])?;
            cov.set_item("covariance", full)?;
            let test = PyDict::new(py);
            test.set_item("statistic", c.test.statistic)?;
            test.set_item("df", c.test.df)?;
            test.set_item("p_value", c.test.p_value)?;
            test.set_item("log_likelihood_without", c.test.log_likelihood_without)?;
            cov.set_item("likelihood_ratio_test", test)?;
            d.set_item("covariates", cov)?;
        }
    }
    Ok(d)
}

/// A count `n` of purchases (>= 0).
fn purchases(n: &Arg) -> Result<u32> {
    let n = n.count("n", 0)?;
    u32::try_from(n).map_err(|_| Error::argument("n", format!("must be below 2^32, got {n}")))
}

fn times(t: &PyReadonlyArray1<'_, f64>) -> Vec<f64> {
    t.as_array().to_vec()
}

fn numpy(py: Python<'_>, values: Vec<f64>) -> Bound<'_, PyArray1<f64>> {
    values.into_pyarray(py)
}

/// Per-customer predictions `f(params, row, t)` of a fitted model on `data`,
/// in parallel; `t` is named `t_name` and the prediction `what` in errors.
fn per_customer<'py>(
    py: Python<'py>,
    fitted: &Fitted,
    data: AnyRecordBatch,
    t: (&[f64], &str),
    what: &str,
    f: impl Fn(&[f64], Row, f64) -> f64 + Sync + Send,
) -> PyResult<Bound<'py, PyArray1<f64>>> {
    let table = read_table(data)?;
    let out = Job::new().run(py, |ctl| {
        customers::map_customers(&table, fitted, t, what, ctl, f)
    })?;
    Ok(numpy(py, out))
}

/// Model-level predictions at each `t` (named `name`, at least `min`).
fn per_time<'py>(
    py: Python<'py>,
    fitted: &Fitted,
    t: &[f64],
    name: (&str, f64),
    what: &str,
    f: impl Fn(f64) -> f64 + Sync + Send,
) -> PyResult<Bound<'py, PyArray1<f64>>> {
    let out = Job::new().run(py, |_| customers::map_times(fitted, t, name, what, f))?;
    Ok(numpy(py, out))
}

/// The arguments of an interval (`interval`, `draws`, `random_state`),
/// checked against their contract.
fn interval_options(given: &Bound<'_, PyDict>) -> PyResult<IntervalOptions> {
    Ok(IntervalOptions::check(values(given)?)?)
}

type Triple<'py> = (
    Bound<'py, PyArray1<f64>>,
    Bound<'py, PyArray1<f64>>,
    Bound<'py, PyArray1<f64>>,
);

/// Estimates, lower and upper bounds as numpy arrays.
fn triple(py: Python<'_>, out: Intervals) -> Triple<'_> {
    (
        numpy(py, out.estimate),
        numpy(py, out.lower),
        numpy(py, out.upper),
    )
}

/// Per-customer intervals of `f(params, row, t)` from parameter uncertainty
/// (see [`per_customer`]).
fn per_customer_interval<'py>(
    py: Python<'py>,
    fitted: &Fitted,
    data: AnyRecordBatch,
    t: (&[f64], &str),
    interval: &Bound<'py, PyDict>,
    what: &str,
    f: impl Fn(&[f64], Row, f64) -> f64 + Sync + Send,
) -> PyResult<Triple<'py>> {
    let options = interval_options(interval)?;
    let table = read_table(data)?;
    let out = Job::new().run(py, |ctl| {
        uncertainty::row_intervals(fitted, &table, t, &options, what, ctl, f)
    })?;
    Ok(triple(py, out))
}

/// A native class over a fitted model of one family, with the methods
/// every family shares (fit, given parameters, evidence, likelihood per
/// customer, bytes) and its own.
macro_rules! model_class {
    (
        $(#[$doc:meta])*
        $class:ident($tag:ty = $family:expr) is $what:literal;
        $($methods:tt)*
    ) => {
        $(#[$doc])*
        #[pyclass(module = "patronage._core", frozen)]
        pub struct $class {
            /// Which model of the family (`()` for the families of one model).
            #[allow(dead_code)]
            family: $tag,
            fitted: Fitted,
        }

        impl $class {
            /// Wrap a fit, checking it is of this family.
            fn wrap(fitted: Fitted) -> Result<Self> {
                let family = require_family(&fitted, ($family)(fitted.kind), $what)?;
                Ok($class { family, fitted })
            }
        }

        #[pymethods]
        impl $class {
            #[staticmethod]
            #[pyo3(signature = (model, data, params, weights=None, initial_params=None, covariates=None))]
            fn fit(
                py: Python<'_>,
                model: &str,
                data: AnyRecordBatch,
                params: &Bound<'_, PyDict>,
                weights: Option<&Bound<'_, PyAny>>,
                initial_params: Option<Vec<f64>>,
                covariates: Option<&Bound<'_, PyAny>>,
            ) -> PyResult<Self> {
                let fitted = fit_model(py, model, data, params, weights, initial_params, covariates)?;
                Ok(Self::wrap(fitted)?)
            }

            /// A model with given parameters (e.g. published estimates).
            #[staticmethod]
            fn from_params(model: &str, params: Vec<f64>) -> PyResult<Self> {
                let fitted = Fitted::from_params(ModelKind::parse(model)?, params)?;
                Ok(Self::wrap(fitted)?)
            }

            fn evidence<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
                evidence(py, &self.fitted)
            }

            /// The model's name (its contract's).
            #[getter]
            fn model_name(&self) -> &'static str {
                self.fitted.kind.name()
            }

            /// Log-likelihood of each customer's row.
            fn row_log_likelihood<'py>(
                &self,
                py: Python<'py>,
                data: AnyRecordBatch,
            ) -> PyResult<Bound<'py, PyArray1<f64>>> {
                let kind = self.fitted.kind;
                per_customer(py, &self.fitted, data, (&[0.0], "t"), "the log-likelihood", |p, row, _| {
                    kind.log_likelihood(p, row)
                })
            }

            fn to_bytes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
                to_py_bytes(py, &self.fitted)
            }

            #[staticmethod]
            fn from_bytes(py: Python<'_>, data: &[u8]) -> PyResult<Self> {
                let fitted: Fitted = from_py_bytes(py, data)?;
                Ok(Self::wrap(fitted)?)
            }

            $($methods)*
        }
    };
}

model_class! {
    /// A continuous-time purchase model (BG/NBD, MBG/NBD, Pareto/NBD).
    PurchaseModel(Continuous = Continuous::of) is "a BetaGeo, ModifiedBetaGeo or ParetoNBD model";

    /// Expected purchases in the next `t` periods (one `t` or one per customer).
    fn conditional_expected_purchases<'py>(
        &self,
        py: Python<'py>,
        data: AnyRecordBatch,
        t: PyReadonlyArray1<'py, f64>,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let model = self.family;
        let t = times(&t);
        per_customer(py, &self.fitted, data, (&t, "t"), "expected purchases", |p, row, t| {
            predict::conditional_expected_purchases(model, p, row, t)
        })
    }

    /// Probability that each customer is alive.
    fn probability_alive<'py>(
        &self,
        py: Python<'py>,
        data: AnyRecordBatch,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let model = self.family;
        per_customer(py, &self.fitted, data, (&[0.0], "t"), "the probability alive", |p, row, _| {
            predict::probability_alive(model, p, row)
        })
    }

    /// `P(X(T, T + t) = n | history)` per customer.
    fn conditional_probability_of_n<'py>(
        &self,
        py: Python<'py>,
        data: AnyRecordBatch,
        t: PyReadonlyArray1<'py, f64>,
        n: Arg,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let (model, n) = (self.family, purchases(&n)?);
        let t = times(&t);
        per_customer(py, &self.fitted, data, (&t, "t"), "the probability", |p, row, t| {
            predict::conditional_probability_of_n(model, p, row, t, n)
        })
    }

    /// Expected purchases in the next `t` periods with intervals from
    /// parameter uncertainty: (estimate, lower, upper).
    fn conditional_expected_purchases_interval<'py>(
        &self,
        py: Python<'py>,
        data: AnyRecordBatch,
        t: PyReadonlyArray1<'py, f64>,
        interval: &Bound<'py, PyDict>,
    ) -> PyResult<Triple<'py>> {
        let options = interval_options(interval)?;
        let table = read_table(data)?;
        let t = times(&t);
        let purchases = (self.family, &self.fitted);
        let out = Job::new().run(py, |ctl| {
            uncertainty::expected_purchases_intervals(purchases, &table, &t, &options, ctl)
        })?;
        Ok(triple(py, out))
    }

    /// Probability alive with intervals from parameter uncertainty.
    fn probability_alive_interval<'py>(
        &self,
        py: Python<'py>,
        data: AnyRecordBatch,
        interval: &Bound<'py, PyDict>,
    ) -> PyResult<Triple<'py>> {
        let model = self.family;
        per_customer_interval(py, &self.fitted, data, (&[0.0], "t"), interval, "the probability alive", |p, row, _| {
            predict::probability_alive(model, p, row)
        })
    }

    /// The predictive interval of each customer's purchases in the next `t`
    /// periods (equal tails of `P(X(T, T + t) = n | history)`), with the
    /// expected purchases: (estimate, lower, upper).
    fn purchases_predictive_interval<'py>(
        &self,
        py: Python<'py>,
        data: AnyRecordBatch,
        t: PyReadonlyArray1<'py, f64>,
        interval: &Bound<'py, PyDict>,
    ) -> PyResult<Triple<'py>> {
        let level = interval_options(interval)?.level;
        let table = read_table(data)?;
        let t = times(&t);
        let purchases = (self.family, &self.fitted);
        let out = Job::new().run(py, |ctl| {
            uncertainty::purchase_count_intervals(purchases, &table, &t, level, ctl)
        })?;
        Ok(triple(py, out))
    }

    /// Expected purchases of a new customer over each of `t`.
    fn expected_purchases_new<'py>(
        &self,
        py: Python<'py>,
        t: PyReadonlyArray1<'py, f64>,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let (model, p) = (self.family, &self.fitted.params);
        per_time(py, &self.fitted, &times(&t), ("t", 0.0), "expected purchases", |t| {
            predict::expected_purchases_new(model, p, t)
        })
    }

    /// `P(X(t) = n)` for a new customer, for each `t`.
    fn probability_of_n_purchases<'py>(
        &self,
        py: Python<'py>,
        t: PyReadonlyArray1<'py, f64>,
        n: Arg,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let (model, p, n) = (self.family, &self.fitted.params, purchases(&n)?);
        per_time(py, &self.fitted, &times(&t), ("t", 0.0), "the probability", |t| {
            predict::probability_of_n_purchases(model, p, t, n)
        })
    }
}

model_class! {
    /// The BG/BB model of discrete purchase opportunities.
    OpportunityModel(() = only(ModelKind::BetaGeoBetaBinom)) is "a BetaGeoBetaBinom model";

    /// Expected transactions in the next `t` opportunities.
    fn conditional_expected_purchases<'py>(
        &self,
        py: Python<'py>,
        data: AnyRecordBatch,
        t: PyReadonlyArray1<'py, f64>,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let t = times(&t);
        per_customer(py, &self.fitted, data, (&t, "m_periods_in_future"), "expected purchases", |p, row, t| {
            predict::bgbb_conditional_expected_purchases(p, row, t)
        })
    }

    /// Probability of being alive `t` opportunities from now.
    fn probability_alive<'py>(
        &self,
        py: Python<'py>,
        data: AnyRecordBatch,
        t: PyReadonlyArray1<'py, f64>,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let t = times(&t);
        per_customer(py, &self.fitted, data, (&t, "m_periods_in_future"), "the probability alive", |p, row, t| {
            predict::bgbb_probability_alive(p, row, t)
        })
    }

    /// Expected transactions in the next `t` opportunities with intervals
    /// from parameter uncertainty: (estimate, lower, upper).
    fn conditional_expected_purchases_interval<'py>(
        &self,
        py: Python<'py>,
        data: AnyRecordBatch,
        t: PyReadonlyArray1<'py, f64>,
        interval: &Bound<'py, PyDict>,
    ) -> PyResult<Triple<'py>> {
        let t = times(&t);
        per_customer_interval(py, &self.fitted, data, (&t, "m_periods_in_future"), interval, "expected purchases", |p, row, t| {
            predict::bgbb_conditional_expected_purchases(p, row, t)
        })
    }

    /// Probability alive `t` opportunities from now, with intervals.
    fn probability_alive_interval<'py>(
        &self,
        py: Python<'py>,
        data: AnyRecordBatch,
        t: PyReadonlyArray1<'py, f64>,
        interval: &Bound<'py, PyDict>,
    ) -> PyResult<Triple<'py>> {
        let t = times(&t);
        per_customer_interval(py, &self.fitted, data, (&t, "m_periods_in_future"), interval, "the probability alive", |p, row, t| {
            predict::bgbb_probability_alive(p, row, t)
        })
    }

    /// Expected transactions of a new customer in the first `t` opportunities.
    fn expected_purchases_new<'py>(
        &self,
        py: Python<'py>,
        t: PyReadonlyArray1<'py, f64>,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let p = &self.fitted.params;
        per_time(py, &self.fitted, &times(&t), ("n", 0.0), "expected purchases", |t| {
            predict::bgbb_expected_purchases_new(p, t)
        })
    }
}

model_class! {
    /// The shifted-beta-geometric model of contractual churn.
    ChurnModel(() = only(ModelKind::ShiftedBetaGeo)) is "a ShiftedBetaGeo model";

    /// Share of a cohort still active after each `t` periods.
    fn survival<'py>(
        &self,
        py: Python<'py>,
        t: PyReadonlyArray1<'py, f64>,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let p = &self.fitted.params;
        per_time(py, &self.fitted, &times(&t), ("t", 0.0), "the survival", |t| {
            predict::sbg_survival(p, t)
        })
    }

    /// Retention rate `S(t) / S(t - 1)` at each `t`.
    fn retention_rate<'py>(
        &self,
        py: Python<'py>,
        t: PyReadonlyArray1<'py, f64>,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let p = &self.fitted.params;
        // The retention of period t compares it with period t - 1.
        per_time(py, &self.fitted, &times(&t), ("t", 1.0), "the retention rate", |t| {
            predict::sbg_retention(p, t)
        })
    }
}

model_class! {
    /// The Gamma-Gamma model of spend per purchase.
    SpendModel(() = only(ModelKind::GammaGamma)) is "a GammaGamma model";

    /// Expected mean spend per purchase of each customer.
    fn expected_average_spend<'py>(
        &self,
        py: Python<'py>,
        data: AnyRecordBatch,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let table = read_table(data)?;
        let out = Job::new().run(py, |_| customers::expected_average_spend(&self.fitted, &table))?;
        Ok(numpy(py, out))
    }

    /// Expected mean spend per purchase with intervals from parameter
    /// uncertainty: (estimate, lower, upper).
    fn expected_average_spend_interval<'py>(
        &self,
        py: Python<'py>,
        data: AnyRecordBatch,
        interval: &Bound<'py, PyDict>,
    ) -> PyResult<Triple<'py>> {
        let options = interval_options(interval)?;
        let table = read_table(data)?;
        let out = Job::new().run(py, |ctl| {
            uncertainty::expected_average_spend_intervals(&self.fitted, &table, &options, ctl)
        })?;
        Ok(triple(py, out))
    }

    /// Discounted value of each customer's purchases over `time` months:
    /// purchases from `purchase_model`, each worth this model's expected
    /// average spend (one pass over the summary).
    #[pyo3(signature = (purchase_model, data, time, discount_rate, freq, continuous, steps_per_month))]
    #[allow(clippy::too_many_arguments)]
    fn customer_lifetime_value<'py>(
        &self,
        py: Python<'py>,
        purchase_model: &PurchaseModel,
        data: AnyRecordBatch,
        time: Arg,
        discount_rate: Arg,
        freq: &str,
        continuous: Arg,
        steps_per_month: Arg,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let (time, steps) = (time.count("time", 0)?, steps_per_month.count("steps_per_month", 1)?);
        let rate = discount_rate.number("discount_rate")?;
        let options = ValueOptions::new(time, rate, freq, continuous.flag("continuous")?, steps)?;
        let table = read_table(data)?;
        let purchases = (purchase_model.family, &purchase_model.fitted);
        let out = Job::new().run(py, |ctl| {
            customers::customer_lifetime_value(purchases, &self.fitted, &table, options, ctl)
        })?;
        Ok(numpy(py, out))
    }

    /// Lifetime value with intervals from the uncertainty of both models'
    /// parameters (drawn together): (estimate, lower, upper).
    #[pyo3(signature = (purchase_model, data, time, discount_rate, freq, continuous, steps_per_month, interval))]
    #[allow(clippy::too_many_arguments)]
    fn customer_lifetime_value_interval<'py>(
        &self,
        py: Python<'py>,
        purchase_model: &PurchaseModel,
        data: AnyRecordBatch,
        time: Arg,
        discount_rate: Arg,
        freq: &str,
        continuous: Arg,
        steps_per_month: Arg,
        interval: &Bound<'py, PyDict>,
    ) -> PyResult<Triple<'py>> {
        let (time, steps) = (time.count("time", 0)?, steps_per_month.count("steps_per_month", 1)?);
        let rate = discount_rate.number("discount_rate")?;
        let value = ValueOptions::new(time, rate, freq, continuous.flag("continuous")?, steps)?;
        let options = interval_options(interval)?;
        let table = read_table(data)?;
        let purchases = (purchase_model.family, &purchase_model.fitted);
        let out = Job::new().run(py, |ctl| {
            uncertainty::customer_lifetime_value_intervals(purchases, &self.fitted, &table, value, &options, ctl)
        })?;
        Ok(triple(py, out))
    }
}

/// The family check of a one-model family.
fn only(model: ModelKind) -> impl Fn(ModelKind) -> Option<()> {
    move |kind| (kind == model).then_some(())
}
