//! The models on customer summary tables: reading a model's columns (named
//! by its spec), fitting, per-customer predictions, and lifetime value from
//! a purchase model and a spend model in one pass.  The bindings call these.

use rayon::prelude::*;

use super::covariates::{customer_params, free_coefficients, Design};
use super::covfit::fit_with_covariates;
use super::fit::{fit, FitOptions, Fitted};
use super::models::{Continuous, ModelKind, Row, MAX_PERIODS};
use super::predict::{self, Discounting};
use crate::control::Control;
use crate::error::{Error, Result};
use crate::spec::Params;
use crate::table::{self, Table};

/// Per-customer rows of the columns `kind` reads (missing third values are 0).
pub fn read_rows(table: &Table, kind: ModelKind) -> Result<Vec<Row>> {
    read_columns(table, kind.columns())
}

fn read_columns(table: &Table, names: &[&str]) -> Result<Vec<Row>> {
    let columns = names
        .iter()
        .map(|&name| table.column(name))
        .collect::<Result<Vec<_>>>()?;
    let values = columns
        .iter()
        .map(table::values_f64)
        .collect::<Result<Vec<_>>>()?;
    let n = table.num_rows();
    Ok((0..n)
        .into_par_iter()
        .map(|i| std::array::from_fn(|k| values.get(k).map_or(0.0, |v| v[i])))
        .collect())
}

/// Customer weights: a column of the summary or one value per customer.
#[derive(Debug, Clone, Copy)]
pub enum Weights<'a> {
    Column(&'a str),
    Values(&'a [f64]),
}

/// Static covariates of a fit: the columns, and, optionally, which of them
/// move each parameter (else all move every parameter that covariates move).
#[derive(Debug, Clone, Default)]
pub struct CovariateColumns {
    pub columns: Vec<String>,
    pub by_param: Option<Vec<(String, Vec<String>)>>,
}

/// Fit `kind` (options checked against its spec) on the summary `table`,
/// with static covariates if given.
pub fn fit_table(
    kind: ModelKind,
    table: &Table,
    params: &Params,
    weights: Option<Weights<'_>>,
    initial: Option<Vec<f64>>,
    covariates: Option<&CovariateColumns>,
    ctl: &Control,
) -> Result<Fitted> {
    let rows = read_rows(table, kind)?;
    let column_weights;
    let weights = match weights {
        Some(Weights::Column(name)) => {
            let column = table.column(name)?;
            column_weights = table::values_f64(&column)?.into_owned();
            Some(column_weights.as_slice())
        }
        Some(Weights::Values(values)) => Some(values),
        None => None,
    };
    let options = FitOptions {
        initial,
        ..FitOptions::from_params(params)
    };
    match covariates {
        None => fit(kind, &rows, weights, &options, ctl),
        Some(covariates) => {
            let design = Design::learn(table, &covariates.columns, kind.columns())?;
            let free = free_coefficients(kind, &design, covariates.by_param.as_deref())?;
            let z = design.encode(table)?;
            fit_with_covariates(kind, &rows, weights, design, free, &z, &options, ctl)
        }
    }
}

/// Each customer's parameters under a fitted model: the population's, or,
/// with covariates, their own from the customer's columns of the table.
pub struct CustomerParams<'a> {
    fitted: &'a Fitted,
    z: Vec<f64>,
    width: usize,
}

impl<'a> CustomerParams<'a> {
    /// The covariates of `table`'s customers, checked (missing columns, NaN,
    /// levels the model was not fitted with are errors naming the column).
    pub fn new(fitted: &'a Fitted, table: &Table) -> Result<Self> {
        let (z, width) = match &fitted.covariates {
            Some(c) => (c.design.encode(table)?, c.design.width()),
            None => (Vec::new(), 0),
        };
        Ok(CustomerParams { fitted, z, width })
    }

    /// Parameters of customer `i` (the first [`ModelKind::n_params`] count).
    pub fn of(&self, i: usize) -> [f64; 4] {
        let gamma = self
            .fitted
            .covariates
            .as_ref()
            .map_or(&[][..], |c| &c.gamma);
        self.at(i, &self.fitted.params, gamma)
    }

    /// Parameters of customer `i` at other population parameters `base`
    /// and coefficients `gamma` (all of them, as [`CovariateFit::gamma`](super::covfit::CovariateFit::gamma)).
    pub fn at(&self, i: usize, base: &[f64], gamma: &[f64]) -> [f64; 4] {
        match &self.fitted.covariates {
            Some(_) => customer_params(
                self.fitted.kind,
                base,
                gamma,
                &self.z[i * self.width..(i + 1) * self.width],
            ),
            None => {
                let mut p = [0.0; 4];
                p[..base.len()].copy_from_slice(base);
                p
            }
        }
    }
}

/// Check times (horizons, ages) given as an argument: finite, at least
/// `min`, at most [`MAX_PERIODS`].
fn check_times(t: &[f64], name: &str, min: f64) -> Result<()> {
    if let Some(bad) = t
        .iter()
        .find(|v| !(v.is_finite() && **v >= min && **v <= MAX_PERIODS))
    {
        return Err(Error::argument(
            name,
            format!(
                "must be finite, at least {min} and at most {MAX_PERIODS:e} periods; got {bad}"
            ),
        ));
    }
    Ok(())
}

/// Predictions that came out NaN mean the formulas failed for these
/// parameters (at the edge of what a fit on little data produces): say so
/// rather than return NaN.
pub(super) fn check_computed(values: &[f64], fitted: &Fitted, what: &str) -> Result<()> {
    match values.iter().position(|v| v.is_nan()) {
        None => Ok(()),
        Some(i) => Err(not_computed(fitted, what, i)),
    }
}

/// The error of a prediction `what` that came out NaN at position `i`.
pub(super) fn not_computed(fitted: &Fitted, what: &str, i: usize) -> Error {
    Error::unsupported(
        fitted.kind.name(),
        format!(
            "could not compute {what} at position {i}: its parameters {:?} are outside the \
             range where its formulas are accurate (a fit on too little data or at a boundary)",
            fitted.params
        ),
    )
}

/// `t` per customer: one value for all, or one each; finite and >= 0.
pub(super) fn per_customer(t: &[f64], n: usize, name: &str) -> Result<Vec<f64>> {
    let values = match t.len() {
        1 => vec![t[0]; n],
        len if len == n => t.to_vec(),
        len => {
            return Err(Error::argument(
                name,
                format!("must be a number or have one value per customer ({n}), got {len} values"),
            ))
        }
    };
    check_times(&values, name, 0.0)?;
    Ok(values)
}

/// `f(params, row, t)` for every customer of `table` (the columns of
/// `fitted`'s model, checked; the customer's own parameters), in parallel;
/// `what` names the prediction in errors.
pub fn map_customers(
    table: &Table,
    fitted: &Fitted,
    t: (&[f64], &str),
    what: &str,
    ctl: &Control,
    f: impl Fn(&[f64], Row, f64) -> f64 + Sync,
) -> Result<Vec<f64>> {
    let kind = fitted.kind;
    let rows = read_rows(table, kind)?;
    kind.validate(&rows)?;
    let t = per_customer(t.0, rows.len(), t.1)?;
    let params = CustomerParams::new(fitted, table)?;
    let out: Vec<f64> = rows
        .par_iter()
        .zip(t.par_iter())
        .enumerate()
        .with_min_len(1024)
        .map(|(i, (r, &t))| {
            if ctl.cancelled() {
                0.0
            } else {
                f(&params.of(i)[..kind.n_params()], *r, t)
            }
        })
        .collect();
    ctl.check()?;
    check_computed(&out, fitted, what)?;
    Ok(out)
}

/// `f(t)` for every `t` (named `name`, at least `min`), in parallel:
/// model-level predictions (new customers, survival).
pub fn map_times(
    fitted: &Fitted,
    t: &[f64],
    (name, min): (&str, f64),
    what: &str,
    f: impl Fn(f64) -> f64 + Sync,
) -> Result<Vec<f64>> {
    check_times(t, name, min)?;
    let out: Vec<f64> = t.par_iter().with_min_len(256).map(|&t| f(t)).collect();
    check_computed(&out, fitted, what)?;
    Ok(out)
}

/// Gamma-Gamma rows for predictions (customers without repeat purchases get
/// the population mean).
pub(super) fn read_spend(table: &Table) -> Result<Vec<Row>> {
    let rows = read_rows(table, ModelKind::GammaGamma)?;
    ModelKind::GammaGamma.validate(&rows)?;
    Ok(rows)
}

/// Gamma-Gamma's parameters, if its population has a finite mean spend
/// (covariates scale `v` only, so every customer's `q` is the population's).
pub(super) fn finite_mean_spend(spend: &Fitted) -> Result<&[f64]> {
    let q = spend.params[1];
    if q <= 1.0 {
        return Err(Error::unsupported(
            "GammaGamma",
            format!(
                "has q = {q} <= 1, so its population's mean spend is infinite (a fit on few \
                 repeat buyers or one that did not converge): refit with more data or \
                 penalizer_coef > 0"
            ),
        ));
    }
    Ok(&spend.params)
}

/// Gamma-Gamma `E[Z | x, m̄]` of every customer of `table`.
pub fn expected_average_spend(spend: &Fitted, table: &Table) -> Result<Vec<f64>> {
    finite_mean_spend(spend)?;
    let rows = read_spend(table)?;
    let params = CustomerParams::new(spend, table)?;
    Ok(rows
        .par_iter()
        .enumerate()
        .with_min_len(1024)
        .map(|(i, &[x, m, _])| predict::expected_average_spend(&params.of(i), x, m))
        .collect())
}

/// The longest horizon of lifetime value: a century.
const MAX_MONTHS: usize = 1200;

/// Periods of a purchase model's `freq` in a month (lifetimes' conversion):
/// how a horizon in months becomes the model's time unit.
pub fn periods_per_month(freq: &str) -> Result<f64> {
    match freq {
        "W" => Ok(4.345),
        "M" => Ok(1.0),
        "D" => Ok(30.0),
        "H" | "h" => Ok(720.0),
        other => Err(Error::argument(
            "freq",
            format!("must be 'W', 'M', 'D' or 'h' (the purchase model's period), got {other:?}"),
        )),
    }
}

/// How lifetime value is computed: horizon and discounting.
#[derive(Debug, Clone, Copy)]
pub struct ValueOptions {
    pub months: usize,
    pub discounting: Discounting,
}

impl ValueOptions {
    /// From the arguments of `customer_lifetime_value`: `time` months,
    /// `discount_rate` per month, the purchase model's period `freq`
    /// (lifetimes' conversion to months), continuous or monthly discounting.
    pub fn new(
        time: usize,
        discount_rate: f64,
        freq: &str,
        continuous: bool,
        steps_per_month: usize,
    ) -> Result<Self> {
        let periods_per_month = periods_per_month(freq)?;
        if time > MAX_MONTHS {
            return Err(Error::argument(
                "time",
                format!("must be a whole number of months in [0, {MAX_MONTHS}], got {time}"),
            ));
        }
        if !(discount_rate.is_finite() && discount_rate > -1.0) {
            return Err(Error::argument("discount_rate", "must be finite and > -1"));
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
        Ok(ValueOptions {
            months: time,
            discounting,
        })
    }
}

/// Discounted value of every customer of `table` (frequency, recency, T,
/// monetary_value): purchases from the continuous purchase model `purchases`,
/// each worth the Gamma-Gamma model `spend`'s expected average.
pub fn customer_lifetime_value(
    purchases: (Continuous, &Fitted),
    spend: &Fitted,
    table: &Table,
    options: ValueOptions,
    ctl: &Control,
) -> Result<Vec<f64>> {
    let (model, fitted) = purchases;
    finite_mean_spend(spend)?;
    let rows = read_rows(table, model.kind())?;
    model.kind().validate(&rows)?;
    let spend_rows = read_spend(table)?;
    let (purchase_params, spend_params) = (
        CustomerParams::new(fitted, table)?,
        CustomerParams::new(spend, table)?,
    );
    let out: Vec<f64> = rows
        .par_iter()
        .zip(spend_rows.par_iter())
        .enumerate()
        .with_min_len(256)
        .map(|(i, (row, &[x, m, _]))| {
            if ctl.cancelled() {
                return 0.0;
            }
            let value = predict::expected_average_spend(&spend_params.of(i), x, m);
            let p = purchase_params.of(i);
            predict::lifetime_value(model, &p, *row, value, options.months, options.discounting)
        })
        .collect();
    ctl.check()?;
    check_computed(&out, fitted, "lifetime value")?;
    Ok(out)
}

/// Fitted models that are not of the family a caller needs.
pub fn require_family<T>(fitted: &Fitted, family: Option<T>, what: &str) -> Result<T> {
    family.ok_or_else(|| {
        Error::saved_model(format!(
            "the bytes hold a {} model, not {what}",
            fitted.kind.name()
        ))
    })
}
