//! A customer's future purchase counts term by term, `P(X(T, T + t) = n |
//! history)` for `n = 0, 1, 2, ...` in turn: what a predictive interval
//! walks through, each next term from the previous ones (the closed forms
//! in [`predict`] sum `n` terms for each `n`, quadratic in the count).
//!
//! BG/NBD and MBG/NBD: see [`BetaGeoCounts`].  Pareto/NBD's closed form ([`predict::pareto_conditional_probability_of_n`])
//! sums `n` hypergeometric terms for each `n`, quadratic in the count and
//! slow where a fit finds almost no drop-out.  Here instead: a customer alive
//! at `T` has `λ ~ Gamma(r + x, α + T)` and `μ ~ Gamma(s, β + T)`, so the
//! remaining lifetime `τ` has `P(τ > u) = (1 + u/(β + T))^−s`, and given `τ`
//! the count is negative binomial with exposure `min(τ, t)`; the integral
//! over `τ < t` is taken by Gauss-Legendre in `y = u/(α + T + u)`, where the
//! negative-binomial term is `(1 − y)^r' y^n` times a constant, so each next
//! `n` costs one multiplication per node.

use std::sync::OnceLock;

use super::models::{Continuous, Row};
use super::predict;

/// Gauss-Legendre nodes: the `y^n` factor is integrated exactly up to
/// `n = 2 NODES − 1`, and beyond it is smooth next to their spacing.
const NODES: usize = 128;

/// Nodes in (−1, 1) and weights of the `NODES`-point Gauss-Legendre rule
/// (Newton's method on the Legendre polynomial from the usual guesses).
fn gauss_legendre() -> &'static [(f64, f64)] {
    static RULE: OnceLock<Vec<(f64, f64)>> = OnceLock::new();
    RULE.get_or_init(|| {
        let n = NODES;
        (0..n)
            .map(|i| {
                let mut x = (std::f64::consts::PI * (i as f64 + 0.75) / (n as f64 + 0.5)).cos();
                let mut derivative = 0.0;
                for _ in 0..100 {
                    let (mut p0, mut p1) = (1.0, x);
                    for k in 2..=n {
                        let k = k as f64;
                        (p0, p1) = (p1, ((2.0 * k - 1.0) * x * p1 - (k - 1.0) * p0) / k);
                    }
                    derivative = n as f64 * (x * p1 - p0) / (x * x - 1.0);
                    let step = p1 / derivative;
                    x -= step;
                    if step.abs() < 1e-16 {
                        break;
                    }
                }
                (x, 2.0 / ((1.0 - x * x) * derivative * derivative))
            })
            .collect()
    })
}

/// `P(X(T, T + t) = n | history)` for `n = 0, 1, 2, ...`, one per call.
pub enum ConditionalCounts<'a> {
    /// No time ahead (`t = 0`): the closed form, `n` by `n`.
    ClosedForm {
        model: Continuous,
        p: &'a [f64],
        row: Row,
        t: f64,
        n: u32,
    },
    /// BG/NBD and MBG/NBD by recursions in `n` (see [`BetaGeoCounts`]).
    BetaGeo(BetaGeoCounts),
    /// Pareto/NBD by quadrature over the remaining lifetime (see the module).
    Pareto(Box<ParetoCounts>),
}

/// BG/NBD's (and MBG/NBD's) counts: a customer alive at `T` buys as a new
/// BG/NBD customer with the posterior `(r + x, α + T, a, b + x)` (MBG/NBD:
/// `b + x + 1`), whose `P(X(t) = n)` is
/// `B(a, b+n)/B(a, b) NB(n) + B(a+1, b+n−1)/B(a, b) P(NB ≥ n)` (Fader, Hardie
/// & Lee 2005): the beta ratios and the negative-binomial terms each follow
/// from the previous `n` by one factor, and `P(NB ≥ n)` is one minus the
/// terms so far (its absolute error, ~1e-16, is what an interval needs).
pub struct BetaGeoCounts {
    alive: f64,
    r: f64,
    a: f64,
    b: f64,
    ln_u: f64,
    n: u32,
    /// `ln NB(n)`, `ln B(a, b+n)/B(a, b)` and `Σ_{j<n} NB(j)`.
    ln_nb: f64,
    ln_first: f64,
    head: f64,
}

impl BetaGeoCounts {
    fn next_term(&mut self) -> f64 {
        let n = self.n as f64;
        let nb = self.ln_nb.exp();
        let mut value = (self.ln_first + self.ln_nb).exp();
        if self.n > 0 {
            // B(a+1, b+n−1)/B(a, b) = a/(a+b+n−1) · B(a, b+n−1)/B(a, b).
            let ab = self.a + self.b + n - 1.0;
            let previous = self.ln_first - ((self.b + n - 1.0) / ab).ln();
            let second = (self.a / ab).ln() + previous;
            value += second.exp() * (1.0 - self.head).max(0.0);
        }
        let dead = if self.n == 0 { 1.0 - self.alive } else { 0.0 };
        self.head += nb;
        self.ln_nb += ((self.r + n) / (n + 1.0)).ln() + self.ln_u;
        self.ln_first += ((self.b + n) / (self.a + self.b + n)).ln();
        self.n += 1;
        (self.alive * value.clamp(0.0, 1.0) + dead).clamp(0.0, 1.0)
    }
}

/// The state of Pareto/NBD's terms.
pub struct ParetoCounts {
    alive: f64,
    /// `ln Γ(r' + n) − ln Γ(r') − ln n!`.
    ln_coefficient: f64,
    r: f64,
    n: u32,
    /// Per node: log of its weighted term without the coefficient, and `ln y`.
    ln_terms: Vec<f64>,
    ln_y: Vec<f64>,
    /// The same for the customers alive through `T + t` (exposure `t`).
    ln_survivor: f64,
    ln_y_survivor: f64,
}

impl<'a> ConditionalCounts<'a> {
    pub fn new(model: Continuous, p: &'a [f64], row: Row, t: f64) -> Self {
        let [x, _, big_t] = row;
        if !(t > 0.0) {
            return ConditionalCounts::ClosedForm {
                model,
                p,
                row,
                t,
                n: 0,
            };
        }
        if model != Continuous::ParetoNbd {
            let (r, alpha) = (p[0] + x, p[1] + big_t);
            return ConditionalCounts::BetaGeo(BetaGeoCounts {
                alive: predict::probability_alive(model, p, row),
                r,
                a: p[2],
                b: p[3] + x + model.kind().dropout_shift(),
                ln_u: (t / (alpha + t)).ln(),
                n: 0,
                ln_nb: r * (alpha / (alpha + t)).ln(),
                ln_first: 0.0,
                head: 0.0,
            });
        }
        let (r, alpha, s, beta) = (p[0] + x, p[1] + big_t, p[2], p[3] + big_t);
        let top = t / (alpha + t);
        let mut ln_terms = Vec::with_capacity(NODES);
        let mut ln_y = Vec::with_capacity(NODES);
        for &(node, weight) in gauss_legendre() {
            let y = 0.5 * top * (1.0 + node);
            let u = alpha * y / (1.0 - y);
            // NB(0; u) · density of τ at u · du/dy, times the weight.
            let ln_one_minus_y = (-y).ln_1p();
            ln_terms.push(
                (0.5 * top * weight).ln() + (r - 2.0) * ln_one_minus_y + s.ln()
                    - beta.ln()
                    - (s + 1.0) * (u / beta).ln_1p()
                    + alpha.ln(),
            );
            ln_y.push(y.ln());
        }
        let ln_survivor = -s * (t / beta).ln_1p() + r * (-top).ln_1p();
        ConditionalCounts::Pareto(Box::new(ParetoCounts {
            alive: predict::probability_alive(model, p, row),
            ln_coefficient: 0.0,
            r,
            n: 0,
            ln_terms,
            ln_y,
            ln_survivor,
            ln_y_survivor: top.ln(),
        }))
    }
}

impl Iterator for ConditionalCounts<'_> {
    type Item = f64;

    fn next(&mut self) -> Option<f64> {
        match self {
            ConditionalCounts::ClosedForm {
                model,
                p,
                row,
                t,
                n,
            } => {
                let value = predict::conditional_probability_of_n(*model, p, *row, *t, *n);
                *n += 1;
                Some(value)
            }
            ConditionalCounts::BetaGeo(c) => Some(c.next_term()),
            ConditionalCounts::Pareto(c) => {
                let peak = c.ln_terms.iter().copied().fold(c.ln_survivor, f64::max);
                let sum = c.ln_terms.iter().map(|l| (l - peak).exp()).sum::<f64>()
                    + (c.ln_survivor - peak).exp();
                let alive = (c.ln_coefficient + peak).exp() * sum;
                let dead = if c.n == 0 { 1.0 - c.alive } else { 0.0 };
                // The next count's terms.
                let n = c.n as f64;
                c.ln_coefficient += ((c.r + n) / (n + 1.0)).ln();
                for (l, ln_y) in c.ln_terms.iter_mut().zip(&c.ln_y) {
                    *l += ln_y;
                }
                c.ln_survivor += c.ln_y_survivor;
                c.n += 1;
                Some((c.alive * alive + dead).clamp(0.0, 1.0))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clv::real::ln_gamma;

    /// `ln Γ(r + n) − ln Γ(r) − ln n!` directly.
    fn ln_nb_coefficient(r: f64, n: f64) -> f64 {
        ln_gamma(r + n) - ln_gamma(r) - ln_gamma(n + 1.0)
    }

    const PARETO: [f64; 4] = [0.553, 10.578, 0.606, 11.669];

    #[test]
    fn pareto_counts_by_quadrature_match_the_closed_form() {
        for p in [PARETO, [1.383, 8.427, 0.05, 300.0], [4.0, 4.0, 0.5, 200.0]] {
            for row in [
                [0.0, 0.0, 38.0],
                [2.0, 30.43, 38.86],
                [7.0, 35.0, 38.0],
                [40.0, 70.0, 75.0],
            ] {
                for t in [1.0, 52.0, 300.0] {
                    let counts = ConditionalCounts::new(Continuous::ParetoNbd, &p, row, t);
                    let mut mass = 0.0;
                    for (n, value) in counts.take(120).enumerate() {
                        let exact =
                            predict::pareto_conditional_probability_of_n(&p, row, t, n as u32);
                        assert!(
                            (value - exact).abs() < 1e-9,
                            "{p:?} {row:?} t={t} n={n}: {value} vs {exact}"
                        );
                        mass += value;
                    }
                    assert!(mass <= 1.0 + 1e-9, "{mass}");
                }
            }
        }
    }

    #[test]
    fn the_coefficient_recursion_is_the_gamma_ratio() {
        let r = 2.7;
        let mut c = 0.0;
        for n in 0..200 {
            assert!((c - ln_nb_coefficient(r, n as f64)).abs() < 1e-9);
            c += ((r + n as f64) / (n as f64 + 1.0)).ln();
        }
    }

    #[test]
    fn beta_geo_counts_by_recursion_match_the_closed_form() {
        for model in [Continuous::BetaGeo, Continuous::ModifiedBetaGeo] {
            for p in [[0.243, 4.414, 0.793, 2.426], [6.0, 3.0, 0.5, 300.0]] {
                for row in [[0.0, 0.0, 38.0], [2.0, 30.43, 38.86], [40.0, 70.0, 75.0]] {
                    for t in [0.0, 1.0, 52.0, 300.0] {
                        let counts = ConditionalCounts::new(model, &p, row, t);
                        for (n, value) in counts.take(300).enumerate() {
                            let exact =
                                predict::conditional_probability_of_n(model, &p, row, t, n as u32);
                            assert!(
                                (value - exact).abs() < 1e-12,
                                "{model:?} {p:?} {row:?} t={t} n={n}: {value} vs {exact}"
                            );
                        }
                    }
                }
            }
        }
    }
}
