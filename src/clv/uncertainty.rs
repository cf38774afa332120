//! Intervals on customer summary tables: parameter uncertainty of expected
//! purchases, probability alive, expected spend and lifetime value, and the
//! predictive interval of each customer's purchase count (see
//! [`intervals`](super::intervals)).  The bindings call these.

use super::counts::ConditionalCounts;
use super::customers::{
    finite_mean_spend, not_computed, per_customer, read_rows, read_spend, CustomerParams,
    ValueOptions,
};
use super::fit::Fitted;
use super::intervals::{self, Case, IntervalOptions, Intervals, NoDraws, Sample};
use super::models::{Continuous, Row};
use super::predict;
use crate::control::Control;
use crate::error::{Error, Result};
use crate::table::Table;

/// Why a model's parameters cannot be drawn, as the error a user sees.
fn no_draws(fitted: &Fitted, why: NoDraws) -> Error {
    let reason = if fitted.dropout_at_boundary() {
        "ran to the boundary where drop-out vanishes (nobody in the data is seen to drop out), so its \
         drop-out parameters have no standard errors"
            .to_string()
    } else if fitted.n_samples == 0.0 {
        "was made from given parameters, without a covariance of estimates".to_string()
    } else if why == NoDraws::Undefined {
        "has no covariance of its estimates (the information matrix is not positive definite at \
         the estimates: the fit did not reach a proper maximum)"
            .to_string()
    } else {
        "has a covariance of its estimates that is not positive definite".to_string()
    };
    Error::unsupported(
        fitted.kind.name(),
        format!(
            "{reason}: intervals from parameter uncertainty need one. Fit on data (with \
             penalizer_coef > 0 if the fit is at a boundary); the predictive interval of purchase \
             counts needs no covariance"
        ),
    )
}

/// What is drawn of a model: its parameters (in log space), then its
/// estimated coefficients, if any (as they are), with their covariance.
fn drawn(f: &Fitted) -> (Vec<f64>, Vec<bool>, &[f64]) {
    let k = f.params.len();
    match &f.covariates {
        None => (f.params.clone(), vec![true; k], &f.covariance),
        Some(c) => {
            let estimate: Vec<f64> = f.params.iter().copied().chain(c.coefficients()).collect();
            let logged = (0..estimate.len()).map(|i| i < k).collect();
            (estimate, logged, &c.covariance)
        }
    }
}

/// The point estimates and `options.draws` draws of what is drawn of
/// `models` together: their vectors end to end (each model's estimates are
/// independent of the others', so the covariance is block diagonal).
pub fn joint_draws(
    models: &[&Fitted],
    options: &IntervalOptions,
) -> Result<(Vec<f64>, Vec<Vec<f64>>)> {
    let (mut estimate, mut logged, mut blocks) = (Vec::new(), Vec::new(), Vec::new());
    for f in models {
        let (e, l, covariance) = drawn(f);
        intervals::draws_of(&e, &l, covariance, 0, 0).map_err(|why| no_draws(f, why))?;
        blocks.push((estimate.len(), e.len(), covariance));
        estimate.extend(e);
        logged.extend(l);
    }
    let k = estimate.len();
    let mut covariance = vec![0.0; k * k];
    for (offset, n, block) in blocks {
        for i in 0..n {
            for j in 0..n {
                covariance[(offset + i) * k + offset + j] = block[i * n + j];
            }
        }
    }
    let draws = intervals::draws_of(&estimate, &logged, &covariance, options.draws, options.seed)
        .map_err(|why| no_draws(models[0], why))?;
    Ok((estimate, draws))
}

/// Intervals for models of which one has covariates: every customer at
/// their own parameters under each draw, `f(params of each model, i)`
/// (a second model's are `[0; 4]` when there is one model).
fn per_customer_intervals(
    models: &[&Fitted],
    table: &Table,
    options: &IntervalOptions,
    ctl: &Control,
    f: impl Fn(&[[f64; 4]; 2], usize) -> f64 + Sync,
) -> Result<Intervals> {
    let (estimate, draws) = joint_draws(models, options)?;
    let params: Vec<CustomerParams> = models
        .iter()
        .map(|m| CustomerParams::new(m, table))
        .collect::<Result<_>>()?;
    // Each model's segment as (population parameters, every coefficient),
    // expanded once per draw rather than per customer.
    let expand = |v: &[f64]| -> Vec<(Vec<f64>, Vec<f64>)> {
        let mut offset = 0;
        models
            .iter()
            .map(|m| {
                let k = m.params.len();
                let base = v[offset..offset + k].to_vec();
                offset += k;
                let gamma = match &m.covariates {
                    Some(c) => {
                        let n_free = c.coefficients().len();
                        offset += n_free;
                        c.gamma_from(&v[offset - n_free..offset])
                    }
                    None => Vec::new(),
                };
                (base, gamma)
            })
            .collect()
    };
    let expanded: Vec<Vec<(Vec<f64>, Vec<f64>)>> = draws.iter().map(|d| expand(d)).collect();
    let at = |segments: &[(Vec<f64>, Vec<f64>)], i: usize| {
        let mut out = [[0.0; 4]; 2];
        for (m, (base, gamma)) in segments.iter().enumerate() {
            out[m] = params[m].at(i, base, gamma);
        }
        out
    };
    let centre = expand(&estimate);
    intervals::per_customer(table.num_rows(), ctl, |i| {
        let mut values: Vec<f64> = expanded.iter().map(|s| f(&at(s, i), i)).collect();
        let (lower, upper) =
            intervals::quantile_pair(&mut values, options.tails().0, options.tails().1);
        [f(&at(&centre, i), i), lower, upper]
    })
}

fn has_covariates(models: &[&Fitted]) -> bool {
    models.iter().any(|m| m.covariates.is_some())
}

/// Each customer's row and horizon, checked.
fn cases(fitted: &Fitted, table: &Table, t: (&[f64], &str)) -> Result<Vec<Case>> {
    let kind = fitted.kind;
    let rows = read_rows(table, kind)?;
    kind.validate(&rows)?;
    let t = per_customer(t.0, rows.len(), t.1)?;
    Ok(rows
        .iter()
        .zip(&t)
        .map(|(&[a, b, c], &t)| [a, b, c, t])
        .collect())
}

/// NaN anywhere means the formulas failed at the estimate or at a draw: say so.
fn checked(out: Intervals, fitted: &Fitted, what: &str) -> Result<Intervals> {
    match out.first_nan() {
        None => Ok(out),
        Some(i) => Err(not_computed(fitted, &format!("the interval of {what}"), i)),
    }
}

/// Intervals of `f(θ, row, t)` for every customer of `table` (the columns of
/// `fitted`'s model), from parameter uncertainty; `t` one value or one per
/// customer, named `t.1`; `what` names the prediction in errors.
pub fn row_intervals(
    fitted: &Fitted,
    table: &Table,
    t: (&[f64], &str),
    options: &IntervalOptions,
    what: &str,
    ctl: &Control,
    f: impl Fn(&[f64], Row, f64) -> f64 + Sync,
) -> Result<Intervals> {
    let cases = cases(fitted, table, t)?;
    if has_covariates(&[fitted]) {
        let n = fitted.params.len();
        let out = per_customer_intervals(&[fitted], table, options, ctl, |p, i| {
            let [a, b, c, t] = cases[i];
            f(&p[0][..n], [a, b, c], t)
        })?;
        return checked(out, fitted, what);
    }
    let (estimate, draws) = joint_draws(&[fitted], options)?;
    let sample = Sample {
        estimate: &estimate,
        draws: &draws,
        tails: options.tails(),
    };
    let out = intervals::intervals(&cases, &sample, ctl, |p, [a, b, c, t]| f(p, [a, b, c], t))?;
    checked(out, fitted, what)
}

/// Intervals of every customer's expected purchases in the next `t` periods
/// (one value or one per customer).  BG/NBD and MBG/NBD split the
/// expectation (see [`predict::beta_geo_expected_numerator`]): its
/// hypergeometric part once per distinct `(x, T, t)` and draw, the rest per
/// customer.
pub fn expected_purchases_intervals(
    purchases: (Continuous, &Fitted),
    table: &Table,
    t: &[f64],
    options: &IntervalOptions,
    ctl: &Control,
) -> Result<Intervals> {
    let (model, fitted) = purchases;
    if model == Continuous::ParetoNbd || has_covariates(&[fitted]) {
        return row_intervals(
            fitted,
            table,
            (t, "t"),
            options,
            "expected purchases",
            ctl,
            |p, row, t| predict::conditional_expected_purchases(model, p, row, t),
        );
    }
    let rows = cases(fitted, table, (t, "t"))?;
    let cases: Vec<Case> = rows
        .iter()
        .map(|&[x, _, big_t, t]| [x, big_t, t, 0.0])
        .collect();
    let recency: Vec<f64> = rows.iter().map(|r| r[1]).collect();
    let (estimate, draws) = joint_draws(&[fitted], options)?;
    let sample = Sample {
        estimate: &estimate,
        draws: &draws,
        tails: options.tails(),
    };
    let out = intervals::intervals_combined(
        &cases,
        &recency,
        &sample,
        ctl,
        |p, [x, big_t, t, _]| predict::beta_geo_expected_numerator(model, p, x, big_t, t),
        |p, numerator, [x, big_t, ..], tx| {
            numerator / predict::beta_geo_expected_denominator(model, p, x, tx, big_t)
        },
    )?;
    checked(out, fitted, "expected purchases")
}

/// Gamma-Gamma's expected mean spend at parameters `p` (infinite where the
/// population's mean spend is: a draw with `q <= 1`).
fn spend_at(p: &[f64], x: f64, m: f64) -> f64 {
    if p[1] <= 1.0 {
        f64::INFINITY
    } else {
        predict::expected_average_spend(p, x, m)
    }
}

/// Intervals of Gamma-Gamma's expected mean spend of every customer.
pub fn expected_average_spend_intervals(
    spend: &Fitted,
    table: &Table,
    options: &IntervalOptions,
    ctl: &Control,
) -> Result<Intervals> {
    finite_mean_spend(spend)?;
    let cases: Vec<Case> = read_spend(table)?
        .iter()
        .map(|&[x, m, _]| [x, m, 0.0, 0.0])
        .collect();
    if has_covariates(&[spend]) {
        let out = per_customer_intervals(&[spend], table, options, ctl, |p, i| {
            spend_at(&p[0][..3], cases[i][0], cases[i][1])
        })?;
        return checked(out, spend, "expected average spend");
    }
    let (estimate, draws) = joint_draws(&[spend], options)?;
    let sample = Sample {
        estimate: &estimate,
        draws: &draws,
        tails: options.tails(),
    };
    let out = intervals::intervals(&cases, &sample, ctl, |p, [x, m, _, _]| spend_at(p, x, m))?;
    checked(out, spend, "expected average spend")
}

/// Intervals of every customer's lifetime value: the purchase model's and
/// the spend model's parameters drawn together; the discounted purchases
/// once per distinct history and draw, times each customer's spend.
pub fn customer_lifetime_value_intervals(
    purchases: (Continuous, &Fitted),
    spend: &Fitted,
    table: &Table,
    value: ValueOptions,
    options: &IntervalOptions,
    ctl: &Control,
) -> Result<Intervals> {
    let (model, fitted) = purchases;
    finite_mean_spend(spend)?;
    let rows = read_rows(table, model.kind())?;
    model.kind().validate(&rows)?;
    let spend_rows = read_spend(table)?;
    let (months, discounting) = (value.months, value.discounting);
    let n = fitted.params.len();
    if has_covariates(&[fitted, spend]) {
        let out = per_customer_intervals(&[fitted, spend], table, options, ctl, |p, i| {
            let (row, [x, m, _]) = (rows[i], spend_rows[i]);
            predict::lifetime_value(model, &p[0][..n], row, 1.0, months, discounting)
                * spend_at(&p[1][..3], x, m)
        })?;
        return checked(out, fitted, "lifetime value");
    }
    let (estimate, draws) = joint_draws(&[fitted, spend], options)?;
    let sample = Sample {
        estimate: &estimate,
        draws: &draws,
        tails: options.tails(),
    };
    let out = if model == Continuous::ParetoNbd {
        // Discounted purchases (each worth 1) per distinct history, times spend.
        let cases: Vec<Case> = rows.iter().map(|&[a, b, c]| [a, b, c, 0.0]).collect();
        let spends: Vec<f64> = spend_rows.iter().map(|r| r[1]).collect();
        intervals::intervals_combined(
            &cases,
            &spends,
            &sample,
            ctl,
            |p, [a, b, c, _]| {
                predict::lifetime_value(model, &p[..n], [a, b, c], 1.0, months, discounting)
            },
            |p, purchases, [x, ..], m| purchases * spend_at(&p[n..], x, m),
        )?
    } else {
        // The expectation's denominator does not depend on the horizon: the
        // discounted numerators per distinct (x, T), over each customer's
        // denominator, times spend.
        let cases: Vec<Case> = rows
            .iter()
            .map(|&[x, _, big_t]| [x, big_t, 0.0, 0.0])
            .collect();
        let extras: Vec<[f64; 2]> = rows
            .iter()
            .zip(&spend_rows)
            .map(|(r, s)| [r[1], s[1]])
            .collect();
        intervals::intervals_combined(
            &cases,
            &extras,
            &sample,
            ctl,
            |p, [x, big_t, ..]| {
                let numerator =
                    |t| predict::beta_geo_expected_numerator(model, &p[..n], x, big_t, t);
                predict::discounted(numerator, months, discounting)
            },
            |p, numerators, [x, big_t, ..], [tx, m]| {
                let denominator =
                    predict::beta_geo_expected_denominator(model, &p[..n], x, tx, big_t);
                numerators / denominator * spend_at(&p[n..], x, m)
            },
        )?
    };
    checked(out, fitted, "lifetime value")
}

/// The predictive interval of each customer's purchases in the next `t`
/// periods: the equal-tailed interval of `P(X(T, T + t) = n | history)` at
/// the estimates (with covariates, the customer's own), with the expected
/// purchases as the estimate.
pub fn purchase_count_intervals(
    purchases: (Continuous, &Fitted),
    table: &Table,
    t: &[f64],
    level: f64,
    ctl: &Control,
) -> Result<Intervals> {
    let (model, fitted) = purchases;
    let cases = cases(fitted, table, (t, "t"))?;
    let at = |p: &[f64], [a, b, c, t]: Case| {
        let row = [a, b, c];
        let (lower, upper) =
            intervals::count_interval(ConditionalCounts::new(model, p, row, t), level);
        [
            predict::conditional_expected_purchases(model, p, row, t),
            lower,
            upper,
        ]
    };
    let out = if fitted.covariates.is_none() {
        intervals::per_distinct(&cases, ctl, |case| at(&fitted.params, case))?
    } else {
        let params = CustomerParams::new(fitted, table)?;
        let n = fitted.kind.n_params();
        intervals::per_customer(cases.len(), ctl, |i| at(&params.of(i)[..n], cases[i]))?
    };
    checked(out, fitted, "purchases")
}
