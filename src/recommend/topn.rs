//! Top-n selection by partial sort.
//!
//! Ties are broken by the smaller index so results do not depend on the
//! order candidates were visited in (and so on the number of threads).

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
