//! Top-n selection by partial sort.
//!
//! Ties are broken by the smaller index so results do not depend on the
//! order candidates were visited in (and so on the number of threads).

use std::cmp::Ordering;

#[inline]
fn better(a: &(u32, f32), b: &(u32, f32)) -> Ordering {
    // Descending score, then ascending index; NaN sorts last.
    match b.1.partial_cmp(&a.1) {
        Some(Ordering::Equal) | None => {
            if a.1.is_nan() != b.1.is_nan() {
                return if a.1.is_nan() {
                    Ordering::Greater
                } else {
                    Ordering::Less
                };
            }
            a.0.cmp(&b.0)
        }
        Some(o) => o,
    }
}

/// Keep the best `n` of `candidates`, sorted best first.
pub fn top_n_pairs(mut candidates: Vec<(u32, f32)>, n: usize) -> Vec<(u32, f32)> {
    if n == 0 {
        return Vec::new();
    }
    if candidates.len() > n {
        candidates.select_nth_unstable_by(n - 1, better);
        candidates.truncate(n);
    }
    candidates.sort_unstable_by(better);
    candidates
}

/// Collects the best `n` of a stream of candidates with a running threshold,
/// so that only a few times `n` candidates are ever held.
pub struct TopCollector {
    n: usize,
    buffer: Vec<(u32, f32)>,
    threshold: f32,
}

impl TopCollector {
    pub fn new(n: usize) -> Self {
        TopCollector {
            n,
            buffer: Vec::with_capacity(2 * n + 16),
            threshold: f32::NEG_INFINITY,
        }
    }

    #[inline(always)]
    pub fn push(&mut self, item: u32, score: f32) {
        if self.n == 0 || score < self.threshold {
            return;
        }
        self.buffer.push((item, score));
        if self.buffer.len() >= 2 * self.n + 16 {
            self.buffer.select_nth_unstable_by(self.n - 1, better);
            self.buffer.truncate(self.n);
            self.threshold = self
                .buffer
                .iter()
                .map(|p| p.1)
                .fold(f32::INFINITY, f32::min);
        }
    }

    pub fn finish(self) -> Vec<(u32, f32)> {
        top_n_pairs(self.buffer, self.n)
    }
}

/// Best `n` of dense `scores` over the items allowed by `keep`.
pub fn top_n_dense(scores: &[f32], n: usize, keep: impl Fn(u32) -> bool) -> Vec<(u32, f32)> {
    const CHUNK: usize = 16;
    let mut top = TopCollector::new(n);
    for (c, chunk) in scores.chunks(CHUNK).enumerate() {
        // Most chunks hold nothing above the threshold: a vectorised max skips them.
        if chunk.iter().fold(f32::NEG_INFINITY, |m, &s| m.max(s)) < top.threshold {
            continue;
        }
        for (k, &s) in chunk.iter().enumerate() {
            let i = (c * CHUNK + k) as u32;
            if s >= top.threshold && keep(i) {
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
        all.sort_by(better);
        assert_eq!(top, all[..25].to_vec());
    }
}
