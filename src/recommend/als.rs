//! Implicit-feedback ALS (Hu, Koren & Volinsky 2008) with the conjugate
//! gradient solver of Takács, Pilászy & Tikk (2011), as implicit implements it.
//!
//! A stored value `r` becomes confidence `c = alpha · r` (preference 1); every
//! other entry has weight α₀ (`unobserved_weight`, 1 in Hu et al.) and
//! preference 0, and a user with `n` items among `m` has the penalty
//! `λu = λ (n + α₀ m)^ν` (ν = `frequency_scaling`, 0 in Hu et al.: Rendle et
//! al. 2021's revisited iALS).  Each half-iteration solves, for every user in
//! parallel, `(α₀YᵀY + λu I + Yᵀ(Cu − α₀I)Y) x = Yᵀ Cu p` with a few CG steps
//! warm-started from the previous `x`.  Each user's solve depends only on its
//! own row, so the result is the same for any number of threads.

use rand::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::factors::{random_factors, Factors, Weighting};
use super::ials;
#[cfg(target_arch = "x86_64")]
use super::linalg::Avx2;
use super::linalg::{has_avx2, Kernels, Plain};
use super::sparse::Csr;
use crate::control::Control;
use crate::error::Result;
use crate::spec::{self, Accept, Literal, Param, Params, Spec};

/// The number of latent factors (ALS and BPR).
pub const FACTORS: Param = Param {
    name: "factors",
    default: Literal::Int(64),
    accepts: &[Accept::int_from(1)],
    unit: "",
    doc: "latent factors per user and item",
};

/// The L2 penalty on the factors (ALS and BPR).
pub const REGULARIZATION: Param = Param {
    name: "regularization",
    default: Literal::Float(0.01),
    accepts: &[Accept::at_least(0.0)],
    unit: "",
    doc: "L2 penalty on the factors",
};

/// The contract of `patronage.recommend.ALS` (implicit's parameters).
pub static SPEC: Spec = Spec {
    name: "ALS",
    params: &[
        FACTORS,
        REGULARIZATION,
        Param {
            name: "alpha",
            default: Literal::Float(1.0),
            accepts: &[Accept::above(0.0)],
            unit: "",
            doc: "confidence per unit of interaction weight",
        },
        Param {
            name: "unobserved_weight",
            default: Literal::Float(1.0),
            accepts: &[Accept::at_least(0.0)],
            unit: "",
            doc: "weight of every unobserved (user, item) pair (Rendle et al.'s alpha_0)",
        },
        Param {
            name: "frequency_scaling",
            default: Literal::Float(0.0),
            accepts: &[Accept::at_least(0.0)],
            unit: "",
            doc: "exponent nu of the penalty regularization * (interactions + unobserved_weight * \
                  catalogue)^nu of each user and item (Rendle et al.; 0: the same for all)",
        },
        Param {
            name: "iterations",
            default: Literal::Int(15),
            accepts: &[Accept::int_from(0)],
            unit: "",
            doc: "alternating passes",
        },
        Param {
            name: "cg_steps",
            default: Literal::Int(3),
            accepts: &[Accept::int_from(1)],
            unit: "",
            doc: "conjugate-gradient steps per solve (solver='cg')",
        },
        Param {
            name: "solver",
            default: Literal::Str("cg"),
            accepts: &[Accept::Word(&["cg", "block"])],
            unit: "",
            doc: "'cg': a few conjugate-gradient steps per user (implicit's); 'block': iALS++ \
                  (Rendle et al. 2021), exact minimisation over block_size factors at a time",
        },
        Param {
            name: "block_size",
            // Fastest of 8/16/32/64 at 256 and 512 factors (benchmarks/README.md).
            default: Literal::Int(16),
            accepts: &[Accept::int_from(1)],
            unit: "factors",
            doc: "factors updated together by solver='block' (capped at factors)",
        },
        spec::RANDOM_STATE,
        spec::SHOW_PROGRESS,
    ],
    columns: &[],
    fitted: &[],
};

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AlsParams {
    pub factors: usize,
    pub weighting: Weighting,
    pub iterations: usize,
    pub solver: Solver,
    pub seed: u64,
}

/// How each half-iteration updates a side's factors.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Solver {
    /// `steps` conjugate-gradient steps per row, warm-started.
    Cg { steps: usize },
    /// One sweep of iALS++ block updates, `size` factors at a time.
    Block { size: usize },
}

impl AlsParams {
    /// From parameters checked against [`SPEC`].
    pub fn from_params(p: &Params) -> Self {
        AlsParams {
            factors: p.count("factors"),
            weighting: Weighting {
                alpha: p.number("alpha") as f32,
                regularization: p.number("regularization") as f32,
                unobserved_weight: p.number("unobserved_weight") as f32,
                frequency_scaling: p.number("frequency_scaling") as f32,
            },
            iterations: p.count("iterations"),
            solver: match p.text("solver") {
                Some("block") => Solver::Block {
                    size: p.count("block_size"),
                },
                _ => Solver::Cg {
                    steps: p.count("cg_steps"),
                },
            },
            seed: p.seed(),
        }
    }
}

/// Fit ALS, reporting iterations done as progress.
pub fn fit(user_items: &Csr, params: AlsParams, ctl: &Control) -> Result<Factors> {
    let (f, w8) = (params.factors, params.weighting);
    let cui = user_items.clone().map_values(|_, _, v| v * w8.alpha);
    let ciu = cui.transpose();
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(params.seed);
    let mut user = random_factors(&mut rng, cui.n_rows, f);
    let mut item = random_factors(&mut rng, cui.n_cols, f);
    for it in 0..params.iterations {
        match params.solver {
            Solver::Cg { steps } => {
                solve_side(&cui, &mut user, &item, f, &w8, steps, ctl);
                solve_side(&ciu, &mut item, &user, f, &w8, steps, ctl);
            }
            Solver::Block { size } => {
                ials::solve_side(&cui, &mut user, &item, f, &w8, size, ctl);
                ials::solve_side(&ciu, &mut item, &user, f, &w8, size, ctl);
            }
        }
        ctl.progress(it + 1, params.iterations)?;
    }
    let hint = "lower alpha or raise regularization";
    Factors::fitted("ALS", hint, user, item, f, w8)
}

/// Update every row of `x` given the other side's factors `y`.
/// (Stops early, leaving `x` partly updated, once `ctl` is cancelled.)
pub fn solve_side(
    c: &Csr,
    x: &mut [f32],
    y: &[f32],
    f: usize,
    weighting: &Weighting,
    steps: usize,
    ctl: &Control,
) {
    let yty = weighting.gram(y, f);
    let n_columns = y.len() / f;
    let wide = has_avx2();
    x.par_chunks_mut(f)
        .enumerate()
        .with_min_len(64)
        .for_each_init(
            || vec![0f32; 3 * f],
            |scratch, (u, xu)| {
                if ctl.cancelled() {
                    return;
                }
                let (items, conf) = c.row(u);
                let user = User {
                    items,
                    conf,
                    unobserved: weighting.unobserved_weight,
                    penalty: weighting.row_penalty(items.len(), n_columns),
                };
                if wide {
                    #[cfg(target_arch = "x86_64")]
                    // SAFETY: AVX2 support was checked by `has_avx2`.
                    unsafe {
                        cg_user_avx2(&yty, y, &user, xu, scratch, steps)
                    }
                } else {
                    cg_user::<Plain>(&yty, y, &user, xu, scratch, steps)
                }
            },
        );
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn cg_user_avx2(
    yty: &[f32],
    y: &[f32],
    user: &User<'_>,
    x: &mut [f32],
    scratch: &mut [f32],
    steps: usize,
) {
    cg_user::<Avx2>(yty, y, user, x, scratch, steps)
}

/// One row's part of the normal equations: its items and confidences, the
/// unobserved weight and its penalty beyond the one in the Gram matrix.
struct User<'a> {
    items: &'a [u32],
    conf: &'a [f32],
    unobserved: f32,
    penalty: f32,
}

/// A few conjugate gradient steps on one user's normal equations, never
/// forming `Yᵀ Cu Y`: products with it go through the user's items only.
#[inline(always)]
fn cg_user<K: Kernels>(
    yty: &[f32],
    y: &[f32],
    user: &User<'_>,
    x: &mut [f32],
    scratch: &mut [f32],
    steps: usize,
) {
    let f = x.len();
    let (r, rest) = scratch.split_at_mut(f);
    let (p, ap) = rest.split_at_mut(f);
    let (items, conf, unobserved) = (user.items, user.conf, user.unobserved);
    // r = Yᵀ Cu p − (α₀YᵀY + λu I + Yᵀ(Cu − α₀I)Y) x
    K::symv(yty, x, r);
    if user.penalty != 0.0 {
        K::axpy(user.penalty, x, r);
    }
    r.iter_mut().for_each(|v| *v = -*v);
    for (&i, &c) in items.iter().zip(conf) {
        let yi = &y[i as usize * f..(i as usize + 1) * f];
        K::axpy(c - (c - unobserved) * K::dot(yi, x), yi, r);
    }
    p.copy_from_slice(r);
    let mut rs_old = K::dot(r, r);
    if rs_old < 1e-20 {
        return;
    }
    for _ in 0..steps {
        K::symv(yty, p, ap);
        if user.penalty != 0.0 {
            K::axpy(user.penalty, p, ap);
        }
        for (&i, &c) in items.iter().zip(conf) {
            let yi = &y[i as usize * f..(i as usize + 1) * f];
            K::axpy((c - unobserved) * K::dot(yi, p), yi, ap);
        }
        let step = rs_old / K::dot(p, ap);
        K::axpy(step, p, x);
        K::axpy(-step, ap, r);
        let rs_new = K::dot(r, r);
        if rs_new < 1e-20 {
            break;
        }
        let beta = rs_new / rs_old;
        for (pa, &ra) in p.iter_mut().zip(r.iter()) {
            *pa = ra + beta * *pa;
        }
        rs_old = rs_new;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cg_approaches_the_exact_solution() {
        // Two user groups with disjoint items: factors must separate them.
        let mut rows = Vec::new();
        let mut cols = Vec::new();
        for u in 0..40u32 {
            for i in 0..5u32 {
                rows.push(u);
                cols.push(if u < 20 { i } else { 5 + i });
            }
        }
        let vals = vec![1.0f32; rows.len()];
        let m = Csr::from_coo(40, 10, &rows, &cols, &vals);
        let params = AlsParams {
            factors: 4,
            weighting: Weighting::plain(10.0, 0.01),
            iterations: 15,
            solver: Solver::Cg { steps: 3 },
            seed: 1,
        };
        let model = fit(&m, params, &Control::new()).unwrap();
        let mut scores = vec![0f32; 10];
        model.score_into(model.user_row(0), &mut scores);
        let own: f32 = scores[..5].iter().sum();
        let other: f32 = scores[5..].iter().sum();
        assert!(own > 4.0 && other.abs() < 1.0, "{scores:?}");
        // Fold-in of a user with the same items gives about the same factor.
        let folded = model.fold_in(&model.item_gram(), &[0, 1, 2, 3, 4], &[1.0; 5]);
        model.score_into(&folded, &mut scores);
        assert!(scores[..5].iter().sum::<f32>() > 4.0, "{scores:?}");
        let again = fit(&m, params, &Control::new()).unwrap();
        assert_eq!(again, model);
    }
}
