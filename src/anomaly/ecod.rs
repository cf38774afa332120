//! ECOD: unsupervised outlier detection with empirical CDFs (Li et al. 2022),
//! computed as PyOD's `ECOD` does.
//!
//! For each feature, a value's left-tail probability is the share of training
//! values `<=` it and its right-tail probability the share `>=` it.  The
//! feature's outlier score is the largest of `-ln(left)`, `-ln(right)` and the
//! tail chosen by the sign of the feature's skewness (`left` for negative,
//! `right` for positive, `left + right` for zero skewness, as PyOD); the
//! row's score is the sum over features (higher is more abnormal).
//!
//! Training rows are ranked by one sort per feature.  New rows are scored as
//! PyOD scores a single row appended to the training data: a value's tail
//! probabilities are `(count + 1) / (n + 1)`, so a new row never influences
//! another (PyOD instead re-ranks the whole new batch with the training data).

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::hbos::CONTAMINATION;
use super::scored::Detector;
use super::{require_training_data, Matrix, ROW_BLOCK};
use crate::control::Control;
use crate::error::Result;
use crate::persist;
use crate::spec::{self, Params, Spec};

/// The contract of `patronage.anomaly.ECOD` (PyOD's parameters).
pub static SPEC: Spec = Spec {
    name: "ECOD",
    params: &[CONTAMINATION, spec::N_JOBS],
    columns: &[],
    fitted: &[],
};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ecod {
    /// Training values of each feature, sorted.
    sorted: Vec<Vec<f64>>,
    /// Sign of each feature's skewness: -1, 0 or 1.
    skew_sign: Vec<i8>,
}

/// Skewness sign as `numpy.sign(scipy.stats.skew(x))` with NaN (constant
/// columns) mapped to 0.
fn skewness_sign(values: &[f64]) -> i8 {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let (mut m2, mut m3) = (0.0, 0.0);
    for &v in values {
        let d = v - mean;
        m2 += d * d;
        m3 += d * d * d;
    }
    m2 /= n;
    m3 /= n;
    // scipy returns NaN when the variance is zero up to rounding.
    if m2 <= (f64::EPSILON * mean).powi(2) || m2 == 0.0 {
        return 0;
    }
    let skew = m3 / m2.powf(1.5);
    if skew > 0.0 {
        1
    } else if skew < 0.0 {
        -1
    } else {
        0
    }
}

/// One feature's outlier score from its tail probabilities.
#[inline]
fn feature_score(left: f64, right: f64, skew_sign: i8) -> f64 {
    tail_score(-left.ln(), -right.ln(), skew_sign)
}

/// One feature's outlier score from `-ln` of its tail probabilities.
#[inline]
fn tail_score(u_left: f64, u_right: f64, skew_sign: i8) -> f64 {
    let u_skew = match skew_sign {
        -1 => u_left,
        1 => u_right,
        _ => u_left + u_right,
    };
    u_left.max(u_right).max(u_skew)
}

impl Detector for Ecod {
    const NAME: &'static str = "ECOD";

    /// Fit on `x` and return the training scores (PyOD's `decision_scores_`).
    fn fit(
        x: &Matrix<'_>,
        names: &[String],
        _: &Params,
        ctl: &Control,
    ) -> Result<(Self, Vec<f64>)> {
        require_training_data(x, names)?;
        let n = x.n_rows();
        let mut total = vec![0.0; n];
        let mut sorted = Vec::with_capacity(x.n_cols());
        let mut skew_sign = Vec::with_capacity(x.n_cols());
        // Columns run in parallel a group at a time and are added in column
        // order, so the sums do not depend on scheduling; a group bounds the
        // memory of the per-column scores.
        let group = rayon::current_num_threads().max(1) * 2;
        let columns: Vec<usize> = (0..x.n_cols()).collect();
        // -ln(k / n) = ln n - ln k: one table of logs serves every feature.
        let ln: Vec<f64> = (0..=n).into_par_iter().map(|k| (k as f64).ln()).collect();
        for chunk in columns.chunks(group) {
            ctl.check()?;
            let results: Vec<(Vec<f64>, i8, Vec<f64>)> = x
                .columns(chunk)
                .par_iter()
                .map(|column| fit_column(column, &ln))
                .collect();
            for (values, sign, scores) in results {
                total
                    .par_iter_mut()
                    .zip(scores.par_iter())
                    .for_each(|(t, s)| *t += s);
                sorted.push(values);
                skew_sign.push(sign);
            }
        }
        Ok((Ecod { sorted, skew_sign }, total))
    }

    fn n_features(&self) -> usize {
        self.sorted.len()
    }

    fn validate(&self) -> Result<()> {
        let n = self.sorted.first().map_or(0, Vec::len);
        let ok = n > 0
            && self.skew_sign.len() == self.sorted.len()
            && self.skew_sign.iter().all(|s| (-1..=1).contains(s))
            && self.sorted.iter().all(|v| {
                v.len() == n
                    && v.iter().all(|x| x.is_finite())
                    && v.windows(2).all(|w| w[0] <= w[1])
            });
        persist::require(ok, || "the ECOD training values are malformed".into())
    }

    /// Scores of new rows (higher is more abnormal), each row scored as if it
    /// were appended alone to the training data.
    fn scores(&self, x: &Matrix<'_>, ctl: &Control) -> Result<Vec<f64>> {
        let n1 = (self.sorted[0].len() + 1) as f64;
        let mut out = vec![0.0; x.n_rows()];
        out.par_chunks_mut(ROW_BLOCK)
            .enumerate()
            .for_each(|(block, scores)| {
                if ctl.cancelled() {
                    return;
                }
                let start = block * ROW_BLOCK;
                for (j, values) in self.sorted.iter().enumerate() {
                    for (k, s) in scores.iter_mut().enumerate() {
                        let v = x.get(start + k, j);
                        let at_most = values.partition_point(|&t| t <= v);
                        let below = values.partition_point(|&t| t < v);
                        let at_least = values.len() - below;
                        let left = (at_most + 1) as f64 / n1;
                        let right = (at_least + 1) as f64 / n1;
                        *s += feature_score(left, right, self.skew_sign[j]);
                    }
                }
            });
        ctl.check()?;
        Ok(out)
    }
}

/// Sort one column and score its values: returns (sorted values, skewness
/// sign, per-row scores).  `ln[k]` is `ln k`.
fn fit_column(column: &[f64], ln: &[f64]) -> (Vec<f64>, i8, Vec<f64>) {
    let n = column.len();
    let sign = skewness_sign(column);
    let (sorted, positions) = super::argsort::sort_with_positions(column);
    let mut scores = vec![0.0; n];
    let ln_n = ln[n];
    let mut start = 0;
    while start < n {
        // A run of equal values shares its tail counts.
        let mut end = start + 1;
        while end < n && sorted[end] == sorted[start] {
            end += 1;
        }
        let score = tail_score(ln_n - ln[end], ln_n - ln[n - start], sign);
        for &i in &positions[start..end] {
            scores[i as usize] = score;
        }
        start = end;
    }
    (sorted, sign, scores)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extreme_values_score_highest_and_new_rows_use_n_plus_one() {
        let data: Vec<f64> = vec![1.0, 2.0, 2.0, 3.0, 50.0];
        let x = Matrix::new(&data, 5, 1).unwrap();
        let ctl = Control::new();
        let (model, scores) = Ecod::fit(&x, &[], &SPEC.defaults(), &ctl).unwrap();
        let max = scores.iter().cloned().fold(f64::MIN, f64::max);
        assert_eq!(scores[4], max);
        // Ties share counts.
        assert_eq!(scores[1], scores[2]);
        let one = [50.0];
        let s = model
            .scores(&Matrix::new(&one, 1, 1).unwrap(), &ctl)
            .unwrap();
        // Appended: 2 values >= 50 out of 6, 6 <= 50; skew > 0 -> right tail.
        assert!((s[0] - (-(2.0f64 / 6.0).ln())).abs() < 1e-12);
    }
}
