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
use crate::control::Control;
use crate::error::Result;
use crate::persist;
use crate::spec::{self, Accept, Literal, Param, Params, Spec};

/// The contract of `patronage.recommend.ItemKNN` (implicit's parameters).
pub static SPEC: Spec = Spec {
    name: "ItemKNN",
    params: &[
        Param {
            name: "k",
            default: Literal::Int(20),
            accepts: &[Accept::int_from(1)],
            unit: "items",
            doc: "neighbours kept per item (the item itself included, as in implicit)",
        },
        Param {
            name: "weighting",
            default: Literal::Str("cosine"),
            accepts: &[Accept::Word(&["cosine", "tfidf", "bm25"])],
            unit: "",
            doc: "how item vectors are weighted before comparing them",
        },
        Param {
            name: "shrinkage",
            default: Literal::Float(0.0),
            accepts: &[Accept::at_least(0.0)],
            unit: "users",
            doc: "similarities are multiplied by n / (n + shrinkage), n the users two items share",
        },
        Param {
            name: "k1",
            default: Literal::Float(1.2),
            accepts: &[Accept::at_least(0.0)],
            unit: "",
            doc: "BM25 term-frequency saturation",
        },
        Param {
            name: "b",
            default: Literal::Float(0.75),
            accepts: &[Accept::in_closed(0.0, 1.0)],
            unit: "",
            doc: "BM25 length normalisation",
        },
        spec::SHOW_PROGRESS,
    ],
    columns: &[],
    fitted: &[],
};

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Weighting {
    Cosine,
    TfIdf,
    Bm25 { k1: f32, b: f32 },
}

/// Item-kNN settings, from parameters checked against [`SPEC`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KnnParams {
    pub weighting: Weighting,
    pub k: usize,
    pub shrinkage: f32,
}

impl KnnParams {
    pub fn from_params(p: &Params) -> Self {
        let weighting = match p.text("weighting") {
            Some("tfidf") => Weighting::TfIdf,
            Some("bm25") => Weighting::Bm25 {
                k1: p.number("k1") as f32,
                b: p.number("b") as f32,
            },
            _ => Weighting::Cosine,
        };
        KnnParams {
            weighting,
            k: p.count("k"),
            shrinkage: p.number("shrinkage") as f32,
        }
    }
}

/// The contract of `patronage.recommend.RP3Beta`.
pub static RP3_SPEC: Spec = Spec {
    name: "RP3Beta",
    params: &[
        Param {
            name: "k",
            default: Literal::Int(100),
            accepts: &[Accept::int_from(1)],
            unit: "items",
            doc: "neighbours kept per item",
        },
        Param {
            name: "alpha",
            default: Literal::Float(1.0),
            accepts: &[Accept::at_least(0.0)],
            unit: "",
            doc: "exponent of the walk's transition probabilities",
        },
        Param {
            name: "beta",
            // Paudel et al. favour the long tail with 0.5-0.7; on purchase logs,
            // where popular items are bought most, 0.3 ranks better (tests).
            default: Literal::Float(0.3),
            accepts: &[Accept::at_least(0.0)],
            unit: "",
            doc: "popularity penalty: a walk's end item j is divided by its users^beta",
        },
        spec::SHOW_PROGRESS,
    ],
    columns: &[],
    fitted: &[],
};

/// RP³β settings, from parameters checked against [`RP3_SPEC`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rp3Params {
    pub alpha: f32,
    pub beta: f32,
    pub k: usize,
}

impl Rp3Params {
    pub fn from_params(p: &Params) -> Self {
        Rp3Params {
            alpha: p.number("alpha") as f32,
            beta: p.number("beta") as f32,
            k: p.count("k"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemKnn {
    /// Row `i` holds the `k` nearest neighbours of item `i`.
    pub similarity: Csr,
}

/// The user × item matrix's entries as (item, weighted value) pairs, aligned
/// with its entries, items being the vectors compared (users are the
/// "terms", items the "documents"): every weighting is a function of the
/// entry, its user's and its item's statistics, so no transpose is needed.
pub fn weight(user_items: &Csr, weighting: Weighting) -> Vec<(u32, f32)> {
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
            user_items.mapped_values(|_, i, v| (i, (v as f64 * inv[i as usize]) as f32))
        }
        Weighting::TfIdf => {
            let idf = idf();
            let tfidf = |u: usize, v: f32| (v as f64).sqrt() * idf[u];
            let inv = inverse_norms(column_sums(&|u, v| tfidf(u, v).powi(2)));
            user_items.mapped_values(|u, i, v| (i, (tfidf(u, v) * inv[i as usize]) as f32))
        }
        Weighting::Bm25 { k1, b } => {
            let idf = idf();
            let (k1, b) = (k1 as f64, b as f64);
            let lengths = column_sums(&|_, v| v as f64);
            let mean = lengths.iter().sum::<f64>() / lengths.len().max(1) as f64;
            user_items.mapped_values(|u, i, v| {
                let norm = (1.0 - b) + b * lengths[i as usize] / mean;
                let v = v as f64;
                (i, (v * (k1 + 1.0) / (k1 * norm + v) * idf[u]) as f32)
            })
        }
    }
}

impl ItemKnn {
    /// Fit from the user × item matrix, reporting items done as progress.
    pub fn fit(user_items: &Csr, params: KnnParams, ctl: &Control) -> Result<Self> {
        let KnnParams {
            weighting,
            k,
            shrinkage,
        } = params;
        let weighted = PairRows::new(user_items, weight(user_items, weighting), None);
        let shrink = |_, sum: f32, shared: u32| {
            let n = shared as f32;
            sum * n / (n + shrinkage)
        };
        let rows = if shrinkage > 0.0 {
            top_products(&weighted, k, Some(&shrink), ctl)?
        } else {
            top_products(&weighted, k, None, ctl)?
        };
        Ok(ItemKnn {
            similarity: Csr::from_rows(&rows, user_items.n_cols),
        })
    }

    /// RP³β (Paudel et al. 2017; Ferrari Dacrema et al.'s reference code):
    /// the probability of walking item → user → item, `W_ij = Σ_u P(u|i)^α
    /// P(j|u)^α` (from an item to one of its users uniformly, from a user to
    /// an item in proportion to their weight), divided by `popularity_j^β` so
    /// that popular items do not win every walk, the `k` largest per item
    /// kept and each row scaled to sum 1.  Served as item-kNN is.
    pub fn fit_rp3beta(user_items: &Csr, params: Rp3Params, ctl: &Control) -> Result<Self> {
        let Rp3Params { alpha, beta, k } = params;
        let (alpha, beta) = (alpha as f64, beta as f64);
        let totals: Vec<f64> = (0..user_items.n_rows)
            .map(|u| user_items.row(u).1.iter().map(|&v| v as f64).sum())
            .collect();
        let mut users_of = vec![0u32; user_items.n_cols];
        for &i in &user_items.indices {
            users_of[i as usize] += 1;
        }
        let to_item =
            user_items.mapped_values(|u, i, v| (i, (v as f64 / totals[u]).powf(alpha) as f32));
        let to_user: Vec<f32> = user_items
            .indices
            .iter()
            .map(|&i| (1.0 / users_of[i as usize] as f64).powf(alpha) as f32)
            .collect();
        let walks = PairRows::new(user_items, to_item, Some(to_user));
        let penalty: Vec<f32> = users_of
            .iter()
            .map(|&n| (n.max(1) as f64).powf(-beta) as f32)
            .collect();
        let penalised = |j: u32, sum: f32, _| sum * penalty[j as usize];
        let mut rows = top_products(&walks, k, Some(&penalised), ctl)?;
        rows.par_iter_mut().for_each(|row| {
            let total: f32 = row.iter().map(|&(_, w)| w).sum();
            if total > 0.0 {
                row.iter_mut().for_each(|(_, w)| *w /= total);
            }
        });
        Ok(ItemKnn {
            similarity: Csr::from_rows(&rows, user_items.n_cols),
        })
    }

    /// The invariants of serving, for a model read from bytes: a square
    /// similarity over the catalogue with finite values.
    pub fn validate(&self, n_items: usize) -> Result<()> {
        let m = &self.similarity;
        persist::require(m.n_rows == n_items && m.n_cols == n_items, || {
            format!(
                "the similarity is {}x{} for {n_items} items",
                m.n_rows, m.n_cols
            )
        })?;
        m.validate("the similarity matrix")
            .map_err(|e| crate::error::Error::saved_model(e.to_string()))?;
        persist::require(m.data.iter().all(|v| v.is_finite()), || {
            "the similarity holds NaN or infinite values".into()
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

/// The weighted matrix both ways, laid out for computing `W Wᵀ` row by row:
/// users' rows with (item, weight) side by side (a short row is one cache
/// line instead of two, which matters as they are visited in random order),
/// and each item's (user, weight) pairs.
struct PairRows<'a> {
    user_ptr: &'a [usize],
    pairs: Vec<(u32, f32)>,
    item_ptr: Vec<usize>,
    item_users: Vec<(u32, f32)>,
    n_items: usize,
}

impl<'a> PairRows<'a> {
    /// `pairs`: the matrix's entries as (item, weight), as [`weight`] gives;
    /// `item_side`: other weights for the items' side, entry by entry (the
    /// same ones when `None`).
    fn new(m: &'a Csr, pairs: Vec<(u32, f32)>, item_side: Option<Vec<f32>>) -> Self {
        let (item_ptr, item_users) = match &item_side {
            Some(w) => m.transpose_entries(|u, k| (u as u32, w[k])),
            None => m.transpose_entries(|u, k| (u as u32, pairs[k].1)),
        };
        PairRows {
            user_ptr: &m.indptr,
            pairs,
            item_ptr,
            item_users,
            n_items: m.n_cols,
        }
    }

    #[inline(always)]
    fn users_of(&self, item: usize) -> &[(u32, f32)] {
        &self.item_users[self.item_ptr[item]..self.item_ptr[item + 1]]
    }

    #[inline(always)]
    fn row(&self, user: u32) -> &[(u32, f32)] {
        let u = user as usize;
        &self.pairs[self.user_ptr[u]..self.user_ptr[u + 1]]
    }

    /// Ask for a user's row (its offset should already be cached, see
    /// [`PairRows::prefetch_offset`]).
    #[inline(always)]
    fn prefetch(&self, user: u32) {
        if let Some(p) = self.pairs.get(self.user_ptr[user as usize]) {
            prefetch(p);
        }
    }

    /// Ask for a user's row offset: a random lookup that would otherwise
    /// stall [`PairRows::prefetch`] itself.
    #[inline(always)]
    fn prefetch_offset(&self, user: u32) {
        prefetch(&self.user_ptr[user as usize]);
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

/// Adjusts an item's product with item `j` given the sum and the number of
/// users they share.
type Adjust<'f> = &'f (dyn Fn(u32, f32, u32) -> f32 + Sync);

/// For every item, the `k` largest of its products with all items (one row
/// of `W Wᵀ` per task, in parallel), each adjusted by `adjust` (which may
/// use the count of shared users), reporting items done as progress.
fn top_products(
    rows: &PairRows<'_>,
    k: usize,
    adjust: Option<Adjust<'_>>,
    ctl: &Control,
) -> Result<Vec<Vec<(u32, f32)>>> {
    let n_items = rows.n_items;
    let mut out: Vec<Vec<(u32, f32)>> = Vec::with_capacity(n_items);
    // Blocks keep progress reports coming while staying parallel inside.
    let block = (n_items / 20).max(256);
    let mut start = 0;
    while start < n_items {
        let end = (start + block).min(n_items);
        let part: Vec<Vec<(u32, f32)>> = (start..end)
            .into_par_iter()
            .map_init(
                || match adjust {
                    Some(_) => SparseAccumulator::with_counts(n_items),
                    None => SparseAccumulator::new(n_items),
                },
                |acc, item| neighbours(rows, item, k, adjust, acc),
            )
            .collect();
        out.extend(part);
        start = end;
        ctl.progress(start, n_items)?;
    }
    Ok(out)
}

fn neighbours(
    rows: &PairRows<'_>,
    item: usize,
    k: usize,
    adjust: Option<Adjust<'_>>,
    acc: &mut SparseAccumulator,
) -> Vec<(u32, f32)> {
    let users = rows.users_of(item);
    let shrink = |j, sum: f32, shared: u32| match adjust {
        Some(f) => f(j, sum, shared),
        None => sum,
    };
    let mut top = TopCollector::new(k);
    // Popular items touch most of the catalogue: accumulating densely and
    // scanning every column beats tracking the columns touched.
    let mean_user_len = rows.pairs.len() as f64 / (rows.user_ptr.len() - 1).max(1) as f64;
    let dense = users.len() as f64 * mean_user_len * 2.0 > rows.n_items as f64;
    // Users' rows are scattered in memory: ask for them a few users ahead,
    // and for their row offsets twice as far ahead.
    const AHEAD: usize = 6;
    for (t, &(user, weight)) in users.iter().enumerate() {
        if let Some(&(later, _)) = users.get(t + 2 * AHEAD) {
            rows.prefetch_offset(later);
        }
        if let Some(&(next, _)) = users.get(t + AHEAD) {
            rows.prefetch(next);
        }
        acc.add_pairs(rows.row(user), weight, !dense);
    }
    if dense {
        acc.drain_all_into(shrink, |j, s| top.push(j, s));
    } else {
        acc.drain_into(shrink, |j, s| top.push(j, s));
    }
    top.finish_by_index()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::Control;
    use crate::datasets::simulate::{simulate, SimulationConfig};
    use std::time::Instant;

    /// Phase timings on a benchmark-sized log: `cargo test --release
    /// knn_phase_timings -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn knn_phase_timings() {
        let config = SimulationConfig {
            n_customers: 150_000,
            n_items: 10_000,
            ..Default::default()
        };
        let sim = simulate(&config, &Control::new()).unwrap();
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
        // The machine may be shared: the fastest of many fits is the signal.
        let mut best = f64::INFINITY;
        for _ in 0..15 {
            let t = Instant::now();
            let params = KnnParams {
                weighting: Weighting::Cosine,
                k: 50,
                shrinkage: 0.0,
            };
            let knn = ItemKnn::fit(&m, params, &Control::new()).unwrap();
            best = best.min(t.elapsed().as_secs_f64());
            assert!(knn.similarity.nnz() > 0);
        }
        println!("fit: best of 15 {:.1} ms", best * 1e3);
    }
}
