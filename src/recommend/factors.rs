//! Latent factor models (ALS, BPR) and what they share: f32 factor matrices,
//! Gram matrices, scoring by dot products and least-squares fold-in.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::linalg::{cholesky, cholesky_solve, dot};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Factors {
    pub n_factors: usize,
    /// Row-major `n_users × n_factors`.
    pub user: Vec<f32>,
    /// Row-major `n_items × n_factors`.
    pub item: Vec<f32>,
    /// Confidence scaling and regularisation used to fold in new users.
    pub alpha: f32,
    pub regularization: f32,
}

impl Factors {
    #[inline]
    pub fn user_row(&self, u: usize) -> &[f32] {
        &self.user[u * self.n_factors..(u + 1) * self.n_factors]
    }

    #[inline]
    pub fn item_row(&self, i: usize) -> &[f32] {
        &self.item[i * self.n_factors..(i + 1) * self.n_factors]
    }

    /// Factor of a user not seen in training, from the items they have: the
    /// implicit-ALS least-squares solution against the item factors.
    /// `yty` is [`Factors::item_gram`], computed once for a batch of users.
    pub fn fold_in(&self, yty: &[f32], items: &[u32], weights: &[f32]) -> Vec<f32> {
        let f = self.n_factors;
        let mut a: Vec<f64> = yty.iter().map(|&v| v as f64).collect();
        let mut b = vec![0f64; f];
        for (&i, &w) in items.iter().zip(weights) {
            let c = (self.alpha * w) as f64;
            let y = self.item_row(i as usize);
            for r in 0..f {
                b[r] += c * y[r] as f64;
                for s in 0..f {
                    a[r * f + s] += (c - 1.0) * y[r] as f64 * y[s] as f64;
                }
            }
        }
        if !cholesky(&mut a, f) {
            return vec![0.0; f];
        }
        cholesky_solve(&a, f, &mut b);
        b.into_iter().map(|v| v as f32).collect()
    }

    pub fn item_gram(&self) -> Vec<f32> {
        gram(&self.item, self.n_factors, self.regularization)
    }

    /// Scores of every item for a user factor.
    pub fn score_into(&self, x: &[f32], out: &mut [f32]) {
        score_rows(&self.item, self.n_factors, x, out);
    }
}

/// `out[j] = dot(rows[j], x)`, using AVX2 where the CPU has it.
pub fn score_rows(rows: &[f32], f: usize, x: &[f32], out: &mut [f32]) {
    #[inline(always)]
    fn body(rows: &[f32], f: usize, x: &[f32], out: &mut [f32]) {
        for (o, y) in out.iter_mut().zip(rows.chunks_exact(f)) {
            *o = dot(y, x);
        }
    }
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx2")]
        unsafe fn wide(rows: &[f32], f: usize, x: &[f32], out: &mut [f32]) {
            body(rows, f, x, out)
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2 (checked above).
            return unsafe { wide(rows, f, x, out) };
        }
    }
    body(rows, f, x, out)
}

/// `Yᵀ Y + regularization · I` (f × f, row-major), summed over fixed blocks
/// of rows in a fixed order so it does not depend on the number of threads.
pub fn gram(y: &[f32], f: usize, regularization: f32) -> Vec<f32> {
    const BLOCK: usize = 2048;
    let partials: Vec<Vec<f64>> = y
        .par_chunks(BLOCK * f)
        .map(|block| {
            let mut g = vec![0f64; f * f];
            for row in block.chunks_exact(f) {
                for a in 0..f {
                    let ya = row[a] as f64;
                    let ga = &mut g[a * f..(a + 1) * f];
                    for (gb, &yb) in ga.iter_mut().zip(row) {
                        *gb += ya * yb as f64;
                    }
                }
            }
            g
        })
        .collect();
    let mut total = vec![0f64; f * f];
    for p in partials {
        for (t, v) in total.iter_mut().zip(p) {
            *t += v;
        }
    }
    for a in 0..f {
        total[a * f + a] += regularization as f64;
    }
    total.into_iter().map(|v| v as f32).collect()
}

/// Uniform `[0, 0.01)` initial factors, as implicit draws them.
pub fn random_factors(rng: &mut impl rand::Rng, n: usize, f: usize) -> Vec<f32> {
    (0..n * f).map(|_| rng.random::<f32>() * 0.01).collect()
}
