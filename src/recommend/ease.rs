//! EASE (Steck 2019): a closed-form item-item model.
//!
//! `G = XᵀX + λI`, `P = G⁻¹` (faer's blocked Cholesky and inverse, parallel),
//! `B = I − P · diag(1 / diag(P))` with `diag(B) = 0`.
//! `B` is dense (`n_items²` doubles), so fitting refuses catalogues above a
//! configurable size instead of exhausting memory.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use faer::linalg::solvers::DenseSolveCore;
use faer::{MatRef, Side};

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
            default: Literal::Int(20_000),
            accepts: &[Accept::int_from(1)],
            unit: "items",
            doc: "largest catalogue fitted (B is a dense n_items² matrix)",
        },
    ],
    columns: &[],
    fitted: &[],
};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ease {
    pub n_items: usize,
    /// Row-major `n_items × n_items`; row `i` is what item `i` adds to scores.
    pub b: Vec<f64>,
}

impl Ease {
    pub fn fit(user_items: &Csr, params: &Params, ctl: &Control) -> Result<Self> {
        let (lambda, max_items) = (params.number("regularization"), params.count("max_items"));
        let n = user_items.n_cols;
        if n > max_items {
            return Err(params.error(
                "max_items",
                format!(
                    "is {max_items} but the data has {n} items; EASE needs a dense {n}×{n} \
                     matrix ({:.1} GB): raise max_items if you have the memory, or use ItemKNN/ALS",
                    (n * n * 8 * 3) as f64 / 1e9
                ),
            ));
        }
        let mut b = gram_of_items(user_items, lambda);
        ctl.check()?;
        // G is symmetric, so its row-major buffer is also column-major.
        let g = MatRef::from_column_major_slice(&b, n, n);
        let p = g
            .llt(Side::Lower)
            .map_err(|_| {
                Error::fit(
                    "EASE",
                    "XᵀX + λI is not positive definite; raise regularization",
                )
            })?
            .inverse();
        ctl.check()?;
        // B = I − P diag(1/diag(P)), zero diagonal; P is symmetric, so its
        // column i is row i.
        b.par_chunks_mut(n).enumerate().for_each(|(i, row)| {
            let p_i = p.col(i);
            for (j, v) in row.iter_mut().enumerate() {
                *v = if i == j { 0.0 } else { -p_i[j] / p[(j, j)] };
            }
        });
        Ok(Ease { n_items: n, b })
    }

    /// The invariants of serving, for a model read from bytes.
    pub fn validate(&self, n_items: usize) -> Result<()> {
        persist::require(
            self.n_items == n_items && self.b.len() == n_items * n_items,
            || format!("EASE weights are not {n_items}x{n_items}"),
        )?;
        persist::require_finite(&self.b, "EASE weights")
    }

    /// What item `j` adds, per unit of weight, to item `i`'s score.
    pub fn weight(&self, j: u32, i: u32) -> f64 {
        self.b[j as usize * self.n_items + i as usize]
    }

    /// Scores of every item for a user's items: `x_u B`.
    pub fn score_into(&self, items: &[u32], weights: &[f32], out: &mut [f32]) {
        let n = self.n_items;
        let mut acc = vec![0f64; n];
        for (&i, &w) in items.iter().zip(weights) {
            let row = &self.b[i as usize * n..(i as usize + 1) * n];
            let w = w as f64;
            for (a, &v) in acc.iter_mut().zip(row) {
                *a += w * v;
            }
        }
        for (o, a) in out.iter_mut().zip(acc) {
            *o = a as f32;
        }
    }
}

/// `XᵀX + λI` as a dense matrix: rows of the item × user matrix dotted
/// through the users they share (a sparse product, parallel over items).
fn gram_of_items(user_items: &Csr, lambda: f64) -> Vec<f64> {
    let n = user_items.n_cols;
    let item_users = user_items.transpose();
    let mut g = vec![0f64; n * n];
    g.par_chunks_mut(n).enumerate().for_each(|(i, row)| {
        let (users, a) = item_users.row(i);
        for (&u, &a) in users.iter().zip(a) {
            let (items, b) = user_items.row(u as usize);
            for (&j, &b) in items.iter().zip(b) {
                row[j as usize] += a as f64 * b as f64;
            }
        }
        row[i] += lambda;
    });
    g
}
