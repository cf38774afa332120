//! Numbers the likelihoods are written over: `f64`, and forward-mode dual
//! numbers that carry exact first derivatives with respect to the model
//! parameters.  Each model's log-likelihood is written once, generically, and
//! the optimiser gets its value and analytic gradient from the same code.

use std::ops::{Add, Div, Mul, Neg, Sub};

pub trait Real:
    Copy
    + Send
    + Sync
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
{
    fn cst(v: f64) -> Self;
    fn value(self) -> f64;
    fn ln(self) -> Self;
    fn exp(self) -> Self;
    fn ln_gamma(self) -> Self;
    /// `ln(1 + x)`, accurate near 0.
    fn ln_1p(self) -> Self;

    /// `self * k` for a constant `k`.
    fn scale(self, k: f64) -> Self {
        self * Self::cst(k)
    }
    fn powr(self, e: Self) -> Self {
        (e * self.ln()).exp()
    }
    fn max_by_value(self, other: Self) -> Self {
        if self.value() >= other.value() {
            self
        } else {
            other
        }
    }
}

impl Real for f64 {
    fn cst(v: f64) -> Self {
        v
    }
    fn value(self) -> f64 {
        self
    }
    fn ln(self) -> Self {
        f64::ln(self)
    }
    fn exp(self) -> Self {
        f64::exp(self)
    }
    fn ln_gamma(self) -> Self {
        ln_gamma(self)
    }
    fn ln_1p(self) -> Self {
        f64::ln_1p(self)
    }
}

/// A value with its gradient with respect to `N` parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Dual<const N: usize> {
    pub v: f64,
    pub d: [f64; N],
}

impl<const N: usize> Dual<N> {
    /// The `i`-th of `N` independent variables.
    pub fn var(v: f64, i: usize) -> Self {
        let mut d = [0.0; N];
        d[i] = 1.0;
        Dual { v, d }
    }

    /// Apply a function with value `f` and derivative `df` at `self.v`.
    fn chain(self, f: f64, df: f64) -> Self {
        Dual {
            v: f,
            d: self.d.map(|x| x * df),
        }
    }
}

impl<const N: usize> Add for Dual<N> {
    type Output = Self;
    fn add(self, o: Self) -> Self {
        let mut d = self.d;
        d.iter_mut().zip(o.d).for_each(|(a, b)| *a += b);
        Dual { v: self.v + o.v, d }
    }
}

impl<const N: usize> Sub for Dual<N> {
    type Output = Self;
    fn sub(self, o: Self) -> Self {
        let mut d = self.d;
        d.iter_mut().zip(o.d).for_each(|(a, b)| *a -= b);
        Dual { v: self.v - o.v, d }
    }
}

impl<const N: usize> Mul for Dual<N> {
    type Output = Self;
    #[allow(clippy::suspicious_arithmetic_impl)] // the product rule
    fn mul(self, o: Self) -> Self {
        let mut d = self.d;
        d.iter_mut()
            .zip(o.d)
            .for_each(|(a, b)| *a = *a * o.v + self.v * b);
        Dual { v: self.v * o.v, d }
    }
}

impl<const N: usize> Div for Dual<N> {
    type Output = Self;
    fn div(self, o: Self) -> Self {
        let inv = 1.0 / o.v;
        let v = self.v * inv;
        let mut d = self.d;
        d.iter_mut()
            .zip(o.d)
            .for_each(|(a, b)| *a = (*a - v * b) * inv);
        Dual { v, d }
    }
}

impl<const N: usize> Neg for Dual<N> {
    type Output = Self;
    fn neg(self) -> Self {
        Dual {
            v: -self.v,
            d: self.d.map(|x| -x),
        }
    }
}

impl<const N: usize> Real for Dual<N> {
    fn cst(v: f64) -> Self {
        Dual { v, d: [0.0; N] }
    }
    fn value(self) -> f64 {
        self.v
    }
    fn ln(self) -> Self {
        self.chain(self.v.ln(), 1.0 / self.v)
    }
    fn exp(self) -> Self {
        let e = self.v.exp();
        self.chain(e, e)
    }
    fn ln_gamma(self) -> Self {
        self.chain(ln_gamma(self.v), digamma(self.v))
    }
    fn ln_1p(self) -> Self {
        self.chain(self.v.ln_1p(), 1.0 / (1.0 + self.v))
    }
    fn scale(self, k: f64) -> Self {
        self.chain(self.v * k, k)
    }
}

/// `ln Γ(x)` for `x > 0` (Lanczos, g = 7; relative error ~1e-15).
pub fn ln_gamma(x: f64) -> f64 {
    const G: f64 = 7.0;
    const COEF: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // Reflection keeps the approximation in its accurate range.
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).abs().ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut sum = COEF[0];
    for (i, c) in COEF.iter().enumerate().skip(1) {
        sum += c / (x + i as f64);
    }
    let t = x + G + 0.5;
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + sum.ln()
}

/// The digamma function ψ(x) = d/dx ln Γ(x), for `x > 0`.
pub fn digamma(mut x: f64) -> f64 {
    let mut result = 0.0;
    // Shift up until the asymptotic series is accurate to ~1e-14.
    while x < 10.0 {
        result -= 1.0 / x;
        x += 1.0;
    }
    let f = 1.0 / (x * x);
    result + x.ln()
        - 0.5 / x
        - f * (1.0 / 12.0 - f * (1.0 / 120.0 - f * (1.0 / 252.0 - f * (1.0 / 240.0 - f / 132.0))))
}

/// `ln B(a, b)`.
pub fn ln_beta<T: Real>(a: T, b: T) -> T {
    a.ln_gamma() + b.ln_gamma() - (a + b).ln_gamma()
}

/// `ln Γ(x + d) − ln Γ(x)`, accurate also where `x` is large next to `d`:
/// there the two log-gammas nearly cancel, so the difference of Stirling's
/// series is taken instead (`ln(1 + d/x)` keeps its leading term exact).
pub fn ln_gamma_ratio<T: Real>(x: T, d: T) -> T {
    let (xv, dv) = (x.value(), d.value());
    if xv < 1e3 || dv.abs() > 0.5 * xv {
        return (x + d).ln_gamma() - x.ln_gamma();
    }
    let y = x + d;
    // 1/(12z) − 1/(360z³) + 1/(1260z⁵): the rest is below 1e-24 for z ≥ 500.
    let tail = |z: T| {
        let z2 = z * z;
        T::cst(1.0) / (T::cst(12.0) * z) - T::cst(1.0) / (T::cst(360.0) * z * z2)
            + T::cst(1.0) / (T::cst(1260.0) * z * z2 * z2)
    };
    (x - T::cst(0.5)) * (d / x).ln_1p() + d * y.ln() - d + tail(y) - tail(x)
}

/// `ln B(a + da, b + db) − ln B(a, b)`, accurate for large `a` and `b`
/// (where the beta functions of a fit on few customers end up).
pub fn ln_beta_shift<T: Real>(a: T, b: T, da: T, db: T) -> T {
    ln_gamma_ratio(a, da) + ln_gamma_ratio(b, db) - ln_gamma_ratio(a + b, da + db)
}

/// `ln(e^a + e^b)` without overflow.
pub fn log_add_exp<T: Real>(a: T, b: T) -> T {
    if a.value() == f64::NEG_INFINITY {
        return b;
    }
    if b.value() == f64::NEG_INFINITY {
        return a;
    }
    let m = a.max_by_value(b);
    let (hi, lo) = if m.value() == a.value() {
        (a, b)
    } else {
        (b, a)
    };
    hi + (lo - hi).exp().ln_1p()
}

/// `ln(e^a - e^b)` for `a >= b`.
pub fn log_sub_exp<T: Real>(a: T, b: T) -> T {
    // ln(1 - e^(b - a)), written with ln_1p for accuracy when b << a.
    a + (-(b - a).exp()).ln_1p()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gamma_ratios_stay_accurate_for_large_arguments() {
        // ln Γ(x + d) − ln Γ(x) → d ln x for large x; exact for integer d:
        // ln(x (x + 1) ... (x + d − 1)).
        for &(x, d) in &[
            (1e3, 3.0),
            (1e6, 2.0),
            (4.5e12, 1.0),
            (2.1e14, 7.0),
            (5e3, -0.4),
        ] {
            let exact: f64 = if d > 0.0 {
                (0..d as usize).map(|k| (x + k as f64).ln()).sum()
            } else {
                // mpmath, 30 digits: the direct difference of ln Γ loses 12.
                -3.406_821_273_206_286_4
            };
            let got = ln_gamma_ratio(x, d);
            assert!(
                (got - exact).abs() < 1e-12 * exact.abs().max(1.0),
                "{x} {d}: {got} vs {exact}"
            );
        }
        // Where the direct difference loses everything, the shift does not.
        let (a, b) = (4.5e12, 2.1e14);
        let survival = ln_beta_shift(a, b, 0.0, 1.0).exp();
        assert!((survival - b / (a + b)).abs() < 1e-12, "{survival}");
    }

    #[test]
    fn ln_gamma_and_digamma_are_accurate() {
        assert!((ln_gamma(1.0)).abs() < 1e-14);
        assert!((ln_gamma(0.5) - std::f64::consts::PI.sqrt().ln()).abs() < 1e-14);
        assert!((ln_gamma(10.0) - 362_880f64.ln()).abs() < 1e-12);
        assert!((ln_gamma(1e6) - 12_815_504.569_147_612).abs() / 12_815_504.0 < 1e-14);
        assert!((digamma(1.0) + 0.577_215_664_901_532_9).abs() < 1e-13);
        let h = 1e-6;
        for x in [0.3, 2.5, 40.0] {
            let numeric = (ln_gamma(x + h) - ln_gamma(x - h)) / (2.0 * h);
            assert!((digamma(x) - numeric).abs() < 1e-7);
        }
    }

    #[test]
    fn duals_differentiate() {
        // f(x, y) = ln Γ(x y) / y at (2, 3)
        let x = Dual::<2>::var(2.0, 0);
        let y = Dual::<2>::var(3.0, 1);
        let f = (x * y).ln_gamma() / y;
        assert!((f.v - ln_gamma(6.0) / 3.0).abs() < 1e-14);
        assert!((f.d[0] - digamma(6.0)).abs() < 1e-12);
        let dy = 2.0 * digamma(6.0) / 3.0 - ln_gamma(6.0) / 9.0;
        assert!((f.d[1] - dy).abs() < 1e-12);
    }

    #[test]
    fn log_exp_sums() {
        assert!((log_add_exp(1000.0, 1000.0) - (1000.0 + 2f64.ln())).abs() < 1e-12);
        assert_eq!(log_add_exp(f64::NEG_INFINITY, 3.0), 3.0);
        assert!((log_sub_exp(3f64.ln(), 1f64.ln()) - 2f64.ln()).abs() < 1e-14);
    }
}
