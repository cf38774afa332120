//! The Gauss hypergeometric function, summed in log space.

use super::real::Real;

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

#[cfg(test)]
mod tests {
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
}
