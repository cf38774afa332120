//! Fits whose drop-out vanishes.
//!
//! When nobody is seen to drop out, a continuous model's likelihood keeps
//! rising as its drop-out vanishes (Pareto/NBD: s → 0 or s/β → 0; BG/NBD and
//! MBG/NBD: a → 0 or b → ∞) towards the maximum of the NBD (purchases without
//! drop-out), which it reaches only in the limit: BFGS crawls along the
//! boundary and the drop-out parameters have no standard errors.  The NBD,
//! fitted first (two parameters, one logarithm per customer), tells when the
//! fit has got there; the boundary model then reports the NBD's purchase
//! parameters with their standard errors and none for the drop-out ones.

use super::fit::{covariance, mean_objective, Collapsed, Fitted};
use super::models::{Likelihood, ModelKind};
use super::optimize::{minimize, Settings};
use crate::control::Control;

/// A model whose drop-out ends fewer than this share of customers' purchases
/// (over the longest history in the data) is the NBD for every purpose; a
/// fit stops there once its likelihood is also no better than the NBD's
/// (else it is heading for an interior maximum with little drop-out).
const NEGLIGIBLE_DROPOUT: f64 = 1e-4;

/// The share of customers `p` (of `kind`) lets drop out: Pareto/NBD's within
/// `longest` periods, `1 − (β/(β + t))^s`; BG/NBD's and MBG/NBD's mean
/// drop-out probability at a purchase, `a/(a + b)`.
pub fn dropout_share(kind: ModelKind, p: &[f64], longest: f64) -> f64 {
    match kind {
        ModelKind::ParetoNbd => -(-p[2] * (longest / p[3]).ln_1p()).exp_m1(),
        ModelKind::BetaGeo | ModelKind::ModifiedBetaGeo => p[2] / (p[2] + p[3]),
        _ => 1.0,
    }
}

/// The NBD fitted on a model's data, and the boundary that model may run to.
#[derive(Debug, Clone)]
pub struct NoDropout {
    kind: ModelKind,
    /// `(r, α)`, their covariance (row-major 2×2) and the maximum.
    params: [f64; 2],
    covariance: Vec<f64>,
    log_likelihood: f64,
    longest: f64,
}

impl NoDropout {
    /// The NBD's maximum-likelihood fit from the model's starting `(r, α)`
    /// (`None` if it fails, which leaves the model's fit as it was).
    pub fn fit(
        kind: ModelKind,
        data: &Collapsed,
        start: &[f64],
        settings: Settings,
        ctl: &Control,
    ) -> Option<Self> {
        let objective = mean_objective(Likelihood::NoDropout, data, 0.0, ctl);
        let minimum = minimize(objective, &[start[0].ln(), start[1].ln()], None, settings);
        let params = [minimum.x[0].exp(), minimum.x[1].exp()];
        if !(minimum.converged && params.iter().all(|p| p.is_finite() && *p > 0.0)) {
            return None;
        }
        let (log_likelihood, gradient) = data.log_likelihood(Likelihood::NoDropout, &params, ctl);
        let covariance = covariance(Likelihood::NoDropout, data, &params, &gradient, ctl);
        let longest = data.rows.iter().map(|r| r[2]).fold(0.0, f64::max);
        Some(NoDropout {
            kind,
            params,
            covariance,
            log_likelihood,
            longest,
        })
    }

    /// Whether the model's BFGS iterate `theta` (log-parameters), whose
    /// mean negative log-likelihood over `total_weight` customers is
    /// `value`, has reached the boundary: its drop-out is negligible and it
    /// fits no better than the NBD.
    pub fn reached(&self, theta: &[f64], value: f64, total_weight: f64) -> bool {
        let p: Vec<f64> = theta.iter().map(|t| t.exp()).collect();
        dropout_share(self.kind, &p, self.longest) < NEGLIGIBLE_DROPOUT
            && self.explains(-value * total_weight)
    }

    /// Whether a model's `log_likelihood` is no better than the NBD's (to
    /// rounding): its data give no evidence of drop-out.
    pub fn explains(&self, log_likelihood: f64) -> bool {
        !(log_likelihood > self.log_likelihood + 1e-9 * self.log_likelihood.abs().max(1.0))
    }

    /// The boundary model: the NBD's `(r, α)` with their standard errors,
    /// the drop-out parameters where the fit left them (negligible drop-out,
    /// no standard errors), the NBD's maximum as the log-likelihood (the
    /// model's supremum), not converged.
    pub fn fitted(&self, dropout: &[f64], iterations: usize, data: &Collapsed) -> Fitted {
        let n = self.kind.n_params();
        let mut params = dropout.to_vec();
        params[..2].copy_from_slice(&self.params);
        let mut covariance = vec![f64::NAN; n * n];
        for (i, j) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
            covariance[i * n + j] = self.covariance[i * 2 + j];
        }
        let std_errors = (0..n).map(|i| covariance[i * n + i].sqrt()).collect();
        Fitted {
            kind: self.kind,
            params,
            std_errors,
            covariance,
            log_likelihood: self.log_likelihood,
            n_samples: data.total_weight(),
            n_distinct_rows: data.rows.len(),
            n_excluded: 0,
            n_zero_spend: 0,
            iterations,
            converged: false,
            penalizer: 0.0,
            covariates: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dropout_shares_vanish_at_the_boundaries() {
        let longest = 370.0;
        // Pareto/NBD: s → 0 with β large or small (6e-9 · ln(1 + 370/1.2e6) ≈ 1.8e-12).
        assert!(dropout_share(ModelKind::ParetoNbd, &[0.7, 65.0, 6e-9, 1.2e6], longest) < 2e-12);
        assert!(dropout_share(ModelKind::ParetoNbd, &[0.7, 65.0, 1e-7, 1e-3], longest) < 1e-5);
        let cdnow = dropout_share(ModelKind::ParetoNbd, &[0.55, 10.6, 0.61, 11.7], 39.0);
        assert!(cdnow > 0.4 && cdnow < 1.0, "{cdnow}");
        assert!(dropout_share(ModelKind::BetaGeo, &[0.7, 65.0, 1e-9, 2.0], longest) < 1e-6);
    }
}
