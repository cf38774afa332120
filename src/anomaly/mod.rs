//! Anomaly scoring: unsupervised detectors and per-customer transaction risk.
//!
//! * [`iforest`]: isolation forest (Liu, Ting & Zhou 2008), scored exactly as
//!   scikit-learn's `IsolationForest` (same path-length normalisation).
//! * [`hbos`]: histogram-based outlier score (Goldstein & Dengel 2012), as PyOD.
//! * [`ecod`]: empirical-CDF outlier detection (Li et al. 2022), as PyOD.
//! * [`transactions`]: per-customer features of a card log computed from each
//!   customer's own past only, combined into a risk score with reasons.
//!
//! Detectors read features as a column-major `f64` matrix ([`Matrix`]): every
//! algorithm here walks one feature at a time (sorting, binning, splitting).

mod argsort;
pub mod ecod;
pub mod hbos;
pub mod iforest;
pub mod scored;
pub mod transactions;

use std::borrow::Cow;

use rayon::prelude::*;

use crate::error::{Error, Result};
pub use crate::hashing::stream_seed;
use crate::spec::Spec;

/// The contracts of the anomaly estimators.
pub static SPECS: [&Spec; 4] = [
    &iforest::SPEC,
    &hbos::SPEC,
    &ecod::SPEC,
    &transactions::SPEC,
];

/// A borrowed dense matrix in either memory order (numpy's C or Fortran),
/// so arrays are never copied to change layout: element `(row, col)` is
/// `data[row * row_stride + col * col_stride]`.
#[derive(Debug, Clone, Copy)]
pub struct Matrix<'a> {
    data: &'a [f64],
    n_rows: usize,
    n_cols: usize,
    row_stride: usize,
    col_stride: usize,
}

impl<'a> Matrix<'a> {
    fn checked(data: &'a [f64], n_rows: usize, n_cols: usize) -> Result<()> {
        if n_rows.checked_mul(n_cols) != Some(data.len()) {
            return Err(Error::argument(
                "X",
                format!(
                    "is a {n_rows}x{n_cols} matrix, which needs {} values, but has {}",
                    n_rows.saturating_mul(n_cols),
                    data.len()
                ),
            ));
        }
        Ok(())
    }

    /// Column-major (Fortran order): column `j` is contiguous.
    pub fn new(data: &'a [f64], n_rows: usize, n_cols: usize) -> Result<Self> {
        Self::checked(data, n_rows, n_cols)?;
        Ok(Matrix {
            data,
            n_rows,
            n_cols,
            row_stride: 1,
            col_stride: n_rows,
        })
    }

    /// Row-major (C order): row `i` is contiguous.
    pub fn row_major(data: &'a [f64], n_rows: usize, n_cols: usize) -> Result<Self> {
        Self::checked(data, n_rows, n_cols)?;
        Ok(Matrix {
            data,
            n_rows,
            n_cols,
            row_stride: n_cols,
            col_stride: 1,
        })
    }

    pub fn n_rows(&self) -> usize {
        self.n_rows
    }

    pub fn n_cols(&self) -> usize {
        self.n_cols
    }

    /// Column `j`: borrowed in column-major order, gathered otherwise.
    pub fn column(&self, j: usize) -> Cow<'a, [f64]> {
        if self.row_stride == 1 {
            Cow::Borrowed(&self.data[j * self.col_stride..j * self.col_stride + self.n_rows])
        } else {
            Cow::Owned((0..self.n_rows).map(|i| self.get(i, j)).collect())
        }
    }

    /// Several columns at once: borrowed in column-major order, otherwise
    /// gathered in one pass over the rows (not one strided pass per column).
    pub fn columns(&self, cols: &[usize]) -> Vec<Cow<'a, [f64]>> {
        if self.row_stride == 1 {
            return cols.iter().map(|&j| self.column(j)).collect();
        }
        let mut out: Vec<Vec<f64>> = cols
            .iter()
            .map(|_| Vec::with_capacity(self.n_rows))
            .collect();
        for row in self.data.chunks_exact(self.n_cols) {
            for (column, &j) in out.iter_mut().zip(cols) {
                column.push(row[j]);
            }
        }
        out.into_iter().map(Cow::Owned).collect()
    }

    /// # Safety
    /// `row < n_rows` and `col < n_cols`.
    #[inline(always)]
    pub unsafe fn get_unchecked(&self, row: usize, col: usize) -> f64 {
        debug_assert!(row < self.n_rows && col < self.n_cols);
        *self
            .data
            .get_unchecked(row * self.row_stride + col * self.col_stride)
    }

    #[inline(always)]
    pub fn get(&self, row: usize, col: usize) -> f64 {
        self.data[row * self.row_stride + col * self.col_stride]
    }

    /// Error naming the first feature that holds NaN or infinity; `names`
    /// are the feature names used in messages (indices when empty).
    pub fn require_finite(&self, names: &[String]) -> Result<()> {
        // Chunks keep rayon's per-item overhead out of a check of every value.
        const CHUNK: usize = 1 << 14;
        let Some(chunk) = self
            .data
            .par_chunks(CHUNK)
            .position_first(|c| c.iter().any(|v| !v.is_finite()))
        else {
            return Ok(());
        };
        let position = chunk * CHUNK
            + self.data[chunk * CHUNK..]
                .iter()
                .position(|v| !v.is_finite())
                .unwrap_or(0);
        let j = if self.row_stride == 1 {
            position / self.n_rows.max(1)
        } else {
            position % self.n_cols.max(1)
        };
        let count = (0..self.n_rows)
            .filter(|&i| !self.get(i, j).is_finite())
            .count();
        Err(Error::column_value(
            feature_name(names, j),
            format!(
                "contains {count} NaN or infinite value(s); impute or drop them before \
                 fitting or scoring (detectors need finite features)"
            ),
        ))
    }
}

/// The name of feature `j` for messages.
pub fn feature_name(names: &[String], j: usize) -> String {
    names.get(j).cloned().unwrap_or_else(|| format!("x{j}"))
}

/// Check the feature count of data scored by a fitted detector (in
/// scikit-learn's words, which its estimator checks look for).
pub fn require_n_features(detector: &str, expected: usize, x: &Matrix<'_>) -> Result<()> {
    if x.n_cols() != expected {
        return Err(Error::Shape(format!(
            "X has {} features, but {detector} is expecting {expected} features as input",
            x.n_cols()
        )));
    }
    Ok(())
}

/// Check a detector's training data: at least one row and one column, all
/// finite (messages in scikit-learn's words).
pub fn require_training_data(x: &Matrix<'_>, names: &[String]) -> Result<()> {
    let shape = (x.n_rows(), x.n_cols());
    if x.n_rows() == 0 {
        return Err(Error::Shape(format!(
            "X has 0 sample(s) (shape={shape:?}) while a minimum of 1 is required"
        )));
    }
    if x.n_cols() == 0 {
        return Err(Error::Shape(format!(
            "X has 0 feature(s) (shape={shape:?}) while a minimum of 1 is required."
        )));
    }
    if !names.is_empty() && names.len() != x.n_cols() {
        return Err(Error::argument(
            "feature_names",
            format!("has {} names for {} features", names.len(), x.n_cols()),
        ));
    }
    x.require_finite(names)
}

/// `numpy.percentile(values, pct)` with the default linear interpolation,
/// computed as numpy does (same virtual index and lerp), without a full sort.
pub fn percentile(values: &[f64], pct: f64) -> f64 {
    let n = values.len();
    if n == 0 {
        return f64::NAN;
    }
    let q = pct / 100.0;
    // numpy's virtual index n q + (alpha + q (1 - alpha - beta)) - 1, linear method.
    let (alpha, beta) = (1.0, 1.0);
    let virtual_index =
        (n as f64 * q + (alpha + q * (1.0 - alpha - beta)) - 1.0).clamp(0.0, (n - 1) as f64);
    let below = virtual_index.floor();
    let gamma = virtual_index - below;
    let k = below as usize;
    let mut work = values.to_vec();
    let (_, &mut a, rest) = work.select_nth_unstable_by(k, |x, y| x.total_cmp(y));
    let b = rest
        .iter()
        .copied()
        .min_by(|x, y| x.total_cmp(y))
        .unwrap_or(a);
    let b = if k + 1 < n { b } else { a };
    // numpy's _lerp: a + (b - a) t, evaluated from the nearer end.
    let diff = b - a;
    if gamma >= 0.5 {
        b - diff * (1.0 - gamma)
    } else {
        a + diff * gamma
    }
}

/// Rows per parallel task when scoring row by row.
pub(crate) const ROW_BLOCK: usize = 2048;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_matches_numpy_linear() {
        let v = [3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0];
        // numpy.percentile(v, [0, 10, 50, 90, 100])
        let expected = [1.0, 1.0, 3.5, 6.9, 9.0];
        for (p, e) in [0.0, 10.0, 50.0, 90.0, 100.0].iter().zip(expected) {
            assert!((percentile(&v, *p) - e).abs() < 1e-12, "{p}");
        }
    }

    #[test]
    fn matrix_checks_shape_and_names_bad_columns() {
        assert!(Matrix::new(&[1.0, 2.0, 3.0], 2, 2).is_err());
        let data = [1.0, 2.0, f64::NAN, 4.0];
        let names = ["a".to_string(), "b".to_string()];
        let m = Matrix::new(&data, 2, 2).unwrap();
        let err = m.require_finite(&names).unwrap_err();
        assert!(err.to_string().contains("'b'"), "{err}");
        // The same values in row-major order: [[1, nan], [2, 4]].
        let rows = [1.0, f64::NAN, 2.0, 4.0];
        let m = Matrix::row_major(&rows, 2, 2).unwrap();
        let err = m.require_finite(&names).unwrap_err();
        assert!(err.to_string().contains("'b'"), "{err}");
        assert_eq!(m.column(0).to_vec(), vec![1.0, 2.0]);
    }
}
