//! Similar items and similar users: the neighbour lists or weights of the
//! model where it has them, else cosines of factors or of training rows.

use rayon::prelude::*;

use super::model::{Model, Recommender};
use super::sparse::{Csr, SparseAccumulator};
use super::topn::{top_n_dense, top_n_pairs, TopN};
use crate::control::Control;
use crate::error::{Error, Result};

impl Recommender {
    /// The `n` items most similar to each queried item (the item itself
    /// excluded).  ItemKNN: its neighbour similarities; ALS/BPR: cosine of
    /// item factors; EASE: the item's row of B.
    pub fn similar_items(
        &self,
        items: &[Option<u32>],
        n: usize,
        allowed: Option<&[bool]>,
        ctl: &Control,
    ) -> Result<TopN> {
        let n = n.min(self.n_items());
        if let Some(pos) = items.iter().position(|i| i.is_none()) {
            return Err(Error::argument(
                "items",
                format!("has id(s) not seen in training (the first at position {pos})"),
            ));
        }
        let keep = |q: u32, i: u32| i != q && allowed.map_or(true, |a| a[i as usize]);
        let width = n.min(self.n_items());
        let query = |k: usize| items[k].expect("checked above");
        match &self.model {
            Model::Popularity | Model::RepeatAware(_) => {
                let item_users = self.data.matrix.transpose();
                row_cosine_top(&item_users, items, n, keep, ctl)
            }
            Model::ItemKnn(knn) | Model::Rp3Beta(knn) => TopN::gather_each(
                items.len(),
                width,
                ctl,
                || (),
                |_, k| {
                    let q = query(k);
                    let (nbrs, sims) = knn.similarity.row(q as usize);
                    let c = nbrs
                        .iter()
                        .zip(sims)
                        .filter(|(&i, _)| keep(q, i))
                        .map(|(&i, &s)| (i, s))
                        .collect();
                    top_n_pairs(c, n)
                },
            ),
            Model::Ease(ease) => TopN::gather_each(
                items.len(),
                width,
                ctl,
                || (),
                |_, k| {
                    let q = query(k);
                    let scores = ease.row(q as usize);
                    top_n_dense(&scores, n, |i| keep(q, i))
                },
            ),
            Model::Als(f) | Model::Bpr(f) => {
                let normed = normalised_rows(&f.item, f.n_factors);
                cosine_top(&normed, f.n_factors, items, n, keep, ctl)
            }
        }
    }

    /// The `n` users most similar to each queried user (the user excluded).
    /// ALS/BPR: cosine of user factors; other models: cosine of the users'
    /// rows of the training matrix.
    pub fn similar_users(&self, users: &[Option<u32>], n: usize, ctl: &Control) -> Result<TopN> {
        let n = n.min(self.n_users());
        if let Some(pos) = users.iter().position(|u| u.is_none()) {
            return Err(Error::argument(
                "users",
                format!("has id(s) not seen in training (the first at position {pos})"),
            ));
        }
        let keep = |q: u32, v: u32| v != q;
        if let Some(f) = self.model.factors() {
            let normed = normalised_rows(&f.user, f.n_factors);
            return cosine_top(&normed, f.n_factors, users, n, keep, ctl);
        }
        row_cosine_top(&self.data.matrix, users, n, keep, ctl)
    }
}

fn normalised_rows(rows: &[f32], f: usize) -> Vec<f32> {
    let mut out = rows.to_vec();
    out.par_chunks_mut(f).for_each(|r| {
        let norm = r.iter().map(|v| v * v).sum::<f32>().sqrt();
        if norm > 0.0 {
            r.iter_mut().for_each(|v| *v /= norm);
        }
    });
    out
}

fn cosine_top(
    normed: &[f32],
    f: usize,
    queries: &[Option<u32>],
    n: usize,
    keep: impl Fn(u32, u32) -> bool + Sync,
    ctl: &Control,
) -> Result<TopN> {
    let rows = normed.len() / f.max(1);
    TopN::gather_each(
        queries.len(),
        n.min(rows),
        ctl,
        || vec![0f32; rows],
        |scores, k| {
            let q = queries[k].expect("checked by the caller");
            let x = &normed[q as usize * f..(q as usize + 1) * f];
            super::factors::score_rows(normed, f, x, scores);
            top_n_dense(scores, n, |i| keep(q, i))
        },
    )
}

/// The `n` rows of `m` with the largest cosine to each queried row (users
/// for the user × item matrix, items for its transpose), by a sparse product.
pub(super) fn row_cosine_top(
    m: &Csr,
    queries: &[Option<u32>],
    n: usize,
    keep: impl Fn(u32, u32) -> bool + Sync,
    ctl: &Control,
) -> Result<TopN> {
    let t = m.transpose();
    let norms: Vec<f32> = (0..m.n_rows)
        .into_par_iter()
        .map(|r| m.row(r).1.iter().map(|v| v * v).sum::<f32>().sqrt())
        .collect();
    TopN::gather_each(
        queries.len(),
        n.min(m.n_rows),
        ctl,
        || SparseAccumulator::new(m.n_rows),
        |acc, k| {
            let q = queries[k].expect("checked by the caller");
            let (cols, w) = m.row(q as usize);
            for (&c, &a) in cols.iter().zip(w) {
                let (others, b) = t.row(c as usize);
                for (&v, &b) in others.iter().zip(b) {
                    acc.add(v, a * b);
                }
            }
            let c = acc
                .drain(|v, s, _| s / (norms[q as usize] * norms[v as usize]).max(1e-30))
                .into_iter()
                .filter(|&(v, _)| keep(q, v))
                .collect();
            top_n_pairs(c, n)
        },
    )
}
