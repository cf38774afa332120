//! Ranking metrics at k, computed per user in parallel.
//!
//! `precision`, `map`, `ndcg` and `auc` follow implicit's
//! `ranking_metrics_at_k` exactly: precision is the number of hits over
//! `Σ min(k, |test items|)` (so a user with 2 test items can reach 1.0), MAP
//! divides each user's average precision by `min(k, |test items|)`, nDCG uses
//! binary gains and the ideal DCG of `min(k, |test items|)` hits, and AUC is
//! implicit's AUC restricted to the top k.  Added: `recall` (hits / |test
//! items|, averaged over users), `hit_rate` (share of users with a hit in the
//! top k) and `coverage` (share of the catalogue recommended to anyone).

use rayon::prelude::*;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::table::{self, IdMap, Table};

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RankingMetrics {
    pub precision: f64,
    pub recall: f64,
    pub map: f64,
    pub ndcg: f64,
    pub auc: f64,
    pub hit_rate: f64,
    pub coverage: f64,
    pub n_users: usize,
}

#[derive(Default, Clone, Copy)]
struct UserTotals {
    relevant: f64,
    pr_div: f64,
    ap: f64,
    ndcg: f64,
    auc: f64,
    recall: f64,
    hit: f64,
}

/// The catalogue the metrics are measured against.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Catalogue {
    /// Items that can be recommended (codes below this count for coverage).
    pub n_items: usize,
    /// Held-out items outside it (never recommendable): relevant items
    /// every list misses, which AUC counts as positives ranked last.
    pub n_outside: usize,
}

/// `recommended[u]` are user u's items best first (only the first `k` count);
/// `relevant[u]` are u's held-out items, sorted and distinct.  Users without
/// held-out items are skipped, as implicit does.
pub fn ranking_metrics(
    recommended: &[Vec<u32>],
    relevant: &[Vec<u32>],
    k: usize,
    catalogue: Catalogue,
) -> Result<RankingMetrics> {
    if k == 0 {
        return Err(Error::argument("k", "must be at least 1"));
    }
    debug_assert_eq!(recommended.len(), relevant.len(), "one list per user");
    let n_total = (catalogue.n_items + catalogue.n_outside) as f64;
    let gain = |i: usize| 1.0 / ((i + 2) as f64).log2();
    // The best DCG of c hits, for every c a user's held-out items allow.
    let longest_relevant = relevant.iter().map(Vec::len).max().unwrap_or(0);
    let ideal: Vec<f64> = (0..longest_relevant.min(k))
        .scan(0.0, |s, i| {
            *s += gain(i);
            Some(*s)
        })
        .collect();
    let per_user: Vec<Option<UserTotals>> = recommended
        .par_iter()
        .zip(relevant.par_iter())
        .map(|(recs, likes)| {
            if likes.is_empty() {
                return None;
            }
            let n_pos = likes.len() as f64;
            let n_neg = n_total - n_pos;
            let cutoff = k.min(likes.len());
            let mut t = UserTotals {
                pr_div: cutoff as f64,
                ..Default::default()
            };
            let (mut hits, mut misses) = (0.0f64, 0.0f64);
            for (i, item) in recs.iter().take(k).enumerate() {
                if likes.binary_search(item).is_ok() {
                    hits += 1.0;
                    t.ap += hits / (i + 1) as f64;
                    t.ndcg += gain(i) / ideal[cutoff - 1];
                } else {
                    misses += 1.0;
                    t.auc += hits;
                }
            }
            // Positions past a short list count as misses, as implicit pads them.
            let padding = k.saturating_sub(recs.len()) as f64;
            misses += padding;
            t.auc += hits * padding;
            t.relevant = hits;
            // implicit's AUC over the list, within [0, 1] also for catalogues
            // smaller than k (where its estimate leaves that range); with no
            // negative item at all, every positive is trivially ranked first.
            t.auc = if n_neg > 0.0 {
                ((t.auc + (hits + n_pos) / 2.0 * (n_neg - misses)) / (n_pos * n_neg))
                    .clamp(0.0, 1.0)
            } else {
                1.0
            };
            t.ap /= cutoff as f64;
            t.recall = hits / n_pos;
            t.hit = if hits > 0.0 { 1.0 } else { 0.0 };
            Some(t)
        })
        .collect();
    // Sum in user order so the result does not depend on the thread count.
    let mut sum = UserTotals::default();
    let mut n_users = 0usize;
    for t in per_user.iter().flatten() {
        n_users += 1;
        sum.relevant += t.relevant;
        sum.pr_div += t.pr_div;
        sum.ap += t.ap;
        sum.ndcg += t.ndcg;
        sum.auc += t.auc;
        sum.recall += t.recall;
        sum.hit += t.hit;
    }
    if n_users == 0 {
        return Err(Error::empty(
            "no user has both recommendations to score and held-out items",
        ));
    }
    let mut shown: Vec<u32> = recommended
        .iter()
        .zip(relevant)
        .filter(|(_, likes)| !likes.is_empty())
        .flat_map(|(recs, _)| recs.iter().take(k).copied())
        .filter(|&i| (i as usize) < catalogue.n_items)
        .collect();
    shown.par_sort_unstable();
    shown.dedup();
    let n = n_users as f64;
    Ok(RankingMetrics {
        precision: sum.relevant / sum.pr_div,
        recall: sum.recall / n,
        map: sum.ap / n,
        ndcg: sum.ndcg / n,
        auc: sum.auc / n,
        hit_rate: sum.hit / n,
        coverage: shown.len() as f64 / catalogue.n_items.max(1) as f64,
        n_users,
    })
}

impl RankingMetrics {
    /// The rates by name, in a fixed order (`n_users` aside).
    pub fn named(&self) -> [(&'static str, f64); 7] {
        [
            ("precision", self.precision),
            ("recall", self.recall),
            ("map", self.map),
            ("ndcg", self.ndcg),
            ("auc", self.auc),
            ("hit_rate", self.hit_rate),
            ("coverage", self.coverage),
        ]
    }
}

/// Held-out items of each user, sorted and distinct, from user and item
/// codes of the test rows (`None`: a user left out).
pub fn relevant_lists(users: &[Option<u32>], items: &[u32], n_users: usize) -> Vec<Vec<u32>> {
    let mut relevant: Vec<Vec<u32>> = vec![Vec::new(); n_users];
    for (u, &i) in users.iter().zip(items) {
        if let Some(u) = u {
            relevant[*u as usize].push(i);
        }
    }
    relevant.par_iter_mut().for_each(|r| {
        r.sort_unstable();
        r.dedup();
    });
    relevant
}

/// Ranking metrics of recommendation lists given as a table (user, item,
/// rank columns, as `recommend` returns them) against a test table (user and
/// item columns).  Users are those with test rows; test items never
/// recommended still count as relevant.
pub fn from_tables(
    recommendations: &Table,
    test: &Table,
    user_col: &str,
    item_col: &str,
    k: usize,
    n_items: usize,
) -> Result<RankingMetrics> {
    let test_users = test.column(user_col)?;
    if test_users.is_empty() {
        return Err(Error::empty("the test set has no rows"));
    }
    let test_items = test.column(item_col)?;
    let users = IdMap::encode(&test_users)?;
    let rec_users = users.ids.lookup(&recommendations.column(user_col)?)?;
    let recommended_items = recommendations.column(item_col)?;
    let items = IdMap::encode(&recommended_items)?;
    let rank_column = recommendations.column("rank")?;
    let ranks = table::values_f64(&rank_column)?;
    // Test items never recommended get codes of their own past the
    // recommended ones (the same code for the same item).
    let test_codes = IdMap::encode(&test_items)?;
    let n_recommended = items.ids.len() as u32;
    let found = items.ids.translate(&test_codes.ids, item_col)?;
    let test_item_codes: Vec<u32> = test_codes
        .codes
        .iter()
        .map(|&c| found[c as usize].unwrap_or(n_recommended + c))
        .collect();
    let appearing = items.ids.len() + found.iter().filter(|f| f.is_none()).count();
    if n_items < appearing {
        return Err(Error::argument(
            "n_items",
            format!(
                "is {n_items}, but {appearing} distinct items appear in the recommendations and \
                 the test set; it is the catalogue size"
            ),
        ));
    }
    let user_codes: Vec<Option<u32>> = users.codes.iter().map(|&c| Some(c)).collect();
    let relevant = relevant_lists(&user_codes, &test_item_codes, users.ids.len());
    let mut ranked: Vec<Vec<(f64, u32)>> = vec![Vec::new(); users.ids.len()];
    for ((u, &i), &r) in rec_users.iter().zip(&items.codes).zip(ranks.iter()) {
        if let Some(u) = u {
            ranked[*u as usize].push((r, i));
        }
    }
    let recommended: Vec<Vec<u32>> = ranked
        .into_par_iter()
        .map(|mut list| {
            list.sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            list.into_iter().map(|p| p.1).collect()
        })
        .collect();
    let catalogue = Catalogue {
        n_items,
        n_outside: 0,
    };
    ranking_metrics(&recommended, &relevant, k, catalogue)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_computed_example() {
        let recs = vec![vec![3, 1, 2], vec![0, 4, 5]];
        let likes = vec![vec![1, 2], vec![9]];
        let catalogue = Catalogue {
            n_items: 10,
            n_outside: 0,
        };
        let m = ranking_metrics(&recs, &likes, 3, catalogue).unwrap();
        assert_eq!(m.n_users, 2);
        assert!((m.precision - 2.0 / 3.0).abs() < 1e-12);
        assert!((m.hit_rate - 0.5).abs() < 1e-12);
        let ndcg0 = (1.0 / 3f64.log2() + 0.5) / (1.0 + 1.0 / 3f64.log2());
        assert!((m.ndcg - ndcg0 / 2.0).abs() < 1e-12);
    }
}
