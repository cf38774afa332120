//! Transaction risk: per-customer features against the customer's own past,
//! combined into one risk score with reasons in plain words.
//!
//! Each transaction is compared with its customer's history up to that moment
//! (never later transactions): amount against the customer's mean, time since
//! the previous purchase, purchases in a short and a long rolling window,
//! first-time merchant, category or place, and the card-testing sequence (a
//! small purchase followed within the long window by a large one).
//!
//! Each suspicious direction of a feature is a *term*.  A term's surprise is
//! `max(0, -ln(2p))`, with `p` the share of the training transactions at least
//! as extreme (so typical values add nothing); the risk score is the sum of
//! the surprises, and a flagged transaction's reasons are its largest terms.
//!
//! A fitted model keeps each customer's state after the training log, so new
//! transactions are scored as they arrive with the same results as scoring
//! the whole log at once.

mod calibration;
pub mod input;
pub mod reasons;
mod sorted;
pub mod state;

use hashbrown::HashMap;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::percentile;
use crate::error::{Error, Result};
use calibration::Calibration;
pub use input::{IdKey, Log, LogSchema};
use reasons::{explain, N_TERMS, TERMS};
use sorted::{run, SortedLog};
pub use state::{
    CustomerState, FeatureConfig, Observation, Transaction, FEATURE_NAMES, N_FEATURES,
};

/// At most this many training transactions calibrate the terms (an even
/// sample by row when the log is longer): tail shares down to ~1e-5, and
/// small enough for the lookups to stay in cache.
const CALIBRATION_ROWS: usize = 1 << 17;

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum RefundPolicy {
    /// Negative amounts score 0 and do not enter the customer's history.
    Ignore,
    /// Negative amounts are an error.
    Error,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RiskConfig {
    pub features: FeatureConfig,
    /// Share of the training transactions above the alert threshold.
    pub alert_rate: f64,
    pub n_reasons: usize,
    pub refunds: RefundPolicy,
}

impl RiskConfig {
    fn validate(&self) -> Result<()> {
        let f = &self.features;
        if f.short_window_micros <= 0 {
            return Err(Error::argument("short_window_hours", "must be positive"));
        }
        if f.long_window_micros < f.short_window_micros {
            return Err(Error::argument(
                "long_window_hours",
                "must be at least short_window_hours",
            ));
        }
        if !(f.small_share > 0.0 && f.small_share < 1.0) {
            return Err(Error::argument(
                "small_share",
                format!("is {}; it must be in (0, 1)", f.small_share),
            ));
        }
        if !(f.large_multiple.is_finite() && f.large_multiple > 1.0) {
            return Err(Error::argument(
                "large_multiple",
                format!("is {}; it must be greater than 1", f.large_multiple),
            ));
        }
        if !(self.alert_rate > 0.0 && self.alert_rate < 1.0) {
            return Err(Error::argument(
                "alert_rate",
                format!("is {}; it must be in (0, 1)", self.alert_rate),
            ));
        }
        Ok(())
    }

    fn long_window_hours(&self) -> f64 {
        self.features.long_window_micros as f64 / 3_600_000_000.0
    }
}

/// Scores of a log, in the log's row order.
#[derive(Debug, Clone, Default)]
pub struct Scored {
    /// Risk score per row (0 for refunds and first purchases without history).
    pub scores: Vec<f64>,
    /// Rows above the alert threshold (ascending) and their reasons.
    pub alert_rows: Vec<u32>,
    pub alert_reasons: Vec<String>,
    /// With `with_features`: one column per feature (NaN where undefined).
    pub features: Option<Vec<Vec<f64>>>,
    /// With `with_features`: each term's surprise, one column per term.
    pub contributions: Option<Vec<Vec<f64>>>,
}

/// Purchases scored together (see [`RiskModel::score_pending`]).
const SCORE_BATCH: usize = 1024;

#[derive(Default)]
struct ChunkScores {
    /// Observations waiting to be scored, with their rows.
    pending: Vec<(u32, Observation)>,
    rows: Vec<u32>,
    scores: Vec<f64>,
    alerts: Vec<(u32, String)>,
    features: Vec<[f64; N_FEATURES]>,
    contributions: Vec<[f64; N_TERMS]>,
}

/// A fitted transaction risk scorer and its customers' states.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RiskModel {
    pub config: RiskConfig,
    calibration: Calibration,
    pub threshold: f64,
    /// Which optional attributes the model was fitted with.
    attributes: [bool; 3],
    keys: Vec<IdKey>,
    states: Vec<CustomerState>,
    #[serde(skip)]
    index: HashMap<IdKey, u32>,
}

impl PartialEq for RiskModel {
    fn eq(&self, other: &Self) -> bool {
        self.config == other.config
            && self.calibration == other.calibration
            && self.threshold.to_bits() == other.threshold.to_bits()
            && self.attributes == other.attributes
            && self.keys == other.keys
            && self.states == other.states
    }
}

fn attributes_of(log: &Log) -> [bool; 3] {
    [
        log.merchant.is_some(),
        log.category.is_some(),
        log.place.is_some(),
    ]
}

fn check_refunds(log: &Log, policy: RefundPolicy) -> Result<()> {
    if policy == RefundPolicy::Error {
        let refunds = log.amounts.par_iter().filter(|&&a| a < 0.0).count();
        if refunds > 0 {
            return Err(Error::column_value(
                &log.schema.amount,
                format!(
                    "has {refunds} negative amount(s) (refunds); drop them or use \
                     refunds='ignore' to score them 0 and leave them out of the history"
                ),
            ));
        }
    }
    Ok(())
}

impl RiskModel {
    /// Calibrate the terms on `log`, set the alert threshold, and keep every
    /// customer's state at the end of the log.
    pub fn fit(log: Log, config: RiskConfig) -> Result<Self> {
        config.validate()?;
        if log.is_empty() {
            return Err(Error::argument("log", "is empty; fit needs transactions"));
        }
        check_refunds(&log, config.refunds)?;
        let attributes = attributes_of(&log);
        let stride = log.len().div_ceil(CALIBRATION_ROWS);
        let sorted = SortedLog::new(log);
        let mut states = vec![CustomerState::default(); sorted.log.customer_keys.len()];
        let samples = run(
            &sorted,
            &config.features,
            Some(&mut states),
            Vec::new,
            |acc: &mut Vec<[f64; N_FEATURES]>, row, obs| {
                if let Some(obs) = obs {
                    if row % stride == 0 {
                        acc.push(obs.features);
                    }
                }
            },
        )?
        .concat();
        let calibration = Calibration::new(&samples);
        let mut model = RiskModel {
            config,
            calibration,
            threshold: f64::INFINITY,
            attributes,
            keys: sorted.log.customer_keys.clone(),
            states,
            index: HashMap::new(),
        };
        model.rebuild_index();
        let scores = model.score_sorted(&sorted, false, None)?.scores;
        model.threshold = percentile(&scores, 100.0 * (1.0 - model.config.alert_rate));
        Ok(model)
    }

    /// Rebuild the key index (after deserialisation).
    pub fn rebuild_index(&mut self) {
        self.index = self
            .keys
            .iter()
            .enumerate()
            .map(|(i, k)| (k.clone(), i as u32))
            .collect();
    }

    pub fn n_customers(&self) -> usize {
        self.keys.len()
    }

    fn check_attributes(&self, log: &Log) -> Result<()> {
        let names = ["merchant_col", "category_col", "place_col"];
        for (k, (&fitted, now)) in self.attributes.iter().zip(attributes_of(log)).enumerate() {
            if fitted != now {
                return Err(Error::argument(
                    names[k],
                    if fitted {
                        "was given at fit but is missing now"
                    } else {
                        "was not given at fit; the model cannot use it now"
                    },
                ));
            }
        }
        Ok(())
    }

    /// Score a whole log from scratch (every customer starts without history).
    pub fn score(&self, log: Log, with_features: bool) -> Result<Scored> {
        self.check_attributes(&log)?;
        check_refunds(&log, self.config.refunds)?;
        self.score_sorted(&SortedLog::new(log), with_features, None)
    }

    /// Score new transactions after those already seen, then add them to the
    /// customers' states.  Equal to [`RiskModel::score`] of the whole log.
    pub fn score_new(&mut self, log: Log, with_features: bool) -> Result<Scored> {
        self.check_attributes(&log)?;
        check_refunds(&log, self.config.refunds)?;
        let positions = self.positions(&log);
        let mut states: Vec<CustomerState> = positions
            .iter()
            .map(|&p| self.states.get(p as usize).cloned().unwrap_or_default())
            .collect();
        let sorted = SortedLog::new(log);
        let scored = self.score_sorted(&sorted, with_features, Some(&mut states))?;
        // Only after success: a rejected batch leaves the states untouched.
        let keys = &sorted.log.customer_keys;
        for (state, (key, &p)) in states.into_iter().zip(keys.iter().zip(&positions)) {
            if (p as usize) < self.states.len() {
                self.states[p as usize] = state;
            } else {
                self.index.insert(key.clone(), self.keys.len() as u32);
                self.keys.push(key.clone());
                self.states.push(state);
            }
        }
        Ok(scored)
    }

    /// Add transactions to the customers' states without scoring them.
    pub fn update(&mut self, log: Log) -> Result<()> {
        self.score_new(log, false).map(|_| ())
    }

    /// The state index of each customer of `log` (`u32::MAX` for new ones).
    fn positions(&self, log: &Log) -> Vec<u32> {
        log.customer_keys
            .iter()
            .map(|k| self.index.get(k).copied().unwrap_or(u32::MAX))
            .collect()
    }

    fn score_sorted(
        &self,
        sorted: &SortedLog,
        with_features: bool,
        states: Option<&mut [CustomerState]>,
    ) -> Result<Scored> {
        let mut chunks = run(
            sorted,
            &self.config.features,
            states,
            ChunkScores::default,
            |acc: &mut ChunkScores, row, obs| match obs {
                Some(obs) => {
                    acc.pending.push((row as u32, obs));
                    if acc.pending.len() == SCORE_BATCH {
                        self.score_pending(acc, with_features);
                    }
                }
                None => {
                    acc.rows.push(row as u32);
                    acc.scores.push(0.0);
                    if with_features {
                        acc.features.push([f64::NAN; N_FEATURES]);
                        acc.contributions.push([0.0; N_TERMS]);
                    }
                }
            },
        )?;
        chunks
            .par_iter_mut()
            .for_each(|acc| self.score_pending(acc, with_features));
        Ok(assemble(chunks, sorted.order.len(), with_features))
    }

    /// Score the buffered observations of a chunk (a batch lets the
    /// calibration's searches run side by side).
    fn score_pending(&self, acc: &mut ChunkScores, with_features: bool) {
        let observations: Vec<Observation> = acc.pending.iter().map(|p| p.1).collect();
        let surprises = self.calibration.surprises(&observations);
        let long_hours = self.config.long_window_hours();
        for ((row, obs), surprises) in acc.pending.drain(..).zip(surprises) {
            let score: f64 = surprises.iter().sum();
            acc.rows.push(row);
            acc.scores.push(score);
            if score > self.threshold {
                let reasons = explain(&surprises, &obs, self.config.n_reasons, long_hours);
                acc.alerts.push((row, reasons));
            }
            if with_features {
                acc.features.push(obs.features);
                acc.contributions.push(surprises);
            }
        }
    }
}

/// Scatter per-chunk results (customer order) back to row order.
fn assemble(chunks: Vec<ChunkScores>, n: usize, with_features: bool) -> Scored {
    let mut scores = vec![0.0; n];
    let mut alerts = Vec::new();
    let mut features = with_features.then(|| vec![vec![f64::NAN; n]; N_FEATURES]);
    let mut contributions = with_features.then(|| vec![vec![0.0; n]; N_TERMS]);
    for chunk in chunks {
        for (k, &row) in chunk.rows.iter().enumerate() {
            let row = row as usize;
            scores[row] = chunk.scores[k];
            if let (Some(f), Some(c)) = (features.as_mut(), contributions.as_mut()) {
                for (j, column) in f.iter_mut().enumerate() {
                    column[row] = chunk.features[k][j];
                }
                for (t, column) in c.iter_mut().enumerate() {
                    column[row] = chunk.contributions[k][t];
                }
            }
        }
        alerts.extend(chunk.alerts);
    }
    alerts.par_sort_unstable_by_key(|a| a.0);
    let (alert_rows, alert_reasons) = alerts.into_iter().unzip();
    Scored {
        scores,
        alert_rows,
        alert_reasons,
        features,
        contributions,
    }
}

/// Names of the score's terms, in [`Scored::contributions`] order.
pub fn term_names() -> Vec<&'static str> {
    TERMS.iter().map(|t| t.name).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3_600_000_000;

    fn log(rows: &[(i64, i64, f64, i64)]) -> Log {
        let mut keys: Vec<i64> = rows.iter().map(|r| r.0).collect();
        keys.sort();
        keys.dedup();
        Log {
            customers: rows
                .iter()
                .map(|r| keys.binary_search(&r.0).unwrap() as u32)
                .collect(),
            customer_keys: keys.iter().map(|&k| IdKey::Int(k)).collect(),
            times: rows.iter().map(|r| r.1 * HOUR).collect(),
            amounts: rows.iter().map(|r| r.2).collect(),
            merchant: None,
            category: None,
            place: Some(input::Attribute {
                name: "place".into(),
                codes: rows.iter().map(|r| r.3 as u32).collect(),
                keys: (0..=rows.iter().map(|r| r.3).max().unwrap_or(0))
                    .map(|p| IdKey::Int(p).key64())
                    .collect(),
            }),
            schema: LogSchema {
                customer: "c".into(),
                time: "t".into(),
                amount: "a".into(),
                merchant: None,
                category: None,
                place: Some("place".into()),
            },
        }
    }

    fn config() -> RiskConfig {
        RiskConfig {
            features: FeatureConfig {
                short_window_micros: HOUR,
                long_window_micros: 24 * HOUR,
                small_share: 0.2,
                large_multiple: 3.0,
            },
            alert_rate: 0.05,
            n_reasons: 3,
            refunds: RefundPolicy::Ignore,
        }
    }

    fn history() -> Vec<(i64, i64, f64, i64)> {
        let mut rows = Vec::new();
        for c in 0..40 {
            for k in 0..10 {
                rows.push((c, k * 100 + c, 20.0 + ((c * 7 + k * 3) % 11) as f64, 1));
            }
        }
        rows.sort_by_key(|r| r.1);
        rows
    }

    #[test]
    fn card_testing_is_flagged_with_reasons() {
        let mut rows = history();
        rows.push((5, 1200, 1.5, 7));
        rows.push((5, 1201, 400.0, 7));
        let log = log(&rows);
        let model = RiskModel::fit(log.clone(), config()).unwrap();
        let scored = model.score(log, false).unwrap();
        let big = rows.len() - 1;
        let top = scored
            .scores
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .unwrap()
            .0;
        assert_eq!(top, big);
        let k = scored
            .alert_rows
            .iter()
            .position(|&r| r as usize == big)
            .unwrap();
        assert!(
            scored.alert_reasons[k].contains("card-testing"),
            "{}",
            scored.alert_reasons[k]
        );
    }

    #[test]
    fn streaming_equals_batch_and_rejects_the_past() {
        let rows = history();
        let (head, tail) = rows.split_at(200);
        let mut model = RiskModel::fit(log(head), config()).unwrap();
        let batch = model.score(log(&rows), true).unwrap();
        let mut streamed = Vec::new();
        for part in tail.chunks(37) {
            streamed.extend(model.score_new(log(part), false).unwrap().scores);
        }
        assert_eq!(&batch.scores[200..], &streamed[..]);
        let err = model.score_new(log(&[(3, 0, 5.0, 1)]), false).unwrap_err();
        assert!(err.to_string().contains("before the last one"), "{err}");
    }

    #[test]
    fn unsorted_logs_score_as_sorted() {
        let rows = history();
        let mut shuffled = rows.clone();
        shuffled.reverse();
        let model = RiskModel::fit(log(&rows), config()).unwrap();
        let a = model.score(log(&rows), false).unwrap().scores;
        let mut b = model.score(log(&shuffled), false).unwrap().scores;
        b.reverse();
        assert_eq!(a, b);
    }
}
