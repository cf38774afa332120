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

/// The weighted values of the user × item matrix (aligned with its
/// entries), items being the vectors compared (users are the "terms", items
/// the "documents"): every weighting is a function of the entry, its user's
/// and its item's statistics, so no transpose is needed.
pub fn weight(user_items: &Csr, weighting: Weighting) -> Vec<f32> {
    let n_items = user_items.n_cols as f64;
    // idf of a user: log(n_items) − log(1 + number of items the user has).
    let idf = || -> Vec<f64> {
        (0..user_items.n_rows)
            .map(|u| n_items.ln() - (user_items.row_len(u) as f64).ln_1p())
            .collect()
    };
    let column_sums = |g: &dyn Fn(usize, f32) -> f64| -> Vec<f64> {
        let mut sums = vec![0f64; user_items.n_cols];
        for u in 0..user_items.n_rows {
            let (items, values) = user_items.row(u);
            for (&i, &v) in items.iter().zip(values) {
                sums[i as usize] += g(u, v);
            }
        }
        sums
    };
    let inverse_norms = |sq: Vec<f64>| -> Vec<f64> {
        sq.into_iter()
            .map(|s| if s > 0.0 { 1.0 / s.sqrt() } else { 0.0 })
            .collect()
    };
    match weighting {
        Weighting::Cosine => {
            let inv = inverse_norms(column_sums(&|_, v| v as f64 * v as f64));
            user_items.mapped_values(|_, i, v| (v as f64 * inv[i as usize]) as f32)
        }
        Weighting::TfIdf => {
            let idf = idf();
            let tfidf = |u: usize, v: f32| (v as f64).sqrt() * idf[u];
            let inv = inverse_norms(column_sums(&|u, v| tfidf(u, v).powi(2)));
            user_items.mapped_values(|u, i, v| (tfidf(u, v) * inv[i as usize]) as f32)
        }
        Weighting::Bm25 { k1, b } => {
            let idf = idf();
            let (k1, b) = (k1 as f64, b as f64);
            let lengths = column_sums(&|_, v| v as f64);
            let mean = lengths.iter().sum::<f64>() / lengths.len().max(1) as f64;
            user_items.mapped_values(|u, i, v| {
                let norm = (1.0 - b) + b * lengths[i as usize] / mean;
                let v = v as f64;
                (v * (k1 + 1.0) / (k1 * norm + v) * idf[u]) as f32
            })
        }
    }
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
        let (weighted_items, weighted_users) = {
            let weights = weight(user_items, weighting);
            (
                user_items.transpose_with(&weights),
                PairRows::new(user_items, &weights),
            )
        };
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
                    || {
                        if shrinkage > 0.0 {
                            SparseAccumulator::with_counts(n_items)
                        } else {
                            SparseAccumulator::new(n_items)
                        }
                    },
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

/// Rows with (column, value) side by side: a short row is one cache line
/// instead of two, which matters when rows are visited in random order.
struct PairRows<'a> {
    indptr: &'a [usize],
    pairs: Vec<(u32, f32)>,
    n_cols: usize,
}

impl<'a> PairRows<'a> {
    fn new(m: &'a Csr, values: &[f32]) -> Self {
        PairRows {
            indptr: &m.indptr,
            pairs: m
                .indices
                .iter()
                .copied()
                .zip(values.iter().copied())
                .collect(),
            n_cols: m.n_cols,
        }
    }

    #[inline(always)]
    fn row(&self, r: usize) -> &[(u32, f32)] {
        &self.pairs[self.indptr[r]..self.indptr[r + 1]]
    }

    /// Ask for row `r`'s entries (its offset should already be cached, see
    /// [`PairRows::prefetch_offset`]).
    #[inline(always)]
    fn prefetch(&self, r: usize) {
        if let Some(p) = self.pairs.get(self.indptr[r]) {
            prefetch(p);
        }
    }

    /// Ask for row `r`'s offset: a random lookup that would otherwise stall
    /// [`PairRows::prefetch`] itself.
    #[inline(always)]
    fn prefetch_offset(&self, r: usize) {
        if let Some(p) = self.indptr.get(r) {
            prefetch(p);
        }
    }
}

#[inline(always)]
fn prefetch<T>(p: &T) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        // SAFETY: prefetching is a hint and never faults.
        #[allow(unused_unsafe)]
        unsafe {
            _mm_prefetch::<_MM_HINT_T0>(p as *const T as *const i8)
        };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

fn neighbours(
    items: &Csr,
    users: &PairRows<'_>,
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
    let mean_user_len = users.pairs.len() as f64 / (users.indptr.len() - 1).max(1) as f64;
    let dense = item_users.len() as f64 * mean_user_len * 2.0 > users.n_cols as f64;
    // Users' rows are scattered in memory: prefetch a few users ahead, and
    // their row offsets twice as far ahead.
    const AHEAD: usize = 6;
    for (t, (&u, &a)) in item_users.iter().zip(item_weights).enumerate() {
        if let Some(&later) = item_users.get(t + 2 * AHEAD) {
            users.prefetch_offset(later as usize);
        }
        if let Some(&next) = item_users.get(t + AHEAD) {
            users.prefetch(next as usize);
        }
        acc.add_pairs(users.row(u as usize), a, !dense);
    }
    if dense {
        acc.drain_all_into(shrink, |j, s| top.push(j, s));
    } else {
        acc.drain_into(shrink, |j, s| top.push(j, s));
    }
    let mut best = top.finish();
    best.sort_unstable_by_key(|p| p.0);
    best
}

/// Rows (each already sorted by column) into one matrix.
fn rows_to_csr(rows: Vec<Vec<(u32, f32)>>, n_items: usize) -> Csr {
    let mut indptr = Vec::with_capacity(n_items + 1);
    indptr.push(0);
    for r in &rows {
        indptr.push(indptr.last().unwrap() + r.len());
    }
    let (indices, data) = rows.into_iter().flatten().unzip();
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
        let _w = weight(&m, Weighting::Cosine);
        drop(it);
        println!("weight {:?}", t.elapsed());
        for _ in 0..3 {
            let t = Instant::now();
            let knn = ItemKnn::fit(&m, Weighting::Cosine, 50, 0.0, &mut |_, _| {}).unwrap();
            println!("fit {:?} nnz {}", t.elapsed(), knn.similarity.nnz());
        }
    }
}
