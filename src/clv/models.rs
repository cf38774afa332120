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

use super::real::{ln_beta, log_add_exp, log_sub_exp, Real};
use super::special::ln_hyp2f1_c_is_a_plus_1;
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
            TimeLogs::new(self, p, row[1], row[2])
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
                let ln_constant = (r + x_).ln_gamma() - r.ln_gamma()
                    + r * alpha.ln()
                    + (a + b).ln_gamma()
                    + (b + c(x + shift)).ln_gamma()
                    - b.ln_gamma()
                    - (a + b + c(x + shift)).ln_gamma();
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
                    ln_constant: (r + x_).ln_gamma() - r.ln_gamma()
                        + r * alpha.ln()
                        + s * beta.ln(),
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

    /// Check the rows a model is fitted on or predicts for; errors name the
    /// column and the first offending row.
    pub fn validate(self, rows: &[Row]) -> Result<()> {
        let column = |k: usize| self.columns().get(k).copied().unwrap_or("");
        let (c0, c1, c2) = (column(0), column(1), column(2));
        let bad = |col: &str, i: usize, what: &str| {
            Err(Error::column_value(col, format!("{what} (row {i})")))
        };
        for (i, &[a, b, c]) in rows.iter().enumerate() {
            for (value, col) in [(a, c0), (b, c1), (c, c2)] {
                if !col.is_empty() && !value.is_finite() {
                    return bad(col, i, "contains NaN or infinite values");
                }
            }
            match self {
                ModelKind::BetaGeo | ModelKind::ModifiedBetaGeo | ModelKind::ParetoNbd => {
                    if a < 0.0 || b < 0.0 || c < 0.0 {
                        return bad(
                            if a < 0.0 {
                                c0
                            } else if b < 0.0 {
                                c1
                            } else {
                                c2
                            },
                            i,
                            "contains negative values",
                        );
                    }
                    if b > c {
                        return bad(c1, i, "is greater than T");
                    }
                    if a > 0.0 && b == 0.0 && self != ModelKind::ModifiedBetaGeo {
                        return bad(
                            c1,
                            i,
                            "is 0 for a customer with repeat purchases (frequency > 0)",
                        );
                    }
                    if a == 0.0 && b != 0.0 {
                        return bad(c1, i, "is not 0 for a customer without repeat purchases");
                    }
                }
                ModelKind::BetaGeoBetaBinom => {
                    if a < 0.0
                        || b < 0.0
                        || a.fract() != 0.0
                        || b.fract() != 0.0
                        || c.fract() != 0.0
                    {
                        return bad(c0, i, "must hold non-negative whole numbers of periods");
                    }
                    if a > b || b > c {
                        return bad(c1, i, "must satisfy frequency <= recency <= periods");
                    }
                    if a > 0.0 && b == 0.0 {
                        return bad(c1, i, "is 0 for a customer with repeat transactions");
                    }
                }
                ModelKind::ShiftedBetaGeo => {
                    if a < 1.0 || a.fract() != 0.0 {
                        return bad(c0, i, "must hold whole numbers of periods >= 1");
                    }
                    if b != 0.0 && b != 1.0 {
                        return bad(c1, i, "must be 0/1 (or False/True)");
                    }
                }
                ModelKind::GammaGamma => {
                    if a <= 0.0 {
                        return bad(
                            c0,
                            i,
                            "must be > 0: Gamma-Gamma uses customers with repeat purchases only",
                        );
                    }
                    if b < 0.0 {
                        return bad(c1, i, "must be >= 0 (mean spend of repeat purchases)");
                    }
                }
            }
        }
        Ok(())
    }
}

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
    pub fn new(kind: ModelKind, p: &[T], tx: f64, big_t: f64) -> Self {
        TimeLogs {
            alpha_tx: Self::alpha(p, tx),
            alpha_t: Self::alpha(p, big_t),
            beta_t: Self::beta(kind, p, big_t),
        }
    }

    /// `ln(α + t)` (α is the second parameter of every continuous model).
    pub fn alpha(p: &[T], t: f64) -> T {
        (p[1] + c(t)).ln()
    }

    /// `ln(β + t)` for Pareto/NBD, 0 otherwise.
    pub fn beta(kind: ModelKind, p: &[T], t: f64) -> T {
        if kind == ModelKind::ParetoNbd {
            (p[3] + c(t)).ln()
        } else {
            c(0.0)
        }
    }
}

fn c<T: Real>(v: f64) -> T {
    T::cst(v)
}

/// Fader, Hardie & Lee (2005), equation (6), without the frequency terms.
fn bg_nbd<T: Real>(p: &[T], [x, _, _]: Row, f: &FrequencyTerms<T>, logs: &TimeLogs<T>) -> T {
    let rx = p[0] + c(x);
    let a3 = -rx * logs.alpha_t;
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
    -rx * logs.alpha_t + log_add_exp(a4, c(0.0))
}

/// `ln A₀` of Fader & Hardie's Pareto/NBD note (2005), equations (19)-(20).
pub(crate) fn pareto_ln_a0<T: Real>(p: &[T], x: f64, tx: f64, big_t: f64) -> T {
    let (r, alpha, s, beta) = (p[0], p[1], p[2], p[3]);
    let one = c::<T>(1.0);
    let (lo, hi, t) = if alpha.value() < beta.value() {
        (alpha, beta, r + c(x))
    } else {
        (beta, alpha, s + one)
    };
    let gap = hi - lo;
    let rsx = r + s + c(x);
    let q1 = hi + c(tx);
    let q2 = hi + c(big_t);
    let l1 = ln_hyp2f1_c_is_a_plus_1(rsx, t, gap / q1) - rsx * q1.ln();
    let l2 = ln_hyp2f1_c_is_a_plus_1(rsx, t, gap / q2) - rsx * q2.ln();
    log_sub_exp(l1, l2)
}

/// Schmittlein, Morrison & Colombo (1987), in the form of Fader & Hardie's
/// note, without the frequency terms.
fn pareto_nbd<T: Real>(
    p: &[T],
    [x, tx, big_t]: Row,
    f: &FrequencyTerms<T>,
    logs: &TimeLogs<T>,
) -> T {
    let (r, s) = (p[0], p[2]);
    let rx = r + c(x);
    let alive_to_t = -rx * logs.alpha_t - s * logs.beta_t;
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
    let x_ = c::<T>(x);
    let lb_ab = ln_beta(alpha, beta);
    let lb_gd = ln_beta(gamma, delta);
    let alive = ln_beta(alpha + x_, beta + c(n - x)) - lb_ab + ln_beta(gamma, delta + c(n)) - lb_gd;
    let mut total = alive;
    let one = c::<T>(1.0);
    for j in 0..(n - tx) as usize {
        let j = j as f64;
        let term = ln_beta(alpha + x_, beta + c(tx - x + j))
            + ln_beta(gamma + one, delta + c(tx + j))
            - lb_ab
            - lb_gd;
        total = log_add_exp(total, term);
    }
    total
}

/// Shifted-beta-geometric (Fader & Hardie 2007): churn in period `t`, or
/// still active after `t` periods.
fn sbg<T: Real>(p: &[T], [t, churned, _]: Row) -> T {
    let (alpha, beta) = (p[0], p[1]);
    let one = c::<T>(1.0);
    if churned > 0.0 {
        ln_beta(alpha + one, beta + c(t - 1.0)) - ln_beta(alpha, beta)
    } else {
        ln_beta(alpha, beta + c(t)) - ln_beta(alpha, beta)
    }
}

/// Fader, Hardie & Lee (2005) "RFM and CLV": the mean of `x` Gamma(p, ν)
/// spends with ν ~ Gamma(q, v).
fn gamma_gamma<T: Real>(p: &[T], [x, m, _]: Row) -> T {
    let (pp, q, v) = (p[0], p[1], p[2]);
    let px = pp * c(x);
    let one = c::<T>(1.0);
    (px + q).ln_gamma() - px.ln_gamma() - q.ln_gamma()
        + q * v.ln()
        + (px - one) * c(m.ln())
        + px * c(x.ln())
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
