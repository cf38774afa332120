//! Item-based nearest neighbours (as implicit's Cosine/TFIDF/BM25 recommenders).
//!
//! Items are vectors over users.  They are weighted (cosine: row-normalised;
//! TF-IDF: `sqrt(count) · idf(user)`, row-normalised; BM25: Okapi BM25 with
//! users as terms), every item's dot products with all other items are
//! accumulated sparsely (one row of `W Wᵀ` per task, in parallel), and the `k`
//! largest are kept (the item itself included, as implicit does).  With
//! `shrinkage = h > 0` each similarity is multiplied by `n / (n + h)`, `n`
//! being the number of users the two items share, which damps similarities
//! supported by few users.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::sparse::{Csr, SparseAccumulator};
use super::topn::TopCollector;
use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Weighting {
    Cosine,
    TfIdf,
    Bm25 { k1: f32, b: f32 },
}

impl Weighting {
    pub fn parse(name: &str, k1: f32, b: f32) -> Result<Self> {
        match name {
            "cosine" => Ok(Weighting::Cosine),
            "tfidf" => Ok(Weighting::TfIdf),
            "bm25" => {
                if !(k1 >= 0.0 && k1.is_finite()) {
                    return Err(Error::argument("K1", "must be a non-negative number"));
                }
                if !(0.0..=1.0).contains(&b) {
                    return Err(Error::argument("B", "must be between 0 and 1"));
                }
                Ok(Weighting::Bm25 { k1, b })
            }
            other => Err(Error::argument(
                "weighting",
                format!("must be 'cosine', 'tfidf' or 'bm25', got '{other}'"),
            )),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemKnn {
    /// Row `i` holds the `k` nearest neighbours of item `i`.
    pub similarity: Csr,
}

/// Weight the item × user matrix.
pub fn weight(item_users: Csr, weighting: Weighting) -> Csr {
    let n_items = item_users.n_rows as f64;
    let idf = || -> Vec<f64> {
        // idf of a user (a "term") over items (the "documents").
        let counts = item_users.column_counts();
        counts
            .iter()
            .map(|&c| n_items.ln() - (c as f64).ln_1p())
            .collect()
    };
    match weighting {
        Weighting::Cosine => normalise_rows(item_users),
        Weighting::TfIdf => {
            let idf = idf();
            normalise_rows(
                item_users.map_values(|_, u, v| ((v as f64).sqrt() * idf[u as usize]) as f32),
            )
        }
        Weighting::Bm25 { k1, b } => {
            let idf = idf();
            let (k1, b) = (k1 as f64, b as f64);
            let lengths: Vec<f64> = (0..item_users.n_rows)
                .map(|i| item_users.row(i).1.iter().map(|&v| v as f64).sum())
                .collect();
            let mean = lengths.iter().sum::<f64>() / lengths.len().max(1) as f64;
            item_users.map_values(|i, u, v| {
                let norm = (1.0 - b) + b * lengths[i] / mean;
                let v = v as f64;
                (v * (k1 + 1.0) / (k1 * norm + v) * idf[u as usize]) as f32
            })
        }
    }
}

fn normalise_rows(m: Csr) -> Csr {
    let norms: Vec<f32> = (0..m.n_rows)
        .into_par_iter()
        .map(|r| {
            let v = m.row(r).1;
            (v.iter().map(|&x| x as f64 * x as f64).sum::<f64>()).sqrt() as f32
        })
        .collect();
    m.map_values(|r, _, v| if norms[r] > 0.0 { v / norms[r] } else { 0.0 })
}

impl ItemKnn {
    /// Fit from the user × item matrix; `progress` is called with the number
    /// of items done so far (from the calling thread only).
    pub fn fit(
        user_items: &Csr,
        weighting: Weighting,
        k: usize,
        shrinkage: f32,
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<Self> {
        if k == 0 {
            return Err(Error::argument("K", "must be at least 1"));
        }
        if !(shrinkage >= 0.0 && shrinkage.is_finite()) {
            return Err(Error::argument(
                "shrinkage",
                "must be a non-negative number",
            ));
        }
        let weighted_items = weight(user_items.transpose(), weighting);
        let weighted_users = weighted_items.transpose();
        let n_items = weighted_items.n_rows;
        let mut rows: Vec<Vec<(u32, f32)>> = Vec::with_capacity(n_items);
        // Blocks keep progress reports coming while staying parallel inside.
        let block = (n_items / 20).max(256);
        let mut start = 0;
        while start < n_items {
            let end = (start + block).min(n_items);
            let part: Vec<Vec<(u32, f32)>> = (start..end)
                .into_par_iter()
                .map_init(
                    || SparseAccumulator::new(n_items),
                    |acc, item| {
                        neighbours(&weighted_items, &weighted_users, item, k, shrinkage, acc)
                    },
                )
                .collect();
            rows.extend(part);
            start = end;
            progress(start, n_items);
        }
        Ok(ItemKnn {
            similarity: rows_to_csr(rows, n_items),
        })
    }

    /// Accumulate `weight · similarity[item]` over the items a user has.
    pub fn score(&self, items: &[u32], weights: &[f32], acc: &mut SparseAccumulator) {
        for (&i, &w) in items.iter().zip(weights) {
            let (nbrs, sims) = self.similarity.row(i as usize);
            acc.add_row(nbrs, sims, w, true);
        }
    }
}

fn neighbours(
    items: &Csr,
    users: &Csr,
    item: usize,
    k: usize,
    shrinkage: f32,
    acc: &mut SparseAccumulator,
) -> Vec<(u32, f32)> {
    let (item_users, item_weights) = items.row(item);
    let shrink = |_, sum: f32, shared: u32| {
        if shrinkage > 0.0 {
            let n = shared as f32;
            sum * n / (n + shrinkage)
        } else {
            sum
        }
    };
    let mut top = TopCollector::new(k);
    // Popular items touch most of the catalogue: accumulating densely and
    // scanning every column beats tracking the columns touched.
    let mean_user_len = users.nnz() as f64 / users.n_rows.max(1) as f64;
    let dense = item_users.len() as f64 * mean_user_len * 2.0 > users.n_cols as f64;
    // Users' rows are scattered in memory: prefetch a few users ahead.
    const AHEAD: usize = 6;
    for (t, (&u, &a)) in item_users.iter().zip(item_weights).enumerate() {
        if let Some(&next) = item_users.get(t + AHEAD) {
            users.prefetch_row(next as usize);
        }
        let (others, weights) = users.row(u as usize);
        acc.add_row(others, weights, a, !dense);
    }
    if dense {
        acc.drain_all_into(shrink, |j, s| top.push(j, s));
    } else {
        acc.drain_into(shrink, |j, s| top.push(j, s));
    }
    top.finish()
}

fn rows_to_csr(rows: Vec<Vec<(u32, f32)>>, n_items: usize) -> Csr {
    let mut indptr = Vec::with_capacity(n_items + 1);
    indptr.push(0);
    for r in &rows {
        indptr.push(indptr.last().unwrap() + r.len());
    }
    let mut indices = Vec::with_capacity(*indptr.last().unwrap());
    let mut data = Vec::with_capacity(indices.capacity());
    for mut r in rows {
        r.sort_unstable_by_key(|p| p.0);
        for (j, s) in r {
            indices.push(j);
            data.push(s);
        }
    }
    Csr {
        n_rows: n_items,
        n_cols: n_items,
        indptr,
        indices,
        data,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::datasets::simulate::{simulate, SimulationConfig};
    use std::time::Instant;

    /// Phase timings on a benchmark-sized log: `cargo test --release
    /// knn_phase_timings -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn knn_phase_timings() {
        let sim = simulate(&SimulationConfig {
            n_customers: 150_000,
            n_items: 10_000,
            ..Default::default()
        })
        .unwrap();
        let users: Vec<u32> = sim.customer_id.iter().map(|&c| c as u32 - 1).collect();
        let items: Vec<u32> = sim.item_id.iter().map(|&i| i as u32).collect();
        let ones = vec![1f32; users.len()];
        let t = Instant::now();
        let m = Csr::from_coo(150_000, 10_000, &users, &items, &ones);
        println!("from_coo {:?} nnz {}", t.elapsed(), m.nnz());
        let t = Instant::now();
        let it = m.transpose();
        println!("transpose {:?}", t.elapsed());
        let t = Instant::now();
        let w = weight(it.clone(), Weighting::Cosine);
        println!("weight {:?}", t.elapsed());
        let t = Instant::now();
        let _wt = w.transpose();
        println!("transpose back {:?}", t.elapsed());
        for _ in 0..3 {
            let t = Instant::now();
            let knn = ItemKnn::fit(&m, Weighting::Cosine, 50, 0.0, &mut |_, _| {}).unwrap();
            println!("fit {:?} nnz {}", t.elapsed(), knn.similarity.nnz());
        }
    }
}
