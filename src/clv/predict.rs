//! Predictions of the fitted models, one customer at a time; the callers
//! map them over customers in parallel with [`map_rows`].
//!
//! Formulas follow the papers and give lifetimes' numbers: BG/NBD (Fader,
//! Hardie & Lee 2005), MBG/NBD (Batislam et al. 2007), Pareto/NBD (Fader &
//! Hardie's 2005 note), BG/BB (Fader, Hardie & Shang 2010), shifted-beta-
//! geometric (Fader & Hardie 2007), Gamma-Gamma (Fader, Hardie & Lee 2005).

use rayon::prelude::*;

use super::models::{pareto_ln_a0, Continuous, ModelKind, Row};
use super::real::{digamma, ln_beta, ln_beta_shift, ln_gamma, ln_gamma_ratio};
use super::special::ln_hyp2f1;

/// Apply `f` to every row in parallel, preserving order.
pub fn map_rows<F: Fn(Row) -> f64 + Sync>(rows: &[Row], f: F) -> Vec<f64> {
    rows.par_iter().with_min_len(1024).map(|r| f(*r)).collect()
}

/// `E[X(T, T + t) | x, t_x, T]`: purchases in the next `t` periods of a
/// customer with this history.
pub fn conditional_expected_purchases(model: Continuous, p: &[f64], row: Row, t: f64) -> f64 {
    let [x, tx, big_t] = row;
    match model {
        Continuous::BetaGeo | Continuous::ModifiedBetaGeo => {
            beta_geo_expected_numerator(model, p, x, big_t, t)
                / beta_geo_expected_denominator(model, p, x, tx, big_t)
        }
        Continuous::ParetoNbd => {
            let (r, alpha, s, beta) = (p[0], p[1], p[2], p[3]);
            let ll = ModelKind::ParetoNbd.log_likelihood(p, row);
            let first = ln_gamma(r + x) - ln_gamma(r) + r * alpha.ln() + s * beta.ln()
                - (r + x) * (alpha + big_t).ln()
                - s * (beta + big_t).ln();
            let second = (r + x).ln() + (beta + big_t).ln() - (alpha + big_t).ln();
            // (1 - ((β+T)/(β+T+t))^(s-1)) / (s-1), continuous at s = 1.
            let ln_ratio = ((beta + big_t) / (beta + big_t + t)).ln();
            let third = if (s - 1.0).abs() < 1e-12 {
                -ln_ratio
            } else {
                -((s - 1.0) * ln_ratio).exp_m1() / (s - 1.0)
            };
            (first + second + third.ln() - ll).exp()
        }
    }
}

/// BG/NBD's and MBG/NBD's conditional expectation is this numerator, which
/// holds the hypergeometric function and depends on `(x, T, t)` only, over
/// [`beta_geo_expected_denominator`]: customers who share `x` and `T` (many,
/// in whole periods) share the costly part.
pub fn beta_geo_expected_numerator(
    model: Continuous,
    p: &[f64],
    x: f64,
    big_t: f64,
    t: f64,
) -> f64 {
    let (r, alpha, a, b) = (p[0], p[1], p[2], p[3]);
    let shift = model.kind().dropout_shift();
    let c = a + b + x - 1.0 + shift;
    let z = t / (alpha + big_t + t);
    let (ln_h, sign) = ln_hyp2f1(r + x, b + x + shift, c, z);
    let second = 1.0 - sign * (ln_h + (r + x) * ((alpha + big_t) / (alpha + t + big_t)).ln()).exp();
    c / (a - 1.0) * second
}

/// See [`beta_geo_expected_numerator`].
pub fn beta_geo_expected_denominator(
    model: Continuous,
    p: &[f64],
    x: f64,
    tx: f64,
    big_t: f64,
) -> f64 {
    let (r, alpha, a, b) = (p[0], p[1], p[2], p[3]);
    let shift = model.kind().dropout_shift();
    if x > 0.0 || shift > 0.0 {
        1.0 + (a / (b + x - 1.0 + shift)) * ((alpha + big_t) / (alpha + tx)).powf(r + x)
    } else {
        1.0
    }
}

/// Probability that a customer with this history is still alive.
pub fn probability_alive(model: Continuous, p: &[f64], row: Row) -> f64 {
    let [x, tx, big_t] = row;
    match model {
        Continuous::BetaGeo => {
            if x == 0.0 {
                return 1.0;
            }
            let (r, alpha, a, b) = (p[0], p[1], p[2], p[3]);
            let log_div =
                (r + x) * ((alpha + big_t) / (alpha + tx)).ln() + (a / (b + x - 1.0)).ln();
            1.0 / (1.0 + log_div.exp())
        }
        Continuous::ModifiedBetaGeo => {
            let (r, alpha, a, b) = (p[0], p[1], p[2], p[3]);
            1.0 / (1.0 + (a / (b + x)) * ((alpha + big_t) / (alpha + tx)).powf(r + x))
        }
        Continuous::ParetoNbd => {
            let (r, alpha, s, beta) = (p[0], p[1], p[2], p[3]);
            if tx >= big_t {
                return 1.0;
            }
            let ln_a0 = pareto_ln_a0(p, x, tx, big_t);
            let z = s.ln() - (r + s + x).ln()
                + (r + x) * (alpha + big_t).ln()
                + s * (beta + big_t).ln()
                + ln_a0;
            1.0 / (1.0 + z.exp())
        }
    }
}

/// `E[X(t)]` for a customer just acquired.
pub fn expected_purchases_new(model: Continuous, p: &[f64], t: f64) -> f64 {
    match model {
        Continuous::BetaGeo | Continuous::ModifiedBetaGeo => {
            let (r, alpha, a, b) = (p[0], p[1], p[2], p[3]);
            let shift = model.kind().dropout_shift();
            let (ln_h, sign) = ln_hyp2f1(r, b + shift, a + b - 1.0 + shift, t / (alpha + t));
            let lead = if shift > 0.0 {
                b / (a - 1.0)
            } else {
                (a + b - 1.0) / (a - 1.0)
            };
            lead * (1.0 - sign * (ln_h + r * (alpha / (alpha + t)).ln()).exp())
        }
        Continuous::ParetoNbd => {
            let (r, alpha, s, beta) = (p[0], p[1], p[2], p[3]);
            let ln_ratio = (beta / (beta + t)).ln();
            let tail = if (s - 1.0).abs() < 1e-12 {
                -ln_ratio
            } else {
                -((s - 1.0) * ln_ratio).exp_m1() / (s - 1.0)
            };
            r * beta / alpha * tail
        }
    }
}

/// `(1 − Γ(u + g − 1)Γ(v) / (Γ(u)Γ(v + g − 1))) / (g − 1)` for `v > u`, as it
/// appears in BG/BB's expectations: the difference of two gamma ratios over
/// `g − 1` (their signs agree), in log space so that neither the ratios
/// (tiny for large parameters) nor their difference (near 0 for tiny
/// horizons) lose precision; the limit `ln(v/u)`-like at `g = 1`.
fn bgbb_ratio_gap(u: f64, v: f64, g: f64) -> f64 {
    let d = g - 1.0;
    if d.abs() < 1e-10 {
        return digamma(v) - digamma(u);
    }
    // ln of Γ(u + d)/Γ(u) and Γ(v + d)/Γ(v).
    let (at_u, at_v) = (ln_gamma_ratio(u, d), ln_gamma_ratio(v, d));
    (-(at_u - at_v).exp_m1() / d).max(0.0)
}

/// BG/BB `E[X(n, n + t) | x, t_x, n]`: transactions in the next `t`
/// opportunities.
pub fn bgbb_conditional_expected_purchases(p: &[f64], row: Row, t: f64) -> f64 {
    let [x, _, n] = row;
    let (alpha, beta, gamma, delta) = (p[0], p[1], p[2], p[3]);
    let ll = ModelKind::BetaGeoBetaBinom.log_likelihood(p, row);
    // Fader, Hardie & Shang (2010), eq. 13, each beta and gamma ratio as a shift.
    let alive_and_rate = ln_beta_shift(alpha, beta, x + 1.0, n - x);
    let (u, v) = (1.0 + delta + n, 1.0 + delta + n + t);
    // Γ(γ+δ)/Γ(1+δ) · Γ(1+δ+n)/Γ(γ+δ+n): the survival to now, per unit δ.
    let lead = ln_gamma_ratio(1.0 + delta, gamma - 1.0) - ln_gamma_ratio(u, gamma - 1.0);
    ((alive_and_rate + lead - ll).exp() * delta * bgbb_ratio_gap(u, v, gamma)).max(0.0)
}

/// BG/BB probability of being alive `t` opportunities after the last one seen.
pub fn bgbb_probability_alive(p: &[f64], row: Row, t: f64) -> f64 {
    let [x, _, n] = row;
    let (alpha, beta, gamma, delta) = (p[0], p[1], p[2], p[3]);
    let p1 = ln_beta_shift(alpha, beta, x, n - x);
    let p2 = ln_beta_shift(gamma, delta, 0.0, n + t);
    (p1 + p2 - ModelKind::BetaGeoBetaBinom.log_likelihood(p, row))
        .exp()
        .clamp(0.0, 1.0)
}

/// BG/BB `E[X(t)]`: transactions of a new customer in its first `t` opportunities.
pub fn bgbb_expected_purchases_new(p: &[f64], t: f64) -> f64 {
    let (alpha, beta, gamma, delta) = (p[0], p[1], p[2], p[3]);
    alpha / (alpha + beta) * delta * bgbb_ratio_gap(1.0 + delta, 1.0 + delta + t, gamma)
}

/// `P(X(t) = n)` for a new customer.
pub fn probability_of_n_purchases(model: Continuous, p: &[f64], t: f64, n: u32) -> f64 {
    match model {
        // A customer with no history yet: the conditional pmf at T = 0.
        Continuous::ParetoNbd => pareto_conditional_probability_of_n(p, [0.0; 3], t, n),
        Continuous::BetaGeo | Continuous::ModifiedBetaGeo => {
            beta_geo_probability_of_n(p, model.kind().dropout_shift(), t, n)
        }
    }
}

/// BG/NBD's (shift 0) or MBG/NBD's (shift 1) `P(X(t) = n)` for a new
/// customer with parameters `p = (r, α, a, b)` (Fader, Hardie & Lee 2005).
fn beta_geo_probability_of_n(p: &[f64], shift: f64, t: f64, n: u32) -> f64 {
    let (r, alpha, a, b) = (p[0], p[1], p[2], p[3]);
    let nf = n as f64;
    let ln_q = (alpha / (alpha + t)).ln();
    let ln_u = (t / (alpha + t)).ln();
    // ln[Γ(r+j) / (Γ(r) j!)] + j ln u + r ln q: the negative-binomial pmf.
    let nb = |j: f64| {
        ln_gamma_ratio(r, j) - ln_gamma(j + 1.0) + if j > 0.0 { j * ln_u } else { 0.0 } + r * ln_q
    };
    let first = (ln_beta_shift(a, b, 0.0, nf + shift) + nb(nf)).exp();
    if n == 0 && shift == 0.0 {
        return first.clamp(0.0, 1.0);
    }
    // P(NB ≥ n): one minus the head, or (past the median, where that
    // subtraction would cancel) the tail summed directly.  Both sums stop
    // once past the mode the terms no longer count.
    let mode = ((r - 1.0) * t / alpha).max(0.0);
    let negligible = |j: f64, term: f64, sum: f64| j > mode && term <= 1e-17 * sum;
    let mut head = 0.0;
    for j in 0..n {
        let term = nb(j as f64).exp();
        head += term;
        if negligible(j as f64, term, head) {
            break;
        }
    }
    let tail = if head < 0.5 {
        1.0 - head
    } else {
        let mut tail = 0.0;
        for j in n.. {
            let term = nb(j as f64).exp();
            tail += term;
            if negligible(j as f64, term, tail) || j - n > 1_000_000 {
                break;
            }
        }
        tail
    };
    let second = ln_beta_shift(a, b, 1.0, nf - 1.0 + shift).exp() * tail.max(0.0);
    (first + second).clamp(0.0, 1.0)
}

/// `P(X(T, T + t) = n | x, t_x, T)`: probability of exactly `n` purchases in
/// the next `t` periods of a customer with this history.
///
/// Pareto/NBD: Fader & Hardie's conditional PMF.  BG/NBD and MBG/NBD: a
/// customer alive at `T` has the posterior λ ~ Gamma(r + x, α + T) and
/// p ~ Beta(a, b + x) (MBG/NBD: b + x + 1, having also survived the start),
/// and from then on buys as a new BG/NBD customer with those parameters; a
/// customer who has dropped out buys nothing.  So the PMF is P(alive) times
/// the new-customer PMF at the posterior parameters, plus 1 − P(alive) at 0.
pub fn conditional_probability_of_n(model: Continuous, p: &[f64], row: Row, t: f64, n: u32) -> f64 {
    match model {
        Continuous::ParetoNbd => pareto_conditional_probability_of_n(p, row, t, n),
        Continuous::BetaGeo | Continuous::ModifiedBetaGeo => {
            if !(t > 0.0) {
                return if n == 0 { 1.0 } else { 0.0 };
            }
            let [x, _, big_t] = row;
            let alive = probability_alive(model, p, row);
            let shift = model.kind().dropout_shift();
            let posterior = [p[0] + x, p[1] + big_t, p[2], p[3] + x + shift];
            let dead = if n == 0 { 1.0 - alive } else { 0.0 };
            (alive * beta_geo_probability_of_n(&posterior, 0.0, t, n) + dead).clamp(0.0, 1.0)
        }
    }
}

/// `P(X(T, T + t) = n | x, t_x, T)`: probability of exactly `n` purchases
/// in the next `t` periods of a Pareto/NBD customer with this history (Fader
/// & Hardie 2006, "Deriving the conditional PMF of the Pareto/NBD model",
/// equation 16), with every term in log space.
pub fn pareto_conditional_probability_of_n(p: &[f64], row: Row, t: f64, n: u32) -> f64 {
    if !(t > 0.0) {
        return if n == 0 { 1.0 } else { 0.0 };
    }
    let [x, _, big_t] = row;
    let (r, alpha, s, beta) = (p[0], p[1], p[2], p[3]);
    let nf = n as f64;
    let ln_l = ModelKind::ParetoNbd.log_likelihood(p, row);
    let (lo, hi) = if alpha < beta {
        (alpha, beta)
    } else {
        (beta, alpha)
    };
    let b = if alpha < beta { r + x + nf } else { s + 1.0 };
    let c = r + s + x + nf + 1.0;
    let common = r * alpha.ln() + s * beta.ln() - ln_gamma(r) - ln_l;
    let ln_alive =
        ln_gamma(r + x) + common - (r + x) * (alpha + big_t).ln() - s * (beta + big_t).ln();
    let alive_and_n = nf * t.ln() - ln_gamma(nf + 1.0) + ln_gamma(r + x + nf) + common
        - (r + x + nf) * (alpha + big_t + t).ln()
        - s * (beta + big_t + t).ln();
    // The terms of customers who die within the window, B(i, horizon).
    let ln_b = |i: f64, horizon: f64| {
        let a = r + s + x + i;
        let (ln_f, _) = ln_hyp2f1(a, b, c, (hi - lo) / (hi + horizon));
        common + ln_gamma(a) + ln_beta(r + x + nf, s + 1.0) - ln_gamma(s) + ln_f
            - a * (hi + horizon).ln()
    };
    let died_after_t = ln_b(0.0, big_t);
    // The terms rise to a peak and then fall like a Poisson pmf: once past
    // the peak they stop counting (n can be far beyond the purchases anyone
    // makes).
    let mut died_before = f64::NEG_INFINITY;
    let mut peak = f64::NEG_INFINITY;
    for i in 0..=n {
        let i = i as f64;
        let v = i * t.ln() - ln_gamma(i + 1.0) + ln_b(i, big_t + t);
        let m = died_before.max(v);
        died_before = m + ((died_before - m).exp() + (v - m).exp()).ln();
        peak = peak.max(v);
        if v < peak - 50.0 && v < died_before - 50.0 {
            break;
        }
    }
    let dead_already = if n == 0 { -ln_alive.exp_m1() } else { 0.0 };
    // The two death terms nearly cancel: subtract them relative to the larger.
    let dying = died_after_t.exp() * -(died_before - died_after_t).exp_m1();
    (dead_already + alive_and_n.exp() + dying).clamp(0.0, 1.0)
}

/// Gamma-Gamma `E[Z | x, m̄]`: the expected mean spend of a customer with `x`
/// repeat purchases of mean value `m̄` (the population mean when `x = 0`).
pub fn expected_average_spend(p: &[f64], x: f64, m: f64) -> f64 {
    let (pp, q, v) = (p[0], p[1], p[2]);
    let weight = pp * x / (pp * x + q - 1.0);
    let population = v * pp / (q - 1.0);
    (1.0 - weight) * population + if x > 0.0 { weight * m } else { 0.0 }
}

/// Shifted-beta-geometric survival `S(t)`: the share of a cohort still active
/// after `t` periods.
pub fn sbg_survival(p: &[f64], t: f64) -> f64 {
    // B(α, β + t) / B(α, β) = Γ(β+t)Γ(α+β) / (Γ(β)Γ(α+β+t)), as ratios of
    // gammas a shift apart: accurate for large parameters and long horizons.
    let (alpha, beta) = (p[0], p[1]);
    (ln_gamma_ratio(beta, alpha) - ln_gamma_ratio(beta + t, alpha))
        .exp()
        .clamp(0.0, 1.0)
}

/// Shifted-beta-geometric retention rate `r(t) = S(t) / S(t - 1)`.
pub fn sbg_retention(p: &[f64], t: f64) -> f64 {
    (p[1] + t - 1.0) / (p[0] + p[1] + t - 1.0)
}

/// How future cash flows are discounted in [`lifetime_value`].
#[derive(Debug, Clone, Copy)]
pub enum Discounting {
    /// lifetimes' convention: purchases of month `i` (of `periods_per_month`
    /// model periods) discounted by `(1 + rate)^-i`.
    Monthly { rate: f64, periods_per_month: f64 },
    /// Continuous discounting `e^(-rate τ)`, `τ` in months, integrated on
    /// `steps_per_month` sub-intervals per month (midpoint rule).
    Continuous {
        rate: f64,
        periods_per_month: f64,
        steps_per_month: usize,
    },
}

/// Discounted value of the purchases over the next `months` of a customer
/// with history `row`, each worth `spend`.
pub fn lifetime_value(
    model: Continuous,
    p: &[f64],
    row: Row,
    spend: f64,
    months: usize,
    discounting: Discounting,
) -> f64 {
    let expected = |t: f64| conditional_expected_purchases(model, p, row, t);
    spend * discounted(expected, months, discounting)
}

/// Discounted purchases over the next `months`, from `expected(t)`, the
/// expected purchases in the next `t` periods.
pub fn discounted(expected: impl Fn(f64) -> f64, months: usize, discounting: Discounting) -> f64 {
    let (rate, per_month, steps) = match discounting {
        Discounting::Monthly {
            rate,
            periods_per_month,
        } => (rate, periods_per_month, 1),
        Discounting::Continuous {
            rate,
            periods_per_month,
            steps_per_month,
        } => (rate, periods_per_month, steps_per_month),
    };
    let dt = per_month / steps as f64;
    let mut total = 0.0;
    let mut previous = 0.0;
    for k in 1..=months * steps {
        let now = expected(k as f64 * dt);
        let factor = match discounting {
            Discounting::Monthly { .. } => (1.0 + rate).powf(-(k as f64)),
            Discounting::Continuous { .. } => (-rate * (k as f64 - 0.5) / steps as f64).exp(),
        };
        total += (now - previous) * factor;
        previous = now;
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    const BG: [f64; 4] = [0.243, 4.414, 0.793, 2.426];
    const PARETO: [f64; 4] = [0.553, 10.578, 0.606, 11.669];

    #[test]
    fn new_customer_purchases_integrate_the_distribution() {
        for model in [Continuous::BetaGeo, Continuous::ModifiedBetaGeo] {
            let t = 39.0;
            let mut mean = 0.0;
            let mut mass = 0.0;
            for n in 0..400 {
                let pn = probability_of_n_purchases(model, &BG, t, n);
                mean += n as f64 * pn;
                mass += pn;
            }
            assert!((mass - 1.0).abs() < 1e-9, "{model:?} {mass}");
            let expected = expected_purchases_new(model, &BG, t);
            assert!(
                (mean - expected).abs() < 1e-7 * expected,
                "{model:?} {mean} vs {expected}"
            );
        }
    }

    #[test]
    fn conditional_counts_sum_to_one_with_the_conditional_mean() {
        for (model, p) in [
            (Continuous::BetaGeo, &BG[..]),
            (Continuous::ModifiedBetaGeo, &BG[..]),
            (Continuous::ParetoNbd, &PARETO[..]),
        ] {
            for row in [[2.0, 30.43, 38.86], [0.0, 0.0, 38.0], [7.0, 35.0, 38.0]] {
                let t = 52.0;
                let (mut mass, mut mean) = (0.0, 0.0);
                for n in 0..500 {
                    let pn = conditional_probability_of_n(model, p, row, t, n);
                    assert!((0.0..=1.0).contains(&pn), "{model:?} {row:?} {n} {pn}");
                    mass += pn;
                    mean += n as f64 * pn;
                }
                let expected = conditional_expected_purchases(model, p, row, t);
                assert!((mass - 1.0).abs() < 1e-8, "{model:?} {row:?} {mass}");
                assert!(
                    (mean - expected).abs() < 1e-6 * expected.max(1e-3),
                    "{model:?} {row:?} {mean} vs {expected}"
                );
            }
        }
    }

    #[test]
    fn conditional_expectation_of_a_new_customer_is_the_unconditional_one() {
        // A customer observed for no time carries no information.
        for (model, p) in [
            (Continuous::BetaGeo, &BG[..]),
            (Continuous::ParetoNbd, &PARETO[..]),
        ] {
            let c = conditional_expected_purchases(model, p, [0.0, 0.0, 1e-9], 10.0);
            let u = expected_purchases_new(model, p, 10.0);
            assert!((c - u).abs() < 1e-6 * u, "{model:?} {c} {u}");
        }
    }

    #[test]
    fn extreme_customers_get_finite_predictions() {
        for row in [[5000.0, 2999.0, 3000.0], [0.0, 0.0, 1e6], [300.0, 1.0, 1e5]] {
            for (model, p) in [
                (Continuous::BetaGeo, &BG[..]),
                (Continuous::ParetoNbd, &PARETO[..]),
            ] {
                let e = conditional_expected_purchases(model, p, row, 52.0);
                let alive = probability_alive(model, p, row);
                assert!(e.is_finite() && e >= 0.0, "{model:?} {row:?} {e}");
                assert!((0.0..=1.0).contains(&alive), "{model:?} {row:?} {alive}");
            }
        }
    }

    #[test]
    fn shifted_beta_geometric_survival_and_retention_agree() {
        let p = [0.704, 1.182];
        for t in 1..10 {
            let t = t as f64;
            let ratio = sbg_survival(&p, t) / sbg_survival(&p, t - 1.0);
            assert!((ratio - sbg_retention(&p, t)).abs() < 1e-12);
        }
    }
}
