//! Calibration of the risk terms: each feature's training distribution, and
//! the surprise of a value in the suspicious tail.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::reasons::{Tail, N_TERMS, TERMS};
use super::state::{Observation, N_FEATURES};

/// The training distribution of one feature (NaN left out): its distinct
/// values, sorted, with the count of values at most each.  Counts make the
/// discrete features (flags, window counts) a search over a few values.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct Distribution {
    values: Vec<f64>,
    at_most: Vec<u32>,
    /// NaN for a feature never defined in training.
    median: f64,
}

impl PartialEq for Distribution {
    fn eq(&self, other: &Self) -> bool {
        self.values == other.values
            && self.at_most == other.at_most
            && self.median.to_bits() == other.median.to_bits()
    }
}

/// Binary searches run together: each is a chain of dependent loads, and
/// interleaving independent chains keeps the memory system busy.
const LOCKSTEP: usize = 16;

impl Distribution {
    fn new(mut sample: Vec<f64>) -> Self {
        sample.sort_unstable_by(|a, b| a.total_cmp(b));
        let median = sample.get(sample.len() / 2).copied().unwrap_or(f64::NAN);
        let mut values: Vec<f64> = Vec::new();
        let mut at_most: Vec<u32> = Vec::new();
        for (i, &v) in sample.iter().enumerate() {
            if values.last() == Some(&v) {
                *at_most.last_mut().unwrap_or(&mut 0) = i as u32 + 1;
            } else {
                values.push(v);
                at_most.push(i as u32 + 1);
            }
        }
        Distribution {
            values,
            at_most,
            median,
        }
    }

    /// The invariants of the searches: as many counts as values, values
    /// increasing (no NaN), counts increasing.
    fn is_valid(&self) -> bool {
        self.values.len() == self.at_most.len()
            && self.values.windows(2).all(|w| w[0] < w[1])
            && self.at_most.windows(2).all(|w| w[0] < w[1])
            && self.at_most.first().map_or(true, |&c| c > 0)
    }

    fn total(&self) -> u32 {
        self.at_most.last().copied().unwrap_or(0)
    }

    /// For each probe, the training values at least as extreme in `tail`:
    /// `>= v` for the high tail, `<= v` for the low tail.  Branchless binary
    /// searches, `LOCKSTEP` at a time.
    fn tail_counts(&self, probes: &[f64], tail: Tail, out: &mut Vec<u32>) {
        let values = &self.values;
        let total = self.total();
        // `pred` holds for a prefix of `values`: below v (high) or at most v (low).
        let pred = |x: f64, v: f64| match tail {
            Tail::High => x < v,
            Tail::Low => x <= v,
        };
        for group in probes.chunks(LOCKSTEP) {
            let mut base = [0usize; LOCKSTEP];
            let mut size = values.len();
            while size > 1 {
                let half = size / 2;
                for (b, &v) in base.iter_mut().zip(group) {
                    let mid = *b + half;
                    *b = if pred(values[mid], v) { mid } else { *b };
                }
                size -= half;
            }
            for (&b, &v) in base.iter().zip(group) {
                let prefix = b + (!values.is_empty() && pred(values[b], v)) as usize;
                let at_most_prefix = if prefix == 0 {
                    0
                } else {
                    self.at_most[prefix - 1]
                };
                out.push(match tail {
                    Tail::High => total - at_most_prefix,
                    Tail::Low => at_most_prefix,
                });
            }
        }
    }
}

/// The training distribution of each feature, to turn a value into its
/// tail share.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct Calibration {
    features: Vec<Distribution>,
}

impl Calibration {
    pub(super) fn new(samples: &[[f64; N_FEATURES]]) -> Self {
        let features = (0..N_FEATURES)
            .into_par_iter()
            .map(|j| {
                Distribution::new(
                    samples
                        .iter()
                        .map(|s| s[j])
                        .filter(|v| !v.is_nan())
                        .collect(),
                )
            })
            .collect();
        Calibration { features }
    }

    pub(super) fn validate(&self) -> crate::error::Result<()> {
        crate::persist::require(
            self.features.len() == N_FEATURES && self.features.iter().all(Distribution::is_valid),
            || "the calibration of the risk terms is malformed".into(),
        )
    }

    /// Each term's surprise for each observation.
    pub(super) fn surprises(&self, observations: &[Observation]) -> Vec<[f64; N_TERMS]> {
        let mut out = vec![[0.0; N_TERMS]; observations.len()];
        let (mut at, mut probes, mut counts) = (Vec::new(), Vec::new(), Vec::new());
        for (t, term) in TERMS.iter().enumerate() {
            let dist = &self.features[term.feature];
            let total = dist.total();
            if total == 0 {
                continue;
            }
            at.clear();
            probes.clear();
            counts.clear();
            for (k, obs) in observations.iter().enumerate() {
                let v = obs.features[term.feature];
                // Values on the typical side of the median have p >= 1/2: no surprise.
                let typical = match term.tail {
                    Tail::High => v <= dist.median,
                    Tail::Low => v >= dist.median,
                };
                if !(v.is_nan() || typical) {
                    at.push(k);
                    probes.push(v);
                }
            }
            dist.tail_counts(&probes, term.tail, &mut counts);
            for (&k, &count) in at.iter().zip(&counts) {
                let p = (count + 1) as f64 / (total + 1) as f64;
                out[k][t] = (-(2.0 * p).ln()).max(0.0);
            }
        }
        out
    }
}

#[cfg(test)]
mod distribution_tests {
    use super::Distribution;
    use crate::anomaly::transactions::reasons::Tail;

    #[test]
    fn lockstep_search_counts_like_a_scan() {
        let sample: Vec<f64> = (0..1000).map(|i| ((i * 37) % 101) as f64 / 7.0).collect();
        let d = Distribution::new(sample.clone());
        let probes: Vec<f64> = (0..40)
            .map(|i| i as f64 * 0.4 - 1.0)
            .chain([14.28, 14.3, 100.0])
            .collect();
        let (mut high, mut low) = (Vec::new(), Vec::new());
        d.tail_counts(&probes, Tail::High, &mut high);
        d.tail_counts(&probes, Tail::Low, &mut low);
        for (k, &probe) in probes.iter().enumerate() {
            let ge = sample.iter().filter(|&&s| s >= probe).count() as u32;
            let le = sample.iter().filter(|&&s| s <= probe).count() as u32;
            assert_eq!((high[k], low[k]), (ge, le), "{probe}");
        }
        let one = Distribution::new(vec![2.0]);
        let mut c = Vec::new();
        one.tail_counts(&[1.0, 2.0, 3.0], Tail::High, &mut c);
        assert_eq!(c, vec![1, 1, 0]);
    }
}
