//! One customer's history, summarised so that the next transaction's features
//! can be computed from the past alone, and updated after it.
//!
//! Batch scoring and streaming run the same [`CustomerState::observe`] on the
//! same transactions in the same order, so their results are bit-identical.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

/// Names of the per-transaction features, in [`Observation::features`] order.
pub const FEATURE_NAMES: [&str; 10] = [
    "amount_ratio",
    "amount_zscore",
    "hours_since_previous",
    "count_short_window",
    "count_long_window",
    "amount_long_window",
    "new_merchant",
    "new_category",
    "new_place",
    "card_testing",
];
pub const AMOUNT_RATIO: usize = 0;
pub const AMOUNT_ZSCORE: usize = 1;
pub const HOURS_SINCE_PREVIOUS: usize = 2;
pub const COUNT_SHORT: usize = 3;
pub const COUNT_LONG: usize = 4;
pub const AMOUNT_LONG: usize = 5;
pub const NEW_MERCHANT: usize = 6;
pub const NEW_CATEGORY: usize = 7;
pub const NEW_PLACE: usize = 8;
pub const CARD_TESTING: usize = 9;
pub const N_FEATURES: usize = FEATURE_NAMES.len();

use crate::table::time::MICROS_PER_HOUR;
/// Amounts are compared with the customer's mean, floored at one cent.
const MIN_USUAL: f64 = 0.01;

/// Settings that shape the features.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureConfig {
    pub short_window_micros: i64,
    pub long_window_micros: i64,
    /// A purchase is "small" when at most this share of the customer's mean.
    pub small_share: f64,
    /// A purchase is "large" when at least this multiple of the customer's mean.
    pub large_multiple: f64,
}

/// One transaction as the state sees it; attributes as 64-bit keys.
#[derive(Debug, Clone, Copy)]
pub struct Transaction {
    pub time: i64,
    pub amount: f64,
    pub merchant: Option<u64>,
    pub category: Option<u64>,
    pub place: Option<u64>,
}

/// The features of one purchase and the context its reasons quote.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Observation {
    /// NaN where undefined (no history yet, attribute not given).
    pub features: [f64; N_FEATURES],
    pub amount: f64,
    /// The customer's mean purchase before this one.
    pub usual: f64,
    /// Purchases before this one.
    pub n_past: u32,
    /// For the card-testing pattern: the small purchase and hours since it.
    pub test_amount: f64,
    pub test_hours: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct Recent {
    time: i64,
    amount: f64,
    small: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CustomerState {
    /// Purchases so far (refunds excluded).
    n: u32,
    /// Welford mean and sum of squared deviations of purchase amounts.
    mean: f64,
    m2: f64,
    last_purchase: i64,
    /// Time of the last transaction seen, refunds included.
    pub last_seen: Option<i64>,
    /// Purchases within the long window of the last one.
    recent: VecDeque<Recent>,
    /// Sorted keys seen so far.
    merchants: Vec<u64>,
    categories: Vec<u64>,
    places: Vec<u64>,
}

fn is_new(seen: &[u64], key: Option<u64>, has_history: bool) -> f64 {
    match key {
        Some(k) if has_history => (seen.binary_search(&k).is_err()) as u8 as f64,
        _ => f64::NAN,
    }
}

fn remember(seen: &mut Vec<u64>, key: Option<u64>) {
    if let Some(k) = key {
        if let Err(at) = seen.binary_search(&k) {
            seen.insert(at, k);
        }
    }
}

impl CustomerState {
    /// The invariants of a history read from bytes: sorted key sets, recent
    /// purchases in time order, finite running moments.
    pub fn is_valid(&self) -> bool {
        let sorted = |keys: &[u64]| keys.windows(2).all(|w| w[0] < w[1]);
        sorted(&self.merchants)
            && sorted(&self.categories)
            && sorted(&self.places)
            && self.mean.is_finite()
            && self.m2.is_finite()
            && self
                .recent
                .iter()
                .zip(self.recent.iter().skip(1))
                .all(|(a, b)| a.time <= b.time)
    }

    /// Features of `tx` against the past, then add `tx` to the past.  Refunds
    /// (negative amounts) are not purchases: no features, no update.
    pub fn observe(&mut self, config: &FeatureConfig, tx: &Transaction) -> Option<Observation> {
        self.last_seen = Some(tx.time);
        if tx.amount < 0.0 {
            return None;
        }
        while let Some(front) = self.recent.front() {
            if tx.time - front.time >= config.long_window_micros {
                self.recent.pop_front();
            } else {
                break;
            }
        }
        let has_history = self.n > 0;
        let usual = self.mean.max(MIN_USUAL);
        let mut f = [f64::NAN; N_FEATURES];
        let (mut test_amount, mut test_hours) = (f64::NAN, f64::NAN);
        let small = has_history && tx.amount <= config.small_share * usual;
        if has_history {
            f[AMOUNT_RATIO] = tx.amount / usual;
            f[HOURS_SINCE_PREVIOUS] = (tx.time - self.last_purchase) as f64 / MICROS_PER_HOUR;
            f[CARD_TESTING] = 0.0;
            if tx.amount >= config.large_multiple * usual {
                let test = self
                    .recent
                    .iter()
                    .filter(|r| r.small)
                    .min_by(|a, b| a.amount.total_cmp(&b.amount));
                if let Some(test) = test {
                    f[CARD_TESTING] = tx.amount / usual;
                    test_amount = test.amount;
                    test_hours = (tx.time - test.time) as f64 / MICROS_PER_HOUR;
                }
            }
        }
        if self.n >= 2 {
            let sd = (self.m2 / (self.n - 1) as f64).sqrt();
            f[AMOUNT_ZSCORE] = (tx.amount - self.mean) / sd.max(0.01 * usual).max(MIN_USUAL);
        }
        f[COUNT_SHORT] = self
            .recent
            .iter()
            .filter(|r| tx.time - r.time < config.short_window_micros)
            .count() as f64;
        f[COUNT_LONG] = self.recent.len() as f64;
        f[AMOUNT_LONG] = self.recent.iter().map(|r| r.amount).sum::<f64>() + tx.amount;
        f[NEW_MERCHANT] = is_new(&self.merchants, tx.merchant, has_history);
        f[NEW_CATEGORY] = is_new(&self.categories, tx.category, has_history);
        f[NEW_PLACE] = is_new(&self.places, tx.place, has_history);
        let observation = Observation {
            features: f,
            amount: tx.amount,
            usual: self.mean,
            n_past: self.n,
            test_amount,
            test_hours,
        };

        self.n += 1;
        let delta = tx.amount - self.mean;
        self.mean += delta / self.n as f64;
        self.m2 += delta * (tx.amount - self.mean);
        self.last_purchase = tx.time;
        self.recent.push_back(Recent {
            time: tx.time,
            amount: tx.amount,
            small,
        });
        remember(&mut self.merchants, tx.merchant);
        remember(&mut self.categories, tx.category);
        remember(&mut self.places, tx.place);
        Some(observation)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3_600_000_000;

    fn config() -> FeatureConfig {
        FeatureConfig {
            short_window_micros: HOUR,
            long_window_micros: 24 * HOUR,
            small_share: 0.2,
            large_multiple: 3.0,
        }
    }

    fn tx(hours: i64, amount: f64, place: u64) -> Transaction {
        Transaction {
            time: hours * HOUR,
            amount,
            merchant: None,
            category: None,
            place: Some(place),
        }
    }

    #[test]
    fn card_testing_sequence_is_recognised() {
        let mut s = CustomerState::default();
        let c = config();
        for day in 0..5 {
            s.observe(&c, &tx(day * 24 * 10, 30.0, 1));
        }
        let small = s.observe(&c, &tx(1300, 2.0, 9)).unwrap();
        assert!(small.features[AMOUNT_RATIO] < 0.1);
        assert_eq!(small.features[NEW_PLACE], 1.0);
        assert_eq!(small.features[CARD_TESTING], 0.0);
        let large = s.observe(&c, &tx(1302, 400.0, 9)).unwrap();
        assert!(large.features[CARD_TESTING] > 10.0);
        assert_eq!(large.test_amount, 2.0);
        assert_eq!(large.test_hours, 2.0);
        assert_eq!(large.features[NEW_PLACE], 0.0);
        assert_eq!(large.features[COUNT_LONG], 1.0);
        // The first purchase has no history.
        let mut fresh = CustomerState::default();
        let first = fresh.observe(&c, &tx(0, 10.0, 1)).unwrap();
        assert!(first.features[AMOUNT_RATIO].is_nan());
        assert!(first.features[NEW_PLACE].is_nan());
    }

    #[test]
    fn refunds_do_not_change_the_history() {
        let mut s = CustomerState::default();
        let c = config();
        s.observe(&c, &tx(0, 10.0, 1));
        let before = s.clone();
        assert!(s.observe(&c, &tx(1, -10.0, 1)).is_none());
        assert_eq!(s.n, before.n);
        assert_eq!(s.mean, before.mean);
        assert_eq!(s.last_seen, Some(HOUR));
    }
}
