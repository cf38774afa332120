//! PyOD-style fits: a detector with its training scores and the alert
//! threshold at the `1 - contamination` percentile of them.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::{percentile, require_n_features, Matrix};
use crate::control::Control;
use crate::error::Result;
use crate::persist::{self, Persist};
use crate::spec::Params;

/// A detector whose scores are higher for more abnormal rows (PyOD's sign).
pub trait Detector: Serialize + DeserializeOwned + Sync {
    /// The public name (the spec's).
    const NAME: &'static str;

    /// Fit on `x` (parameters checked against the detector's spec); returns
    /// the model and the training rows' scores.
    fn fit(
        x: &Matrix<'_>,
        names: &[String],
        params: &Params,
        ctl: &Control,
    ) -> Result<(Self, Vec<f64>)>;

    fn n_features(&self) -> usize;

    /// Scores of rows already checked to have `n_features` finite columns.
    fn scores(&self, x: &Matrix<'_>, ctl: &Control) -> Result<Vec<f64>>;

    /// The invariants [`Detector::scores`] relies on, for a model read from bytes.
    fn validate(&self) -> Result<()>;
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoredFit<M> {
    pub model: M,
    /// Column names seen in fit (empty for arrays).
    pub feature_names: Vec<String>,
    /// Scores of the training rows.
    pub decision_scores: Vec<f64>,
    /// Rows scoring above it are outliers.
    pub threshold: f64,
}

impl<M: Detector> ScoredFit<M> {
    pub fn fit(x: &Matrix<'_>, names: &[String], params: &Params, ctl: &Control) -> Result<Self> {
        let (model, decision_scores) = M::fit(x, names, params, ctl)?;
        let contamination = params.number("contamination");
        let threshold = percentile(&decision_scores, 100.0 * (1.0 - contamination));
        Ok(ScoredFit {
            model,
            feature_names: names.to_vec(),
            decision_scores,
            threshold,
        })
    }

    /// Scores of new rows (higher is more abnormal).
    pub fn decision_function(&self, x: &Matrix<'_>, ctl: &Control) -> Result<Vec<f64>> {
        require_n_features(M::NAME, self.model.n_features(), x)?;
        x.require_finite(&self.feature_names)?;
        self.model.scores(x, ctl)
    }

    /// PyOD's labels of scores: 1 above the threshold, else 0.
    pub fn labels(&self, scores: &[f64]) -> Vec<i64> {
        scores
            .iter()
            .map(|&s| (s > self.threshold) as i64)
            .collect()
    }
}

impl<M: Detector> Persist for ScoredFit<M> {
    fn kind(&self) -> String {
        format!("anomaly.{}", M::NAME)
    }

    fn accepts_kind(kind: &str) -> bool {
        kind.strip_prefix("anomaly.") == Some(M::NAME)
    }

    fn expected() -> String {
        format!("anomaly.{}", M::NAME)
    }

    fn validate(&self) -> Result<()> {
        self.model.validate()?;
        let n = self.model.n_features();
        persist::require(
            self.feature_names.is_empty() || self.feature_names.len() == n,
            || "feature names do not match the number of features".into(),
        )?;
        persist::require(
            !self.decision_scores.is_empty()
                && self.decision_scores.iter().all(|s| !s.is_nan())
                && !self.threshold.is_nan(),
            || "the training scores or the threshold are missing or NaN".into(),
        )
    }
}
