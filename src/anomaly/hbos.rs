//! HBOS: histogram-based outlier score (Goldstein & Dengel 2012), computed as
//! PyOD's `HBOS` with a fixed number of equal-width bins.
//!
//! Each feature gets a density histogram (numpy's `histogram(density=True)`:
//! `n_bins` equal-width bins from the minimum to the maximum).  A value's
//! feature score is `log2(density of its bin + alpha)`; values outside the
//! training range count in the edge bin when within `tol` bin widths of it,
//! otherwise they get the lowest density of the feature.  The row's score is
//! minus the sum over features (higher is more abnormal).

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::{require_n_features, require_training_data, Matrix, ROW_BLOCK};
use crate::error::{Error, Result};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hbos {
    /// `n_bins + 1` edges per feature.
    edges: Vec<Vec<f64>>,
    /// `log2(density + alpha)` per bin, per feature.
    log_density: Vec<Vec<f64>>,
    tol: f64,
}

/// `numpy.histogram(values, bins=n_bins, density=True)`: densities and edges.
fn histogram(values: &[f64], n_bins: usize) -> (Vec<f64>, Vec<f64>) {
    let (mut first, mut last) = values
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        });
    if first == last {
        first -= 0.5;
        last += 0.5;
    }
    // numpy.linspace: k * step + start, the last edge exactly `last`.
    let step = (last - first) / n_bins as f64;
    let mut edges: Vec<f64> = (0..=n_bins).map(|k| k as f64 * step + first).collect();
    edges[n_bins] = last;
    let denom = last - first;
    let mut counts = vec![0usize; n_bins];
    for &v in values {
        // numpy's index computation, then its correction against the edges.
        let mut i = ((v - first) / denom * n_bins as f64) as usize;
        if i == n_bins {
            i -= 1;
        }
        if v < edges[i] {
            i -= 1;
        } else if v >= edges[i + 1] && i != n_bins - 1 {
            i += 1;
        }
        counts[i] += 1;
    }
    let total = values.len() as f64;
    let density = counts
        .iter()
        .zip(edges.windows(2))
        .map(|(&c, w)| c as f64 / (w[1] - w[0]) / total)
        .collect();
    (density, edges)
}

impl Hbos {
    /// Fit on `x` and return the training scores (PyOD's `decision_scores_`).
    pub fn fit(
        x: &Matrix<'_>,
        names: &[String],
        n_bins: usize,
        alpha: f64,
        tol: f64,
    ) -> Result<(Self, Vec<f64>)> {
        require_training_data(x, names)?;
        if n_bins < 2 {
            return Err(Error::argument(
                "n_bins",
                format!("is {n_bins}; it must be at least 2"),
            ));
        }
        if !(0.0..=1.0).contains(&alpha) {
            return Err(Error::argument(
                "alpha",
                format!("is {alpha}; it must be in [0, 1]"),
            ));
        }
        if !(0.0..=1.0).contains(&tol) {
            return Err(Error::argument(
                "tol",
                format!("is {tol}; it must be in [0, 1]"),
            ));
        }
        let (log_density, edges) = (0..x.n_cols())
            .into_par_iter()
            .map(|j| {
                let (density, edges) = histogram(&x.column(j), n_bins);
                let logs = density.iter().map(|d| (d + alpha).log2()).collect();
                (logs, edges)
            })
            .unzip();
        let model = Hbos {
            edges,
            log_density,
            tol,
        };
        let scores = model.decision_function(x)?;
        Ok((model, scores))
    }

    pub fn n_features(&self) -> usize {
        self.edges.len()
    }

    /// Scores (higher is more abnormal).
    pub fn decision_function(&self, x: &Matrix<'_>) -> Result<Vec<f64>> {
        require_n_features(self.n_features(), x)?;
        x.require_finite(&[])?;
        let lowest: Vec<f64> = self
            .log_density
            .iter()
            .map(|l| l.iter().copied().fold(f64::INFINITY, f64::min))
            .collect();
        let mut out = vec![0.0; x.n_rows()];
        out.par_chunks_mut(ROW_BLOCK)
            .enumerate()
            .for_each(|(block, scores)| {
                let start = block * ROW_BLOCK;
                for (j, edges) in self.edges.iter().enumerate() {
                    let logs = &self.log_density[j];
                    let n_bins = logs.len();
                    for (k, s) in scores.iter_mut().enumerate() {
                        let v = x.get(start + k, j);
                        // numpy.digitize(right=True): edges[i-1] < v <= edges[i].
                        let i = edges.partition_point(|&e| e < v);
                        let score = if i == 0 {
                            let width = edges[1] - edges[0];
                            if edges[0] - v <= width * self.tol {
                                logs[0]
                            } else {
                                lowest[j]
                            }
                        } else if i == n_bins + 1 {
                            let width = edges[n_bins] - edges[n_bins - 1];
                            if v - edges[n_bins] <= width * self.tol {
                                logs[n_bins - 1]
                            } else {
                                lowest[j]
                            }
                        } else {
                            logs[i - 1]
                        };
                        *s -= score;
                    }
                }
            });
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_matches_numpy() {
        // numpy.histogram([0, 1, 1, 2, 10], bins=5, density=True)
        let (d, e) = histogram(&[0.0, 1.0, 1.0, 2.0, 10.0], 5);
        assert_eq!(e, vec![0.0, 2.0, 4.0, 6.0, 8.0, 10.0]);
        let expected = [0.3, 0.1, 0.0, 0.0, 0.1];
        for (a, b) in d.iter().zip(expected) {
            assert!((a - b).abs() < 1e-15);
        }
    }

    #[test]
    fn rare_bins_score_high() {
        let data = [0.0, 1.0, 1.0, 2.0, 10.0];
        let x = Matrix::new(&data, 5, 1).unwrap();
        let (_, s) = Hbos::fit(&x, &[], 5, 0.1, 0.5).unwrap();
        assert!(s[4] > s[1]);
    }
}
