//! iALS++ (Rendle, Krichene, Zhang & Koren 2021, "iALS++: Speeding up
//! Matrix Factorization with Subspace Optimization"): the ALS half-iteration
//! as exact minimisation over blocks of coordinates, one sweep per epoch.
//!
//! For a user with items `S`, confidences `c` and predictions `ŷᵢ = x·yᵢ`,
//! the loss of [`super::als`] is
//! `L(x) = Σ_S c(ŷ−1)² + α₀ Σ_{∉S} ŷ² + λu‖x‖²
//!       = Σ_S [c(ŷ−1)² − α₀ŷ²] + xᵀ Gw x + λr‖x‖²`,
//! with `Gw = α₀YᵀY + λs I` ([`Weighting::gram`]: `λs` the penalty every row
//! shares) and `λr` the row's own ([`Weighting::row_penalty`]).  Over a block
//! `B` its minimiser is `x_B − H⁻¹g` with
//! `H = Σ_S (c − α₀) y_B y_Bᵀ + Gw_BB + λr I` and
//! `g = Σ_S [c(ŷ−1) − α₀ŷ] y_B + (Gw x)_B + λr x_B`.
//!
//! Users go in chunks fixed by the data (see [`chunk_rows`]); in a chunk, block after block, `(Gw x)_B` of
//! all its users is one small matrix product (compute-bound, where CG's
//! per-user `Gw p` streams all of `Gw` from memory at every step), `H` is
//! solved by a small Cholesky ([`cholesky_solve`]) and the cached `ŷ` are updated.  Per user and
//! sweep that is `O(|S| k |B| + k |B|² + k²)` flops.  A user's update depends
//! only on its own row and the chunking is fixed, so the result is the same
//! for any number of threads.

use faer::linalg::matmul::matmul;
use faer::{Accum, MatMut, MatRef, Par};
use rayon::prelude::*;

use super::factors::Weighting;
#[cfg(target_arch = "x86_64")]
use super::linalg::Avx2;
use super::linalg::{cholesky_solve, has_avx2, Kernels, Plain};
use super::sparse::Csr;
use crate::control::Control;

/// At most this many rows per chunk: enough for an efficient `X Gw[:, B]`.
const CHUNK: usize = 128;
/// Bytes of the other side's factor rows a chunk should touch: a chunk
/// revisits its rows' items once per block, so they must stay in cache (rows
/// with ~100 interactions at 512 factors thrashed it with 128-row chunks).
const CHUNK_BYTES: usize = 512 << 10;

/// Rows per chunk for `c` (fixed by the data, so the same on any threads).
fn chunk_rows(c: &Csr, f: usize) -> usize {
    let per_row = c.indices.len().div_ceil(c.n_rows.max(1)).max(1) * f * 4;
    (CHUNK_BYTES / per_row).clamp(1, CHUNK)
}

/// What every chunk of one half-iteration shares.
struct Side<'a> {
    c: &'a Csr,
    y: &'a [f32],
    gram: &'a [f32],
    f: usize,
    block: usize,
    unobserved: f32,
    weighting: &'a Weighting,
    n_columns: usize,
}

struct Scratch {
    pred: Vec<f32>,
    gx: Vec<f32>,
    h: Vec<f32>,
    g: Vec<f32>,
}

/// One sweep of block updates over every row of `x` given the other side's
/// factors `y` and the confidences `c` (`block` coordinates at a time,
/// clamped to `1..=f`).  Stops early, leaving `x` partly updated, once `ctl`
/// is cancelled.
pub fn solve_side(
    c: &Csr,
    x: &mut [f32],
    y: &[f32],
    f: usize,
    weighting: &Weighting,
    block: usize,
    ctl: &Control,
) {
    let gram = weighting.gram(y, f);
    let block = block.clamp(1, f);
    let side = Side {
        c,
        y,
        gram: &gram,
        f,
        block,
        unobserved: weighting.unobserved_weight,
        weighting,
        n_columns: y.len() / f,
    };
    let wide = has_avx2();
    let rows = chunk_rows(c, f);
    x.par_chunks_mut(f * rows).enumerate().for_each_init(
        || Scratch {
            pred: Vec::new(),
            gx: vec![0.0; rows * block],
            h: vec![0.0; block * block],
            g: vec![0.0; block],
        },
        |scratch, (k, xs)| {
            if ctl.cancelled() {
                return;
            }
            if wide {
                #[cfg(target_arch = "x86_64")]
                // SAFETY: AVX2 and FMA support was checked by `has_avx2`.
                unsafe {
                    chunk_avx2(&side, k * rows, xs, scratch)
                }
            } else {
                chunk::<Plain>(&side, k * rows, xs, scratch)
            }
        },
    );
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn chunk_avx2(side: &Side<'_>, first: usize, xs: &mut [f32], scratch: &mut Scratch) {
    chunk::<Avx2>(side, first, xs, scratch)
}

/// Update the users `first..` whose factors are the rows of `xs`.
#[inline(always)]
fn chunk<K: Kernels>(side: &Side<'_>, first: usize, xs: &mut [f32], scratch: &mut Scratch) {
    let Side { c, y, gram, f, .. } = *side;
    let a0 = side.unobserved;
    let n = xs.len() / f;
    let start = c.indptr[first];
    let Scratch { pred, gx, h, g } = scratch;
    pred.clear();
    pred.resize(c.indptr[first + n] - start, 0.0);
    for u in 0..n {
        let (items, _) = c.row(first + u);
        let xu = &xs[u * f..(u + 1) * f];
        let p = &mut pred[c.indptr[first + u] - start..];
        for (p, &i) in p.iter_mut().zip(items) {
            *p = K::dot(xu, &y[i as usize * f..(i as usize + 1) * f]);
        }
    }
    let mut b0 = 0;
    while b0 < f {
        let nb = side.block.min(f - b0);
        // (Gw x)_B of every user in the chunk: Gw is symmetric, so its rows
        // b0.. (row-major) are its columns b0.. (column-major).
        let gx = &mut gx[..n * nb];
        matmul(
            MatMut::from_row_major_slice_mut(gx, n, nb),
            Accum::Replace,
            MatRef::from_row_major_slice(xs, n, f),
            MatRef::from_column_major_slice(&gram[b0 * f..(b0 + nb) * f], f, nb),
            1.0f32,
            Par::Seq,
        );
        let (h, g) = (&mut h[..nb * nb], &mut g[..nb]);
        for u in 0..n {
            let (items, conf) = c.row(first + u);
            let p = &mut pred[c.indptr[first + u] - start..][..items.len()];
            let penalty = side.weighting.row_penalty(items.len(), side.n_columns);
            let xb = &mut xs[u * f + b0..u * f + b0 + nb];
            for (r, hr) in h.chunks_exact_mut(nb).enumerate() {
                hr.copy_from_slice(&gram[(b0 + r) * f + b0..(b0 + r) * f + b0 + nb]);
                hr[r] += penalty;
            }
            for ((gr, &v), &xr) in g.iter_mut().zip(&gx[u * nb..(u + 1) * nb]).zip(&*xb) {
                *gr = v + penalty * xr;
            }
            for ((&i, &ci), &pi) in items.iter().zip(conf).zip(p.iter()) {
                let yb = &y[i as usize * f + b0..i as usize * f + b0 + nb];
                let w = ci - a0;
                // The upper triangle, from a multiple of 8: whole vectors.
                for (r, (hr, &yr)) in h.chunks_exact_mut(nb).zip(yb).enumerate() {
                    let s = r & !7;
                    K::axpy(w * yr, &yb[s..], &mut hr[s..]);
                }
                K::axpy(ci * (pi - 1.0) - a0 * pi, yb, g);
            }
            if !cholesky_solve::<K>(h, nb, g) {
                continue; // singular (no penalty, no unobserved weight): leave the block
            }
            K::axpy(-1.0, g, xb);
            for (&i, pi) in items.iter().zip(p.iter_mut()) {
                *pi -= K::dot(&y[i as usize * f + b0..i as usize * f + b0 + nb], g);
            }
        }
        b0 += nb;
    }
}

/// The training loss `Σ_u L(x_u) + Σ_i λ_i‖y_i‖²` of [`super::als`] in
/// f64 (for tests and diagnostics); `c` holds the user × item confidences.
pub fn loss(c: &Csr, user: &[f32], item: &[f32], f: usize, weighting: &Weighting) -> f64 {
    let (n_users, n_items) = (user.len() / f, item.len() / f);
    let a0 = weighting.unobserved_weight as f64;
    let gram: Vec<f64> = weighting.gram(item, f).iter().map(|&v| v as f64).collect();
    let dot =
        |a: &[f32], b: &[f32]| -> f64 { a.iter().zip(b).map(|(&p, &q)| p as f64 * q as f64).sum() };
    let per_user: Vec<f64> = (0..n_users)
        .into_par_iter()
        .map(|u| {
            let x = &user[u * f..(u + 1) * f];
            let (items, conf) = c.row(u);
            let mut l = 0f64;
            for (&i, &ci) in items.iter().zip(conf) {
                let p = dot(x, &item[i as usize * f..(i as usize + 1) * f]);
                l += ci as f64 * (p - 1.0).powi(2) - a0 * p * p;
            }
            // xᵀGw x: α₀ Σ_i ŷ² over every item, and the shared penalty.
            for r in 0..f {
                let row: f64 = (0..f).map(|s| gram[r * f + s] * x[s] as f64).sum();
                l += x[r] as f64 * row;
            }
            l + weighting.row_penalty(items.len(), n_items) as f64 * dot(x, x)
        })
        .collect();
    let mut counts = vec![0usize; n_items];
    c.indices.iter().for_each(|&i| counts[i as usize] += 1);
    let per_item = (0..n_items).map(|i| {
        let yi = &item[i * f..(i + 1) * f];
        let penalty = weighting.shared_penalty() + weighting.row_penalty(counts[i], n_users);
        penalty as f64 * dot(yi, yi)
    });
    per_user.iter().sum::<f64>() + per_item.sum::<f64>()
}

#[cfg(test)]
mod tests {
    use rand::{Rng, SeedableRng};
    use rand_xoshiro::Xoshiro256PlusPlus;

    use super::*;
    use crate::recommend::als::{fit, AlsParams, Solver};
    use crate::recommend::factors::Factors;

    /// Users who buy from one of three item groups, with counts 1..4.
    fn purchases(n_users: u32, n_items: u32, seed: u64) -> Csr {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        let (mut rows, mut cols, mut vals) = (vec![], vec![], vec![]);
        for u in 0..n_users {
            let group = u % 3;
            for i in 0..n_items {
                let p = if i % 3 == group { 0.3 } else { 0.03 };
                if rng.random::<f64>() < p {
                    rows.push(u);
                    cols.push(i);
                    vals.push(rng.random_range(1..4) as f32);
                }
            }
        }
        Csr::from_coo(n_users as usize, n_items as usize, &rows, &cols, &vals)
    }

    fn revisited() -> Weighting {
        Weighting {
            alpha: 4.0,
            regularization: 0.05,
            unobserved_weight: 0.3,
            frequency_scaling: 0.5,
        }
    }

    fn params(solver: Solver, iterations: usize) -> AlsParams {
        AlsParams {
            factors: 8,
            weighting: revisited(),
            iterations,
            solver,
            seed: 3,
        }
    }

    #[test]
    fn one_block_of_every_factor_is_the_exact_least_squares_solve() {
        let m = purchases(60, 25, 1);
        let f = 6;
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(2);
        let item: Vec<f32> = (0..25 * f).map(|_| rng.random::<f32>() - 0.5).collect();
        for w8 in [Weighting::plain(4.0, 0.1), revisited()] {
            let c = m.clone().map_values(|_, _, v| v * w8.alpha);
            let mut user: Vec<f32> = (0..60 * f).map(|_| rng.random::<f32>()).collect();
            solve_side(&c, &mut user, &item, f, &w8, f, &Control::new());
            let model = Factors {
                n_factors: f,
                user: user.clone(),
                item: item.clone(),
                weighting: w8,
            };
            let gram = model.item_gram();
            for u in 0..60 {
                let (items, values) = m.row(u);
                let exact = model.fold_in(&gram, items, values);
                for (a, b) in model.user_row(u).iter().zip(&exact) {
                    assert!(
                        (a - b).abs() < 1e-4 * (1.0 + b.abs()),
                        "user {u}: {a} vs {b}"
                    );
                }
            }
        }
    }

    #[test]
    fn the_loss_falls_every_epoch_and_reaches_the_cg_loss() {
        let m = purchases(300, 60, 4);
        let w8 = revisited();
        let c = m.clone().map_values(|_, _, v| v * w8.alpha);
        let loss_after = |solver, iterations| {
            let model = fit(&m, params(solver, iterations), &Control::new()).unwrap();
            loss(&c, &model.user, &model.item, 8, &w8)
        };
        let block = Solver::Block { size: 3 };
        let losses: Vec<f64> = (1..=12).map(|t| loss_after(block, t)).collect();
        for pair in losses.windows(2) {
            assert!(pair[1] <= pair[0] * (1.0 + 1e-6), "{losses:?}");
        }
        // Factors start tiny (implicit's [0, 0.01)), so both take a while;
        // CG with as many steps as factors is exact ALS, as is one block of all.
        let cg = loss_after(Solver::Cg { steps: 8 }, 150);
        let whole = loss_after(Solver::Block { size: 8 }, 150);
        let blocks = loss_after(block, 150);
        assert!(
            (whole - cg).abs() < 1e-4 * cg,
            "one block {whole} vs CG {cg}"
        );
        assert!(
            (blocks - cg).abs() < 5e-3 * cg,
            "blocks of 3 {blocks} vs CG {cg}"
        );
    }

    #[test]
    fn fits_are_the_same_on_any_number_of_threads() {
        let m = purchases(700, 40, 5);
        let p = params(Solver::Block { size: 3 }, 3);
        let on = |threads| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| fit(&m, p, &Control::new()).unwrap())
        };
        let one = on(1);
        assert_eq!(one, on(3));
        assert_eq!(one, fit(&m, p, &Control::new()).unwrap());
    }
}
