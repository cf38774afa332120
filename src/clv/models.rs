//! The likelihoods of the buy-till-you-die models, written once over
//! [`Real`] so that the same code gives values and analytic gradients.
//!
//! Each model's identity (public name, fitted parameters, the summary
//! columns it reads, its fitting options) is its [`Spec`], written once here.
//!
//! A data row is three numbers whose meaning depends on the model (see
//! [`ModelKind::columns`]):
//! * BG/NBD, MBG/NBD, Pareto/NBD: `(frequency x, recency t_x, age T)`;
//! * BG/BB: `(frequency x, recency t_x, opportunities n)`;
//! * shifted-beta-geometric: `(periods t, churned 0/1, unused)`;
//! * Gamma-Gamma: `(frequency x, mean repeat spend m, unused)`.

use serde::{Deserialize, Serialize};

use super::real::{ln_beta_shift, ln_gamma_ratio, log_add_exp, Real};
use super::special::ln_power_product_integral;
use crate::error::{Error, Result};
use crate::spec::{Accept, Literal, Param, Spec};

pub type Row = [f64; 3];

/// The fitting options every model shares (lifetimes' names and meanings).
const FIT_PARAMS: &[Param] = &[
    Param {
        name: "penalizer_coef",
        default: Literal::Float(0.0),
        accepts: &[Accept::at_least(0.0)],
        unit: "",
        doc: "L2 penalty added to the mean negative log-likelihood, as in lifetimes",
    },
    Param {
        name: "max_iter",
        default: Literal::Int(500),
        accepts: &[Accept::int_from(1)],
        unit: "",
        doc: "BFGS iterations",
    },
    Param {
        name: "tol",
        default: Literal::Float(1e-8),
        accepts: &[Accept::above(0.0)],
        unit: "",
        doc: "largest gradient component at convergence",
    },
];

const PURCHASE_COLUMNS: &[&str] = &["frequency", "recency", "T"];

pub static BETA_GEO: Spec = Spec {
    name: "BetaGeo",
    params: FIT_PARAMS,
    columns: PURCHASE_COLUMNS,
    fitted: &["r", "alpha", "a", "b"],
};
pub static MODIFIED_BETA_GEO: Spec = Spec {
    name: "ModifiedBetaGeo",
    params: FIT_PARAMS,
    columns: PURCHASE_COLUMNS,
    fitted: &["r", "alpha", "a", "b"],
};
pub static PARETO_NBD: Spec = Spec {
    name: "ParetoNBD",
    params: FIT_PARAMS,
    columns: PURCHASE_COLUMNS,
    fitted: &["r", "alpha", "s", "beta"],
};
pub static BETA_GEO_BETA_BINOM: Spec = Spec {
    name: "BetaGeoBetaBinom",
    params: FIT_PARAMS,
    columns: &["frequency", "recency", "periods"],
    fitted: &["alpha", "beta", "gamma", "delta"],
};
pub static SHIFTED_BETA_GEO: Spec = Spec {
    name: "ShiftedBetaGeo",
    params: FIT_PARAMS,
    columns: &["duration", "churned"],
    fitted: &["alpha", "beta"],
};
pub static GAMMA_GAMMA: Spec = Spec {
    name: "GammaGamma",
    params: FIT_PARAMS,
    columns: &["frequency", "monetary_value"],
    fitted: &["p", "q", "v"],
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ModelKind {
    BetaGeo,
    ModifiedBetaGeo,
    ParetoNbd,
    BetaGeoBetaBinom,
    ShiftedBetaGeo,
    GammaGamma,
}

/// The models of purchases in continuous time, on `(frequency, recency, T)`:
/// the ones with P(X(t) = n), conditional counts and lifetime value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Continuous {
    BetaGeo,
    ModifiedBetaGeo,
    ParetoNbd,
}

impl Continuous {
    pub fn kind(self) -> ModelKind {
        match self {
            Continuous::BetaGeo => ModelKind::BetaGeo,
            Continuous::ModifiedBetaGeo => ModelKind::ModifiedBetaGeo,
            Continuous::ParetoNbd => ModelKind::ParetoNbd,
        }
    }

    /// The continuous model of `kind`, if it is one.
    pub fn of(kind: ModelKind) -> Option<Self> {
        match kind {
            ModelKind::BetaGeo => Some(Continuous::BetaGeo),
            ModelKind::ModifiedBetaGeo => Some(Continuous::ModifiedBetaGeo),
            ModelKind::ParetoNbd => Some(Continuous::ParetoNbd),
            _ => None,
        }
    }
}

impl ModelKind {
    pub const ALL: [ModelKind; 6] = [
        ModelKind::BetaGeo,
        ModelKind::ModifiedBetaGeo,
        ModelKind::ParetoNbd,
        ModelKind::BetaGeoBetaBinom,
        ModelKind::ShiftedBetaGeo,
        ModelKind::GammaGamma,
    ];

    pub fn spec(self) -> &'static Spec {
        match self {
            ModelKind::BetaGeo => &BETA_GEO,
            ModelKind::ModifiedBetaGeo => &MODIFIED_BETA_GEO,
            ModelKind::ParetoNbd => &PARETO_NBD,
            ModelKind::BetaGeoBetaBinom => &BETA_GEO_BETA_BINOM,
            ModelKind::ShiftedBetaGeo => &SHIFTED_BETA_GEO,
            ModelKind::GammaGamma => &GAMMA_GAMMA,
        }
    }

    /// The model named `name` (the Python class name).
    pub fn parse(name: &str) -> Result<Self> {
        ModelKind::ALL
            .into_iter()
            .find(|k| k.name() == name)
            .ok_or_else(|| {
                Error::argument("model", format!("{name:?} is not a lifetime-value model"))
            })
    }

    pub fn name(self) -> &'static str {
        self.spec().name
    }

    pub fn param_names(self) -> &'static [&'static str] {
        self.spec().fitted
    }

    /// Names of the row values (the summary columns the model reads).
    pub fn columns(self) -> &'static [&'static str] {
        self.spec().columns
    }

    /// Models of purchases in continuous time, on `(frequency, recency, T)`.
    pub fn is_continuous(self) -> bool {
        Continuous::of(self).is_some()
    }

    /// MBG/NBD lets customers drop out at their first purchase too, which
    /// shifts BG/NBD's beta-function terms by one purchase: 1 for MBG/NBD, 0
    /// otherwise.
    pub fn dropout_shift(self) -> f64 {
        if self == ModelKind::ModifiedBetaGeo {
            1.0
        } else {
            0.0
        }
    }

    pub fn n_params(self) -> usize {
        self.param_names().len()
    }

    /// Log-likelihood of one row.
    pub fn log_likelihood<T: Real>(self, p: &[T], row: Row) -> T {
        let logs = if self.is_continuous() {
            TimeLogs::new(Likelihood::Of(self), p, row[1], row[2])
        } else {
            TimeLogs::default()
        };
        let frequency = self.frequency_terms(p, row[0]);
        frequency.ln_constant + self.ln_history_terms(p, row, &frequency, &logs)
    }

    /// The parts of the log-likelihood that depend on the frequency alone
    /// (the log-gamma functions, the drop-out factor): a fit computes them
    /// once per distinct frequency instead of once per row.
    pub fn frequency_terms<T: Real>(self, p: &[T], x: f64) -> FrequencyTerms<T> {
        let x_ = c::<T>(x);
        match self {
            ModelKind::BetaGeo | ModelKind::ModifiedBetaGeo => {
                let (r, alpha, a, b) = (p[0], p[1], p[2], p[3]);
                let shift = self.dropout_shift();
                let ln_constant = ln_gamma_ratio(r, x_)
                    + r * alpha.ln()
                    + ln_beta_shift(a, b, c(0.0), c(x + shift));
                // a / (b + x - 1) (BG/NBD: only customers with repeat purchases can
                // have dropped out; MBG/NBD: a / (b + x)).
                let ln_dropout = if x + shift > 0.0 {
                    a.ln() - (b + c(x + shift - 1.0)).ln()
                } else {
                    c(0.0)
                };
                FrequencyTerms {
                    ln_constant,
                    ln_dropout,
                }
            }
            ModelKind::ParetoNbd => {
                let (r, alpha, s, beta) = (p[0], p[1], p[2], p[3]);
                FrequencyTerms {
                    ln_constant: ln_gamma_ratio(r, x_) + r * alpha.ln() + s * beta.ln(),
                    // s / (r + s + x)
                    ln_dropout: s.ln() - (r + s + x_).ln(),
                }
            }
            _ => FrequencyTerms {
                ln_constant: c(0.0),
                ln_dropout: c(0.0),
            },
        }
    }

    /// The rest of the log-likelihood (see [`ModelKind::frequency_terms`]),
    /// with the logarithms of the times given, so a fit can share them
    /// between rows with equal `t_x` or `T`.
    pub fn ln_history_terms<T: Real>(
        self,
        p: &[T],
        row: Row,
        frequency: &FrequencyTerms<T>,
        logs: &TimeLogs<T>,
    ) -> T {
        match self {
            ModelKind::BetaGeo => bg_nbd(p, row, frequency, logs),
            ModelKind::ModifiedBetaGeo => mbg_nbd(p, row, frequency, logs),
            ModelKind::ParetoNbd => pareto_nbd(p, row, frequency, logs),
            ModelKind::BetaGeoBetaBinom => bg_bb(p, row),
            ModelKind::ShiftedBetaGeo => sbg(p, row),
            ModelKind::GammaGamma => gamma_gamma(p, row),
        }
    }

    /// The largest value each row column may take (see [`MAX_PERIODS`]).
    fn max_value(self, column: usize) -> f64 {
        match (self, column) {
            (ModelKind::BetaGeoBetaBinom, _) => MAX_OPPORTUNITIES,
            (ModelKind::GammaGamma, 1) => MAX_SPEND,
            _ => MAX_PERIODS,
        }
    }

    /// Whether row column `column` counts discrete periods (BG/BB's
    /// opportunities, sBG's durations).
    fn counts_whole_periods(self, column: usize) -> bool {
        match self {
            ModelKind::BetaGeoBetaBinom => true,
            ModelKind::ShiftedBetaGeo => column == 0,
            _ => false,
        }
    }

    /// Check the rows a model is fitted on or predicts for; errors name the
    /// column and the first offending row.
    pub fn validate(self, rows: &[Row]) -> Result<()> {
        let columns = self.columns();
        let bad = |k: usize, i: usize, what: &str| {
            Err(Error::column_value(columns[k], format!("{what} (row {i})")))
        };
        for (i, row) in rows.iter().enumerate() {
            for (k, &value) in row.iter().enumerate().take(columns.len()) {
                if !value.is_finite() {
                    return bad(k, i, "contains NaN or infinite values");
                }
                if value < 0.0 {
                    return bad(k, i, "contains negative values");
                }
                let max = self.max_value(k);
                if value > max {
                    return bad(
                        k,
                        i,
                        &format!("holds values above {max:e}, beyond what the model computes"),
                    );
                }
                if self.counts_whole_periods(k) && value.fract() != 0.0 {
                    return bad(k, i, "must hold whole numbers of periods");
                }
            }
            let [a, b, c] = *row;
            match self {
                ModelKind::BetaGeo | ModelKind::ModifiedBetaGeo | ModelKind::ParetoNbd => {
                    if b > c {
                        return bad(1, i, "is greater than T");
                    }
                    if a > 0.0 && b == 0.0 {
                        return bad(
                            1,
                            i,
                            "is 0 for a customer with repeat purchases (frequency > 0)",
                        );
                    }
                    if a == 0.0 && b != 0.0 {
                        return bad(1, i, "is not 0 for a customer without repeat purchases");
                    }
                }
                ModelKind::BetaGeoBetaBinom => {
                    if a > b || b > c {
                        return bad(1, i, "must satisfy frequency <= recency <= periods");
                    }
                    if a > 0.0 && b == 0.0 {
                        return bad(1, i, "is 0 for a customer with repeat transactions");
                    }
                }
                ModelKind::ShiftedBetaGeo => {
                    if a < 1.0 {
                        return bad(0, i, "must hold periods >= 1");
                    }
                    if b != 0.0 && b != 1.0 {
                        return bad(1, i, "must be 0/1 (or False/True)");
                    }
                }
                // Customers without repeat purchases (or spend) are allowed
                // here: predictions give them the population mean, and a fit
                // leaves them out.
                ModelKind::GammaGamma => {}
            }
        }
        Ok(())
    }
}

/// The largest durations and counts (in periods) the models are computed
/// for: 1e7 days is 27,000 years, so larger values only come from mistakes
/// (and the formulas lose accuracy there).
pub const MAX_PERIODS: f64 = 1e7;
/// BG/BB's likelihood sums over every opportunity after the last transaction.
pub const MAX_OPPORTUNITIES: f64 = 1e5;
/// The largest mean spend Gamma-Gamma is computed for.
pub const MAX_SPEND: f64 = 1e15;

/// See [`ModelKind::frequency_terms`].
#[derive(Debug, Clone, Copy)]
pub struct FrequencyTerms<T> {
    /// The terms of the log-likelihood that depend on the frequency alone.
    pub ln_constant: T,
    /// The logarithm of the factor that weighs "dropped out after the last
    /// purchase" against "still alive" in the continuous models.
    pub ln_dropout: T,
}

/// `ln(α + t_x)`, `ln(α + T)` and (Pareto/NBD) `ln(β + T)`: the only places
/// where the continuous models' times meet their parameters outside the
/// hypergeometric term.
#[derive(Debug, Clone, Copy)]
pub struct TimeLogs<T> {
    pub alpha_tx: T,
    pub alpha_t: T,
    pub beta_t: T,
}

impl<T: Real> Default for TimeLogs<T> {
    fn default() -> Self {
        TimeLogs {
            alpha_tx: c(0.0),
            alpha_t: c(0.0),
            beta_t: c(0.0),
        }
    }
}

impl<T: Real> TimeLogs<T> {
    /// The logs `likelihood` reads (`ln(α + t_x)` only after a purchase).
    pub fn new(likelihood: Likelihood, p: &[T], tx: f64, big_t: f64) -> Self {
        TimeLogs {
            alpha_tx: if tx > 0.0 {
                Self::alpha(p, tx)
            } else {
                p[1].ln()
            },
            alpha_t: Self::alpha(p, big_t),
            beta_t: if likelihood.uses_beta() {
                (p[3] + c(big_t)).ln()
            } else {
                c(0.0)
            },
        }
    }

    /// `ln(α + t)` (α is the second parameter of every continuous model).
    pub fn alpha(p: &[T], t: f64) -> T {
        (p[1] + c(t)).ln()
    }

    /// `ln(β + t)` (Pareto/NBD's fourth parameter).
    pub fn beta(p: &[T], t: f64) -> T {
        (p[3] + c(t)).ln()
    }
}

fn c<T: Real>(v: f64) -> T {
    T::cst(v)
}

/// `ln[(α/(α+T))^r (α+T)^-x]` less `r ln α`: the purchase part of being
/// alive at `T` with `x` purchases, which every continuous model and the NBD
/// share.
fn ln_purchases_to_t<T: Real>(p: &[T], x: f64, logs: &TimeLogs<T>) -> T {
    -(p[0] + c(x)) * logs.alpha_t
}

/// What a fit maximises: a model's likelihood, or the NBD's (purchases
/// without drop-out), the limit every continuous model reaches when its
/// drop-out vanishes, which tells a fit that runs to that boundary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Likelihood {
    Of(ModelKind),
    /// Parameters `(r, α)`.
    NoDropout,
}

impl From<ModelKind> for Likelihood {
    fn from(kind: ModelKind) -> Self {
        Likelihood::Of(kind)
    }
}

impl Likelihood {
    pub fn is_continuous(self) -> bool {
        match self {
            Likelihood::Of(kind) => kind.is_continuous(),
            Likelihood::NoDropout => true,
        }
    }

    /// Whether the rows' [`TimeLogs`] need `ln(β + T)`.
    pub fn uses_beta(self) -> bool {
        self == Likelihood::Of(ModelKind::ParetoNbd)
    }

    pub fn frequency_terms<T: Real>(self, p: &[T], x: f64) -> FrequencyTerms<T> {
        match self {
            Likelihood::Of(kind) => kind.frequency_terms(p, x),
            Likelihood::NoDropout => FrequencyTerms {
                ln_constant: ln_gamma_ratio(p[0], c(x)) + p[0] * p[1].ln(),
                ln_dropout: c(f64::NEG_INFINITY),
            },
        }
    }

    pub fn ln_history_terms<T: Real>(
        self,
        p: &[T],
        row: Row,
        frequency: &FrequencyTerms<T>,
        logs: &TimeLogs<T>,
    ) -> T {
        match self {
            Likelihood::Of(kind) => kind.ln_history_terms(p, row, frequency, logs),
            Likelihood::NoDropout => ln_purchases_to_t(p, row[0], logs),
        }
    }
}

/// Fader, Hardie & Lee (2005), equation (6), without the frequency terms.
fn bg_nbd<T: Real>(p: &[T], [x, _, _]: Row, f: &FrequencyTerms<T>, logs: &TimeLogs<T>) -> T {
    let rx = p[0] + c(x);
    let a3 = ln_purchases_to_t(p, x, logs);
    if x > 0.0 {
        let a4 = f.ln_dropout - rx * logs.alpha_tx;
        log_add_exp(a3, a4)
    } else {
        a3
    }
}

/// Batislam, Denizel & Filiztekin (2007): drop-out possible at time zero.
fn mbg_nbd<T: Real>(p: &[T], [x, _, _]: Row, f: &FrequencyTerms<T>, logs: &TimeLogs<T>) -> T {
    let rx = p[0] + c(x);
    let a4 = f.ln_dropout + rx * (logs.alpha_t - logs.alpha_tx);
    ln_purchases_to_t(p, x, logs) + log_add_exp(a4, c(0.0))
}

/// `ln A₀` of Fader & Hardie's Pareto/NBD note (2005), equations (19)-(20):
/// `A₀ = (r + s + x) ∫_{t_x}^{T} (α + τ)^−(r+x) (β + τ)^−(s+1) dτ` (death at τ
/// after the last purchase), for `t_x < T`.
pub(crate) fn pareto_ln_a0<T: Real>(p: &[T], x: f64, tx: f64, big_t: f64) -> T {
    let (r, alpha, s, beta) = (p[0], p[1], p[2], p[3]);
    let (rx, s1) = (r + c(x), s + c(1.0));
    if alpha.value() < beta.value() {
        ln_power_product_integral(alpha, beta, rx, s1, tx, big_t)
    } else {
        ln_power_product_integral(beta, alpha, s1, rx, tx, big_t)
    }
}

/// Schmittlein, Morrison & Colombo (1987), in the form of Fader & Hardie's
/// note, without the frequency terms.
fn pareto_nbd<T: Real>(
    p: &[T],
    [x, tx, big_t]: Row,
    f: &FrequencyTerms<T>,
    logs: &TimeLogs<T>,
) -> T {
    let alive_to_t = ln_purchases_to_t(p, x, logs) - p[2] * logs.beta_t;
    if tx >= big_t {
        // A₀ = 0: the customer bought at the end of observation.
        return alive_to_t;
    }
    let died = f.ln_dropout + pareto_ln_a0(p, x, tx, big_t);
    log_add_exp(alive_to_t, died)
}

/// Fader, Hardie & Shang (2010), equation (5), in log space.
fn bg_bb<T: Real>(p: &[T], [x, tx, n]: Row) -> T {
    let (alpha, beta, gamma, delta) = (p[0], p[1], p[2], p[3]);
    let alive =
        ln_beta_shift(alpha, beta, c(x), c(n - x)) + ln_beta_shift(gamma, delta, c(0.0), c(n));
    let mut total = alive;
    for j in 0..(n - tx) as usize {
        let j = j as f64;
        let term = ln_beta_shift(alpha, beta, c(x), c(tx - x + j))
            + ln_beta_shift(gamma, delta, c(1.0), c(tx + j));
        total = log_add_exp(total, term);
    }
    total
}

/// Shifted-beta-geometric (Fader & Hardie 2007): churn in period `t`, or
/// still active after `t` periods.
fn sbg<T: Real>(p: &[T], [t, churned, _]: Row) -> T {
    let (alpha, beta) = (p[0], p[1]);
    if churned > 0.0 {
        ln_beta_shift(alpha, beta, c(1.0), c(t - 1.0))
    } else {
        ln_beta_shift(alpha, beta, c(0.0), c(t))
    }
}

/// Fader, Hardie & Lee (2005) "RFM and CLV": the mean of `x` Gamma(p, ν)
/// spends with ν ~ Gamma(q, v).
fn gamma_gamma<T: Real>(p: &[T], [x, m, _]: Row) -> T {
    let (pp, q, v) = (p[0], p[1], p[2]);
    let px = pp * c(x);
    let one = c::<T>(1.0);
    ln_gamma_ratio(px, q) - q.ln_gamma() + q * v.ln() + (px - one) * c(m.ln()) + px * c(x.ln())
        - (px + q) * (c::<T>(x * m) + v).ln()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clv::real::Dual;

    #[test]
    fn gradients_match_finite_differences() {
        let cases: [(ModelKind, &[f64], Row); 6] = [
            (
                ModelKind::BetaGeo,
                &[0.24, 4.4, 0.79, 2.4],
                [3.0, 20.0, 38.0],
            ),
            (
                ModelKind::ModifiedBetaGeo,
                &[0.5, 6.2, 0.9, 1.6],
                [2.0, 10.0, 38.0],
            ),
            (
                ModelKind::ParetoNbd,
                &[0.55, 10.6, 0.6, 11.7],
                [4.0, 30.0, 38.0],
            ),
            (
                ModelKind::BetaGeoBetaBinom,
                &[1.2, 0.75, 0.66, 2.8],
                [2.0, 4.0, 6.0],
            ),
            (ModelKind::ShiftedBetaGeo, &[0.7, 1.2], [3.0, 1.0, 0.0]),
            (
                ModelKind::GammaGamma,
                &[6.25, 3.74, 15.44],
                [3.0, 30.0, 0.0],
            ),
        ];
        for (kind, params, row) in cases {
            let duals: Vec<Dual<4>> = params
                .iter()
                .enumerate()
                .map(|(i, &v)| Dual::var(v, i))
                .collect();
            let ll = kind.log_likelihood(&duals, row);
            for i in 0..params.len() {
                let h = 1e-6 * params[i];
                let mut up = params.to_vec();
                up[i] += h;
                let mut down = params.to_vec();
                down[i] -= h;
                let numeric =
                    (kind.log_likelihood(&up, row) - kind.log_likelihood(&down, row)) / (2.0 * h);
                assert!(
                    (ll.d[i] - numeric).abs() < 1e-5 * (1.0 + numeric.abs()),
                    "{kind:?} {i}: {} vs {numeric}",
                    ll.d[i]
                );
            }
        }
    }

    #[test]
    fn no_dropout_gradients_match_finite_differences() {
        let params = [0.7, 65.0];
        let duals = [Dual::<4>::var(params[0], 0), Dual::<4>::var(params[1], 1)];
        let ll = |p: &[f64], row: Row| {
            let likelihood = Likelihood::NoDropout;
            let logs = TimeLogs::new(likelihood, p, row[1], row[2]);
            let f = likelihood.frequency_terms(p, row[0]);
            f.ln_constant + likelihood.ln_history_terms(p, row, &f, &logs)
        };
        for row in [[0.0, 0.0, 40.0], [7.0, 200.5, 370.0]] {
            let logs = TimeLogs::new(Likelihood::NoDropout, &duals, row[1], row[2]);
            let f = Likelihood::NoDropout.frequency_terms(&duals, row[0]);
            let exact =
                f.ln_constant + Likelihood::NoDropout.ln_history_terms(&duals, row, &f, &logs);
            assert!((exact.v - ll(&params, row)).abs() < 1e-12);
            for i in 0..2 {
                let h = 1e-6 * params[i];
                let (mut up, mut down) = (params, params);
                up[i] += h;
                down[i] -= h;
                let numeric = (ll(&up, row) - ll(&down, row)) / (2.0 * h);
                assert!(
                    (exact.d[i] - numeric).abs() < 1e-6 * (1.0 + numeric.abs()),
                    "{row:?} {i}: {} vs {numeric}",
                    exact.d[i]
                );
            }
        }
    }

    #[test]
    fn pareto_nbd_gradients_without_drop_out() {
        // A fit that finds no drop-out (Ta-Feng: s = 1.7e-9, β = 1e5), where
        // the note's series for A₀ needs ~1e5 terms.  s = 1e-4 leaves central
        // differences in s resolvable (at 1.7e-9 a step is lost in s + 1).
        let params = [1.383, 8.427, 1e-4, 103_334.0];
        let duals: Vec<Dual<4>> = params
            .iter()
            .enumerate()
            .map(|(i, &v)| Dual::var(v, i))
            .collect();
        for row in [
            [0.0, 0.0, 17.0],
            [5.0, 3.0, 17.0],
            [29.0, 16.0, 17.0],
            [12.0, 17.0 - 1.0 / 7.0, 17.0],
            [12.0, 17.0 - 0.01, 17.0],
            [3.0, 10.0, 2e5],
        ] {
            let ll = ModelKind::ParetoNbd.log_likelihood(&duals, row);
            for i in 0..4 {
                let f = |h: f64| {
                    let mut v = params;
                    v[i] += h;
                    ModelKind::ParetoNbd.log_likelihood(&v, row)
                };
                // A step in s must not be lost in s + 1.
                let h = if i == 2 { 1e-3 } else { 1e-5 } * params[i];
                let numeric = (f(h) - f(-h)) / (2.0 * h);
                assert!(
                    (ll.d[i] - numeric).abs() < 1e-6 * (1.0 + numeric.abs()),
                    "{row:?} {i}: {} vs {numeric}",
                    ll.d[i]
                );
            }
        }
    }

    #[test]
    fn extreme_customers_have_finite_likelihoods() {
        for row in [
            [5000.0, 2999.0, 3000.0],
            [0.0, 0.0, 1e6],
            [1e5, 1e6, 1e6 + 1.0],
            [300.0, 1.0, 1e5],
        ] {
            for kind in [
                ModelKind::BetaGeo,
                ModelKind::ModifiedBetaGeo,
                ModelKind::ParetoNbd,
            ] {
                let ll = kind.log_likelihood(&[0.55, 10.6, 0.6, 11.7], row);
                // A density in the purchase times: finite, not necessarily below 1.
                assert!(ll.is_finite(), "{kind:?} {row:?}: {ll}");
            }
        }
    }
}

#[cfg(test)]
mod timing {
    use super::*;
    use crate::clv::predict::{
        conditional_expected_purchases, lifetime_value, probability_alive, Discounting,
    };
    use crate::clv::real::Dual;
    use crate::clv::special::ln_a0_by_series;
    use std::time::Instant;

    /// Ta-Feng's fitted Pareto/NBD (no drop-out: s → 0, β huge) and CDNOW's.
    const TA_FENG: [f64; 4] = [1.383, 8.427, 1.71e-9, 103_334.0];
    const CDNOW: [f64; 4] = [0.55, 10.58, 0.61, 11.67];

    /// 28k customers on a weekly grid: x in 0..30, t_x <= T <= 17.
    fn rows() -> Vec<Row> {
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move |n: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % n
        };
        (0..28_000)
            .map(|_| {
                let big_t = (1 + next(119)) as f64 / 7.0;
                let x = next(30) as f64;
                let tx = if x == 0.0 {
                    0.0
                } else {
                    (1 + next((big_t * 7.0).round() as u64)) as f64 / 7.0
                };
                [x, tx.min(big_t), big_t]
            })
            .collect()
    }

    /// The best of `reps` timings of `f`, and its value.
    fn best_of<R>(reps: usize, f: impl Fn() -> R) -> (f64, R) {
        let mut best = f64::INFINITY;
        let mut value = f();
        for _ in 0..reps {
            let start = Instant::now();
            value = f();
            best = best.min(start.elapsed().as_secs_f64());
        }
        (best * 1e3, value)
    }

    /// `cargo test --release --lib clv::models::timing -- --ignored --nocapture`
    #[test]
    #[ignore]
    fn pareto_nbd_timing() {
        let rows = rows();
        let died: Vec<Row> = rows.iter().copied().filter(|r| r[1] < r[2]).collect();
        for (name, p, reps) in [("Ta-Feng", TA_FENG, 1), ("CDNOW", CDNOW, 20)] {
            let (t_a0, a0) = best_of(reps, || {
                died.iter()
                    .map(|r| pareto_ln_a0(&p, r[0], r[1], r[2]))
                    .sum::<f64>()
            });
            // The note's series, as pareto_ln_a0 computed A₀ before.
            let (t_series, by_series) = best_of(reps, || {
                died.iter()
                    .map(|&[x, tx, big_t]| {
                        let [r, alpha, s, beta] = p;
                        let (lo, hi, a, b) = if alpha < beta {
                            (alpha, beta, r + x, s + 1.0)
                        } else {
                            (beta, alpha, s + 1.0, r + x)
                        };
                        ln_a0_by_series(lo, hi, a, b, tx, big_t)
                    })
                    .sum::<f64>()
            });
            let (t_ll, ll) = best_of(20, || {
                rows.iter()
                    .map(|&r| ModelKind::ParetoNbd.log_likelihood(&p, r))
                    .sum::<f64>()
            });
            let duals: Vec<Dual<4>> = p
                .iter()
                .enumerate()
                .map(|(i, &v)| Dual::var(v, i))
                .collect();
            let (t_grad, grad) = best_of(20, || {
                rows.iter()
                    .map(|&r| ModelKind::ParetoNbd.log_likelihood(&duals, r))
                    .fold(Dual::<4>::cst(0.0), |a, b| a + b)
            });
            // What a user asks of the fit: P(alive), the next 10 periods'
            // purchases, and a year's value (12 months of 30/7 weekly periods).
            let (t_predict, predicted) = best_of(reps, || {
                let model = Continuous::ParetoNbd;
                let discounting = Discounting::Monthly {
                    rate: 0.01,
                    periods_per_month: 30.0 / 7.0,
                };
                rows.iter()
                    .map(|&r| {
                        probability_alive(model, &p, r)
                            + conditional_expected_purchases(model, &p, r, 10.0)
                            + lifetime_value(model, &p, r, 1.0, 12, discounting)
                    })
                    .sum::<f64>()
            });
            println!(
                "{name}: P(alive) + E[X(10)] + 12-month CLV for every row {t_predict:.2} ms \
                 (sum {predicted:.13e})"
            );
            println!(
                "{name}, {} rows ({} with t_x < T): ln A0 {t_a0:.2} ms (the series: \
                 {t_series:.2} ms; sums {a0:.13e}, {by_series:.13e}); log-likelihood \
                 {t_ll:.2} ms, with its gradient {t_grad:.2} ms (sum {ll:.13e}, {:?})",
                rows.len(),
                died.len(),
                grad.d
            );
        }
    }
}
