//! Customer summaries (frequency, recency, T, monetary value) from a
//! transaction log, with the semantics of `lifetimes.utils`:
//! `summary_data_from_transaction_data` and `calibration_and_holdout_data`.
//!
//! Times are bucketed into periods (`freq`); purchases in the same period are
//! one purchase whose amount is their sum.  `frequency` counts repeat periods,
//! `recency` is the age of the customer at the last purchase and `T` at the end
//! of observation, both in periods divided by `freq_multiplier`.  The monetary
//! value is the mean per-period spend over repeat periods (0 without repeats).
//!
//! Rows are grouped by customer with a counting sort (O(n), no comparison sort
//! of the whole log), and every customer is then summarised in parallel.

use std::borrow::Cow;

use arrow_array::RecordBatch;
use rayon::prelude::*;

use crate::control::Control;
use crate::error::{Error, Result};
use crate::table::{self, format_micros, IdMap, Table, MICROS_PER_DAY};

/// The period a time falls in, as pandas' `to_period(freq)` buckets it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freq {
    /// Weeks ending on Sunday (pandas' `W` = `W-SUN`).
    Week,
    Day,
    Hour,
    Minute,
    Second,
    Millisecond,
    Microsecond,
}

impl Freq {
    pub fn parse(freq: &str) -> Result<Freq> {
        Ok(match freq {
            "W" | "W-SUN" => Freq::Week,
            "D" => Freq::Day,
            "h" | "H" => Freq::Hour,
            "min" | "m" | "T" => Freq::Minute,
            "s" | "S" => Freq::Second,
            "ms" | "L" => Freq::Millisecond,
            "us" | "U" => Freq::Microsecond,
            _ => {
                return Err(Error::argument(
                    "freq",
                    format!(
                        "is {freq:?}; expected one of 'W', 'D', 'h', 'min', 's', 'ms', 'us' \
                         (fixed-length periods, as lifetimes supports)"
                    ),
                ))
            }
        })
    }

    /// Period index of a wall-clock time in microseconds since 1970-01-01.
    pub fn period(self, micros: i64) -> i64 {
        match self {
            // 1970-01-01 was a Thursday; W-SUN weeks start on Monday 1969-12-29.
            Freq::Week => (micros + 3 * MICROS_PER_DAY).div_euclid(7 * MICROS_PER_DAY),
            Freq::Day => micros.div_euclid(MICROS_PER_DAY),
            Freq::Hour => micros.div_euclid(3_600_000_000),
            Freq::Minute => micros.div_euclid(60_000_000),
            Freq::Second => micros.div_euclid(1_000_000),
            Freq::Millisecond => micros.div_euclid(1_000),
            Freq::Microsecond => micros,
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct SummaryOptions {
    pub freq: Freq,
    pub freq_multiplier: f64,
    pub include_first_transaction: bool,
}

impl Default for SummaryOptions {
    fn default() -> Self {
        SummaryOptions {
            freq: Freq::Day,
            freq_multiplier: 1.0,
            include_first_transaction: false,
        }
    }
}

impl SummaryOptions {
    fn validate(&self) -> Result<()> {
        if !(self.freq_multiplier.is_finite() && self.freq_multiplier > 0.0) {
            return Err(Error::argument(
                "freq_multiplier",
                format!("is {}; it must be a positive number", self.freq_multiplier),
            ));
        }
        Ok(())
    }
}

/// A transaction log already decoded: customer codes `0..n_customers`,
/// wall-clock times in microseconds, optional amounts.
#[derive(Debug, Clone, Copy)]
pub struct Log<'a> {
    pub customers: &'a [u32],
    pub n_customers: usize,
    pub times: &'a [i64],
    pub amounts: Option<&'a [f64]>,
}

impl Log<'_> {
    fn validate(&self) -> Result<()> {
        if self.customers.is_empty() {
            return Err(Error::empty("the transaction table has no rows"));
        }
        debug_assert_eq!(self.customers.len(), self.times.len());
        Ok(())
    }
}

/// One row per customer seen in the observation window, in code order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Summary {
    /// Codes of the customers summarised (increasing).
    pub customers: Vec<u32>,
    pub frequency: Vec<f64>,
    pub recency: Vec<f64>,
    pub t: Vec<f64>,
    pub monetary_value: Option<Vec<f64>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CalibrationHoldout {
    pub calibration: Summary,
    pub frequency_holdout: Vec<f64>,
    pub monetary_value_holdout: Option<Vec<f64>>,
    pub duration_holdout: f64,
}

/// `lifetimes.utils.summary_data_from_transaction_data`.
///
/// `observation_end` is wall-clock microseconds; `None` means the last
/// transaction.  Transactions in periods after the end's period are ignored.
pub fn rfm_summary(
    log: Log<'_>,
    observation_end: Option<i64>,
    opts: SummaryOptions,
    ctl: &Control,
) -> Result<Summary> {
    log.validate()?;
    opts.validate()?;
    let (first_time, last_time) = time_range(log.times);
    let end = observation_end.unwrap_or(last_time);
    check_end_after_start("observation_period_end", end, first_time)?;
    let freq = opts.freq;
    let end_period = freq.period(end);
    let times = log.times;
    let stats = per_customer(log, freq, ctl, |row| freq.period(times[row]) <= end_period)?;
    Ok(summarise(stats, end_period, opts, log.amounts.is_some()))
}

/// `lifetimes.utils.calibration_and_holdout_data`.
///
/// Customers are those with a purchase up to `calibration_end`; holdout
/// columns count the distinct periods with purchases in
/// (`calibration_end`, `observation_end`] and the mean holdout amount per
/// transaction (as lifetimes computes it).
pub fn rfm_calibration_holdout(
    log: Log<'_>,
    calibration_end: i64,
    observation_end: Option<i64>,
    opts: SummaryOptions,
    ctl: &Control,
) -> Result<CalibrationHoldout> {
    log.validate()?;
    opts.validate()?;
    let (first_time, last_time) = time_range(log.times);
    let end = observation_end.unwrap_or(last_time);
    check_end_after_start("calibration_period_end", calibration_end, first_time)?;
    if end <= calibration_end {
        return Err(Error::argument(
            "observation_period_end",
            format!(
                "({}) must be after calibration_period_end ({})",
                format_micros(end),
                format_micros(calibration_end)
            ),
        ));
    }
    let (freq, times) = (opts.freq, log.times);
    let cal_period = freq.period(calibration_end);
    if freq.period(end) <= cal_period {
        return Err(Error::argument(
            "observation_period_end",
            format!(
                "({}) must end a later period than calibration_period_end ({}): the holdout \
                 period would last 0 periods",
                format_micros(end),
                format_micros(calibration_end)
            ),
        ));
    }
    let duration_holdout = (freq.period(end) - cal_period) as f64 / opts.freq_multiplier;
    if !duration_holdout.is_finite() {
        return Err(Error::argument(
            "freq_multiplier",
            "is so small that duration_holdout overflows",
        ));
    }
    let calibration = per_customer(log, freq, ctl, |row| times[row] <= calibration_end)?;
    let holdout: Vec<Option<HoldoutStats>> = per_customer(log, freq, ctl, |row| {
        times[row] > calibration_end && times[row] <= end
    })?;
    if holdout.iter().all(Option::is_none) {
        return Err(Error::empty(format!(
            "there are no transactions between calibration_period_end ({}) and \
             observation_period_end ({})",
            format_micros(calibration_end),
            format_micros(end)
        )));
    }
    let summary = summarise(calibration, cal_period, opts, log.amounts.is_some());
    let held: Vec<(f64, f64)> = summary
        .customers
        .iter()
        .map(|&c| match &holdout[c as usize] {
            Some(h) => (h.n_periods as f64, h.total_amount / h.n_rows as f64),
            None => (0.0, 0.0),
        })
        .collect();
    Ok(CalibrationHoldout {
        frequency_holdout: held.iter().map(|h| h.0).collect(),
        monetary_value_holdout: log.amounts.map(|_| held.iter().map(|h| h.1).collect()),
        duration_holdout,
        calibration: summary,
    })
}

fn time_range(times: &[i64]) -> (i64, i64) {
    times
        .par_iter()
        .fold(
            || (i64::MAX, i64::MIN),
            |(lo, hi), &t| (lo.min(t), hi.max(t)),
        )
        .reduce(|| (i64::MAX, i64::MIN), |a, b| (a.0.min(b.0), a.1.max(b.1)))
}

fn check_end_after_start(name: &str, end: i64, first_time: i64) -> Result<()> {
    if end < first_time {
        return Err(Error::argument(
            name,
            format!(
                "({}) is before the first transaction ({})",
                format_micros(end),
                format_micros(first_time)
            ),
        ));
    }
    Ok(())
}

/// What is kept of one customer's purchases, fed in period order.
trait Accumulate: Send + Sized {
    fn start(period: i64, amount: f64) -> Self;
    /// The next purchase; `period` is never before the last one pushed.
    fn push(&mut self, period: i64, amount: f64);
    fn last_period(&self) -> i64;
}

/// Per customer: first and last period, number of distinct periods, spend in
/// the first period and in the repeat periods.
struct PeriodStats {
    first: i64,
    last: i64,
    n_periods: usize,
    first_amount: f64,
    repeat_amount: f64,
}

impl Accumulate for PeriodStats {
    fn start(period: i64, amount: f64) -> Self {
        PeriodStats {
            first: period,
            last: period,
            n_periods: 1,
            first_amount: amount,
            repeat_amount: 0.0,
        }
    }

    fn push(&mut self, period: i64, amount: f64) {
        if period == self.first {
            self.first_amount += amount;
        } else {
            self.n_periods += (period != self.last) as usize;
            self.last = period;
            self.repeat_amount += amount;
        }
    }

    fn last_period(&self) -> i64 {
        self.last
    }
}

/// Holdout purchases: distinct periods, and amounts per transaction.
struct HoldoutStats {
    last: i64,
    n_periods: usize,
    total_amount: f64,
    n_rows: usize,
}

impl Accumulate for HoldoutStats {
    fn start(period: i64, amount: f64) -> Self {
        HoldoutStats {
            last: period,
            n_periods: 1,
            total_amount: amount,
            n_rows: 1,
        }
    }

    fn push(&mut self, period: i64, amount: f64) {
        self.n_periods += (period != self.last) as usize;
        self.last = period;
        self.total_amount += amount;
        self.n_rows += 1;
    }

    fn last_period(&self) -> i64 {
        self.last
    }
}

/// Accumulate each customer's kept rows in period order; `None` for
/// customers without kept rows.
///
/// The code space is cut into ranges and each task handles its own customers
/// (every task scans the codes, which is cheap next to random memory access).
/// Logs whose purchases are in time order per customer (the usual case) are
/// accumulated in one streaming pass; otherwise rows are grouped by a counting
/// sort and each customer's rows sorted by period.
fn per_customer<A: Accumulate>(
    log: Log<'_>,
    freq: Freq,
    ctl: &Control,
    keep: impl Fn(usize) -> bool + Sync,
) -> Result<Vec<Option<A>>> {
    let n = log.n_customers;
    let parts = rayon::current_num_threads().clamp(1, n.max(1));
    let bounds: Vec<usize> = (0..=parts).map(|i| i * n / parts).collect();
    let keep = &keep;
    let rows_of_part = |part: usize| {
        let (lo, hi) = (bounds[part] as u32, bounds[part + 1] as u32);
        log.customers
            .iter()
            .enumerate()
            .filter(move |&(row, &c)| c >= lo && c < hi && keep(row))
            .map(move |(row, &c)| (row, c as usize - lo as usize))
    };
    let amount = |row: usize| log.amounts.map_or(0.0, |a| a[row]);
    let period = |row: usize| freq.period(log.times[row]);

    let mut out: Vec<Option<A>> = (0..n).map(|_| None).collect();
    let in_order = split_at_cuts(&mut out, &bounds)
        .into_par_iter()
        .enumerate()
        .all(|(part, out)| {
            for (row, k) in rows_of_part(part) {
                if row % CHECK_EVERY == 0 && ctl.cancelled() {
                    return true;
                }
                let p = period(row);
                match &mut out[k] {
                    Some(acc) if p < acc.last_period() => return false,
                    Some(acc) => acc.push(p, amount(row)),
                    slot => *slot = Some(A::start(p, amount(row))),
                }
            }
            true
        });
    ctl.check()?;
    if in_order {
        return Ok(out);
    }

    let mut counts = vec![0usize; n];
    split_at_cuts(&mut counts, &bounds)
        .into_par_iter()
        .enumerate()
        .for_each(|(part, counts)| {
            for (_, k) in rows_of_part(part) {
                counts[k] += 1;
            }
        });
    ctl.check()?;
    let mut offsets = Vec::with_capacity(n + 1);
    offsets.push(0usize);
    for count in counts {
        offsets.push(offsets[offsets.len() - 1] + count);
    }
    let mut rows = vec![(0i64, 0f64); offsets[n]];
    let row_cuts: Vec<usize> = bounds.iter().map(|&b| offsets[b]).collect();
    split_at_cuts(&mut rows, &row_cuts)
        .into_par_iter()
        .zip(split_at_cuts(&mut out, &bounds))
        .enumerate()
        .for_each(|(part, (rows, out))| {
            let (lo, hi) = (bounds[part], bounds[part + 1]);
            let base = offsets[lo];
            let mut cursor: Vec<usize> = offsets[lo..hi].iter().map(|&o| o - base).collect();
            for (row, k) in rows_of_part(part) {
                rows[cursor[k]] = (period(row), amount(row));
                cursor[k] += 1;
            }
            for (customer, result) in (lo..hi).zip(out.iter_mut()) {
                let mine = &mut rows[offsets[customer] - base..offsets[customer + 1] - base];
                mine.sort_unstable_by_key(|r| r.0);
                *result = mine.split_first().map(|(&(p, a), rest)| {
                    let mut acc = A::start(p, a);
                    rest.iter().for_each(|&(p, a)| acc.push(p, a));
                    acc
                });
            }
        });
    Ok(out)
}

/// Rows between two looks at the cancel flag in the passes over the log.
const CHECK_EVERY: usize = 1 << 20;

/// Cut `slice` into consecutive pieces at the (increasing) positions `cuts`,
/// which start at 0 and end at `slice.len()`.
fn split_at_cuts<'a, T>(mut slice: &'a mut [T], cuts: &[usize]) -> Vec<&'a mut [T]> {
    let mut pieces = Vec::with_capacity(cuts.len().saturating_sub(1));
    for w in cuts.windows(2) {
        let (piece, rest) = std::mem::take(&mut slice).split_at_mut(w[1] - w[0]);
        pieces.push(piece);
        slice = rest;
    }
    pieces
}

fn summarise(
    stats: Vec<Option<PeriodStats>>,
    end_period: i64,
    opts: SummaryOptions,
    with_amounts: bool,
) -> Summary {
    let stats: Vec<(u32, PeriodStats)> = stats
        .into_par_iter()
        .enumerate()
        .filter_map(|(c, s)| s.map(|s| (c as u32, s)))
        .collect();
    let m = opts.freq_multiplier;
    let include_first = opts.include_first_transaction;
    Summary {
        customers: stats.iter().map(|s| s.0).collect(),
        frequency: stats
            .iter()
            .map(|(_, s)| (s.n_periods - (!include_first) as usize) as f64)
            .collect(),
        recency: stats
            .iter()
            .map(|(_, s)| (s.last - s.first) as f64 / m)
            .collect(),
        t: stats
            .iter()
            .map(|(_, s)| (end_period - s.first) as f64 / m)
            .collect(),
        monetary_value: with_amounts.then(|| {
            stats
                .iter()
                .map(|(_, s)| {
                    if include_first {
                        (s.first_amount + s.repeat_amount) / s.n_periods as f64
                    } else if s.n_periods > 1 {
                        s.repeat_amount / (s.n_periods - 1) as f64
                    } else {
                        0.0
                    }
                })
                .collect()
        }),
    }
}

/// The columns of a transaction log, by the user's names.
#[derive(Debug, Clone, Copy)]
pub struct LogColumns<'a> {
    pub customer: &'a str,
    pub time: &'a str,
    pub amount: Option<&'a str>,
}

/// The log's columns, looked up by name (errors name them).
struct LogTable {
    customer: table::Column,
    time: table::Column,
    amount: Option<table::Column>,
}

/// A log read from its columns: customer codes and ids, wall-clock times,
/// amounts.
struct ReadLog<'t> {
    codes: Vec<u32>,
    ids: IdMap,
    times: table::WallTimes<'t>,
    amounts: Option<Cow<'t, [f64]>>,
}

impl LogTable {
    fn new(table: &Table, columns: LogColumns<'_>) -> Result<Self> {
        Ok(LogTable {
            customer: table.column(columns.customer)?,
            time: table.column(columns.time)?,
            amount: table.optional_column(columns.amount)?,
        })
    }

    fn read(&self) -> Result<ReadLog<'_>> {
        let encoded = IdMap::encode(&self.customer)?;
        Ok(ReadLog {
            codes: encoded.codes,
            ids: encoded.ids,
            times: table::wall_times(&self.time)?,
            amounts: self
                .amount
                .as_ref()
                .map(table::numbers::finite_f64)
                .transpose()?,
        })
    }
}

impl ReadLog<'_> {
    fn log(&self) -> Log<'_> {
        Log {
            customers: &self.codes,
            n_customers: self.ids.len(),
            times: &self.times.micros,
            amounts: self.amounts.as_deref(),
        }
    }
}

/// Sums of amounts near the float range, or a vanishing `freq_multiplier`,
/// overflow: an error rather than infinite or NaN columns.
fn check_finite(s: &Summary, columns: LogColumns<'_>) -> Result<()> {
    if s.recency.iter().chain(&s.t).any(|v| !v.is_finite()) {
        return Err(Error::argument(
            "freq_multiplier",
            "is so small that recency and T overflow",
        ));
    }
    let spend = s.monetary_value.iter().flatten();
    if let (Some(amount), true) = (columns.amount, spend.clone().any(|v| !v.is_finite())) {
        return Err(Error::column_value(
            amount,
            "holds amounts whose sums overflow the float range (near 1e308)",
        ));
    }
    Ok(())
}

fn summary_columns(out: &mut Vec<(String, arrow_array::ArrayRef)>, s: Summary, suffix: &str) {
    out.push((format!("frequency{suffix}"), table::f64_array(s.frequency)));
    out.push((format!("recency{suffix}"), table::f64_array(s.recency)));
    out.push((format!("T{suffix}"), table::f64_array(s.t)));
    if let Some(m) = s.monetary_value {
        out.push((format!("monetary_value{suffix}"), table::f64_array(m)));
    }
}

/// [`rfm_summary`] of a table: one row per customer, the customer column
/// (ids in their own type, sorted) then frequency, recency, T and (with an
/// amount column) monetary_value.  Ends are `(microseconds, is_utc)`.
pub fn summary_table(
    table: &Table,
    columns: LogColumns<'_>,
    observation_end: Option<(i64, bool)>,
    opts: SummaryOptions,
    ctl: &Control,
) -> Result<RecordBatch> {
    let log_table = LogTable::new(table, columns)?;
    let read = log_table.read()?;
    let end = observation_end.map(|e| read.times.wall(e));
    let summary = rfm_summary(read.log(), end, opts, ctl)?;
    check_finite(&summary, columns)?;
    let mut out = vec![(
        columns.customer.to_string(),
        read.ids.take(&summary.customers),
    )];
    summary_columns(&mut out, summary, "");
    table::record_batch(out)
}

/// [`rfm_calibration_holdout`] of a table: the calibration summary (columns
/// suffixed `_cal`), frequency_holdout, monetary_value_holdout (with amounts)
/// and duration_holdout.
pub fn calibration_holdout_table(
    table: &Table,
    columns: LogColumns<'_>,
    calibration_end: (i64, bool),
    observation_end: Option<(i64, bool)>,
    opts: SummaryOptions,
    ctl: &Control,
) -> Result<RecordBatch> {
    let log_table = LogTable::new(table, columns)?;
    let read = log_table.read()?;
    let cal_end = read.times.wall(calibration_end);
    let end = observation_end.map(|e| read.times.wall(e));
    let r = rfm_calibration_holdout(read.log(), cal_end, end, opts, ctl)?;
    check_finite(&r.calibration, columns)?;
    if let (Some(amount), Some(m)) = (columns.amount, &r.monetary_value_holdout) {
        if m.iter().any(|v| !v.is_finite()) {
            let problem = "holds amounts whose sums overflow the float range (near 1e308)";
            return Err(Error::column_value(amount, problem));
        }
    }
    let n = r.frequency_holdout.len();
    let mut out = vec![(
        columns.customer.to_string(),
        read.ids.take(&r.calibration.customers),
    )];
    summary_columns(&mut out, r.calibration, "_cal");
    out.push((
        "frequency_holdout".into(),
        table::f64_array(r.frequency_holdout),
    ));
    if let Some(m) = r.monetary_value_holdout {
        out.push(("monetary_value_holdout".into(), table::f64_array(m)));
    }
    out.push((
        "duration_holdout".into(),
        table::f64_array(vec![r.duration_holdout; n]),
    ));
    table::record_batch(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = MICROS_PER_DAY;

    #[test]
    fn weeks_start_on_monday() {
        let monday = 4 * DAY; // 1970-01-05
        assert_eq!(Freq::Week.period(monday - 1), 0);
        assert_eq!(Freq::Week.period(monday), 1);
        assert_eq!(Freq::Week.period(-3 * DAY), 0);
        assert_eq!(Freq::Week.period(-3 * DAY - 1), -1);
    }

    #[test]
    fn same_period_purchases_merge_and_first_is_excluded_from_spend() {
        // customer 0: day 0 (twice), day 45; customer 1: day 4, day 90; customer 2: day 60
        let customers = [0, 0, 0, 1, 1, 2];
        let times = [0, DAY / 2, 45 * DAY, 4 * DAY, 90 * DAY, 60 * DAY];
        let amounts = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let log = Log {
            customers: &customers,
            n_customers: 3,
            times: &times,
            amounts: Some(&amounts),
        };
        let s = rfm_summary(log, None, SummaryOptions::default(), &Control::new()).unwrap();
        assert_eq!(s.frequency, vec![1.0, 1.0, 0.0]);
        assert_eq!(s.recency, vec![45.0, 86.0, 0.0]);
        assert_eq!(s.t, vec![90.0, 86.0, 30.0]);
        assert_eq!(s.monetary_value.unwrap(), vec![3.0, 5.0, 0.0]);
    }

    #[test]
    fn end_before_data_and_empty_logs_are_errors() {
        let log = Log {
            customers: &[0],
            n_customers: 1,
            times: &[10 * DAY],
            amounts: None,
        };
        let err =
            rfm_summary(log, Some(0), SummaryOptions::default(), &Control::new()).unwrap_err();
        assert!(err.to_string().contains("observation_period_end"), "{err}");
        let empty = Log {
            customers: &[],
            n_customers: 0,
            times: &[],
            amounts: None,
        };
        assert!(rfm_summary(empty, None, SummaryOptions::default(), &Control::new()).is_err());
        assert!(Freq::parse("M").is_err());
    }

    #[test]
    fn holdout_counts_distinct_periods_after_calibration() {
        let customers = [0, 0, 0, 0, 1];
        let times = [0, 10 * DAY, 31 * DAY, 31 * DAY + 5, 40 * DAY];
        let amounts = [1.0, 2.0, 3.0, 5.0, 7.0];
        let log = Log {
            customers: &customers,
            n_customers: 2,
            times: &times,
            amounts: Some(&amounts),
        };
        let r = rfm_calibration_holdout(
            log,
            30 * DAY,
            Some(60 * DAY),
            SummaryOptions::default(),
            &Control::new(),
        )
        .unwrap();
        assert_eq!(r.calibration.customers, vec![0]);
        assert_eq!(r.frequency_holdout, vec![1.0]);
        assert_eq!(r.monetary_value_holdout.unwrap(), vec![4.0]);
        assert_eq!(r.duration_holdout, 30.0);
        // A holdout inside the calibration's last period is empty.
        let same_day = rfm_calibration_holdout(
            log,
            30 * DAY,
            Some(30 * DAY + 5),
            SummaryOptions::default(),
            &Control::new(),
        );
        let message = same_day.unwrap_err().to_string();
        assert!(message.contains("observation_period_end"), "{message}");
    }
}
