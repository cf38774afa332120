//! Per-customer uncertainty of the predictions.
//!
//! * Parameter uncertainty: draws of the whole parameter vector from the
//!   fit's asymptotic normal in log-parameter space (where BFGS works and
//!   every draw stays positive), `θ ~ N(ln θ̂, D⁻¹ΣD⁻¹)` with `Σ` the
//!   covariance of the estimates and `D = diag(θ̂)` (the delta method); each
//!   prediction is computed at every draw and its quantiles are the
//!   interval.  Draws come from one seeded generator in order, so results do
//!   not depend on the thread count.
//! * Predictive intervals of a count: the equal-tailed interval of its
//!   discrete distribution ([`count_interval`]).
//!
//! The predictions are closures over a parameter slice, so a model whose
//! drawn vector grows (covariates) needs no change here.

use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};
use rand_xoshiro::Xoshiro256PlusPlus;
use rayon::prelude::*;

use crate::control::Control;
use crate::error::{Error, Result};
use crate::spec::{Accept, Literal, Param, Params, Spec, Value, RANDOM_STATE};

/// The most draws an interval takes (50 MB of 7 parameters; a million
/// customers at 100,000 draws would take hours anyway).
pub const MAX_DRAWS: i64 = 100_000;

/// The arguments of every interval, checked here once.
pub static SPEC: Spec = Spec {
    name: "clv_intervals",
    params: &[
        Param {
            name: "interval",
            default: Literal::Float(0.9),
            accepts: &[Accept::in_open(0.0, 1.0)],
            unit: "",
            doc: "probability the interval covers: 0.9 leaves 5% on each side",
        },
        Param {
            name: "draws",
            default: Literal::Int(500),
            accepts: &[Accept::Int {
                min: 1,
                max: MAX_DRAWS,
            }],
            unit: "",
            doc: "draws of the parameters from the fit's asymptotic normal",
        },
        RANDOM_STATE,
    ],
    columns: &[],
    fitted: &[],
};

/// What an interval is asked for with.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IntervalOptions {
    /// Central probability, in (0, 1).
    pub level: f64,
    pub draws: usize,
    pub seed: u64,
}

impl IntervalOptions {
    /// Check the arguments against [`SPEC`]; errors name the argument.
    pub fn check(given: Vec<(String, Value)>) -> Result<Self> {
        let p = SPEC.check(given).map_err(|e| match e {
            Error::Parameter { name, problem, .. } => Error::argument(name, problem),
            Error::ParameterType { name, problem, .. } => Error::argument_type(name, problem),
            other => other,
        })?;
        Ok(Self::from_params(&p))
    }

    pub fn from_params(p: &Params) -> Self {
        IntervalOptions {
            level: p.number("interval"),
            draws: p.count("draws"),
            seed: p.seed(),
        }
    }

    /// The probabilities of the lower and upper bounds.
    pub fn tails(&self) -> (f64, f64) {
        let tail = 0.5 * (1.0 - self.level);
        (tail, 1.0 - tail)
    }
}

/// Why parameters cannot be drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoDraws {
    /// Some entry of the covariance is NaN or infinite (no standard errors:
    /// given parameters, a fit at a boundary or a singular information).
    Undefined,
    /// The covariance is not positive definite.
    NotPositiveDefinite,
}

/// `n` draws of the parameter vector: `exp(ln θ̂ + L z)` with `L Lᵀ` the
/// log-space covariance `D⁻¹ΣD⁻¹` (`Σ` row-major, `D = diag(params)`) and
/// `z` standard normal, in order from one generator seeded with `seed`.
pub fn draws(
    params: &[f64],
    covariance: &[f64],
    n: usize,
    seed: u64,
) -> std::result::Result<Vec<Vec<f64>>, NoDraws> {
    draws_of(params, &vec![true; params.len()], covariance, n, seed)
}

/// [`draws`] where only the entries marked `logged` (positive parameters)
/// are drawn in log space; the others (covariates' coefficients) as they are.
pub fn draws_of(
    centre: &[f64],
    logged: &[bool],
    covariance: &[f64],
    n: usize,
    seed: u64,
) -> std::result::Result<Vec<Vec<f64>>, NoDraws> {
    let k = centre.len();
    assert_eq!(covariance.len(), k * k, "covariance of {k} parameters");
    let positive = centre.iter().zip(logged).all(|(p, &log)| !log || *p > 0.0);
    if covariance.iter().any(|c| !c.is_finite())
        || !positive
        || centre.iter().any(|p| !p.is_finite())
    {
        return Err(NoDraws::Undefined);
    }
    let scale = |i: usize| if logged[i] { centre[i] } else { 1.0 };
    // Column-major equals row-major for a symmetric matrix; symmetrise anyway.
    let cov = faer::Mat::<f64>::from_fn(k, k, |i, j| {
        0.5 * (covariance[i * k + j] + covariance[j * k + i]) / (scale(i) * scale(j))
    });
    let llt = cov
        .llt(faer::Side::Lower)
        .map_err(|_| NoDraws::NotPositiveDefinite)?;
    let l = llt.L();
    let mean: Vec<f64> = (0..k)
        .map(|i| if logged[i] { centre[i].ln() } else { centre[i] })
        .collect();
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut z = vec![0.0; k];
    Ok((0..n)
        .map(|_| {
            for v in z.iter_mut() {
                *v = StandardNormal.sample(&mut rng);
            }
            (0..k)
                .map(|i| {
                    let v = mean[i] + (0..=i).map(|j| l[(i, j)] * z[j]).sum::<f64>();
                    if logged[i] {
                        v.exp()
                    } else {
                        v
                    }
                })
                .collect()
        })
        .collect())
}

/// The `q`-quantile of `values` by linear interpolation between order
/// statistics (numpy's default), reordering `values`; the `lo`-quantile and
/// the `hi`-quantile (`lo <= hi`) with two selections, no sort.
pub fn quantile_pair(values: &mut [f64], lo: f64, hi: f64) -> (f64, f64) {
    let n = values.len();
    if n == 0 {
        return (f64::NAN, f64::NAN);
    }
    // NaN sorts last under total_cmp, so a NaN draw shows in the upper bound.
    let at = |q: f64| {
        let h = (n - 1) as f64 * q;
        let i = (h.floor() as usize).min(n - 1);
        (i, h - i as f64)
    };
    let (i_lo, f_lo) = at(lo);
    let (i_hi, f_hi) = at(hi);
    // After selecting index i, values[i + 1..] holds the larger ones: the
    // next order statistic is their minimum.
    let min_after = |v: &[f64], i: usize| v[i + 1..].iter().copied().fold(f64::NAN, f64::min);
    let (_, &mut low, _) = values.select_nth_unstable_by(i_lo, f64::total_cmp);
    let lower = if f_lo > 0.0 {
        low + f_lo * (min_after(values, i_lo) - low)
    } else {
        low
    };
    let upper_part = &mut values[i_lo..];
    let (_, &mut high, _) = upper_part.select_nth_unstable_by(i_hi - i_lo, f64::total_cmp);
    let upper = if f_hi > 0.0 {
        high + f_hi * (min_after(upper_part, i_hi - i_lo) - high)
    } else {
        high
    };
    (lower, upper)
}

/// Estimates and interval bounds, one each per customer.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Intervals {
    pub estimate: Vec<f64>,
    pub lower: Vec<f64>,
    pub upper: Vec<f64>,
}

impl Intervals {
    fn with_len(n: usize) -> Self {
        Intervals {
            estimate: vec![0.0; n],
            lower: vec![0.0; n],
            upper: vec![0.0; n],
        }
    }

    /// The first position where a value is NaN.
    pub fn first_nan(&self) -> Option<usize> {
        (0..self.estimate.len()).find(|&i| {
            self.estimate[i].is_nan() || self.lower[i].is_nan() || self.upper[i].is_nan()
        })
    }
}

/// What a prediction depends on besides the parameters: the model's row and
/// the horizon (0 where it has none).
pub type Case = [f64; 4];

/// Customers grouped by equal cases: a million customers summarised in
/// whole periods share far fewer distinct histories, and the draws are the
/// same for all, so each distinct case is computed once.
struct Groups {
    /// Customer indices ordered by case.
    order: Vec<u32>,
    /// Start of each group in `order`, and `order.len()` last.
    starts: Vec<usize>,
}

impl Groups {
    /// Groups of equal cases, each ordered by `extra(i)` (customers of equal
    /// extras next to each other), then by index.
    fn new(cases: &[Case], extra: impl Fn(usize) -> [u64; 2] + Sync) -> Self {
        let key = |c: &Case| c.map(f64::to_bits);
        let mut order: Vec<u32> = (0..cases.len() as u32).collect();
        // The index breaks ties, so the order is the same on any thread count.
        order.par_sort_unstable_by_key(|&i| (key(&cases[i as usize]), extra(i as usize), i));
        let mut starts: Vec<usize> = (0..order.len())
            .filter(|&k| {
                k == 0 || key(&cases[order[k] as usize]) != key(&cases[order[k - 1] as usize])
            })
            .collect();
        starts.push(order.len());
        Groups { order, starts }
    }

    fn len(&self) -> usize {
        self.starts.len() - 1
    }

    fn members(&self, g: usize) -> &[u32] {
        &self.order[self.starts[g]..self.starts[g + 1]]
    }
}

/// Draws of the parameters with the point estimate: what every interval
/// computes its predictions at.
pub struct Sample<'a> {
    pub estimate: &'a [f64],
    pub draws: &'a [Vec<f64>],
    /// Probabilities of the lower and upper bounds.
    pub tails: (f64, f64),
}

/// `f(case)` (estimate, lower, upper) once per distinct case, in parallel,
/// spread to every customer of the case.
pub fn per_distinct<F>(cases: &[Case], ctl: &Control, f: F) -> Result<Intervals>
where
    F: Fn(Case) -> [f64; 3] + Sync,
{
    let groups = Groups::new(cases, |_| [0; 2]);
    let per_group: Vec<[f64; 3]> = (0..groups.len())
        .into_par_iter()
        .with_min_len(8)
        .map(|g| {
            if ctl.cancelled() {
                return [0.0; 3];
            }
            f(cases[groups.members(g)[0] as usize])
        })
        .collect();
    ctl.check()?;
    let mut out = Intervals::with_len(cases.len());
    for (g, values) in per_group.iter().enumerate() {
        for &i in groups.members(g) {
            let i = i as usize;
            [out.estimate[i], out.lower[i], out.upper[i]] = *values;
        }
    }
    Ok(out)
}

/// `f(i)` (estimate, lower, upper) of every customer `i` of `n`, in
/// parallel: for customers of their own parameters (covariates), where no
/// two share a computation.
pub fn per_customer<F>(n: usize, ctl: &Control, f: F) -> Result<Intervals>
where
    F: Fn(usize) -> [f64; 3] + Sync,
{
    let values: Vec<[f64; 3]> = (0..n)
        .into_par_iter()
        .with_min_len(256)
        .map(|i| if ctl.cancelled() { [0.0; 3] } else { f(i) })
        .collect();
    ctl.check()?;
    let mut out = Intervals::with_len(n);
    for (i, v) in values.into_iter().enumerate() {
        [out.estimate[i], out.lower[i], out.upper[i]] = v;
    }
    Ok(out)
}

/// Intervals of `f(θ, case)` for every case, from its values at every draw
/// (in parallel over distinct cases; memory beyond the output is one value
/// per draw for each worker).  NaN predictions stay NaN for the caller to
/// report.
pub fn intervals<F>(cases: &[Case], sample: &Sample<'_>, ctl: &Control, f: F) -> Result<Intervals>
where
    F: Fn(&[f64], Case) -> f64 + Sync,
{
    per_distinct(cases, ctl, |case| {
        let mut values: Vec<f64> = sample.draws.iter().map(|p| f(p, case)).collect();
        let (lower, upper) = quantile_pair(&mut values, sample.tails.0, sample.tails.1);
        [f(sample.estimate, case), lower, upper]
    })
}

/// A per-customer value of [`intervals_combined`], compared by its bits.
pub trait Extra: Copy + Sync {
    fn bits(&self) -> [u64; 2];
}

impl Extra for f64 {
    fn bits(&self) -> [u64; 2] {
        [self.to_bits(), 0]
    }
}

impl Extra for [f64; 2] {
    fn bits(&self) -> [u64; 2] {
        self.map(f64::to_bits)
    }
}

/// Intervals of `combine(θ, f(θ, case), case, extra)` per customer: `f`, the
/// costly part, once per distinct case and draw; `combine` (cheap, e.g. a
/// spend per purchase times discounted purchases) per distinct case and
/// extra, and draw.
pub fn intervals_combined<E, F, C>(
    cases: &[Case],
    extras: &[E],
    sample: &Sample<'_>,
    ctl: &Control,
    f: F,
    combine: C,
) -> Result<Intervals>
where
    E: Extra,
    F: Fn(&[f64], Case) -> f64 + Sync,
    C: Fn(&[f64], f64, Case, E) -> f64 + Sync,
{
    assert_eq!(cases.len(), extras.len());
    let groups = Groups::new(cases, |i| extras[i].bits());
    let draws = sample.draws;
    let per_customer: Vec<Vec<[f64; 3]>> = (0..groups.len())
        .into_par_iter()
        .with_min_len(8)
        .map_init(
            || Vec::with_capacity(draws.len()),
            |own: &mut Vec<f64>, g| {
                let members = groups.members(g);
                if ctl.cancelled() {
                    return vec![[0.0; 3]; members.len()];
                }
                let case = cases[members[0] as usize];
                let shared: Vec<f64> = draws.iter().map(|p| f(p, case)).collect();
                let at_estimate = f(sample.estimate, case);
                // Customers with equal extras (adjacent) share their values.
                let mut previous: Option<([u64; 2], [f64; 3])> = None;
                members
                    .iter()
                    .map(|&i| {
                        let extra = extras[i as usize];
                        if let Some((bits, values)) = previous {
                            if bits == extra.bits() {
                                return values;
                            }
                        }
                        own.clear();
                        own.extend(
                            draws
                                .iter()
                                .zip(&shared)
                                .map(|(p, &v)| combine(p, v, case, extra)),
                        );
                        let (lower, upper) = quantile_pair(own, sample.tails.0, sample.tails.1);
                        let values = [
                            combine(sample.estimate, at_estimate, case, extra),
                            lower,
                            upper,
                        ];
                        previous = Some((extra.bits(), values));
                        values
                    })
                    .collect()
            },
        )
        .collect();
    ctl.check()?;
    let mut out = Intervals::with_len(cases.len());
    for (g, values) in per_customer.iter().enumerate() {
        for (&i, v) in groups.members(g).iter().zip(values) {
            let i = i as usize;
            [out.estimate[i], out.lower[i], out.upper[i]] = *v;
        }
    }
    Ok(out)
}

/// The largest count [`count_interval`] walks to.
pub const MAX_COUNT: u32 = 100_000;

/// The equal-tailed interval of a distribution on `0, 1, 2, ...` with
/// probabilities `pmf` (in order): `lower` is the smallest `n` with
/// `P(X <= n) > tail`, `upper` the smallest `n` with `P(X <= n) >= 1 - tail`
/// (`tail = (1 - level) / 2`), so each side leaves at most `tail` outside and
/// the interval covers at least `level`.  NaN if the mass does not reach
/// `1 - tail` by [`MAX_COUNT`] (or a probability is NaN).
pub fn count_interval(pmf: impl IntoIterator<Item = f64>, level: f64) -> (f64, f64) {
    let tail = 0.5 * (1.0 - level);
    let mut cdf = 0.0;
    let mut lower = None;
    for (n, p) in pmf.into_iter().take(MAX_COUNT as usize + 1).enumerate() {
        if p.is_nan() {
            break;
        }
        cdf += p;
        if lower.is_none() && cdf > tail {
            lower = Some(n as f64);
        }
        // Rounding: a pmf that sums to 1 - 1e-12 still reaches the upper bound.
        if cdf >= 1.0 - tail - 1e-12 {
            return (lower.unwrap_or(n as f64), n as f64);
        }
    }
    (f64::NAN, f64::NAN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_reproduce_the_log_space_covariance() {
        let params = [0.25, 4.0, 0.8, 2.5];
        // A correlated covariance in natural units.
        let sd = [0.01, 0.2, 0.05, 0.3];
        let corr = [
            [1.0, 0.6, 0.1, 0.0],
            [0.6, 1.0, 0.0, 0.2],
            [0.1, 0.0, 1.0, 0.7],
            [0.0, 0.2, 0.7, 1.0],
        ];
        let cov: Vec<f64> = (0..16)
            .map(|k| corr[k / 4][k % 4] * sd[k / 4] * sd[k % 4])
            .collect();
        let n = 100_000;
        let d = draws(&params, &cov, n, 3).unwrap();
        let logs: Vec<Vec<f64>> = d
            .iter()
            .map(|p| p.iter().map(|v| v.ln()).collect())
            .collect();
        for i in 0..4 {
            let mean_i = logs.iter().map(|l| l[i]).sum::<f64>() / n as f64;
            assert!((mean_i - params[i].ln()).abs() < 4.0 * sd[i] / params[i] / (n as f64).sqrt());
            for j in 0..4 {
                let mean_j = logs.iter().map(|l| l[j]).sum::<f64>() / n as f64;
                let sample = logs
                    .iter()
                    .map(|l| (l[i] - mean_i) * (l[j] - mean_j))
                    .sum::<f64>()
                    / (n - 1) as f64;
                let target = cov[i * 4 + j] / (params[i] * params[j]);
                let scale = sd[i] * sd[j] / (params[i] * params[j]);
                assert!(
                    (sample - target).abs() < 0.02 * scale,
                    "{i} {j}: {sample} vs {target}"
                );
            }
        }
        // Same seed, same draws; another seed, others.
        assert_eq!(draws(&params, &cov, 10, 3).unwrap(), d[..10].to_vec());
        assert_ne!(draws(&params, &cov, 10, 4).unwrap(), d[..10].to_vec());
    }

    #[test]
    fn undefined_or_indefinite_covariances_give_no_draws() {
        let params = [1.0, 2.0];
        let nan = [f64::NAN, 0.0, 0.0, 1.0];
        assert_eq!(draws(&params, &nan, 5, 0), Err(NoDraws::Undefined));
        let indefinite = [1.0, 2.0, 2.0, 1.0];
        assert_eq!(
            draws(&params, &indefinite, 5, 0),
            Err(NoDraws::NotPositiveDefinite)
        );
    }

    #[test]
    fn quantiles_match_sorting_with_interpolation() {
        let mut state = 1u64;
        let values: Vec<f64> = (0..501)
            .map(|_| {
                state = state.wrapping_mul(6364136223846793005).wrapping_add(1);
                (state >> 11) as f64 / (1u64 << 53) as f64
            })
            .collect();
        let mut sorted = values.clone();
        sorted.sort_by(f64::total_cmp);
        let reference = |q: f64| {
            let h = (sorted.len() - 1) as f64 * q;
            let i = h.floor() as usize;
            let next = sorted.get(i + 1).copied().unwrap_or(sorted[i]);
            sorted[i] + (h - i as f64) * (next - sorted[i])
        };
        for (lo, hi) in [(0.05, 0.95), (0.0, 1.0), (0.5, 0.5), (0.013, 0.9871)] {
            for n in [1, 2, 7, 500, 501] {
                let mut v = values[..n].to_vec();
                let mut s = v.clone();
                s.sort_by(f64::total_cmp);
                let (l, u) = quantile_pair(&mut v, lo, hi);
                let q = |q: f64| {
                    let h = (n - 1) as f64 * q;
                    let i = h.floor() as usize;
                    let next = s.get(i + 1).copied().unwrap_or(s[i]);
                    s[i] + (h - i as f64) * (next - s[i])
                };
                assert!(
                    (l - q(lo)).abs() < 1e-15 && (u - q(hi)).abs() < 1e-15,
                    "{n} {lo} {hi}"
                );
            }
        }
        let (l, u) = quantile_pair(&mut values.clone(), 0.05, 0.95);
        assert!((l - reference(0.05)).abs() < 1e-15 && (u - reference(0.95)).abs() < 1e-15);
    }

    #[test]
    fn count_intervals_leave_at_most_the_tail_on_each_side() {
        // Poisson(4): P(X <= 0) = .018, P(X <= 1) = .092, P(X <= 7) = .949, P(X <= 8) = .979.
        let poisson = |n: u32| {
            let ln = n as f64 * 4f64.ln() - 4.0 - (1..=n).map(|k| (k as f64).ln()).sum::<f64>();
            ln.exp()
        };
        assert_eq!(count_interval((0..).map(poisson), 0.9), (1.0, 8.0));
        // A point mass at 0 (a dead customer).
        assert_eq!(
            count_interval((0..).map(|n| if n == 0 { 1.0 } else { 0.0 }), 0.9),
            (0.0, 0.0)
        );
        assert!(count_interval((0..).map(|_| 0.0), 0.9).0.is_nan());
    }

    #[test]
    fn intervals_are_the_same_on_any_thread_count_and_per_distinct_case() {
        let params = [0.5, 2.0];
        let cov = [0.01, 0.002, 0.002, 0.04];
        let d = draws(&params, &cov, 300, 11).unwrap();
        let sample = Sample {
            estimate: &params,
            draws: &d,
            tails: (0.05, 0.95),
        };
        // Many repeated cases among distinct ones.
        let cases: Vec<Case> = (0..20_000)
            .map(|i| [(i % 37) as f64, (i % 5) as f64, 10.0, 1.0])
            .collect();
        let f = |p: &[f64], c: Case| p[0] * c[0] + p[1] / (1.0 + c[1]);
        let run = |threads| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| intervals(&cases, &sample, &Control::new(), f).unwrap())
        };
        let one = run(1);
        assert_eq!(one, run(2));
        for (i, c) in cases.iter().enumerate().step_by(997) {
            let mut values: Vec<f64> = d.iter().map(|p| f(p, *c)).collect();
            let (l, u) = quantile_pair(&mut values, 0.05, 0.95);
            assert_eq!(
                (one.lower[i], one.upper[i], one.estimate[i]),
                (l, u, f(&params, *c))
            );
            assert!(l <= one.estimate[i] && one.estimate[i] <= u);
        }
        // Combined per customer: the extra multiplies.
        let extras: Vec<f64> = (0..cases.len()).map(|i| 1.0 + (i % 3) as f64).collect();
        let combined = intervals_combined(
            &cases,
            &extras,
            &sample,
            &Control::new(),
            f,
            |_, v, _, e| v * e,
        )
        .unwrap();
        for i in (0..cases.len()).step_by(1013) {
            assert!((combined.lower[i] - one.lower[i] * extras[i]).abs() < 1e-12);
            assert!((combined.upper[i] - one.upper[i] * extras[i]).abs() < 1e-12);
        }
    }
}
