//! Top-n selection by partial sort, and [`TopN`], the lists of many queries
//! computed in parallel into flat arrays.
//!
//! Ties are broken by the smaller index so results do not depend on the
//! order candidates were visited in (and so on the number of threads).

use std::sync::Arc;

use arrow_array::{Float32Array, Int32Array, RecordBatch};
use rayon::prelude::*;

use crate::control::Control;
use crate::error::Result;
use crate::table::{self, Column, IdMap};

/// Top-n lists, one per query, best first: query `q`'s entries are
/// `item[offsets[q]..offsets[q + 1]]` (and `score` alike).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct TopN {
    pub offsets: Vec<usize>,
    pub item: Vec<u32>,
    pub score: Vec<f32>,
}

/// Queries handled together by one task of [`TopN::gather`].
const QUERY_BLOCK: usize = 64;

impl TopN {
    /// Compute the lists of queries `0..n_queries` in parallel, `block` at a
    /// time (`lists(scratch, range)` returns one list per query of the range,
    /// each at most `width` long), straight into flat arrays: a list per
    /// query kept until the end would cost an allocation each (tens of MB
    /// for all users).
    /// Stops early (with an error) once `ctl` is cancelled.
    pub fn gather<S>(
        n_queries: usize,
        block: usize,
        width: usize,
        ctl: &Control,
        init: impl Fn() -> S + Sync + Send,
        lists: impl Fn(&mut S, std::ops::Range<usize>) -> Vec<Vec<(u32, f32)>> + Sync + Send,
    ) -> Result<TopN> {
        let width = width.max(1);
        let mut item = vec![0u32; n_queries * width];
        let mut score = vec![0f32; n_queries * width];
        let mut lens = vec![0usize; n_queries];
        item.par_chunks_mut(block * width)
            .zip(score.par_chunks_mut(block * width))
            .zip(lens.par_chunks_mut(block))
            .enumerate()
            .for_each_init(init, |scratch, (b, ((items, scores), lens))| {
                if ctl.cancelled() {
                    return;
                }
                let start = b * block;
                let computed = lists(scratch, start..start + lens.len());
                for (k, list) in computed.into_iter().enumerate() {
                    let list = &list[..list.len().min(width)];
                    lens[k] = list.len();
                    for (j, &(i, s)) in list.iter().enumerate() {
                        items[k * width + j] = i;
                        scores[k * width + j] = s;
                    }
                }
            });
        ctl.check()?;
        // Close the gaps left by lists shorter than `width`.
        let mut offsets = Vec::with_capacity(n_queries + 1);
        offsets.push(0);
        let mut end = 0;
        for (q, &len) in lens.iter().enumerate() {
            item.copy_within(q * width..q * width + len, end);
            score.copy_within(q * width..q * width + len, end);
            end += len;
            offsets.push(end);
        }
        item.truncate(end);
        score.truncate(end);
        Ok(TopN {
            offsets,
            item,
            score,
        })
    }

    /// [`TopN::gather`] one query at a time.
    pub fn gather_each<S>(
        n_queries: usize,
        width: usize,
        ctl: &Control,
        init: impl Fn() -> S + Sync + Send,
        top: impl Fn(&mut S, usize) -> Vec<(u32, f32)> + Sync + Send,
    ) -> Result<TopN> {
        TopN::gather(
            n_queries,
            QUERY_BLOCK,
            width,
            ctl,
            init,
            |scratch, range| range.map(|q| top(scratch, q)).collect(),
        )
    }

    /// The query of each entry, in entry order.
    pub fn queries(&self) -> Vec<u32> {
        let mut out = Vec::with_capacity(self.item.len());
        for (q, w) in self.offsets.windows(2).enumerate() {
            out.extend(std::iter::repeat(q as u32).take(w[1] - w[0]));
        }
        out
    }

    /// The 1-based rank of each entry within its query's list.
    pub fn ranks(&self) -> Vec<i32> {
        let mut out = Vec::with_capacity(self.item.len());
        for w in self.offsets.windows(2) {
            out.extend(1..=(w[1] - w[0]) as i32);
        }
        out
    }

    /// The lists as a table: the query's id, the item's id, `score`, `rank`
    /// (columns named by `names`), ids in their own types.
    pub fn into_batch(
        self,
        queries: Queries<'_>,
        names: [&str; 2],
        items: &IdMap,
    ) -> Result<RecordBatch> {
        let rows = self.queries();
        let rank = self.ranks();
        let TopN { item, score, .. } = self;
        let query_ids = match queries {
            Queries::Given(column) => {
                let rows: Vec<usize> = rows.iter().map(|&q| q as usize).collect();
                table::take_rows(column, &rows)?
            }
            Queries::Codes(ids, codes) => {
                let codes: Vec<u32> = rows.iter().map(|&q| codes[q as usize]).collect();
                ids.take(&codes)
            }
        };
        let item_ids = items.take(&item);
        drop(item);
        table::record_batch(vec![
            (names[0].to_string(), query_ids),
            (names[1].to_string(), item_ids),
            ("score".into(), Arc::new(Float32Array::from(score))),
            ("rank".into(), Arc::new(Int32Array::from(rank))),
        ])
    }
}

/// Who top-n lists are for, to name them in an output table.
#[derive(Debug, Clone, Copy)]
pub enum Queries<'a> {
    /// Ids as the caller gave them (query `q` is row `q`; ids keep the
    /// caller's type).
    Given(&'a Column),
    /// Query `q` is code `codes[q]` of a map.
    Codes(&'a IdMap, &'a [u32]),
}

/// `(index, score)` packed into one integer whose ascending order is the
/// ranking: descending score, then ascending index, NaN last.  Selection and
/// sorting then compare plain integers.
#[inline(always)]
fn rank_key(index: u32, score: f32) -> u64 {
    let bits = (score + 0.0).to_bits(); // -0.0 ranks as 0.0
                                        // f32's total order as unsigned bits, reversed so larger scores come first.
    let ascending = if bits >> 31 == 1 {
        !bits
    } else {
        bits | 1 << 31
    };
    let descending = if score.is_nan() { u32::MAX } else { !ascending };
    (u64::from(descending) << 32) | u64::from(index)
}

#[inline(always)]
fn unpack(key: u64) -> (u32, f32) {
    let ascending = !((key >> 32) as u32);
    let bits = if ascending >> 31 == 1 {
        ascending & !(1 << 31)
    } else {
        !ascending
    };
    (key as u32, f32::from_bits(bits))
}

/// Keep the best `n` of `candidates`, sorted best first.
pub fn top_n_pairs(candidates: Vec<(u32, f32)>, n: usize) -> Vec<(u32, f32)> {
    let mut top = TopCollector::new(n);
    for (i, s) in candidates {
        top.push(i, s);
    }
    top.finish()
}

/// Collects the best `n` of a stream of candidates with a running threshold
/// (the worst key kept after the last selection), so that only a few times
/// `n` candidates are ever held.
pub struct TopCollector {
    n: usize,
    keys: Vec<u64>,
    threshold: u64,
}

impl TopCollector {
    pub fn new(n: usize) -> Self {
        TopCollector {
            n,
            keys: Vec::with_capacity(2 * n + 16),
            threshold: u64::MAX,
        }
    }

    #[inline(always)]
    pub fn push(&mut self, item: u32, score: f32) {
        let key = rank_key(item, score);
        if self.n == 0 || key > self.threshold {
            return;
        }
        self.keys.push(key);
        if self.keys.len() >= 2 * self.n + 16 {
            self.keys.select_nth_unstable(self.n - 1);
            self.keys.truncate(self.n);
            self.threshold = self.keys[self.n - 1];
        }
    }

    /// Whether a candidate with this score could still enter the top `n`
    /// (a cheap pre-check before computing its index or calling `push`).
    #[inline(always)]
    fn may_accept(&self, score: f32) -> bool {
        rank_key(0, score) <= self.threshold
    }

    /// The best `n`, best first.
    pub fn finish(mut self) -> Vec<(u32, f32)> {
        self.select();
        self.keys.sort_unstable();
        self.keys.into_iter().map(unpack).collect()
    }

    /// The best `n` in index order (rows of a sparse matrix).
    pub fn finish_by_index(mut self) -> Vec<(u32, f32)> {
        self.select();
        self.keys.sort_unstable_by_key(|&key| key as u32);
        self.keys.into_iter().map(unpack).collect()
    }

    fn select(&mut self) {
        if self.keys.len() > self.n && self.n > 0 {
            self.keys.select_nth_unstable(self.n - 1);
        }
        self.keys.truncate(self.n);
    }
}

/// Best `n` of dense `scores` over the items allowed by `keep`.
pub fn top_n_dense(scores: &[f32], n: usize, keep: impl Fn(u32) -> bool) -> Vec<(u32, f32)> {
    const CHUNK: usize = 16;
    let mut top = TopCollector::new(n);
    for (c, chunk) in scores.chunks(CHUNK).enumerate() {
        // Most chunks hold nothing good enough: a vectorised max skips them
        // (NaN, ranked last, is ignored by `max` unless the chunk is all NaN).
        if !top.may_accept(chunk.iter().fold(f32::NEG_INFINITY, |m, &s| m.max(s))) {
            continue;
        }
        for (k, &s) in chunk.iter().enumerate() {
            let i = (c * CHUNK + k) as u32;
            if top.may_accept(s) && keep(i) {
                top.push(i, s);
            }
        }
    }
    top.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_full_sort_with_ties() {
        let scores: Vec<f32> = (0..1000).map(|i| ((i * 37) % 101) as f32).collect();
        let top = top_n_dense(&scores, 25, |i| i % 3 != 0);
        let mut all: Vec<(u32, f32)> = scores
            .iter()
            .enumerate()
            .filter(|(i, _)| i % 3 != 0)
            .map(|(i, &s)| (i as u32, s))
            .collect();
        all.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        assert_eq!(top, all[..25].to_vec());
    }

    #[test]
    fn ranks_nan_last_and_round_trips_scores() {
        let scores = [f32::NAN, -1.5, 0.0, -0.0, 3.25, f32::NEG_INFINITY, 1e-40];
        let pairs: Vec<(u32, f32)> = scores
            .iter()
            .enumerate()
            .map(|(i, &s)| (i as u32, s))
            .collect();
        let top = top_n_pairs(pairs, 7);
        let order: Vec<u32> = top.iter().map(|p| p.0).collect();
        assert_eq!(order, vec![4, 6, 2, 3, 1, 5, 0]);
        assert_eq!(top[0].1, 3.25);
        assert_eq!(top[1].1, 1e-40);
        assert!(top[6].1.is_nan());
        assert_eq!(
            top_n_pairs(vec![(3, 1.0), (1, 1.0), (2, 1.0)], 2),
            vec![(1, 1.0), (2, 1.0)]
        );
    }
}
