//! Latent factor models (ALS, BPR) and what they share: f32 factor matrices,
//! Gram matrices, scoring by dot products and least-squares fold-in.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use faer::linalg::solvers::{Llt, Solve};
use faer::{ColRef, MatRef, Side};

use super::linalg::dot;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Factors {
    pub n_factors: usize,
    /// Row-major `n_users × n_factors`.
    pub user: Vec<f32>,
    /// Row-major `n_items × n_factors`.
    pub item: Vec<f32>,
    /// How interactions were weighed: new users are folded in the same way.
    pub weighting: Weighting,
}

/// A user's factored normal equations: `x = A⁻¹ b`, `b = Σ c_j y_j`.
pub struct LeastSquares {
    pub llt: Llt<f64>,
    pub b: Vec<f64>,
}

/// How implicit-feedback least squares weighs a row's interactions (Hu et
/// al. 2008, with Rendle et al. 2021's unobserved weight and
/// frequency-scaled penalty): an observed value `r` has confidence `alpha·r`
/// and preference 1, every unobserved pair weight `unobserved_weight` and
/// preference 0, and a row with `n` interactions among `m` columns has the
/// penalty `regularization · (n + unobserved_weight · m)^frequency_scaling`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Weighting {
    pub alpha: f32,
    pub regularization: f32,
    pub unobserved_weight: f32,
    pub frequency_scaling: f32,
}

impl Weighting {
    /// Hu et al.'s weighting (what BPR's fold-in uses).
    pub fn plain(alpha: f32, regularization: f32) -> Self {
        Weighting {
            alpha,
            regularization,
            unobserved_weight: 1.0,
            frequency_scaling: 0.0,
        }
    }

    /// The penalty every row shares, kept in the Gram matrix: all of it
    /// without frequency scaling (so plain ALS is computed as it always was).
    fn shared_penalty(&self) -> f32 {
        if self.frequency_scaling == 0.0 {
            self.regularization
        } else {
            0.0
        }
    }

    /// A row's penalty beyond the shared one.
    pub fn row_penalty(&self, n_observed: usize, n_columns: usize) -> f32 {
        if self.frequency_scaling == 0.0 {
            return 0.0;
        }
        let size = n_observed as f64 + self.unobserved_weight as f64 * n_columns as f64;
        (self.regularization as f64 * size.powf(self.frequency_scaling as f64)) as f32
    }

    /// `unobserved_weight · YᵀY + shared penalty · I` of the other side's factors `y`.
    pub fn gram(&self, y: &[f32], f: usize) -> Vec<f32> {
        gram(y, f, self.unobserved_weight, self.shared_penalty())
    }

    fn is_valid(&self) -> bool {
        let non_negative = |v: f32| v.is_finite() && v >= 0.0;
        self.alpha.is_finite()
            && self.alpha > 0.0
            && [
                self.regularization,
                self.unobserved_weight,
                self.frequency_scaling,
            ]
            .into_iter()
            .all(non_negative)
    }
}

impl Factors {
    /// Fitted factors, unless training diverged (`hint`: what to change).
    pub fn fitted(
        model: &str,
        hint: &str,
        user: Vec<f32>,
        item: Vec<f32>,
        n_factors: usize,
        weighting: Weighting,
    ) -> crate::error::Result<Self> {
        if user.iter().chain(&item).any(|v| !v.is_finite()) {
            return Err(crate::error::Error::fit(
                model,
                format!("the factors diverged (NaN or infinite); {hint}"),
            ));
        }
        Ok(Factors {
            n_factors,
            user,
            item,
            weighting,
        })
    }

    /// The invariants of serving, for factors read from bytes.
    pub fn validate(&self, n_users: usize, n_items: usize) -> crate::error::Result<()> {
        let f = self.n_factors;
        let sized = |rows: usize, values: &[f32]| rows.checked_mul(f) == Some(values.len());
        crate::persist::require(
            f > 0 && sized(n_users, &self.user) && sized(n_items, &self.item),
            || format!("the factors are not {n_users}x{f} and {n_items}x{f}"),
        )?;
        crate::persist::require(
            self.user.iter().chain(&self.item).all(|v| v.is_finite()) && self.weighting.is_valid(),
            || "the factors or their settings hold NaN, infinite or negative values".into(),
        )
    }

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
        match self.least_squares(yty, items, weights) {
            Some(ls) => {
                let x = ls.llt.solve(ColRef::from_slice(&ls.b));
                x.iter().map(|&v| v as f32).collect()
            }
            None => vec![0.0; self.n_factors],
        }
    }

    /// The normal equations `A x = b` of a user with these items (`A`
    /// factored), or `None` when `A` is not positive definite.
    pub fn least_squares(
        &self,
        yty: &[f32],
        items: &[u32],
        weights: &[f32],
    ) -> Option<LeastSquares> {
        let (f, w8) = (self.n_factors, self.weighting);
        let mut a: Vec<f64> = yty.iter().map(|&v| v as f64).collect();
        let penalty = w8.row_penalty(items.len(), self.item.len() / f) as f64;
        for r in 0..f {
            a[r * f + r] += penalty;
        }
        let mut b = vec![0f64; f];
        for (&i, &w) in items.iter().zip(weights) {
            let c = self.confidence(w) as f64;
            let y = self.item_row(i as usize);
            for r in 0..f {
                b[r] += c * y[r] as f64;
                for s in 0..f {
                    a[r * f + s] += (c - w8.unobserved_weight as f64) * y[r] as f64 * y[s] as f64;
                }
            }
        }
        // `a` is symmetric: its row-major buffer is also column-major.
        let llt = MatRef::from_column_major_slice(&a, f, f)
            .llt(Side::Lower)
            .ok()?;
        Some(LeastSquares { llt, b })
    }

    /// The confidence of an observed interaction of value `w`.
    pub fn confidence(&self, w: f32) -> f32 {
        self.weighting.alpha * w
    }

    pub fn item_gram(&self) -> Vec<f32> {
        self.weighting.gram(&self.item, self.n_factors)
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

/// Item factors packed for blocked scoring: panels of 16 items, factor-major
/// within a panel, so a 4-user × 16-item block of scores lives in eight AVX
/// registers fed by two loads and four broadcasts per factor (a small GEMM
/// micro-kernel).
pub struct Panels {
    f: usize,
    n: usize,
    data: Vec<f32>,
}

pub const BLOCK_USERS: usize = 4;
const PANEL: usize = 16;

impl Panels {
    pub fn new(item: &[f32], f: usize) -> Self {
        let n = item.len() / f.max(1);
        let mut data = vec![0f32; n.div_ceil(PANEL) * f * PANEL];
        data.par_chunks_mut(f * PANEL)
            .enumerate()
            .for_each(|(p, panel)| {
                for l in 0..PANEL {
                    let j = p * PANEL + l;
                    if j < n {
                        for k in 0..f {
                            panel[k * PANEL + l] = item[j * f + k];
                        }
                    }
                }
            });
        Panels { f, n, data }
    }

    pub fn n_items(&self) -> usize {
        self.n
    }

    /// `out[r * n + j] = dot(xs[r], item j)` for the users `xs`.
    pub fn score_block(&self, xs: [&[f32]; BLOCK_USERS], out: &mut [f32]) {
        assert!(xs.iter().all(|x| x.len() >= self.f) && out.len() >= BLOCK_USERS * self.n);
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
            {
                // SAFETY: the CPU supports AVX2 and FMA (checked above), and
                // the lengths were checked.
                return unsafe { self.block_avx2(xs, out) };
            }
        }
        self.block_scalar(xs, out)
    }

    fn block_scalar(&self, xs: [&[f32]; BLOCK_USERS], out: &mut [f32]) {
        let (f, n) = (self.f, self.n);
        for (p, panel) in self.data.chunks_exact(f * PANEL).enumerate() {
            let mut acc = [[0f32; PANEL]; BLOCK_USERS];
            for k in 0..f {
                let y = &panel[k * PANEL..(k + 1) * PANEL];
                for (a, x) in acc.iter_mut().zip(&xs) {
                    for (al, yl) in a.iter_mut().zip(y) {
                        *al += x[k] * yl;
                    }
                }
            }
            self.store(p, &acc, out, n);
        }
    }

    #[inline(always)]
    fn store(&self, p: usize, acc: &[[f32; PANEL]; BLOCK_USERS], out: &mut [f32], n: usize) {
        let base = p * PANEL;
        let m = PANEL.min(n - base);
        for (r, a) in acc.iter().enumerate() {
            out[r * n + base..r * n + base + m].copy_from_slice(&a[..m]);
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn block_avx2(&self, xs: [&[f32]; BLOCK_USERS], out: &mut [f32]) {
        use std::arch::x86_64::*;
        let (f, n) = (self.f, self.n);
        let [x0, x1, x2, x3] = xs.map(|x| x.as_ptr());
        for (p, panel) in self.data.chunks_exact(f * PANEL).enumerate() {
            let y = panel.as_ptr();
            let (mut a00, mut a01, mut a10, mut a11) = (
                _mm256_setzero_ps(),
                _mm256_setzero_ps(),
                _mm256_setzero_ps(),
                _mm256_setzero_ps(),
            );
            let (mut a20, mut a21, mut a30, mut a31) = (
                _mm256_setzero_ps(),
                _mm256_setzero_ps(),
                _mm256_setzero_ps(),
                _mm256_setzero_ps(),
            );
            for k in 0..f {
                let y0 = _mm256_loadu_ps(y.add(k * PANEL));
                let y1 = _mm256_loadu_ps(y.add(k * PANEL + 8));
                let b = _mm256_broadcast_ss(&*x0.add(k));
                a00 = _mm256_fmadd_ps(b, y0, a00);
                a01 = _mm256_fmadd_ps(b, y1, a01);
                let b = _mm256_broadcast_ss(&*x1.add(k));
                a10 = _mm256_fmadd_ps(b, y0, a10);
                a11 = _mm256_fmadd_ps(b, y1, a11);
                let b = _mm256_broadcast_ss(&*x2.add(k));
                a20 = _mm256_fmadd_ps(b, y0, a20);
                a21 = _mm256_fmadd_ps(b, y1, a21);
                let b = _mm256_broadcast_ss(&*x3.add(k));
                a30 = _mm256_fmadd_ps(b, y0, a30);
                a31 = _mm256_fmadd_ps(b, y1, a31);
            }
            let mut acc = [[0f32; PANEL]; BLOCK_USERS];
            for (a, (lo, hi)) in
                acc.iter_mut()
                    .zip([(a00, a01), (a10, a11), (a20, a21), (a30, a31)])
            {
                _mm256_storeu_ps(a.as_mut_ptr(), lo);
                _mm256_storeu_ps(a.as_mut_ptr().add(8), hi);
            }
            self.store(p, &acc, out, n);
        }
    }
}

/// `scale · Yᵀ Y + regularization · I` (f × f, row-major), summed over fixed blocks
/// of rows in a fixed order so it does not depend on the number of threads.
fn gram(y: &[f32], f: usize, scale: f32, regularization: f32) -> Vec<f32> {
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
    if scale != 1.0 {
        total.iter_mut().for_each(|v| *v *= scale as f64);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocked_scores_equal_dot_products() {
        let (n, f) = (37, 13);
        let item: Vec<f32> = (0..n * f).map(|k| ((k * 31) % 17) as f32 - 8.0).collect();
        let users: Vec<Vec<f32>> = (0..4)
            .map(|r| (0..f).map(|k| ((k + r) % 5) as f32 * 0.5).collect())
            .collect();
        let panels = Panels::new(&item, f);
        let mut out = vec![0f32; BLOCK_USERS * n];
        panels.score_block(std::array::from_fn(|r| users[r % 4].as_slice()), &mut out);
        for r in 0..4 {
            let mut expected = vec![0f32; n];
            score_rows(&item, f, &users[r], &mut expected);
            for j in 0..n {
                assert!((out[r * n + j] - expected[j]).abs() < 1e-4);
            }
        }
    }

    /// `cargo test --release scoring_speed -- --ignored --nocapture`
    #[test]
    #[ignore]
    fn scoring_speed() {
        let (n, f, users) = (10_000, 64, 20_000);
        let item: Vec<f32> = (0..n * f).map(|k| (k % 17) as f32 * 0.01).collect();
        let x: Vec<f32> = (0..f).map(|k| k as f32 * 0.01).collect();
        let panels = Panels::new(&item, f);
        let mut out = vec![0f32; BLOCK_USERS * n];
        let t = std::time::Instant::now();
        for _ in 0..users / BLOCK_USERS {
            panels.score_block([x.as_slice(); BLOCK_USERS], &mut out);
        }
        let secs = t.elapsed().as_secs_f64();
        println!("blocked: {:.2} GFMA/s", (n * f * users) as f64 / secs / 1e9);
        let t = std::time::Instant::now();
        let mut one = vec![0f32; n];
        for _ in 0..users / 4 {
            score_rows(&item, f, &x, &mut one);
        }
        let secs = t.elapsed().as_secs_f64();
        println!(
            "per user: {:.2} GFMA/s",
            (n * f * users / 4) as f64 / secs / 1e9
        );
    }
}
