//! EASE (Steck 2019): a closed-form item-item model.
//!
//! `G = XᵀX + λI`, `P = G⁻¹` (faer's blocked Cholesky and inverse, parallel),
//! `B = I − P · diag(1 / diag(P))` with `diag(B) = 0`, in f64 or f32.
//! Fitting holds [`MATRICES`] dense `n_items²` matrices at its peak, so it
//! refuses catalogues whose matrices would not fit in [`MEMORY_FRACTION`] of
//! the available memory (or above an explicit `max_items`).

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::cholesky::llt;
use faer::traits::RealField;
use faer::Mat;

use super::sparse::Csr;
use crate::control::Control;
use crate::error::{Error, Result};
use crate::persist;
use crate::spec::{Accept, Literal, Param, Params, Spec};

/// The contract of `patronage.recommend.EASE`.
pub static SPEC: Spec = Spec {
    name: "EASE",
    params: &[
        Param {
            name: "regularization",
            default: Literal::Float(500.0),
            accepts: &[Accept::above(0.0)],
            unit: "",
            doc: "λ added to the diagonal of XᵀX",
        },
        Param {
            name: "max_items",
            default: Literal::None,
            accepts: &[Accept::None, Accept::int_from(1)],
            unit: "items",
            doc: "largest catalogue fitted; None: the most whose three dense n_items² matrices \
                  (XᵀX + λI and its Cholesky factor, the inverse, the inversion's scratch) fit \
                  in half of the available memory (MemAvailable; 20,000 items where it cannot \
                  be read)",
        },
        Param {
            name: "dtype",
            default: Literal::Str("float64"),
            accepts: &[Accept::Word(&["float64", "float32"])],
            unit: "",
            doc: "precision of the fit and of B: float32 halves the memory (and the time)",
        },
    ],
    columns: &[],
    fitted: &[],
};

/// Dense `n_items²` matrices alive at once while fitting: `G` (factored in
/// place into `L`), `P` and faer's scratch for `L⁻¹` during the inverse.
pub const MATRICES: usize = 3;
/// Share of the available memory those matrices may take.
pub const MEMORY_FRACTION: f64 = 0.5;
/// The limit where the available memory cannot be read (not Linux).
const FALLBACK_MAX_ITEMS: usize = 20_000;

/// `B`, row-major `n_items × n_items`; row `i` is what item `i` adds to scores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Weights {
    F64(Vec<f64>),
    F32(Vec<f32>),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ease {
    pub n_items: usize,
    pub b: Weights,
}

/// The scalars EASE is fitted in.
trait Real: RealField + Copy + Send + Sync {
    fn of(v: f64) -> Self;
    fn get(self) -> f64;
}

impl Real for f64 {
    fn of(v: f64) -> Self {
        v
    }
    fn get(self) -> f64 {
        self
    }
}

impl Real for f32 {
    fn of(v: f64) -> Self {
        v as f32
    }
    fn get(self) -> f64 {
        self as f64
    }
}

/// `MemAvailable` of `/proc/meminfo` in bytes, if it can be read.
fn available_memory() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024.0)
}

/// Bytes of the dense matrices fitting `n` items takes at its peak.
pub fn bytes_needed(n: usize, value_bytes: usize) -> f64 {
    (MATRICES * value_bytes) as f64 * (n as f64).powi(2)
}

/// The default `max_items`: the most items whose [`MATRICES`] fit in
/// [`MEMORY_FRACTION`] of `available` bytes (the fallback when unknown).
pub fn memory_max_items(available: Option<f64>, value_bytes: usize) -> usize {
    match available {
        Some(bytes) => {
            let per_matrix = MEMORY_FRACTION * bytes / (MATRICES * value_bytes) as f64;
            (per_matrix.sqrt().floor() as usize).max(1)
        }
        None => FALLBACK_MAX_ITEMS,
    }
}

impl Ease {
    pub fn fit(user_items: &Csr, params: &Params, ctl: &Control) -> Result<Self> {
        let lambda = params.number("regularization");
        let single = params.text("dtype") == Some("float32");
        let (n, value_bytes) = (user_items.n_cols, if single { 4 } else { 8 });
        let gb = |bytes: f64| bytes / 1e9;
        let needs = format!(
            "EASE on {n} items needs {MATRICES} dense {n}×{n} {} matrices ({:.2} GB)",
            params.text("dtype").unwrap_or("float64"),
            gb(bytes_needed(n, value_bytes))
        );
        let advice = "or use ItemKNN/ALS";
        match params.int("max_items") {
            Some(m) if n > m as usize => {
                return Err(params.error(
                    "max_items",
                    format!("is {m} but {needs}: raise max_items if you have the memory, {advice}"),
                ))
            }
            Some(_) => {}
            None => {
                let available = available_memory();
                let limit = memory_max_items(available, value_bytes);
                if n > limit {
                    let source = match available {
                        Some(bytes) => format!(
                            "the {limit} items whose matrices fit in {:.0}% of the {:.2} GB \
                             available",
                            MEMORY_FRACTION * 100.0,
                            gb(bytes)
                        ),
                        None => format!("{limit} (the available memory is unknown)"),
                    };
                    return Err(params.error(
                        "max_items",
                        format!(
                            "defaults to {source}, but {needs}: pass max_items={n} if you have \
                             the memory, dtype='float32' to halve it, {advice}"
                        ),
                    ));
                }
            }
        }
        let b = if single {
            Weights::F32(solve::<f32>(user_items, lambda, ctl)?)
        } else {
            Weights::F64(solve::<f64>(user_items, lambda, ctl)?)
        };
        Ok(Ease { n_items: n, b })
    }

    /// The invariants of serving, for a model read from bytes.
    pub fn validate(&self, n_items: usize) -> Result<()> {
        let len = match &self.b {
            Weights::F64(b) => b.len(),
            Weights::F32(b) => b.len(),
        };
        persist::require(
            n_items.checked_mul(n_items) == Some(len) && self.n_items == n_items,
            || format!("EASE weights are not {n_items}x{n_items}"),
        )?;
        match &self.b {
            Weights::F64(b) => persist::require_finite(b, "EASE weights"),
            Weights::F32(b) => persist::require(b.iter().all(|v| v.is_finite()), || {
                "EASE weights hold NaN or infinite values".into()
            }),
        }
    }

    /// What item `j` adds, per unit of weight, to item `i`'s score.
    pub fn weight(&self, j: u32, i: u32) -> f64 {
        let k = j as usize * self.n_items + i as usize;
        match &self.b {
            Weights::F64(b) => b[k],
            Weights::F32(b) => b[k] as f64,
        }
    }

    /// Row `i` of `B` as f32 scores.
    pub fn row(&self, i: usize) -> Vec<f32> {
        let n = self.n_items;
        match &self.b {
            Weights::F64(b) => b[i * n..(i + 1) * n].iter().map(|&v| v as f32).collect(),
            Weights::F32(b) => b[i * n..(i + 1) * n].to_vec(),
        }
    }

    /// Scores of every item for a user's items: `x_u B` (summed in f64).
    pub fn score_into(&self, items: &[u32], weights: &[f32], out: &mut [f32]) {
        fn add<T: Copy + Into<f64>>(
            b: &[T],
            n: usize,
            items: &[u32],
            weights: &[f32],
            acc: &mut [f64],
        ) {
            for (&i, &w) in items.iter().zip(weights) {
                let row = &b[i as usize * n..(i as usize + 1) * n];
                let w = w as f64;
                for (a, &v) in acc.iter_mut().zip(row) {
                    *a += w * v.into();
                }
            }
        }
        let n = self.n_items;
        let mut acc = vec![0f64; n];
        match &self.b {
            Weights::F64(b) => add(b, n, items, weights, &mut acc),
            Weights::F32(b) => add(b, n, items, weights, &mut acc),
        }
        for (o, a) in out.iter_mut().zip(acc) {
            *o = a as f32;
        }
    }
}

/// `B` (row-major) in precision `T`, holding at most [`MATRICES`] n² at once.
fn solve<T: Real>(user_items: &Csr, lambda: f64, ctl: &Control) -> Result<Vec<T>> {
    let n = user_items.n_cols;
    let not_pd = || {
        Error::fit(
            "EASE",
            "XᵀX + λI is not positive definite; raise regularization",
        )
    };
    let par = faer::get_global_parallelism();
    // G, then L in its lower triangle (as faer's `Llt` does, without a copy).
    let mut l = gram_of_items::<T>(user_items, lambda);
    ctl.check()?;
    {
        let req = llt::factor::cholesky_in_place_scratch::<T>(n, par, Default::default());
        let mut mem = MemBuffer::new(req);
        llt::factor::cholesky_in_place(
            l.as_mut(),
            Default::default(),
            par,
            MemStack::new(&mut mem),
            Default::default(),
        )
        .map_err(|_| not_pd())?;
    }
    ctl.check()?;
    // P = G⁻¹, lower triangle (faer's scratch for L⁻¹ is the third matrix).
    let mut p = Mat::<T>::zeros(n, n);
    {
        let mut mem = MemBuffer::new(llt::inverse::inverse_scratch::<T>(n, par));
        llt::inverse::inverse(p.as_mut(), l.as_ref(), par, MemStack::new(&mut mem));
    }
    drop(l);
    ctl.check()?;
    let p = p.as_ref();
    let lower = |i: usize, j: usize| if i >= j { p[(i, j)] } else { p[(j, i)] };
    // B = I − P diag(1/diag(P)), zero diagonal.
    let mut b = vec![T::of(0.0); n * n];
    b.par_chunks_mut(n).enumerate().for_each(|(i, row)| {
        for (j, v) in row.iter_mut().enumerate() {
            if i != j {
                *v = T::of(-lower(i, j).get() / p[(j, j)].get());
            }
        }
    });
    if b.iter().any(|v| !v.get().is_finite()) {
        return Err(not_pd());
    }
    Ok(b)
}

/// A pointer to the columns of a matrix, written one column per task.
struct Shared<T>(*mut T);
// SAFETY: only used to hand out disjoint column slices.
unsafe impl<T> Sync for Shared<T> {}

/// `XᵀX + λI` as a dense (column-major, faer-aligned) matrix: rows of the
/// item × user matrix dotted through the users they share, summed in f64 per
/// column (a sparse product, parallel over items).
fn gram_of_items<T: Real>(user_items: &Csr, lambda: f64) -> Mat<T> {
    let n = user_items.n_cols;
    let item_users = user_items.transpose();
    let mut g = Mat::<T>::zeros(n, n);
    // G is symmetric: column i is row i of XᵀX.
    let (base, stride) = (Shared(g.as_ptr_mut()), g.col_stride() as usize);
    let columns: Vec<&mut [T]> = (0..n)
        .map(|i| {
            let base = &base;
            // SAFETY: each column is a distinct contiguous run of `n` values
            // of `g` (column-major, stride >= n), alive until `g` is returned.
            unsafe { std::slice::from_raw_parts_mut(base.0.add(i * stride), n) }
        })
        .collect();
    columns.into_par_iter().enumerate().for_each_init(
        || vec![0f64; n],
        |acc, (i, col)| {
            acc.fill(0.0);
            let (users, a) = item_users.row(i);
            for (&u, &a) in users.iter().zip(a) {
                let (items, b) = user_items.row(u as usize);
                for (&j, &b) in items.iter().zip(b) {
                    acc[j as usize] += a as f64 * b as f64;
                }
            }
            acc[i] += lambda;
            for (c, &v) in col.iter_mut().zip(acc.iter()) {
                *c = T::of(v);
            }
        },
    );
    g
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_memory_rule_fits_three_matrices_in_half_the_memory() {
        let gib = 1024f64.powi(3);
        let n = memory_max_items(Some(16.0 * gib), 8);
        assert!(bytes_needed(n, 8) <= 8.0 * gib && bytes_needed(n + 1, 8) > 8.0 * gib);
        // f32 fits √2 times the items.
        let single = memory_max_items(Some(16.0 * gib), 4) as f64;
        assert!((single / n as f64 - 2f64.sqrt()).abs() < 1e-3);
        assert_eq!(memory_max_items(None, 8), FALLBACK_MAX_ITEMS);
        assert!(available_memory().is_some_and(|b| b > 0.0) || !cfg!(target_os = "linux"));
    }
}
