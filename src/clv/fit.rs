//! Maximum-likelihood fitting of the buy-till-you-die models.
//!
//! Identical rows are collapsed into weighted rows first (a million
//! customers usually have far fewer distinct `(x, t_x, T)`), the weighted
//! log-likelihood and its exact gradient are summed in parallel over fixed
//! chunks (so the result does not depend on the thread count), and BFGS runs
//! in log-parameter space, where every parameter is positive.  Standard
//! errors come from the Hessian of the total log-likelihood at the optimum.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::boundary;
use super::covfit::CovariateFit;
use super::models::{Likelihood, ModelKind, Row, TimeLogs};
use super::optimize::{invert_spd, minimize_until, Settings};
use super::real::{Dual, Real};
use crate::control::Control;
use crate::error::{Error, Result};
use crate::persist::{self, Persist};
use crate::spec::Params;

const CHUNK: usize = 2048;

/// Distinct rows with the summed weights of the customers that share them.
#[derive(Debug, Clone)]
pub struct Collapsed {
    pub rows: Vec<Row>,
    pub weights: Vec<f64>,
    /// Shared times, when rows share few of them (whole periods).
    levels: Option<TimeLevels>,
}

/// Distinct values of `t_x` and of `T`, and each row's index into them:
/// logarithms of the times are then computed once per distinct value.
/// Worth it only when the tables are much shorter than the rows (times in
/// whole periods): with continuous times every row has its own, and
/// gathering them from tables as long as the data costs more (cache misses)
/// than computing each row's logarithms where they are used.
#[derive(Debug, Clone)]
struct TimeLevels {
    values: [Vec<f64>; 2],
    of_row: Vec<[u32; 2]>,
}

/// Rows per distinct time below which [`TimeLevels`] pay.
const ROWS_PER_LEVEL: usize = 8;

impl TimeLevels {
    fn new(rows: &[Row]) -> Option<Self> {
        let distinct = |column: usize| {
            let mut values: Vec<f64> = rows.par_iter().map(|r| r[column]).collect();
            values.par_sort_unstable_by(f64::total_cmp);
            values.dedup();
            values
        };
        let values = [distinct(1), distinct(2)];
        if ROWS_PER_LEVEL * (values[0].len() + values[1].len()) > rows.len() {
            return None;
        }
        let find = |k: usize, v: f64| values[k].partition_point(|&l| l < v) as u32;
        let of_row = rows
            .par_iter()
            .map(|r| [find(0, r[1]), find(1, r[2])])
            .collect();
        Some(TimeLevels { values, of_row })
    }
}

impl Collapsed {
    pub fn new(rows: &[Row], weights: Option<&[f64]>) -> Result<Self> {
        if let Some(w) = weights {
            if w.len() != rows.len() {
                return Err(Error::argument(
                    "weights",
                    format!("has {} values for {} rows", w.len(), rows.len()),
                ));
            }
            if let Some(i) = w.iter().position(|v| !(v.is_finite() && *v >= 0.0)) {
                return Err(Error::argument(
                    "weights",
                    format!("must be finite and >= 0 (row {i})"),
                ));
            }
        }
        // Sorting on integer keys in f64's total order is cheaper than
        // comparing floats.
        let mut pairs: Vec<([u64; 3], f64)> = rows
            .par_iter()
            .enumerate()
            .map(|(i, r)| (r.map(total_order_key), weights.map_or(1.0, |w| w[i])))
            .collect();
        pairs.par_sort_unstable_by_key(|pair| pair.0);
        let mut out = Collapsed {
            rows: Vec::new(),
            weights: Vec::new(),
            levels: None,
        };
        for (key, w) in pairs {
            if w == 0.0 {
                continue;
            }
            let row = key.map(from_total_order_key);
            match out.rows.last() {
                Some(last) if *last == row => *out.weights.last_mut().expect("same length") += w,
                _ => {
                    out.rows.push(row);
                    out.weights.push(w);
                }
            }
        }
        out.levels = TimeLevels::new(&out.rows);
        Ok(out)
    }

    pub fn total_weight(&self) -> f64 {
        self.weights.iter().sum()
    }

    /// About `size` rows: every k-th distinct row.  Rows are sorted by
    /// history, so every part of the population is represented in its
    /// proportion (the objective is a weighted mean, so weights need no
    /// rescaling).
    fn systematic_sample(&self, size: usize) -> Result<Collapsed> {
        let step = self.rows.len().div_ceil(size.max(1));
        let rows: Vec<Row> = self.rows.iter().step_by(step).copied().collect();
        let weights: Vec<f64> = self.weights.iter().step_by(step).copied().collect();
        Collapsed::new(&rows, Some(&weights))
    }

    /// Weighted log-likelihood and its gradient in the natural parameters
    /// (NaN once `ctl` is cancelled, which ends the optimisation).
    ///
    /// Rows are sorted by frequency, so the terms of a frequency (log-gamma
    /// functions, the drop-out factor) are computed once per run of equal
    /// frequencies and weighted by the run's total weight; a row adds only
    /// its history terms, the logarithms of its times (taken from
    /// [`TimeLevels`] when rows share them) and one `log_add_exp`.
    pub fn log_likelihood(
        &self,
        kind: impl Into<Likelihood>,
        params: &[f64],
        ctl: &Control,
    ) -> (f64, [f64; 4]) {
        let kind: Likelihood = kind.into();
        let duals: Vec<Dual<4>> = params
            .iter()
            .enumerate()
            .map(|(i, &v)| Dual::var(v, i))
            .collect();
        let continuous = kind.is_continuous();
        let tables = match &self.levels {
            Some(levels) if continuous => Some(levels.logs(kind.uses_beta(), &duals)),
            _ => None,
        };
        let row_logs = |row: &Row, i: usize| match &tables {
            Some(tables) => tables.of_row(i),
            None if continuous => TimeLogs::new(kind, &duals, row[1], row[2]),
            None => TimeLogs::default(),
        };
        let partial: Vec<Dual<4>> = self
            .rows
            .par_chunks(CHUNK)
            .zip(self.weights.par_chunks(CHUNK))
            .enumerate()
            .map(|(k, (rows, weights))| {
                if ctl.cancelled() {
                    return Dual::<4>::cst(f64::NAN);
                }
                let offset = k * CHUNK;
                let mut sum = Dual::<4>::cst(0.0);
                let mut start = 0;
                while start < rows.len() {
                    let x = rows[start][0];
                    let end = rows[start..]
                        .iter()
                        .position(|r| r[0] != x)
                        .map_or(rows.len(), |n| start + n);
                    let frequency = kind.frequency_terms(&duals, x);
                    let mut histories = Dual::<4>::cst(0.0);
                    let mut weight = 0.0;
                    for i in start..end {
                        let (row, w) = (&rows[i], weights[i]);
                        let logs = row_logs(row, offset + i);
                        let history = kind.ln_history_terms(&duals, *row, &frequency, &logs);
                        histories = histories + history.scale(w);
                        weight += w;
                    }
                    sum = sum + frequency.ln_constant.scale(weight) + histories;
                    start = end;
                }
                sum
            })
            .collect();
        let total = partial.into_iter().fold(Dual::<4>::cst(0.0), |a, b| a + b);
        (total.v, total.d)
    }
}

/// [`TimeLogs`] of every distinct time, at given parameters.
struct LevelLogs<'a> {
    of_row: &'a [[u32; 2]],
    alpha: [Vec<Dual<4>>; 2],
    beta_t: Vec<Dual<4>>,
}

impl TimeLevels {
    fn logs(&self, with_beta: bool, duals: &[Dual<4>]) -> LevelLogs<'_> {
        let map =
            |values: &[f64], f: &dyn Fn(f64) -> Dual<4>| values.iter().map(|&v| f(v)).collect();
        LevelLogs {
            of_row: &self.of_row,
            alpha: [
                map(&self.values[0], &|v| TimeLogs::alpha(duals, v)),
                map(&self.values[1], &|v| TimeLogs::alpha(duals, v)),
            ],
            beta_t: if with_beta {
                map(&self.values[1], &|v| TimeLogs::beta(duals, v))
            } else {
                Vec::new()
            },
        }
    }
}

impl LevelLogs<'_> {
    fn of_row(&self, i: usize) -> TimeLogs<Dual<4>> {
        let [i_tx, i_t] = self.of_row[i].map(|l| l as usize);
        TimeLogs {
            alpha_tx: self.alpha[0][i_tx],
            alpha_t: self.alpha[1][i_t],
            beta_t: self.beta_t.get(i_t).copied().unwrap_or(Dual::cst(0.0)),
        }
    }
}

/// `v`'s bits mapped so that unsigned order is `f64::total_cmp`'s order.
fn total_order_key(v: f64) -> u64 {
    let bits = v.to_bits();
    if bits >> 63 == 1 {
        !bits
    } else {
        bits | 1 << 63
    }
}

fn from_total_order_key(key: u64) -> f64 {
    f64::from_bits(if key >> 63 == 1 {
        key & !(1 << 63)
    } else {
        !key
    })
}

/// Options of [`fit`].
#[derive(Debug, Clone, PartialEq)]
pub struct FitOptions {
    /// L2 penalty on the parameters, added to the mean negative
    /// log-likelihood as in lifetimes (`penalizer * Σ θ²`).
    pub penalizer: f64,
    pub initial: Option<Vec<f64>>,
    pub max_iter: usize,
    pub gradient_tol: f64,
    /// Above this many distinct rows, BFGS first runs on a systematic sample
    /// of this size and then polishes on every row: the sample's optimum and
    /// curvature are close to the full data's, so the full data needs a few
    /// iterations instead of twenty (0: no warm start).
    pub warm_start_rows: usize,
}

impl FitOptions {
    /// From parameters checked against a model's spec.
    pub fn from_params(p: &Params) -> Self {
        FitOptions {
            penalizer: p.number("penalizer_coef"),
            max_iter: p.count("max_iter"),
            gradient_tol: p.number("tol"),
            ..FitOptions::default()
        }
    }
}

impl Default for FitOptions {
    fn default() -> Self {
        FitOptions {
            penalizer: 0.0,
            initial: None,
            max_iter: 500,
            gradient_tol: 1e-8,
            warm_start_rows: 10_000,
        }
    }
}

/// A fitted model: its parameters and the evidence about them.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Fitted {
    pub kind: ModelKind,
    pub params: Vec<f64>,
    pub std_errors: Vec<f64>,
    /// Row-major covariance of the estimates (NaN when the Hessian is not
    /// negative definite).
    pub covariance: Vec<f64>,
    pub log_likelihood: f64,
    /// Total weight of the rows fitted on (customers when unweighted).
    pub n_samples: f64,
    pub n_distinct_rows: usize,
    /// Rows left out of the fit (Gamma-Gamma: customers without repeat
    /// purchases, and repeat buyers whose mean spend is 0).
    pub n_excluded: usize,
    /// Of those, the repeat buyers whose mean spend is 0 (Gamma-Gamma).
    pub n_zero_spend: usize,
    pub iterations: usize,
    pub converged: bool,
    pub penalizer: f64,
    /// The coefficients of static covariates, when fitted with them (then
    /// `params` are the population's at `z = 0`).
    pub covariates: Option<CovariateFit>,
}

impl Fitted {
    /// A model with given parameters (no data), e.g. published estimates.
    pub fn from_params(kind: ModelKind, params: Vec<f64>) -> Result<Self> {
        let n = kind.n_params();
        if params.len() != n || params.iter().any(|p| !(p.is_finite() && *p > 0.0)) {
            return Err(Error::argument(
                "params",
                format!(
                    "{} needs {n} finite values > 0 ({:?})",
                    kind.name(),
                    kind.param_names()
                ),
            ));
        }
        Ok(Fitted {
            kind,
            params,
            std_errors: vec![f64::NAN; n],
            covariance: vec![f64::NAN; n * n],
            log_likelihood: f64::NAN,
            n_samples: 0.0,
            n_distinct_rows: 0,
            n_excluded: 0,
            n_zero_spend: 0,
            iterations: 0,
            converged: true,
            penalizer: 0.0,
            covariates: None,
        })
    }

    /// Whether the fit ran to the boundary where drop-out vanishes (see
    /// [`boundary`]): then only the purchase parameters `(r, α)` have
    /// standard errors, the NBD's.
    pub fn dropout_at_boundary(&self) -> bool {
        self.kind.is_continuous()
            && !self.converged
            && self.std_errors[..2].iter().all(|s| s.is_finite())
            && self.std_errors[2..].iter().all(|s| s.is_nan())
    }

    /// Estimated values: the parameters and any covariate coefficients.
    pub fn n_estimates(&self) -> usize {
        self.params.len() + self.covariates.as_ref().map_or(0, |c| c.gamma.len())
    }

    pub fn aic(&self) -> f64 {
        2.0 * self.n_estimates() as f64 - 2.0 * self.log_likelihood
    }

    pub fn bic(&self) -> f64 {
        self.n_estimates() as f64 * self.n_samples.ln() - 2.0 * self.log_likelihood
    }
}

impl Persist for Fitted {
    fn kind(&self) -> String {
        format!("clv.{}", self.kind.name())
    }

    fn accepts_kind(kind: &str) -> bool {
        kind.strip_prefix("clv.")
            .is_some_and(|name| ModelKind::parse(name).is_ok())
    }

    fn expected() -> String {
        "a lifetime-value model (clv.BetaGeo, clv.ParetoNBD, ...)".into()
    }

    /// Parameters of the model's count, finite and positive, and evidence of
    /// matching sizes (standard errors and covariance may be NaN: a model
    /// made from given parameters has none).
    fn validate(&self) -> Result<()> {
        let n = self.kind.n_params();
        persist::require(
            self.params.len() == n
                && self.params.iter().all(|p| p.is_finite() && *p > 0.0)
                && self.std_errors.len() == n
                && self.covariance.len() == n * n,
            || format!("the {} parameters are malformed", self.kind.name()),
        )?;
        persist::require(
            self.n_samples.is_finite()
                && self.n_samples >= 0.0
                && self.penalizer.is_finite()
                && self.penalizer >= 0.0
                && self.n_zero_spend <= self.n_excluded,
            || "the fit's counts are malformed".into(),
        )?;
        match &self.covariates {
            Some(c) => c.validate(self.kind),
            None => Ok(()),
        }
    }
}

/// Fit `kind` to `rows` (see [`ModelKind::columns`] for their meaning).
pub fn fit(
    kind: ModelKind,
    rows: &[Row],
    weights: Option<&[f64]>,
    options: &FitOptions,
    ctl: &Control,
) -> Result<Fitted> {
    if rows.is_empty() {
        return Err(Error::empty("the table has no rows; nothing to fit"));
    }
    kind.validate(rows)?;
    // Gamma-Gamma describes positive repeat spend: customers without repeat
    // purchases (or whose repeats cost nothing) carry no information about it
    // and are left out (and counted).
    let no_spend = |r: &Row| excluded_from_fit(kind, r);
    let spenders: Option<(Vec<Row>, Option<Vec<f64>>)> =
        (kind == ModelKind::GammaGamma && rows.iter().any(no_spend)).then(|| {
            let keep: Vec<usize> = (0..rows.len()).filter(|&i| !no_spend(&rows[i])).collect();
            (
                keep.iter().map(|&i| rows[i]).collect(),
                weights.map(|w| keep.iter().map(|&i| w[i]).collect()),
            )
        });
    let n_excluded = spenders
        .as_ref()
        .map_or(0, |(kept, _)| rows.len() - kept.len());
    let n_zero_spend = if kind == ModelKind::GammaGamma {
        rows.iter().filter(|r| r[0] > 0.0 && r[1] == 0.0).count()
    } else {
        0
    };
    let (rows, weights) = match &spenders {
        Some((kept, w)) => (kept.as_slice(), w.as_deref()),
        None => (rows, weights),
    };
    if rows.is_empty() {
        let problem = format!(
            "leaves no customer to fit: Gamma-Gamma needs repeat purchases with a positive \
             mean spend, and {} customers have frequency 0, {n_zero_spend} monetary_value 0",
            n_excluded - n_zero_spend
        );
        return Err(Error::argument("data", problem));
    }
    let data = Collapsed::new(rows, weights)?;
    let total_weight = data.total_weight();
    if !(total_weight > 0.0) {
        return Err(Error::argument("weights", "must not all be 0"));
    }
    if (kind == ModelKind::BetaGeoBetaBinom || kind.is_continuous())
        && data.rows.iter().all(|r| r[0] == 0.0)
    {
        return Err(Error::column_value(
            "frequency",
            "is 0 for every customer: repeat purchases are needed to fit the model",
        ));
    }
    let n = kind.n_params();
    let start = match &options.initial {
        Some(p) if p.len() != n => {
            return Err(Error::argument(
                "initial_params",
                format!("needs {n} values, got {}", p.len()),
            ))
        }
        Some(p) if p.iter().any(|v| !(v.is_finite() && *v > 0.0)) => {
            return Err(Error::argument("initial_params", "must be finite and > 0"))
        }
        Some(p) => p.clone(),
        None => initial_params(kind, &data),
    };
    let settings = Settings {
        max_iter: options.max_iter,
        gradient_tol: options.gradient_tol,
    };
    let penalizer = options.penalizer;
    // Continuous models whose drop-out may vanish: the NBD, fitted first
    // (cheaply), tells when the fit has run to that boundary.
    let boundary = if kind.is_continuous() && penalizer == 0.0 {
        boundary::NoDropout::fit(kind, &data, &start, settings, ctl)
    } else {
        None
    };
    let mut theta0: Vec<f64> = start.iter().map(|v| v.ln()).collect();
    let mut inverse_hessian = None;
    if options.warm_start_rows > 0 && data.rows.len() > options.warm_start_rows {
        let sample = data.systematic_sample(options.warm_start_rows)?;
        let rough = minimize_until(
            mean_objective(kind.into(), &sample, penalizer, ctl),
            &theta0,
            None,
            settings,
            &|x, value| {
                boundary
                    .as_ref()
                    .is_some_and(|b| b.reached(x, value, total_weight))
            },
        );
        // A sample at the boundary starts the full data there.
        if rough.converged || rough.stopped {
            theta0 = rough.x;
            inverse_hessian = Some(rough.inverse_hessian);
        }
    }
    let objective = mean_objective(kind.into(), &data, penalizer, ctl);
    let minimum = minimize_until(
        objective,
        &theta0,
        inverse_hessian,
        settings,
        &|x, value| {
            boundary
                .as_ref()
                .is_some_and(|b| b.reached(x, value, total_weight))
        },
    );
    ctl.check()?;
    let params: Vec<f64> = minimum.x.iter().map(|t| t.exp()).collect();
    if params.iter().any(|p| !(p.is_finite() && *p > 0.0)) || !minimum.value.is_finite() {
        return Err(Error::fit(
            kind.name(),
            format!("the estimates diverged (parameters {params:?}); try penalizer_coef > 0"),
        ));
    }
    let (log_likelihood, gradient) = if minimum.stopped {
        (f64::NAN, [f64::NAN; 4])
    } else {
        data.log_likelihood(kind, &params, ctl)
    };
    let covariance = if minimum.stopped {
        vec![f64::NAN; n * n]
    } else {
        covariance(kind.into(), &data, &params, &gradient, ctl)
    };
    ctl.check()?;
    let std_errors: Vec<f64> = (0..n).map(|i| covariance[i * n + i].sqrt()).collect();
    // A stationary point whose information matrix is not positive definite
    // is a ridge or a boundary (e.g. a → 0 when nobody is seen to drop out).
    let proper_maximum = std_errors.iter().all(|s| s.is_finite());
    if let Some(no_dropout) = &boundary {
        if minimum.stopped || (!proper_maximum && no_dropout.explains(log_likelihood)) {
            return Ok(no_dropout.fitted(&params, minimum.iterations, &data));
        }
    }
    Ok(Fitted {
        kind,
        params,
        std_errors,
        covariance,
        log_likelihood,
        n_samples: total_weight,
        n_distinct_rows: data.rows.len(),
        n_excluded,
        n_zero_spend,
        iterations: minimum.iterations,
        converged: minimum.converged && proper_maximum,
        penalizer,
        covariates: None,
    })
}

/// Whether a row carries no information for `kind` and is left out of its
/// fits: Gamma-Gamma's customers without repeat purchases, or whose repeats
/// cost nothing.
pub(super) fn excluded_from_fit(kind: ModelKind, row: &Row) -> bool {
    kind == ModelKind::GammaGamma && (row[0] == 0.0 || row[1] == 0.0)
}

/// Starting values: ones, with the time-scale parameters set to a tenth of
/// the longest observation (the scaling lifetimes applies to its data).
fn initial_params(kind: ModelKind, data: &Collapsed) -> Vec<f64> {
    let longest = data
        .rows
        .iter()
        .map(|r| r[2])
        .fold(0.0f64, f64::max)
        .max(1e-3);
    match kind {
        ModelKind::BetaGeo | ModelKind::ModifiedBetaGeo => vec![1.0, longest / 10.0, 1.0, 1.0],
        ModelKind::ParetoNbd => vec![1.0, longest / 10.0, 1.0, longest / 10.0],
        ModelKind::BetaGeoBetaBinom => vec![1.0; 4],
        ModelKind::ShiftedBetaGeo => vec![1.0; 2],
        ModelKind::GammaGamma => {
            let mean = data
                .rows
                .iter()
                .zip(&data.weights)
                .map(|(r, w)| r[1] * w)
                .sum::<f64>()
                / data.total_weight();
            vec![1.0, 2.0, mean.max(1e-6)]
        }
    }
}

/// The mean penalised negative log-likelihood and its gradient in
/// log-parameter space, where every parameter is positive.
pub(super) fn mean_objective<'a>(
    kind: Likelihood,
    data: &'a Collapsed,
    penalizer: f64,
    ctl: &'a Control,
) -> impl Fn(&[f64]) -> (f64, Vec<f64>) + 'a {
    let total_weight = data.total_weight();
    move |theta: &[f64]| {
        let p: Vec<f64> = theta.iter().map(|t| t.exp()).collect();
        let (ll, grad) = data.log_likelihood(kind, &p, ctl);
        let penalty: f64 = p.iter().map(|v| v * v).sum();
        let value = -ll / total_weight + penalizer * penalty;
        let gradient = p
            .iter()
            .enumerate()
            .map(|(i, &pi)| (-grad[i] / total_weight + 2.0 * penalizer * pi) * pi)
            .collect();
        (value, gradient)
    }
}

/// Inverse of the observed information (minus the Hessian of the total
/// log-likelihood), by forward differences of the exact gradient, whose
/// value at the estimates is `gradient`.
pub(super) fn covariance(
    kind: Likelihood,
    data: &Collapsed,
    params: &[f64],
    gradient: &[f64],
    ctl: &Control,
) -> Vec<f64> {
    let n = params.len();
    let mut hessian = vec![0.0; n * n];
    for j in 0..n {
        let h = 1e-6 * params[j];
        let mut up = params.to_vec();
        up[j] += h;
        let (_, g_up) = data.log_likelihood(kind, &up, ctl);
        for i in 0..n {
            hessian[i * n + j] = (g_up[i] - gradient[i]) / h;
        }
    }
    let information: Vec<f64> = (0..n * n)
        .map(|k| {
            let (i, j) = (k / n, k % n);
            -0.5 * (hessian[i * n + j] + hessian[j * n + i])
        })
        .collect();
    invert_spd(&information, n).unwrap_or_else(|| vec![f64::NAN; n * n])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collapses_identical_rows_with_weights() {
        let rows = [
            [1.0, 2.0, 3.0],
            [0.0, 0.0, 3.0],
            [1.0, 2.0, 3.0],
            [0.0, 0.0, 3.0],
            [2.0, 2.0, 3.0],
        ];
        let c = Collapsed::new(&rows, Some(&[1.0, 2.0, 0.5, 0.0, 1.0])).unwrap();
        assert_eq!(
            c.rows,
            vec![[0.0, 0.0, 3.0], [1.0, 2.0, 3.0], [2.0, 2.0, 3.0]]
        );
        assert_eq!(c.weights, vec![2.0, 1.5, 1.0]);
        assert!(Collapsed::new(&rows, Some(&[1.0; 4])).is_err());
        assert!(Collapsed::new(&rows, Some(&[1.0, 1.0, f64::NAN, 1.0, 1.0])).is_err());
    }

    #[test]
    fn shifted_beta_geometric_reproduces_fader_hardie_2007() {
        // Regular segment: survivors of 1000 customers after 0..7 years.
        let survivors = [1000.0, 631.0, 468.0, 382.0, 326.0, 289.0, 262.0, 241.0];
        let mut rows = Vec::new();
        let mut weights = Vec::new();
        for t in 1..survivors.len() {
            rows.push([t as f64, 1.0, 0.0]);
            weights.push(survivors[t - 1] - survivors[t]);
        }
        rows.push([7.0, 0.0, 0.0]);
        weights.push(survivors[7]);
        let fitted = fit(
            ModelKind::ShiftedBetaGeo,
            &rows,
            Some(&weights),
            &FitOptions::default(),
            &Control::new(),
        )
        .unwrap();
        assert!(fitted.converged);
        assert!(
            (fitted.params[0] - 0.704).abs() < 5e-4,
            "{:?}",
            fitted.params
        );
        assert!(
            (fitted.params[1] - 1.182).abs() < 5e-4,
            "{:?}",
            fitted.params
        );
        assert!(fitted.std_errors.iter().all(|s| s.is_finite() && *s > 0.0));
    }

    /// BG/NBD customers (r 0.25, alpha 4, a 0.8, b 2.5) observed for 20-60 weeks.
    fn bg_nbd_population(n: usize) -> Vec<Row> {
        use rand::{Rng, SeedableRng};
        use rand_distr::{Beta, Distribution, Exp, Gamma};
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(7);
        let (rate, dropout) = (
            Gamma::new(0.25, 0.25).unwrap(),
            Beta::new(0.8, 2.5).unwrap(),
        );
        (0..n)
            .map(|_| {
                let (lambda, p): (f64, f64) = (rate.sample(&mut rng), dropout.sample(&mut rng));
                let big_t = rng.random_range(20.0..60.0);
                let (mut x, mut tx, mut now) = (0.0, 0.0, 0.0);
                loop {
                    now += Exp::new(lambda.max(1e-12)).unwrap().sample(&mut rng);
                    if now > big_t {
                        break;
                    }
                    (x, tx) = (x + 1.0, now);
                    if rng.random::<f64>() < p {
                        break;
                    }
                }
                [x, tx, big_t]
            })
            .collect()
    }

    #[test]
    fn fits_are_deterministic_across_thread_counts() {
        let rows = bg_nbd_population(30_000);
        let run = |threads| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| {
                fit(
                    ModelKind::BetaGeo,
                    &rows,
                    None,
                    &FitOptions::default(),
                    &Control::new(),
                )
                .unwrap()
            })
        };
        let (one, two) = (run(1), run(2));
        assert_eq!(format!("{one:?}"), format!("{two:?}"));
        // Large enough for the warm start on a sample, which must not change the optimum.
        assert!(
            one.n_distinct_rows > FitOptions::default().warm_start_rows && one.converged,
            "{one:?}"
        );
        let cold = fit(
            ModelKind::BetaGeo,
            &rows,
            None,
            &FitOptions {
                warm_start_rows: 0,
                ..FitOptions::default()
            },
            &Control::new(),
        )
        .unwrap();
        assert!(cold.converged && cold.iterations > one.iterations);
        for (a, b) in one.params.iter().zip(&cold.params) {
            assert!(
                (a - b).abs() < 1e-5 * a,
                "{:?} vs {:?}",
                one.params,
                cold.params
            );
        }
        let cancelled = Control::new();
        cancelled.cancel();
        let stopped = fit(
            ModelKind::BetaGeo,
            &rows,
            None,
            &FitOptions::default(),
            &cancelled,
        );
        assert_eq!(stopped.unwrap_err(), Error::Interrupted);
    }
}
