//! Maximum-likelihood fits with static covariates (see [`covariates`]).
//!
//! The likelihood of a customer is the model's, at the customer's own
//! parameters ([`customer_params`]); its gradient in the coefficients follows
//! by the chain rule from the gradient in those parameters (forward-mode
//! duals, as without covariates): `∂ℓ/∂γ_pj = Σ_i w_i ∂ℓ_i/∂ln p_i · sign_p · z_ij`.
//! Customers collapse on `(history, z)`, so categorical covariates keep most
//! of the collapse.  The model without covariates is fitted first on the
//! same rows: its estimates start the fit (coefficients at 0) and its
//! maximum is the likelihood-ratio test's null.
//!
//! Numeric covariates are centred and scaled inside the optimisation (a
//! linear change of the log-parameters and coefficients, undone with its
//! covariance afterwards), so BFGS sees well-conditioned coordinates
//! whatever the covariates' units.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::covariates::{customer_params, scaled, Design};
use super::fit::{excluded_from_fit, fit, FitOptions, Fitted};
use super::models::{ModelKind, Row};
use super::optimize::{invert_spd, minimize, Settings};
use super::real::Dual;
use super::special::chi2_survival;
use crate::control::Control;
use crate::error::{Error, Result};
use crate::persist;

const CHUNK: usize = 2048;

/// What a fit with covariates adds to [`Fitted`] (whose `params` are then
/// the population's at `z = 0`, with their marginal standard errors).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CovariateFit {
    pub design: Design,
    /// One block of [`Design::width`] per parameter of [`scaled`] (0 where
    /// not estimated).
    pub gamma: Vec<f64>,
    /// Which of `gamma` were estimated (see
    /// [`free_coefficients`](super::covariates::free_coefficients)).
    pub free: Vec<bool>,
    /// Of the estimated coefficients.
    pub std_errors: Vec<f64>,
    /// Row-major covariance of `(params, estimated coefficients)` (NaN when
    /// not available).
    pub covariance: Vec<f64>,
    pub test: LikelihoodRatio,
}

/// The likelihood-ratio test of the covariates: the model without them,
/// fitted on the same customers, against the model with them.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LikelihoodRatio {
    pub log_likelihood_without: f64,
    pub statistic: f64,
    pub df: usize,
    pub p_value: f64,
}

impl CovariateFit {
    /// `parameter:term` for every estimated coefficient, in `gamma`'s order.
    pub fn names(&self, kind: ModelKind) -> Vec<String> {
        let terms = self.design.term_names();
        let all = scaled(kind).iter().flat_map(|&(k, _)| {
            let p = kind.param_names()[k];
            terms.iter().map(move |t| format!("{p}:{t}"))
        });
        all.zip(&self.free)
            .filter_map(|(name, &free)| free.then_some(name))
            .collect()
    }

    /// The full `gamma` of [`customer_params`] from values of the estimated
    /// coefficients (e.g. a draw from their covariance), 0 elsewhere.
    pub fn gamma_from(&self, estimated: &[f64]) -> Vec<f64> {
        let mut values = estimated.iter();
        self.free
            .iter()
            .map(|&free| {
                if free {
                    *values.next().unwrap_or(&0.0)
                } else {
                    0.0
                }
            })
            .collect()
    }

    /// The estimated coefficients, in [`CovariateFit::names`]' order.
    pub fn coefficients(&self) -> Vec<f64> {
        self.gamma
            .iter()
            .zip(&self.free)
            .filter_map(|(&g, &free)| free.then_some(g))
            .collect()
    }

    /// Check a fit read from bytes.
    pub fn validate(&self, kind: ModelKind) -> Result<()> {
        self.design.validate()?;
        let g = scaled(kind).len() * self.design.width();
        let f = self.free.iter().filter(|&&free| free).count();
        let n = kind.n_params() + f;
        persist::require(
            self.gamma.len() == g
                && self.free.len() == g
                && f > 0
                && self.gamma.iter().all(|v| v.is_finite())
                && self
                    .gamma
                    .iter()
                    .zip(&self.free)
                    .all(|(&v, &free)| free || v == 0.0)
                && self.std_errors.len() == f
                && self.covariance.len() == n * n
                && self.test.df == f,
            || "the covariate coefficients are malformed".into(),
        )
    }
}

/// Customers with covariates, collapsed on `(row, z)`.
struct Data {
    rows: Vec<Row>,
    /// Row-major, `m` per row (centred and scaled numeric covariates).
    z: Vec<f64>,
    m: usize,
    weights: Vec<f64>,
}

impl Data {
    fn new(rows: &[Row], z: &[f64], m: usize, weights: &[f64]) -> Data {
        let values = |i: usize| rows[i].iter().chain(&z[i * m..(i + 1) * m]);
        let mut order: Vec<usize> = (0..rows.len()).filter(|&i| weights[i] > 0.0).collect();
        order.par_sort_unstable_by(|&i, &j| {
            values(i)
                .zip(values(j))
                .map(|(a, b)| a.total_cmp(b))
                .find(|o| o.is_ne())
                .unwrap_or(std::cmp::Ordering::Equal)
        });
        let mut out = Data {
            rows: Vec::new(),
            z: Vec::new(),
            m,
            weights: Vec::new(),
        };
        let mut last: Option<usize> = None;
        for i in order {
            if last.is_some_and(|j| {
                rows[j] == rows[i] && z[j * m..(j + 1) * m] == z[i * m..(i + 1) * m]
            }) {
                *out.weights.last_mut().expect("a row was pushed") += weights[i];
                continue;
            }
            out.rows.push(rows[i]);
            out.z.extend_from_slice(&z[i * m..(i + 1) * m]);
            out.weights.push(weights[i]);
            last = Some(i);
        }
        out
    }

    fn total_weight(&self) -> f64 {
        self.weights.iter().sum()
    }

    /// Every `step`-th row (rows are sorted, so all parts of the data show).
    fn sample(&self, step: usize) -> Data {
        let m = self.m;
        let pick: Vec<usize> = (0..self.rows.len()).step_by(step).collect();
        Data {
            rows: pick.iter().map(|&i| self.rows[i]).collect(),
            z: pick
                .iter()
                .flat_map(|&i| self.z[i * m..(i + 1) * m].iter().copied())
                .collect(),
            m,
            weights: pick.iter().map(|&i| self.weights[i]).collect(),
        }
    }

    /// Log-likelihood and its gradient in `eta = (ln base, gamma)`.
    fn log_likelihood(&self, kind: ModelKind, eta: &[f64], ctl: &Control) -> (f64, Vec<f64>) {
        let n = kind.n_params();
        let base: Vec<f64> = eta[..n].iter().map(|v| v.exp()).collect();
        let gamma = &eta[n..];
        let (m, slots) = (self.m, scaled(kind));
        let partial: Vec<Vec<f64>> = self
            .rows
            .par_chunks(CHUNK)
            .zip(self.weights.par_chunks(CHUNK))
            .zip(self.z.par_chunks(CHUNK * m.max(1)))
            .map(|((rows, weights), z)| {
                let mut acc = vec![0.0; 1 + eta.len()];
                if ctl.cancelled() {
                    acc[0] = f64::NAN;
                    return acc;
                }
                for (i, (row, &w)) in rows.iter().zip(weights).enumerate() {
                    let zi = &z[i * m..(i + 1) * m];
                    let p = customer_params(kind, &base, gamma, zi);
                    let duals: [Dual<4>; 4] = std::array::from_fn(|k| Dual::var(p[k], k));
                    let ll = kind.log_likelihood(&duals[..n], *row);
                    acc[0] += w * ll.v;
                    // ∂ℓ/∂ln p_k, the chain rule's common factor.
                    let d: [f64; 4] = std::array::from_fn(|k| w * ll.d[k] * p[k]);
                    for k in 0..n {
                        acc[1 + k] += d[k];
                    }
                    for (slot, &(k, sign)) in slots.iter().enumerate() {
                        let g = &mut acc[1 + n + slot * m..1 + n + (slot + 1) * m];
                        for (gj, zj) in g.iter_mut().zip(zi) {
                            *gj += sign * d[k] * zj;
                        }
                    }
                }
                acc
            })
            .collect();
        let mut total = vec![0.0; 1 + eta.len()];
        for part in partial {
            total.iter_mut().zip(part).for_each(|(t, v)| *t += v);
        }
        (total[0], total[1..].to_vec())
    }
}

/// The centring and scaling of the design's columns: `z = mean + sd · u`.
fn standardise(design: &Design, z: &[f64], m: usize, weights: &[f64]) -> (Vec<f64>, Vec<f64>) {
    use super::covariates::Covariate;
    let total: f64 = weights.iter().sum();
    let mut mean = vec![0.0; m];
    let mut sd = vec![1.0; m];
    let mut j = 0;
    for column in &design.columns {
        match column {
            Covariate::Numeric { .. } => {
                let mu = z.chunks(m).zip(weights).map(|(r, w)| w * r[j]).sum::<f64>() / total;
                let var = z
                    .chunks(m)
                    .zip(weights)
                    .map(|(r, w)| w * (r[j] - mu).powi(2))
                    .sum::<f64>()
                    / total;
                mean[j] = mu;
                // A constant column stays as it is (its coefficient has no evidence).
                sd[j] = if var > 0.0 { var.sqrt() } else { 1.0 };
                j += 1;
            }
            Covariate::Categorical { levels, .. } => j += levels.len() - 1,
        }
    }
    (mean, sd)
}

/// Fit `kind` with covariates: `z` holds [`Design::width`] values per row;
/// the coefficients marked in `free` (see
/// [`free_coefficients`](super::covariates::free_coefficients)) are
/// estimated, the others stay 0.
#[allow(clippy::too_many_arguments)]
pub fn fit_with_covariates(
    kind: ModelKind,
    rows: &[Row],
    weights: Option<&[f64]>,
    design: Design,
    free: Vec<bool>,
    z: &[f64],
    options: &FitOptions,
    ctl: &Control,
) -> Result<Fitted> {
    let m = design.width();
    let n = kind.n_params();
    let slots = scaled(kind);
    let g = slots.len() * m;
    if free.len() != g || !free.contains(&true) {
        return Err(Error::argument(
            "covariates",
            "moves no parameter: name at least one covariate for a parameter",
        ));
    }
    // Where each estimated value sits in (ln base, gamma).
    let index: Vec<usize> = (0..n)
        .chain((0..g).filter(|&j| free[j]).map(|j| n + j))
        .collect();
    // The model without covariates on the same customers: the start and the null.
    let without = fit(kind, rows, weights, options, ctl)?;
    let unit = vec![1.0; rows.len()];
    let weights = weights.unwrap_or(&unit);
    let kept: Vec<usize> = (0..rows.len())
        .filter(|&i| !excluded_from_fit(kind, &rows[i]))
        .collect();
    let kept_rows: Vec<Row> = kept.iter().map(|&i| rows[i]).collect();
    let kept_z: Vec<f64> = kept
        .iter()
        .flat_map(|&i| z[i * m..(i + 1) * m].iter().copied())
        .collect();
    let kept_w: Vec<f64> = kept.iter().map(|&i| weights[i]).collect();
    let (mean, sd) = standardise(&design, &kept_z, m, &kept_w);
    let u: Vec<f64> = kept_z
        .par_chunks(m)
        .flat_map_iter(|r| (0..m).map(|j| (r[j] - mean[j]) / sd[j]).collect::<Vec<_>>())
        .collect();
    let data = Data::new(&kept_rows, &u, m, &kept_w);
    let total_weight = data.total_weight();
    let penalizer = options.penalizer;
    let settings = Settings {
        max_iter: options.max_iter,
        gradient_tol: options.gradient_tol,
    };
    let full = Objective {
        kind,
        data: &data,
        index: &index,
        size: n + g,
        penalizer,
        ctl,
    };
    let mut x0: Vec<f64> = without.params.iter().map(|p| p.ln()).collect();
    x0.resize(index.len(), 0.0);
    let mut inverse_hessian = None;
    if options.warm_start_rows > 0 && data.rows.len() > options.warm_start_rows {
        let sample = data.sample(data.rows.len().div_ceil(options.warm_start_rows));
        let rough = {
            let on_sample = Objective {
                data: &sample,
                ..full
            };
            minimize(|x| on_sample.mean(x), &x0, None, settings)
        };
        if rough.converged {
            x0 = rough.x;
            inverse_hessian = Some(rough.inverse_hessian);
        }
    }
    let minimum = minimize(|x| full.mean(x), &x0, inverse_hessian, settings);
    ctl.check()?;
    let x = minimum.x;
    if x.iter().any(|v| !v.is_finite()) || x[..n].iter().any(|v| !v.exp().is_finite()) {
        return Err(Error::fit(
            kind.name(),
            format!("the estimates diverged ({x:?}); try penalizer_coef > 0"),
        ));
    }
    let (log_likelihood, _) = full.total(&x);
    let information = information(&full, &x);
    ctl.check()?;
    // Back to the covariates' own units: θ = A x, with ln b_k = x_k − sign Σ_j γ_kj mean_j
    // and γ_kj = x_kj / sd_j (over the estimated coefficients; the others are 0).
    let size = index.len();
    let mut a = vec![0.0; size * size];
    (0..n).for_each(|k| a[k * size + k] = 1.0);
    for (col, &at) in index.iter().enumerate().skip(n) {
        let (slot, j) = ((at - n) / m, (at - n) % m);
        let (k, sign) = slots[slot];
        a[col * size + col] = 1.0 / sd[j];
        a[k * size + col] = -sign * mean[j] / sd[j];
    }
    let theta: Vec<f64> = (0..size)
        .map(|i| (0..size).map(|j| a[i * size + j] * x[j]).sum())
        .collect();
    let params: Vec<f64> = theta[..n].iter().map(|v| v.exp()).collect();
    let mut gamma = vec![0.0; g];
    for (col, &at) in index.iter().enumerate().skip(n) {
        gamma[at - n] = theta[col];
    }
    // Covariance of (params, coefficients): J A Σ_x Aᵀ J with J = diag(params, 1).
    let covariance = match information.as_deref().and_then(|i| invert_spd(i, size)) {
        Some(sigma) => {
            let scale = |i: usize| if i < n { params[i] } else { 1.0 };
            let mut out = vec![0.0; size * size];
            for i in 0..size {
                for j in 0..size {
                    let mut v = 0.0;
                    for k in (0..size).filter(|&k| a[i * size + k] != 0.0) {
                        for l in (0..size).filter(|&l| a[j * size + l] != 0.0) {
                            v += a[i * size + k] * sigma[k * size + l] * a[j * size + l];
                        }
                    }
                    out[i * size + j] = scale(i) * scale(j) * v;
                }
            }
            out
        }
        None => vec![f64::NAN; size * size],
    };
    let std_errors: Vec<f64> = (0..size).map(|i| covariance[i * size + i].sqrt()).collect();
    let proper_maximum = std_errors.iter().all(|s| s.is_finite());
    let df = size - n;
    let statistic = (2.0 * (log_likelihood - without.log_likelihood)).max(0.0);
    let test = LikelihoodRatio {
        log_likelihood_without: without.log_likelihood,
        statistic,
        df,
        p_value: chi2_survival(statistic, df as f64),
    };
    let base_covariance = (0..n * n)
        .map(|k| covariance[(k / n) * size + k % n])
        .collect();
    Ok(Fitted {
        kind,
        params,
        std_errors: std_errors[..n].to_vec(),
        covariance: base_covariance,
        log_likelihood,
        n_samples: total_weight,
        n_distinct_rows: data.rows.len(),
        iterations: minimum.iterations,
        converged: minimum.converged && proper_maximum,
        covariates: Some(CovariateFit {
            design,
            gamma,
            free,
            std_errors: std_errors[n..].to_vec(),
            covariance,
            test,
        }),
        ..without
    })
}

/// The likelihood as a function of the estimated values `x` (the
/// log-parameters, then the free coefficients, at `index` in
/// `(ln base, gamma)`, whose length is `size`).
#[derive(Clone, Copy)]
struct Objective<'a> {
    kind: ModelKind,
    data: &'a Data,
    index: &'a [usize],
    size: usize,
    penalizer: f64,
    ctl: &'a Control,
}

impl Objective<'_> {
    /// Total log-likelihood and its gradient in `x`.
    fn total(&self, x: &[f64]) -> (f64, Vec<f64>) {
        let mut eta = vec![0.0; self.size];
        for (v, &at) in x.iter().zip(self.index) {
            eta[at] = *v;
        }
        let (ll, grad) = self.data.log_likelihood(self.kind, &eta, self.ctl);
        (ll, self.index.iter().map(|&at| grad[at]).collect())
    }

    /// The mean penalised negative log-likelihood and its gradient; the
    /// penalty is lifetimes' `Σ p²` on the base parameters plus `Σ γ²` on
    /// the (standardised) coefficients.
    fn mean(&self, x: &[f64]) -> (f64, Vec<f64>) {
        let n = self.kind.n_params();
        let total_weight = self.data.total_weight();
        let (ll, grad) = self.total(x);
        let penalty = |i: usize| {
            if i < n {
                ((2.0 * x[i]).exp(), 2.0 * (2.0 * x[i]).exp())
            } else {
                (x[i] * x[i], 2.0 * x[i])
            }
        };
        let value =
            -ll / total_weight + self.penalizer * (0..x.len()).map(|i| penalty(i).0).sum::<f64>();
        let gradient = (0..x.len())
            .map(|i| -grad[i] / total_weight + self.penalizer * penalty(i).1)
            .collect();
        (value, gradient)
    }
}

/// Minus the Hessian of the log-likelihood in `x` (`None` once cancelled).
///
/// A customer's log-parameters are linear in `(ln base, gamma)`:
/// `ln p_ik = η_k + sign_k Σ_j γ_kj z_ij = J_i η`, so the Hessian is
/// `Σ_i w_i J_iᵀ H_i J_i` with `H_i` the Hessian of the customer's
/// log-likelihood in their own (≤ 4) log-parameters, taken by forward
/// differences of its exact gradient: a few evaluations per customer
/// instead of one pass over the data per estimated value.
fn information(objective: &Objective<'_>, x: &[f64]) -> Option<Vec<f64>> {
    let (index, size) = (objective.index, x.len());
    let mut eta = vec![0.0; objective.size];
    for (v, &at) in x.iter().zip(index) {
        eta[at] = *v;
    }
    let full = objective
        .data
        .information(objective.kind, &eta, objective.ctl)?;
    let len = eta.len();
    Some(
        (0..size * size)
            .map(|k| full[index[k / size] * len + index[k % size]])
            .collect(),
    )
}

impl Data {
    /// Minus the Hessian of the log-likelihood in `eta = (ln base, gamma)`
    /// (see [`information`]).
    fn information(&self, kind: ModelKind, eta: &[f64], ctl: &Control) -> Option<Vec<f64>> {
        let n = kind.n_params();
        let base: Vec<f64> = eta[..n].iter().map(|v| v.exp()).collect();
        let gamma = &eta[n..];
        let (m, slots, len) = (self.m, scaled(kind), eta.len());
        // The slot of each parameter that covariates move.
        let slot_of: Vec<Option<(usize, f64)>> = (0..n)
            .map(|k| {
                slots
                    .iter()
                    .position(|&(at, _)| at == k)
                    .map(|slot| (slot, slots[slot].1))
            })
            .collect();
        // ∂ℓ_i/∂ln p at p.
        let gradient = |p: &[f64; 4], row: Row| -> [f64; 4] {
            let duals: [Dual<4>; 4] = std::array::from_fn(|k| Dual::var(p[k], k));
            let ll = kind.log_likelihood(&duals[..n], row);
            std::array::from_fn(|k| ll.d[k] * p[k])
        };
        const H: f64 = 1e-6;
        let partial: Vec<Vec<f64>> = self
            .rows
            .par_chunks(CHUNK)
            .zip(self.weights.par_chunks(CHUNK))
            .zip(self.z.par_chunks(CHUNK * m.max(1)))
            .map(|((rows, weights), z)| {
                let mut acc = vec![0.0; len * len];
                if ctl.cancelled() {
                    return acc;
                }
                for (i, (row, &w)) in rows.iter().zip(weights).enumerate() {
                    let zi = &z[i * m..(i + 1) * m];
                    let p = customer_params(kind, &base, gamma, zi);
                    let at = gradient(&p, *row);
                    let mut h = [[0.0; 4]; 4];
                    for l in 0..n {
                        let mut up = p;
                        up[l] *= H.exp();
                        let g = gradient(&up, *row);
                        (0..n).for_each(|k| h[k][l] = (g[k] - at[k]) / H);
                    }
                    // J_i's row k: 1 at η_k, sign · z_i in γ_k's block.
                    for k in 0..n {
                        for l in 0..n {
                            let v = -0.5 * w * (h[k][l] + h[l][k]);
                            acc[k * len + l] += v;
                            if let Some((slot, sign)) = slot_of[l] {
                                for (j, zj) in zi.iter().enumerate() {
                                    acc[k * len + n + slot * m + j] += v * sign * zj;
                                }
                            }
                            if let Some((slot_k, sign_k)) = slot_of[k] {
                                for (a, za) in zi.iter().enumerate() {
                                    let row_at = (n + slot_k * m + a) * len;
                                    acc[row_at + l] += v * sign_k * za;
                                    if let Some((slot_l, sign_l)) = slot_of[l] {
                                        for (b, zb) in zi.iter().enumerate() {
                                            acc[row_at + n + slot_l * m + b] +=
                                                v * sign_k * za * sign_l * zb;
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
                acc
            })
            .collect();
        if ctl.cancelled() {
            return None;
        }
        let mut total = vec![0.0; len * len];
        for part in partial {
            total.iter_mut().zip(part).for_each(|(t, v)| *t += v);
        }
        Some(total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clv::fit::Collapsed;

    /// Rows of each model with two covariates (a 0/1 indicator and a number).
    fn cases() -> Vec<(ModelKind, Vec<f64>, Vec<Row>)> {
        let purchases = vec![
            [0.0, 0.0, 30.0],
            [2.0, 10.0, 38.0],
            [5.0, 30.0, 31.0],
            [1.0, 3.0, 12.0],
        ];
        vec![
            (
                ModelKind::BetaGeo,
                vec![0.24, 4.4, 0.79, 2.4],
                purchases.clone(),
            ),
            (
                ModelKind::ModifiedBetaGeo,
                vec![0.5, 6.2, 0.9, 1.6],
                purchases.clone(),
            ),
            (ModelKind::ParetoNbd, vec![0.55, 10.6, 0.6, 11.7], purchases),
            (
                ModelKind::BetaGeoBetaBinom,
                vec![1.2, 0.75, 0.66, 2.8],
                vec![
                    [2.0, 4.0, 6.0],
                    [0.0, 0.0, 6.0],
                    [3.0, 5.0, 6.0],
                    [1.0, 1.0, 4.0],
                ],
            ),
            (
                ModelKind::ShiftedBetaGeo,
                vec![0.7, 1.2],
                vec![
                    [3.0, 1.0, 0.0],
                    [5.0, 0.0, 0.0],
                    [1.0, 1.0, 0.0],
                    [2.0, 1.0, 0.0],
                ],
            ),
            (
                ModelKind::GammaGamma,
                vec![6.25, 3.74, 15.44],
                vec![
                    [3.0, 30.0, 0.0],
                    [1.0, 12.0, 0.0],
                    [7.0, 41.0, 0.0],
                    [2.0, 25.0, 0.0],
                ],
            ),
        ]
    }

    fn data(rows: &[Row]) -> Data {
        let z = [1.0, 0.3, 0.0, -1.2, 1.0, 2.0, 0.0, 0.5];
        Data::new(rows, &z, 2, &[1.0, 2.0, 1.0, 0.5])
    }

    #[test]
    fn gradients_match_finite_differences() {
        let ctl = Control::new();
        for (kind, base, rows) in cases() {
            let data = data(&rows);
            let g = scaled(kind).len() * 2;
            let mut eta: Vec<f64> = base.iter().map(|p| p.ln()).collect();
            eta.extend(
                (0..g).map(|j| 0.1 * (j as f64 + 1.0) * if j % 2 == 0 { 1.0 } else { -1.0 }),
            );
            let (_, exact) = data.log_likelihood(kind, &eta, &ctl);
            for j in 0..eta.len() {
                let h = 1e-6;
                let (mut up, mut down) = (eta.clone(), eta.clone());
                up[j] += h;
                down[j] -= h;
                let numeric = (data.log_likelihood(kind, &up, &ctl).0
                    - data.log_likelihood(kind, &down, &ctl).0)
                    / (2.0 * h);
                assert!(
                    (exact[j] - numeric).abs() < 1e-6 * (1.0 + numeric.abs()),
                    "{kind:?} {j}: {} vs {numeric}",
                    exact[j]
                );
            }
        }
    }

    #[test]
    fn information_matches_differences_of_the_gradient() {
        let ctl = Control::new();
        for (kind, base, rows) in cases() {
            let data = data(&rows);
            let g = scaled(kind).len() * 2;
            let mut eta: Vec<f64> = base.iter().map(|p| p.ln()).collect();
            eta.extend((0..g).map(|j| 0.05 * (j as f64 + 1.0)));
            let exact = data.information(kind, &eta, &ctl).unwrap();
            let len = eta.len();
            for j in 0..len {
                let h = 1e-5;
                let (mut up, mut down) = (eta.clone(), eta.clone());
                up[j] += h;
                down[j] -= h;
                let (_, g_up) = data.log_likelihood(kind, &up, &ctl);
                let (_, g_down) = data.log_likelihood(kind, &down, &ctl);
                for i in 0..len {
                    let numeric = -(g_up[i] - g_down[i]) / (2.0 * h);
                    let got = exact[i * len + j];
                    assert!(
                        (got - numeric).abs() < 1e-4 * (1.0 + numeric.abs()),
                        "{kind:?} ({i}, {j}): {got} vs {numeric}"
                    );
                }
            }
        }
    }

    #[test]
    fn zero_coefficients_give_the_likelihood_without_covariates() {
        let ctl = Control::new();
        for (kind, base, rows) in cases() {
            let data = data(&rows);
            let mut eta: Vec<f64> = base.iter().map(|p| p.ln()).collect();
            eta.resize(base.len() + scaled(kind).len() * 2, 0.0);
            let (with, _) = data.log_likelihood(kind, &eta, &ctl);
            let plain = Collapsed::new(&rows, Some(&[1.0, 2.0, 1.0, 0.5])).unwrap();
            let (without, _) = plain.log_likelihood(kind, &base, &ctl);
            assert!(
                (with - without).abs() < 1e-10 * without.abs(),
                "{kind:?} {with} {without}"
            );
        }
    }

    /// BG/NBD customers whose purchase rate scales by exp(γ z) (α by exp(−γ z)).
    #[test]
    fn recovers_a_purchase_rate_coefficient() {
        use rand::{Rng, SeedableRng};
        use rand_distr::{Beta, Distribution, Exp, Gamma};
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(11);
        let (r, alpha, gamma) = (0.8, 5.0, 0.7);
        let dropout = Beta::new(0.8, 2.5).unwrap();
        let (mut rows, mut z) = (Vec::new(), Vec::new());
        for _ in 0..20_000 {
            let zi = f64::from(rng.random::<bool>());
            let rate = Gamma::new(r, 1.0 / (alpha * (-gamma * zi).exp())).unwrap();
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
            rows.push([x, tx, big_t]);
            z.push(zi);
        }
        let design = Design {
            columns: vec![super::super::covariates::Covariate::Numeric { name: "z".into() }],
        };
        let fitted = fit_with_covariates(
            ModelKind::BetaGeo,
            &rows,
            None,
            design,
            vec![true; 3],
            &z,
            &FitOptions::default(),
            &Control::new(),
        )
        .unwrap();
        let c = fitted.covariates.as_ref().unwrap();
        assert!(fitted.converged, "{fitted:?}");
        // alpha's coefficient, within 3 standard errors.
        assert!((c.gamma[0] - gamma).abs() < 3.0 * c.std_errors[0], "{c:?}");
        assert!(c.test.p_value < 1e-6 && c.test.df == 3, "{:?}", c.test);
    }
}
