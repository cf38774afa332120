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

use super::scored::Detector;
use super::{require_training_data, Matrix, ROW_BLOCK};
use crate::control::Control;
use crate::error::Result;
use crate::persist;
use crate::spec::{self, Accept, Literal, Param, Params, Spec};

/// The contract of `patronage.anomaly.HBOS` (PyOD's parameters).
pub static SPEC: Spec = Spec {
    name: "HBOS",
    params: &[
        Param {
            name: "n_bins",
            default: Literal::Int(10),
            accepts: &[Accept::Int {
                min: 2,
                max: 1_000_000,
            }],
            unit: "bins",
            doc: "equal-width bins per feature (PyOD's 'auto' is not supported)",
        },
        Param {
            name: "alpha",
            default: Literal::Float(0.1),
            accepts: &[Accept::in_closed(0.0, 1.0)],
            unit: "",
            doc: "added to densities before the log",
        },
        Param {
            name: "tol",
            default: Literal::Float(0.5),
            accepts: &[Accept::in_closed(0.0, 1.0)],
            unit: "bin widths",
            doc: "how far outside the training range still counts as the edge bin",
        },
        CONTAMINATION,
        spec::N_JOBS,
    ],
    columns: &[],
    fitted: &[],
};

/// PyOD's `contamination`: the share of training rows above the threshold.
pub const CONTAMINATION: Param = Param {
    name: "contamination",
    default: Literal::Float(0.1),
    accepts: &[Accept::in_open_closed(0.0, 0.5)],
    unit: "",
    doc: "share of training rows above threshold_",
};

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
    // A constant feature gets one bin of width 1 around its value, as numpy
    // does; a range too narrow for `n_bins` distinct edges in floating point
    // (values near 1e16, subnormal ranges) is widened the same way.
    let step = (last - first) / n_bins as f64;
    if first == last || step.is_nan() || step <= f64::MIN_POSITIVE || first + step == first {
        let middle = first / 2.0 + last / 2.0;
        let half = 0.5f64.max(middle.abs() * f64::EPSILON * n_bins as f64);
        first = middle - half;
        last = middle + half;
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
    pub fn fit_with(
        x: &Matrix<'_>,
        names: &[String],
        n_bins: usize,
        alpha: f64,
        tol: f64,
        ctl: &Control,
    ) -> Result<(Self, Vec<f64>)> {
        require_training_data(x, names)?;
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
        let scores = model.scores(x, ctl)?;
        Ok((model, scores))
    }
}

impl Detector for Hbos {
    const NAME: &'static str = "HBOS";

    fn fit(
        x: &Matrix<'_>,
        names: &[String],
        p: &Params,
        ctl: &Control,
    ) -> Result<(Self, Vec<f64>)> {
        let (n_bins, alpha, tol) = (p.count("n_bins"), p.number("alpha"), p.number("tol"));
        Hbos::fit_with(x, names, n_bins, alpha, tol, ctl)
    }

    fn n_features(&self) -> usize {
        self.edges.len()
    }

    fn validate(&self) -> Result<()> {
        persist::require(
            !self.edges.is_empty() && self.edges.len() == self.log_density.len(),
            || "HBOS has no features or unequal edge and density lists".into(),
        )?;
        persist::require((0.0..=1.0).contains(&self.tol), || {
            "HBOS tol is outside [0, 1]".into()
        })?;
        for (edges, logs) in self.edges.iter().zip(&self.log_density) {
            let ok = logs.len() >= 2
                && edges.len() == logs.len() + 1
                && edges.iter().all(|e| e.is_finite())
                && edges.windows(2).all(|w| w[0] <= w[1])
                && logs.iter().all(|l| !l.is_nan() && *l != f64::INFINITY);
            persist::require(ok, || "an HBOS histogram is malformed".into())?;
        }
        Ok(())
    }

    fn scores(&self, x: &Matrix<'_>, ctl: &Control) -> Result<Vec<f64>> {
        let lowest: Vec<f64> = self
            .log_density
            .iter()
            .map(|l| l.iter().copied().fold(f64::INFINITY, f64::min))
            .collect();
        let mut out = vec![0.0; x.n_rows()];
        out.par_chunks_mut(ROW_BLOCK)
            .enumerate()
            .for_each(|(block, scores)| {
                if ctl.cancelled() {
                    return;
                }
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
        ctl.check()?;
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
        let (_, s) = Hbos::fit_with(&x, &[], 5, 0.1, 0.5, &Control::new()).unwrap();
        assert!(s[4] > s[1]);
    }
}
