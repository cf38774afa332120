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

use std::sync::Arc;

use arrow_array::builder::StringBuilder;
use arrow_array::{ArrayRef, BooleanArray, RecordBatch};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::percentile;
use crate::control::Control;
use crate::error::{Error, Result};
use crate::persist::{self, Persist};
use crate::spec::{Accept, Literal, Param, Params, Spec};
use crate::table::{self, time::MICROS_PER_HOUR, IdMap, Table};
use calibration::Calibration;
pub use input::{Log, LogSchema};
use reasons::{explain, N_TERMS, TERMS};
use sorted::{run, SortedLog};
pub use state::{
    CustomerState, FeatureConfig, Observation, Transaction, FEATURE_NAMES, N_FEATURES,
};

/// At most this many training transactions calibrate the terms (an even
/// sample by row when the log is longer): tail shares down to ~1e-5, and
/// small enough for the lookups to stay in cache.
const CALIBRATION_ROWS: usize = 1 << 17;

const fn column(name: &'static str, default: &'static str, doc: &'static str) -> Param {
    Param {
        name,
        default: Literal::Str(default),
        accepts: &[Accept::Column],
        unit: "",
        doc,
    }
}

const fn optional_column(name: &'static str, doc: &'static str) -> Param {
    Param {
        name,
        default: Literal::None,
        accepts: &[Accept::None, Accept::Column],
        unit: "",
        doc,
    }
}

/// The contract of `patronage.anomaly.TransactionRiskScorer`.
pub static SPEC: Spec = Spec {
    name: "TransactionRiskScorer",
    params: &[
        column("customer_col", "customer_id", "customer ids (any kind)"),
        column("time_col", "timestamp", "datetimes of any unit or zone"),
        column(
            "amount_col",
            "amount",
            "numeric amounts; negative ones are refunds",
        ),
        optional_column("merchant_col", "merchant ids, for the new-merchant term"),
        optional_column("category_col", "categories, for the new-category term"),
        optional_column("place_col", "places, for the new-place term"),
        Param {
            name: "short_window_hours",
            default: Literal::Float(1.0),
            accepts: &[Accept::above(0.0)],
            unit: "hours",
            doc: "window of count_short_window",
        },
        Param {
            name: "long_window_hours",
            default: Literal::Float(24.0),
            accepts: &[Accept::above(0.0)],
            unit: "hours",
            doc: "window of count_long_window, amount_long_window and card testing \
                  (at least short_window_hours)",
        },
        Param {
            name: "small_share",
            default: Literal::Float(0.2),
            accepts: &[Accept::in_open(0.0, 1.0)],
            unit: "",
            doc: "a purchase is small at most this share of the customer's mean",
        },
        Param {
            name: "large_multiple",
            default: Literal::Float(3.0),
            accepts: &[Accept::above(1.0)],
            unit: "",
            doc: "a purchase is large at least this multiple of the customer's mean",
        },
        Param {
            name: "alert_rate",
            default: Literal::Float(0.005),
            accepts: &[Accept::in_open(0.0, 1.0)],
            unit: "",
            doc: "share of the training transactions to alert on",
        },
        Param {
            name: "n_reasons",
            default: Literal::Int(3),
            accepts: &[Accept::int_from(0)],
            unit: "",
            doc: "reasons quoted per alert",
        },
        Param {
            name: "refunds",
            default: Literal::Str("ignore"),
            accepts: &[Accept::Word(&["ignore", "error"])],
            unit: "",
            doc: "'ignore': negative amounts score 0 and stay out of the history; 'error': raise",
        },
    ],
    columns: &[],
    fitted: &[],
};

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
    /// The configuration and the log's columns, from parameters checked
    /// against [`SPEC`] (windows turn from hours into microseconds here).
    pub fn from_params(p: &Params) -> Result<(Self, LogSchema)> {
        let (short, long) = (
            p.number("short_window_hours"),
            p.number("long_window_hours"),
        );
        if long < short {
            return Err(p.error(
                "long_window_hours",
                format!("is {long}; it must be at least short_window_hours ({short})"),
            ));
        }
        let config = RiskConfig {
            features: FeatureConfig {
                short_window_micros: (short * MICROS_PER_HOUR).round().max(1.0) as i64,
                long_window_micros: (long * MICROS_PER_HOUR).round().max(1.0) as i64,
                small_share: p.number("small_share"),
                large_multiple: p.number("large_multiple"),
            },
            alert_rate: p.number("alert_rate"),
            n_reasons: p.count("n_reasons"),
            refunds: match p.text("refunds") {
                Some("error") => RefundPolicy::Error,
                _ => RefundPolicy::Ignore,
            },
        };
        let name = |n: &str| p.text(n).map(str::to_owned);
        // Names as in `LogSchema::by_parameter`.
        let schema = LogSchema {
            customer: name("customer_col").unwrap_or_default(),
            time: name("time_col").unwrap_or_default(),
            amount: name("amount_col").unwrap_or_default(),
            merchant: name("merchant_col"),
            category: name("category_col"),
            place: name("place_col"),
        };
        Ok((config, schema))
    }

    /// The contract's ranges, for a configuration read from bytes.
    fn is_valid(&self) -> bool {
        let f = &self.features;
        f.short_window_micros > 0
            && f.long_window_micros >= f.short_window_micros
            && f.small_share > 0.0
            && f.small_share < 1.0
            && f.large_multiple.is_finite()
            && f.large_multiple > 1.0
            && self.alert_rate > 0.0
            && self.alert_rate < 1.0
    }

    fn long_window_hours(&self) -> f64 {
        self.features.long_window_micros as f64 / MICROS_PER_HOUR
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RiskModel {
    pub config: RiskConfig,
    /// The columns it reads (from the parameters it was fitted with).
    pub schema: LogSchema,
    calibration: Calibration,
    pub threshold: f64,
    /// Every customer seen so far; `states[code]` is customer `code`'s history.
    customers: IdMap,
    states: Vec<CustomerState>,
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
    /// Calibrate the terms on the log in `table`, set the alert threshold,
    /// and keep every customer's state at the end of the log.
    pub fn fit(table: &Table, params: &Params, ctl: &Control) -> Result<Self> {
        let (config, schema) = RiskConfig::from_params(params)?;
        let log = Log::read(table, &schema)?;
        if log.is_empty() {
            return Err(Error::empty("the log has no rows; fit needs transactions"));
        }
        check_refunds(&log, config.refunds)?;
        let stride = log.len().div_ceil(CALIBRATION_ROWS);
        let sorted = SortedLog::new(log);
        let mut states = vec![CustomerState::default(); sorted.log.customer_ids.len()];
        let samples = run(
            &sorted,
            &config.features,
            Some(&mut states),
            ctl,
            Vec::new,
            // Sampled by position in customer order, so the calibration
            // depends on the rows, not on the order they came in.
            |acc: &mut Vec<[f64; N_FEATURES]>, position, obs| {
                if let Some(obs) = obs {
                    if position % stride == 0 {
                        acc.push(obs.features);
                    }
                }
            },
        )?
        .concat();
        let calibration = Calibration::new(&samples);
        let mut model = RiskModel {
            config,
            schema,
            calibration,
            threshold: f64::INFINITY,
            customers: sorted.log.customer_ids.clone(),
            states,
        };
        let scores = model.score_sorted(&sorted, false, None, ctl)?.scores;
        model.threshold = percentile(&scores, 100.0 * (1.0 - model.config.alert_rate));
        Ok(model)
    }

    pub fn n_customers(&self) -> usize {
        self.customers.len()
    }

    /// The same calibration and threshold without any customer's history:
    /// all a scorer needs to score logs from scratch, small enough to ship
    /// to every worker of a cluster.
    pub fn without_history(&self) -> Self {
        RiskModel {
            config: self.config.clone(),
            schema: self.schema.clone(),
            calibration: self.calibration.clone(),
            threshold: self.threshold,
            customers: self.customers.emptied(),
            states: Vec::new(),
        }
    }

    fn read(&self, table: &Table) -> Result<Log> {
        let log = Log::read(table, &self.schema)?;
        check_refunds(&log, self.config.refunds)?;
        Ok(log)
    }

    /// Score a whole log from scratch (every customer starts without history).
    pub fn score(&self, table: &Table, with_features: bool, ctl: &Control) -> Result<Scored> {
        let log = self.read(table)?;
        self.score_sorted(&SortedLog::new(log), with_features, None, ctl)
    }

    /// Score new transactions after those already seen, then add them to the
    /// customers' states.  Equal to [`RiskModel::score`] of the whole log.
    /// Nothing changes unless the whole batch is scored (an error or an
    /// interrupt leaves the model as it was).
    pub fn score_new(
        &mut self,
        table: &Table,
        with_features: bool,
        ctl: &Control,
    ) -> Result<Scored> {
        let log = self.read(table)?;
        let known = self
            .customers
            .translate(&log.customer_ids, &self.schema.customer)?;
        let mut states: Vec<CustomerState> = known
            .iter()
            .map(|k| k.map_or_else(CustomerState::default, |c| self.states[c as usize].clone()))
            .collect();
        let sorted = SortedLog::new(log);
        let scored = self.score_sorted(&sorted, with_features, Some(&mut states), ctl)?;
        for (code, (state, known)) in states.into_iter().zip(known).enumerate() {
            match known {
                Some(c) => self.states[c as usize] = state,
                None => {
                    self.customers
                        .push_from(&sorted.log.customer_ids, code as u32);
                    self.states.push(state);
                }
            }
        }
        Ok(scored)
    }

    /// Add transactions to the customers' states without scoring them.
    pub fn update(&mut self, table: &Table, ctl: &Control) -> Result<()> {
        self.score_new(table, false, ctl).map(|_| ())
    }

    fn score_sorted(
        &self,
        sorted: &SortedLog,
        with_features: bool,
        states: Option<&mut [CustomerState]>,
        ctl: &Control,
    ) -> Result<Scored> {
        let mut chunks = run(
            sorted,
            &self.config.features,
            states,
            ctl,
            ChunkScores::default,
            |acc: &mut ChunkScores, position, obs| match (sorted.order[position], obs) {
                (row, Some(obs)) => {
                    acc.pending.push((row, obs));
                    if acc.pending.len() == SCORE_BATCH {
                        self.score_pending(acc, with_features);
                    }
                }
                (row, None) => {
                    acc.rows.push(row);
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

impl Scored {
    /// The scores as a table in the log's row order: `risk_score`, `alert`,
    /// `reasons` (text for alerts, null otherwise), then with features every
    /// feature and each term's risk (`risk_<term>`).
    pub fn into_batch(self) -> Result<RecordBatch> {
        let n = self.scores.len();
        let mut alert = vec![false; n];
        let mut reasons =
            StringBuilder::with_capacity(n, self.alert_reasons.iter().map(|s| s.len()).sum());
        let mut next = self.alert_rows.iter().zip(&self.alert_reasons).peekable();
        for (row, flag) in alert.iter_mut().enumerate() {
            match next.peek() {
                Some(&(&r, text)) if r as usize == row => {
                    *flag = true;
                    reasons.append_value(text);
                    next.next();
                }
                _ => reasons.append_null(),
            }
        }
        let mut columns: Vec<(String, ArrayRef)> = vec![
            ("risk_score".into(), table::f64_array(self.scores)),
            ("alert".into(), Arc::new(BooleanArray::from(alert))),
            ("reasons".into(), Arc::new(reasons.finish())),
        ];
        if let Some(features) = self.features {
            for (name, column) in FEATURE_NAMES.iter().zip(features) {
                columns.push((name.to_string(), table::f64_array(column)));
            }
        }
        if let Some(contributions) = self.contributions {
            for (name, column) in term_names().iter().zip(contributions) {
                columns.push((format!("risk_{name}"), table::f64_array(column)));
            }
        }
        table::record_batch(columns)
    }
}

impl Persist for RiskModel {
    fn kind(&self) -> String {
        "anomaly.TransactionRiskScorer".into()
    }

    fn accepts_kind(kind: &str) -> bool {
        kind == "anomaly.TransactionRiskScorer"
    }

    fn expected() -> String {
        "anomaly.TransactionRiskScorer".into()
    }

    fn validate(&self) -> Result<()> {
        persist::require(self.config.is_valid(), || {
            "the scorer's settings are out of range".into()
        })?;
        persist::require(!self.threshold.is_nan(), || "the threshold is NaN".into())?;
        self.customers
            .validate("customer", Some(self.states.len()))?;
        self.calibration.validate()?;
        persist::require(self.states.iter().all(CustomerState::is_valid), || {
            "a customer's history is malformed".into()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{Float64Array, Int64Array, TimestampMicrosecondArray};
    use arrow_schema::{DataType, Field, Schema, TimeUnit};

    const HOUR: i64 = 3_600_000_000;

    /// Rows of (customer, hour, amount, place).
    fn table(rows: &[(i64, i64, f64, i64)]) -> Table {
        let schema = Arc::new(Schema::new(vec![
            Field::new("c", DataType::Int64, false),
            Field::new("t", DataType::Timestamp(TimeUnit::Microsecond, None), false),
            Field::new("a", DataType::Float64, false),
            Field::new("place", DataType::Int64, false),
        ]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.0))),
                Arc::new(TimestampMicrosecondArray::from_iter_values(
                    rows.iter().map(|r| r.1 * HOUR),
                )),
                Arc::new(Float64Array::from_iter_values(rows.iter().map(|r| r.2))),
                Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.3))),
            ],
        )
        .unwrap();
        Table::new(schema, vec![batch])
    }

    fn params() -> Params {
        let text = |s: &str| crate::spec::Value::Str(s.into());
        SPEC.check(vec![
            ("customer_col".into(), text("c")),
            ("time_col".into(), text("t")),
            ("amount_col".into(), text("a")),
            ("place_col".into(), text("place")),
            ("alert_rate".into(), crate::spec::Value::Float(0.05)),
        ])
        .unwrap()
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
        let ctl = Control::new();
        let model = RiskModel::fit(&table(&rows), &params(), &ctl).unwrap();
        let scored = model.score(&table(&rows), false, &ctl).unwrap();
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
        let batch = scored.into_batch().unwrap();
        assert_eq!(batch.num_rows(), rows.len());
        assert_eq!(batch.schema().field(2).name(), "reasons");
    }

    #[test]
    fn streaming_equals_batch_rejects_the_past_and_survives_bytes() {
        let rows = history();
        let (head, tail) = rows.split_at(200);
        let ctl = Control::new();
        let mut model = RiskModel::fit(&table(head), &params(), &ctl).unwrap();
        let batch = model.score(&table(&rows), true, &ctl).unwrap();
        let mut streamed = Vec::new();
        for part in tail.chunks(37) {
            streamed.extend(model.score_new(&table(part), false, &ctl).unwrap().scores);
        }
        assert_eq!(&batch.scores[200..], &streamed[..]);
        let before = model.clone();
        let err = model
            .score_new(&table(&[(3, 0, 5.0, 1)]), false, &ctl)
            .unwrap_err();
        assert!(err.to_string().contains("before the last one"), "{err}");
        assert_eq!(model, before, "a rejected batch changes nothing");
        let bytes = persist::to_bytes(&model).unwrap();
        let back: RiskModel = persist::from_bytes(&bytes).unwrap();
        assert_eq!(back, model);
    }

    #[test]
    fn unsorted_logs_score_as_sorted() {
        let rows = history();
        let mut shuffled = rows.clone();
        shuffled.reverse();
        let ctl = Control::new();
        let model = RiskModel::fit(&table(&rows), &params(), &ctl).unwrap();
        let a = model.score(&table(&rows), false, &ctl).unwrap().scores;
        let mut b = model.score(&table(&shuffled), false, &ctl).unwrap().scores;
        b.reverse();
        assert_eq!(a, b);
    }

    #[test]
    fn windows_are_checked_in_hours() {
        let err = SPEC
            .check(vec![(
                "long_window_hours".into(),
                crate::spec::Value::Float(0.5),
            )])
            .and_then(|p| RiskConfig::from_params(&p).map(|_| ()))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("long_window_hours") && err.contains("short_window_hours"),
            "{err}"
        );
    }
}
