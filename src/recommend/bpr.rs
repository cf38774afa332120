//! Bayesian Personalised Ranking (Rendle et al. 2009) by parallel SGD.
//!
//! Deterministic parallelism by stratification (as in DSGD): users and items
//! are split into `T` blocks (`T` = threads); in sub-epoch `s`, task `t`
//! trains on the positives of user block `t` and item block `(t + s) mod T`,
//! drawing negatives from that item block too, so no two tasks touch the same
//! rows.  Each stratum's samples come from its own generator seeded by
//! (seed, epoch, stratum): the result depends on the seed and thread count
//! only.  As in implicit, items get a bias (an extra factor whose user side
//! is fixed at 1) and negatives the user has are skipped.

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::factors::{Factors, Weighting};
use super::sparse::Csr;
use crate::control::Control;
use crate::error::Result;
use crate::spec::{self, Accept, Literal, Param, Params, Spec};

/// The contract of `patronage.recommend.BPR`.
pub static SPEC: Spec = Spec {
    name: "BPR",
    params: &[
        super::als::FACTORS,
        Param {
            name: "learning_rate",
            default: Literal::Float(0.05),
            accepts: &[Accept::above(0.0)],
            unit: "",
            doc: "SGD step size",
        },
        super::als::REGULARIZATION,
        Param {
            name: "iterations",
            default: Literal::Int(100),
            accepts: &[Accept::int_from(0)],
            unit: "",
            doc: "epochs over the interactions",
        },
        spec::RANDOM_STATE,
        spec::SHOW_PROGRESS,
    ],
    columns: &[],
    fitted: &[],
};

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BprParams {
    pub factors: usize,
    pub learning_rate: f32,
    pub regularization: f32,
    pub iterations: usize,
    pub seed: u64,
}

impl BprParams {
    /// From parameters checked against [`SPEC`].
    pub fn from_params(p: &Params) -> Self {
        BprParams {
            factors: p.count("factors"),
            learning_rate: p.number("learning_rate") as f32,
            regularization: p.number("regularization") as f32,
            iterations: p.count("iterations"),
            seed: p.seed(),
        }
    }
}

#[derive(Clone, Copy)]
struct SharedMut(*mut f32);
unsafe impl Send for SharedMut {}
unsafe impl Sync for SharedMut {}

/// Fit BPR, reporting epochs done as progress.
pub fn fit(user_items: &Csr, params: BprParams, ctl: &Control) -> Result<Factors> {
    let f = params.factors + 1; // the last column is the item bias
    let (n_users, n_items) = (user_items.n_rows, user_items.n_cols);
    let blocks = rayon::current_num_threads().clamp(1, n_items.max(1));
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(params.seed);
    let mut user: Vec<f32> = (0..n_users * f)
        .map(|k| {
            if k % f == f - 1 {
                1.0
            } else {
                (rng.random::<f32>() - 0.5) / params.factors as f32
            }
        })
        .collect();
    let mut item: Vec<f32> = (0..n_items * f)
        .map(|k| {
            if k % f == f - 1 {
                0.0
            } else {
                (rng.random::<f32>() - 0.5) / params.factors as f32
            }
        })
        .collect();
    // Positives of every (user block, item block) stratum.
    let mut strata: Vec<Vec<(u32, u32)>> = vec![Vec::new(); blocks * blocks];
    for u in 0..n_users {
        for &i in user_items.row(u).0 {
            strata[(u % blocks) * blocks + i as usize % blocks].push((u as u32, i));
        }
    }
    let block_items: Vec<Vec<u32>> = (0..blocks)
        .map(|b| (b as u32..n_items as u32).step_by(blocks).collect())
        .collect();
    let (up, ip) = (SharedMut(user.as_mut_ptr()), SharedMut(item.as_mut_ptr()));
    for epoch in 0..params.iterations {
        for shift in 0..blocks {
            (0..blocks).into_par_iter().for_each(|t| {
                let (up, ip) = (up, ip);
                let ib = (t + shift) % blocks;
                let stratum = t * blocks + ib;
                let mut rng = Xoshiro256PlusPlus::seed_from_u64(
                    params.seed
                        ^ ((epoch as u64) << 32 | stratum as u64)
                            .wrapping_mul(0x9E37_79B9_7F4A_7C15),
                );
                let mut order = strata[stratum].clone();
                order.shuffle(&mut rng);
                let negatives = &block_items[ib];
                for (k, (u, i)) in order.into_iter().enumerate() {
                    if k % 4096 == 0 && ctl.cancelled() {
                        return;
                    }
                    let j = negatives[rng.random_range(0..negatives.len())];
                    if user_items.row(u as usize).0.binary_search(&j).is_ok() {
                        continue;
                    }
                    // SAFETY: user u is in block t and items i, j in block ib;
                    // no other task of this sub-epoch touches these rows.
                    unsafe {
                        let x = std::slice::from_raw_parts_mut(up.0.add(u as usize * f), f);
                        let yi = std::slice::from_raw_parts_mut(ip.0.add(i as usize * f), f);
                        let yj = std::slice::from_raw_parts_mut(ip.0.add(j as usize * f), f);
                        sgd_step(x, yi, yj, params.learning_rate, params.regularization);
                    }
                }
            });
        }
        ctl.progress(epoch + 1, params.iterations)?;
    }
    // New users are folded in by least squares, which needs some ridge.
    let fold_in = Weighting::plain(1.0, params.regularization.max(1e-3));
    Factors::fitted("BPR", "lower learning_rate", user, item, f, fold_in)
}

#[inline(always)]
fn sgd_step(x: &mut [f32], yi: &mut [f32], yj: &mut [f32], lr: f32, reg: f32) {
    let f = x.len();
    let mut score = 0f32;
    for k in 0..f {
        score += x[k] * (yi[k] - yj[k]);
    }
    let z = 1.0 / (1.0 + score.exp());
    for k in 0..f {
        let xk = x[k];
        if k + 1 < f {
            x[k] += lr * (z * (yi[k] - yj[k]) - reg * xk);
        }
        yi[k] += lr * (z * xk - reg * yi[k]);
        yj[k] += lr * (-z * xk - reg * yj[k]);
    }
}
