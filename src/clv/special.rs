//! The Gauss hypergeometric function, summed in log space, and the
//! Pareto/NBD death integral built on it.

use super::real::{ln_gamma, log_add_exp, log_sub_exp, Real};

/// `ln |₂F₁(a, b; c; z)|` and the sign of ₂F₁, for `0 <= z < 1`.
///
/// The Gauss series is summed with its partial sum rescaled whenever it
/// grows large, so customers with thousands of purchases (where single terms
/// overflow `f64`) still get finite logs.  Generic over [`Real`], so the
/// derivative with respect to the parameters comes with it.
pub fn ln_hyp2f1<T: Real>(a: T, b: T, c: T, z: T) -> (T, f64) {
    const MAX_TERMS: usize = 1_000_000;
    const RESCALE_AT: f64 = 1e200;
    let one = T::cst(1.0);
    let mut term = one;
    let mut sum = one;
    let mut log_scale = 0.0;
    for n in 0..MAX_TERMS {
        let k = T::cst(n as f64);
        let ratio = (a + k) * (b + k) / ((c + k) * (k + one)) * z;
        term = term * ratio;
        sum = sum + term;
        let (t, s) = (term.value().abs(), sum.value().abs());
        if !(t.is_finite() && s.is_finite()) {
            break;
        }
        if s > RESCALE_AT || t > RESCALE_AT {
            let shrink = s.max(t).ln();
            term = term * T::cst((-shrink).exp());
            sum = sum * T::cst((-shrink).exp());
            log_scale += shrink;
        }
        // Stop once the terms are decreasing and negligible.
        if ratio.value().abs() < 1.0 && t <= 1e-17 * s {
            break;
        }
        if t == 0.0 {
            break;
        }
    }
    let sign = if sum.value() < 0.0 { -1.0 } else { 1.0 };
    let abs = if sign < 0.0 { -sum } else { sum };
    (abs.ln() + T::cst(log_scale), sign)
}

/// `ln ₂F₁(a, b; a + 1; z)` for `a, b > 0` and `0 <= z < 1`, through Euler's
/// transformation `(1 - z)^(1 - b) ₂F₁(1, a + 1 - b; a + 1; z)`, whose series
/// has positive, geometrically decreasing terms (the Pareto/NBD case).
pub fn ln_hyp2f1_c_is_a_plus_1<T: Real>(a: T, b: T, z: T) -> T {
    let one = T::cst(1.0);
    let (ln_series, _) = ln_hyp2f1(one, a + one - b, a + one, z);
    (one - b) * (-z).ln_1p() + ln_series
}

/// `ln [(p + q − 1) ∫_{y1}^{y2} (lo + τ)^(−p) (hi + τ)^(−q) dτ]` for
/// `0 < lo <= hi`, `p, q > 0` and `0 <= y1 < y2`: Pareto/NBD's `A₀` (Fader &
/// Hardie's note, equations 19-20) with `lo, hi = min, max(α, β)` and `p` the
/// exponent of `lo + τ` (`r + x` when `α < β`, else `s + 1`).
///
/// With `w = (lo + τ)/(hi + τ)` the integral is
/// `(hi − lo)^(1−p−q) ∫_{w1}^{w2} w^(−p) (1 − w)^(p+q−2) dw`.  Near `w = 1`
/// (α and β alike, or late in a long history) the note's ₂F₁ series in
/// `z = 1 − w` is fast; near `w = 0` (one rate far below the other, as when
/// a fit finds no drop-out: s → 0, β → ∞) it needs ~40/w terms, and there
/// the binomial series of `(1 − w)^(p+q−2)` in `w` is integrated term by term
/// instead (see [`ln_small_w_integral`]).  The interval is split at a `w_c`
/// that keeps that alternating series free of cancellation.  Intervals short
/// next to the integrand's scales (`t_x` close to `T`), where both forms
/// would subtract nearly equal ends, are integrated by Gauss-Legendre.
///
/// Generic over [`Real`]; every branch is an exact representation (the
/// branch choice and `w_c` depend on values only), so derivatives are those
/// of `A₀`.  The one slow corner left is the note's form with `q` large and
/// `p` small (`α ≫ β` and thousands of purchases), ~`40 q/(2.5 + p)` terms,
/// as before.
pub fn ln_power_product_integral<T: Real>(lo: T, hi: T, p: T, q: T, y1: f64, y2: f64) -> T {
    let one = T::cst(1.0);
    let a = p + q - one;
    let m = (a - one).value();
    // Below w_c the w-series: its alternating terms cancel at most
    // ~e^(2 m w_c), and above SERIES_FROM the ₂F₁ series (~40/w cheap terms)
    // costs less than it (each term an exp and a log).
    let w_c = (SMALL_W_REACH / m.abs()).min(SERIES_FROM);
    let (lo1, hi1) = (lo.value() + y1, hi.value() + y1);
    let span = y2 - y1;
    if span * p.value().max(1.0) <= SHORT * lo1 && span * q.value().max(1.0) <= SHORT * hi1 {
        // A short interval, where the forms below would take the difference
        // of nearly equal ends (losing a factor ~1/SHORT, or more, of their
        // precision).
        return a.ln() + ln_short_interval_integral(lo, hi, p, q, y1, y2);
    }
    let (c1, c2) = (hi + T::cst(y1), hi + T::cst(y2));
    let gap = hi - lo;
    // The note's form: the difference of a ₂F₁ term at each end.
    let z_term = |z: T, ln_hi_plus_y: T| ln_hyp2f1_c_is_a_plus_1(a, p, z) - a * ln_hi_plus_y;
    if lo1 >= w_c * hi1 {
        // w1 >= w_c
        let l1 = z_term(gap / c1, c1.ln());
        let l2 = z_term(gap / c2, c2.ln());
        return log_sub_exp(l1, l2);
    }
    let w1 = (lo + T::cst(y1)) / c1;
    let w2 = (lo + T::cst(y2)) / c2;
    let scale = a.ln() - a * gap.ln();
    if w2.value() <= w_c {
        // ln(w2/w1), accurate also for y2 close to y1.
        let span = T::cst(span);
        let ln_ratio = (span / (lo + T::cst(y1))).ln_1p() - (span / c1).ln_1p();
        return scale + ln_small_w_integral(p, a - one, w1.ln(), w2.ln(), ln_ratio, w2.value());
    }
    // Split at w_c: the series below, the ₂F₁ difference above, where
    // hi + τ = (hi − lo)/(1 − w_c).
    let (ln_w1, ln_wc) = (w1.ln(), T::cst(w_c.ln()));
    let below = scale + ln_small_w_integral(p, a - one, ln_w1, ln_wc, ln_wc - ln_w1, w_c);
    let ln_one_minus_wc = T::cst((-w_c).ln_1p());
    let at_wc = z_term(T::cst(1.0 - w_c), gap.ln() - ln_one_minus_wc);
    let above = log_sub_exp(at_wc, z_term(gap / c2, c2.ln()));
    log_add_exp(below, above)
}

/// Where the note's ₂F₁ series takes over from the w-series at the latest.
const SERIES_FROM: f64 = 0.1;

/// How short, relative to the integrand's scales, an interval is taken by
/// [`ln_short_interval_integral`].
const SHORT: f64 = 0.05;

/// `ln ∫_{y1}^{y2} (lo + τ)^(−p) (hi + τ)^(−q) dτ` by 6-point Gauss-Legendre,
/// for an interval no longer than `SHORT` times `(lo + y1)/max(p, 1)` and
/// `(hi + y1)/max(q, 1)`.  Mapped to `[−1, 1]`, the integrand is then
/// analytic in the Bernstein ellipse of parameter
/// `ρ = 1 + δ + √((1 + δ)² − 1) ≈ 81`, `δ = 2/SHORT`, which keeps within
/// `(lo + y1)/max(p, 1)` of the interval, where `|lo + τ|^−p` (and likewise
/// the `hi` factor) is at most ~`e` times its value at `y1`; so the rule's
/// error is below `(64/15) e² ρ^−12 / (ρ² − 1) ≈ 1e-25` relative.
fn ln_short_interval_integral<T: Real>(lo: T, hi: T, p: T, q: T, y1: f64, y2: f64) -> T {
    // The nodes in (0, 1) and their weights (of the rule on [−1, 1]).
    const NODES: [(f64, f64); 3] = [
        (0.932_469_514_203_152, 0.171_324_492_379_170_36),
        (0.661_209_386_466_264_5, 0.360_761_573_048_138_6),
        (0.238_619_186_083_196_9, 0.467_913_934_572_691_04),
    ];
    let half = 0.5 * (y2 - y1);
    let (b1, b2) = (lo + T::cst(y1), hi + T::cst(y1));
    // The integrand over its value at y1.
    let relative = |u: f64| (-p * (T::cst(u) / b1).ln_1p() - q * (T::cst(u) / b2).ln_1p()).exp();
    let mut sum = T::cst(0.0);
    for (x, w) in NODES {
        let pair = relative(half * (1.0 - x)) + relative(half * (1.0 + x));
        sum = sum + T::cst(w) * pair;
    }
    -p * b1.ln() - q * b2.ln() + (T::cst(half) * sum).ln()
}

/// How far (in `m·w`) the binomial series of [`ln_small_w_integral`] is
/// used: its terms alternate, and summing them loses up to a factor
/// `e^(2 m w)` ≈ 150 of `f64`'s precision, i.e. ~2e-14 relative.
const SMALL_W_REACH: f64 = 2.5;

/// `ln ∫_{w1}^{w2} w^(−p) (1 − w)^m dw` for `0 < w1 < w2 <= w_max`, with
/// `|m| w_max` small: `(1 − w)^m = Σ_k c_k w^k`, `c_k = (−m)_k / k!`, and each
/// `∫ w^(k−p) dw = (w2^e − w1^e)/e` (`e = k + 1 − p`) is taken in a form that
/// is continuous through `e = 0` (integer `p`, or `p = s + 1` with `s → 0`):
/// `max(w1^e, w2^e) · L · (1 − e^(−|e| L))/(|e| L)`, `L = ln(w2/w1)`.
fn ln_small_w_integral<T: Real>(p: T, m: T, ln_w1: T, ln_w2: T, ln_ratio: T, w_max: f64) -> T {
    const MAX_TERMS: usize = 400;
    let ln_l = ln_ratio.ln();
    let ln_power = |k: usize| {
        let e = T::cst(k as f64 + 1.0) - p;
        let (e_abs, ln_top) = if e.value() >= 0.0 {
            (e, e * ln_w2)
        } else {
            (-e, e * ln_w1)
        };
        ln_top + ln_l + ln_one_minus_exp_neg_over(e_abs * ln_ratio)
    };
    let ln_first = ln_power(0);
    let mv = m.value();
    let mut coef = T::cst(1.0);
    let mut sum = T::cst(1.0);
    // |c_k| w_max^k bounds the k-th term relative to the first.  A factor
    // k − m near 0 (m near an integer) is counted as 1: the value's series
    // ends there, but not its derivative in m.
    let mut bound = 1.0;
    for k in 1..MAX_TERMS {
        let kf = (k - 1) as f64;
        coef = coef * (T::cst(kf) - m) / T::cst(kf + 1.0);
        let ratio = (kf - mv).abs().max(1.0) / (kf + 1.0) * w_max;
        bound *= ratio;
        sum = sum + coef * (ln_power(k) - ln_first).exp();
        // The bounds fall geometrically from here on, by at most `shrink`.
        let shrink = ratio.max(w_max);
        if shrink < 1.0 && bound < 1e-17 * (1.0 - shrink) * sum.value().abs() {
            break;
        }
    }
    ln_first + sum.ln()
}

/// `ln((1 − e^(−v))/v)` for `v >= 0` (0 at `v = 0`).
fn ln_one_minus_exp_neg_over<T: Real>(v: T) -> T {
    if v.value() > 0.5 {
        return (-(-v).exp()).ln_1p() - v.ln();
    }
    // Σ_j (−v)^j/(j + 1)!: alternating and falling fast for v <= 0.5.
    let mut term = T::cst(1.0);
    let mut sum = T::cst(1.0);
    for j in 1..20 {
        term = -term * v / T::cst(j as f64 + 1.0);
        sum = sum + term;
        if term.value().abs() < 1e-18 {
            break;
        }
    }
    sum.ln()
}

/// What [`ln_power_product_integral`] replaced: the note's form with the
/// ₂F₁ series summed to the end at both ends, accurate (bar truncation after
/// 10⁶ terms, and the difference of the ends for short intervals) but slow
/// near `w = 0`; for tests and timings.
/// The chi-squared distribution's survival function `P(X > x)` with `df`
/// degrees of freedom: the regularised upper incomplete gamma function
/// `Q(df/2, x/2)` (series below `a + 1`, Lentz's continued fraction above,
/// as in Numerical Recipes §6.2); likelihood-ratio tests use it.
pub fn chi2_survival(x: f64, df: f64) -> f64 {
    if !(x > 0.0) {
        return if x.is_nan() || !(df > 0.0) {
            f64::NAN
        } else {
            1.0
        };
    }
    if !(df > 0.0) || x.is_infinite() {
        return if df > 0.0 { 0.0 } else { f64::NAN };
    }
    let (a, x) = (0.5 * df, 0.5 * x);
    let ln_front = a * x.ln() - x - ln_gamma(a);
    if x < a + 1.0 {
        // P(a, x) = e^-x x^a / Γ(a + 1) Σ x^n / ((a + 1)...(a + n)).
        let (mut term, mut sum, mut ap) = (1.0 / a, 1.0 / a, a);
        for _ in 0..10_000 {
            ap += 1.0;
            term *= x / ap;
            sum += term;
            if term.abs() < sum.abs() * 1e-16 {
                break;
            }
        }
        (1.0 - (ln_front + sum.ln()).exp()).max(0.0)
    } else {
        let tiny = 1e-300;
        let mut b = x + 1.0 - a;
        let mut c = 1.0 / tiny;
        let mut d = 1.0 / b;
        let mut h = d;
        for i in 1..10_000 {
            let an = -(i as f64) * (i as f64 - a);
            b += 2.0;
            d = an * d + b;
            if d.abs() < tiny {
                d = tiny;
            }
            c = b + an / c;
            if c.abs() < tiny {
                c = tiny;
            }
            d = 1.0 / d;
            let delta = d * c;
            h *= delta;
            if (delta - 1.0).abs() < 1e-16 {
                break;
            }
        }
        (ln_front + h.ln()).exp().min(1.0)
    }
}

#[cfg(test)]
pub(crate) fn ln_a0_by_series<T: Real>(lo: T, hi: T, p: T, q: T, y1: f64, y2: f64) -> T {
    let a = p + q - T::cst(1.0);
    let end = |y: f64| {
        let c = hi + T::cst(y);
        ln_hyp2f1_c_is_a_plus_1(a, p, (hi - lo) / c) - a * c.ln()
    };
    log_sub_exp(end(y1), end(y2))
}

#[cfg(test)]
mod tests {
    use super::chi2_survival;

    #[test]
    fn chi2_survival_matches_scipy() {
        // scipy.stats.chi2.sf(x, df)
        for (x, df, expected) in [
            (3.841_458_820_694_124, 1.0, 0.05),
            (10.0, 4.0, 0.040_427_681_994_512_79),
            (0.5, 3.0, 0.918_891_411_654_675_8),
            (100.0, 9.0, 1.573_517_630_375_387_6e-17),
            (2.0, 2.0, 0.367_879_441_171_442_45),
        ] {
            let got = chi2_survival(x, df);
            assert!((got - expected).abs() < 1e-10 * expected, "{x} {df}: {got}");
        }
        assert_eq!(chi2_survival(0.0, 3.0), 1.0);
    }

    use super::*;

    #[test]
    fn matches_closed_forms() {
        // 2F1(1, 1; 2; z) = -ln(1 - z) / z
        let z: f64 = 0.7;
        let (v, s) = ln_hyp2f1(1.0, 1.0, 2.0, z);
        assert_eq!(s, 1.0);
        assert!((v.exp() - (-(1.0 - z).ln() / z)).abs() < 1e-13);
        // 2F1(a, b; b; z) = (1 - z)^-a
        let (v, _) = ln_hyp2f1(2.5, 3.0, 3.0, 0.4);
        assert!((v - (-2.5 * 0.6f64.ln())).abs() < 1e-13);
        let e = ln_hyp2f1_c_is_a_plus_1(2.5, 1.5, 0.6);
        let (d, _) = ln_hyp2f1(2.5, 1.5, 3.5, 0.6);
        assert!((e - d).abs() < 1e-12);
    }

    #[test]
    fn huge_parameters_stay_finite() {
        let (v, s) = ln_hyp2f1(3000.0, 3000.0, 2999.5, 0.9);
        assert!(v.is_finite() && v > 700.0 && s == 1.0, "{v}");
        let v = ln_hyp2f1_c_is_a_plus_1(5000.0, 4000.0, 0.999);
        assert!(v.is_finite());
    }

    /// `(lo, hi, p, q)` as Pareto/NBD's `A₀` takes them.
    fn arguments(params: [f64; 4], x: f64) -> (f64, f64, f64, f64) {
        let [r, alpha, s, beta] = params;
        if alpha < beta {
            (alpha, beta, r + x, s + 1.0)
        } else {
            (beta, alpha, s + 1.0, r + x)
        }
    }

    const PARAMS: [[f64; 4]; 7] = [
        [1.383, 8.427, 1.71e-9, 103_334.0], // Ta-Feng: no drop-out
        [0.55, 10.58, 0.61, 11.67],         // CDNOW
        [0.8, 2e4, 0.3, 3.0],               // α ≫ β
        [0.8, 2e4, 1e-12, 3.0],             // α ≫ β, s → 0: p = s + 1 ≈ 1
        [0.3, 2.0, 1e-8, 5e3],
        [2.0, 1.0, 1.0, 100.0], // integer p = r + x, integer m
        [1.0, 5.0, 1.0, 5.000_000_1],
    ];

    #[test]
    fn power_product_integral_matches_the_series() {
        let times = [
            (0.0, 17.0),
            (2.0, 17.0),
            (17.0 - 1.0 / 7.0, 17.0),
            (0.0, 300.0),
            (150.0, 300.0),
        ];
        let mut worst = 0.0f64;
        for params in PARAMS {
            for x in [0.0, 1.0, 3.0, 30.0, 200.0, 2000.0] {
                let (lo, hi, p, q) = arguments(params, x);
                for (y1, y2) in times {
                    let got = ln_power_product_integral(lo, hi, p, q, y1, y2);
                    let want = ln_a0_by_series(lo, hi, p, q, y1, y2);
                    let err = (got - want).abs() / want.abs().max(1.0);
                    worst = worst.max(err);
                    assert!(
                        err < 1e-10,
                        "{params:?} x={x} ({y1}, {y2}): {got} vs {want}"
                    );
                }
            }
        }
        eprintln!("worst relative difference from the series: {worst:e}");
    }

    #[test]
    fn power_product_integral_matches_high_precision_values() {
        // (r, α, s, β, x, t_x, T, ln A₀) from mpmath at 30 digits (quadrature
        // of the integral), where the series would need ~1e10 terms.
        let cases: [[f64; 8]; 9] = [
            // Here the series's truncation, amplified by the difference of
            // its two ends, is ~1e-8 off.
            [
                1.383,
                8.427,
                1.71e-9,
                103_334.0,
                0.0,
                17.0 - 1e-4,
                17.0,
                -24.907_096_303_663_48,
            ],
            [
                1.383,
                8.427,
                1.71e-9,
                1e9,
                0.0,
                0.0,
                17.0,
                -21.320_120_561_359_804,
            ],
            [
                1.383,
                8.427,
                1.71e-9,
                1e9,
                7.0,
                3.0,
                17.0,
                -38.583_801_926_897_7,
            ],
            [
                0.05,
                0.1,
                1e-12,
                1e9,
                1.0,
                17.0 - 1e-6,
                17.0,
                -37.471_018_602_715_357,
            ],
            [
                4.0,
                0.1,
                3.0,
                1e9,
                5000.0,
                500.0,
                1000.0,
                -31_175.577_082_506_91,
            ],
            [
                0.55,
                500.0,
                1e-12,
                0.05,
                30.0,
                0.0,
                1000.0,
                -184.778_840_583_795_55,
            ],
            [
                0.55,
                1e9,
                0.61,
                0.05,
                5000.0,
                3.0,
                17.0,
                -103_619.826_317_298_3,
            ],
            [
                1.383,
                8.427,
                1.71e-9,
                103_334.0,
                0.0,
                0.0,
                1000.0,
                -11.253_457_588_029_574,
            ],
            [0.05, 0.1, 3.0, 1e9, 0.0, 0.0, 17.0, -79.037_094_991_162_62],
        ];
        for [r, alpha, s, beta, x, y1, y2, want] in cases {
            let (lo, hi, p, q) = arguments([r, alpha, s, beta], x);
            let got = ln_power_product_integral(lo, hi, p, q, y1, y2);
            assert!(
                (got - want).abs() < 1e-11 * want.abs().max(1.0),
                "{r} {alpha} {s} {beta} {x} ({y1}, {y2}): {got} vs {want}"
            );
        }
    }

    #[test]
    fn power_product_integral_differentiates_like_the_series() {
        use crate::clv::real::Dual;
        // Every branch: all-w-series, split, the note's form, and short.
        let rows = [
            (0.0, 0.0, 17.0),
            (5.0, 3.0, 17.0),
            (29.0, 16.0, 17.0),
            (5.0, 16.99, 17.0),
            (3.0, 10.0, 2e5),
            (200.0, 150.0, 300.0),
        ];
        for params in PARAMS {
            for (x, y1, y2) in rows {
                let d: Vec<Dual<4>> = params
                    .iter()
                    .enumerate()
                    .map(|(i, &v)| Dual::var(v, i))
                    .collect();
                let (r, alpha, s, beta) = (d[0], d[1], d[2], d[3]);
                let one = Dual::cst(1.0);
                let xd = Dual::cst(x);
                let (lo, hi, p, q) = if alpha.v < beta.v {
                    (alpha, beta, r + xd, s + one)
                } else {
                    (beta, alpha, s + one, r + xd)
                };
                let got = ln_power_product_integral(lo, hi, p, q, y1, y2);
                let want = ln_a0_by_series(lo, hi, p, q, y1, y2);
                for i in 0..4 {
                    // The series's own derivative, and central differences.
                    let f = |h: f64| {
                        let mut v = params;
                        v[i] += h;
                        let (lo, hi, p, q) = arguments(v, x);
                        ln_power_product_integral(lo, hi, p, q, y1, y2)
                    };
                    let h = 1e-5 * params[i].max(1.0);
                    let numeric = (f(h) - f(-h)) / (2.0 * h);
                    let scale = 1.0 + want.d[i].abs();
                    assert!(
                        (got.d[i] - want.d[i]).abs() < 1e-9 * scale,
                        "{params:?} {x} ({y1}, {y2}) d{i}: {} vs series {}",
                        got.d[i],
                        want.d[i]
                    );
                    assert!(
                        (got.d[i] - numeric).abs() < 1e-5 * (1.0 + numeric.abs()),
                        "{params:?} {x} ({y1}, {y2}) d{i}: {} vs numeric {numeric}",
                        got.d[i]
                    );
                }
            }
        }
    }
}
