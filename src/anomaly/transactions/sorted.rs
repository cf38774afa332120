//! The log in customer order, and the parallel pass of every customer's
//! transactions through its state.

use rayon::prelude::*;

use super::input::Log;
use super::state::{CustomerState, FeatureConfig, Observation, Transaction};
use crate::control::Control;
use crate::error::{Error, Result};
use crate::table::format_micros;

/// Rows per parallel task (whole customers).
const ROWS_PER_TASK: usize = 1 << 15;

/// A log permuted into customer order (codes ascending), each customer's
/// transactions in time order (ties in row order), so that every customer's
/// history is read from contiguous memory.  `order[k]` is the original row of
/// position `k`; customer `c` holds positions `starts[c]..starts[c + 1]`.
pub(super) struct SortedLog {
    pub log: Log,
    pub order: Vec<u32>,
    pub starts: Vec<usize>,
}

fn permute<T: Copy + Send + Sync>(values: &[T], order: &[u32]) -> Vec<T> {
    order.par_iter().map(|&r| values[r as usize]).collect()
}

impl SortedLog {
    pub(super) fn new(mut log: Log) -> Self {
        let n_customers = log.customer_ids.len();
        let mut starts = vec![0usize; n_customers + 1];
        for &c in &log.customers {
            starts[c as usize + 1] += 1;
        }
        for c in 0..n_customers {
            starts[c + 1] += starts[c];
        }
        let mut next = starts.clone();
        let mut order = vec![0u32; log.len()];
        for (row, &c) in log.customers.iter().enumerate() {
            order[next[c as usize]] = row as u32;
            next[c as usize] += 1;
        }
        let mut times = permute(&log.times, &order);
        let sorted = (0..n_customers).into_par_iter().all(|c| {
            times[starts[c]..starts[c + 1]]
                .windows(2)
                .all(|w| w[0] <= w[1])
        });
        if !sorted {
            let (customers, raw) = (&log.customers, &log.times);
            order.par_sort_unstable_by_key(|&r| (customers[r as usize], raw[r as usize], r));
            times = permute(&log.times, &order);
        }
        log.times = times;
        log.amounts = permute(&log.amounts, &order);
        log.customers = Vec::new(); // implied by `starts` from here on
        for attribute in [&mut log.merchant, &mut log.category, &mut log.place]
            .into_iter()
            .flatten()
        {
            attribute.codes = permute(&attribute.codes, &order);
        }
        SortedLog { log, order, starts }
    }

    /// Customer ranges `[a, b)` of about `ROWS_PER_TASK` rows each.
    fn tasks(&self) -> Vec<(usize, usize)> {
        let n_customers = self.starts.len() - 1;
        let mut tasks = Vec::new();
        let mut a = 0;
        while a < n_customers {
            let mut b = a + 1;
            while b < n_customers && self.starts[b] - self.starts[a] < ROWS_PER_TASK {
                b += 1;
            }
            tasks.push((a, b));
            a = b;
        }
        tasks
    }

    fn transaction(&self, k: usize) -> Transaction {
        let log = &self.log;
        Transaction {
            time: log.times[k],
            amount: log.amounts[k],
            merchant: log.merchant.as_ref().map(|a| a.key(k)),
            category: log.category.as_ref().map(|a| a.key(k)),
            place: log.place.as_ref().map(|a| a.key(k)),
        }
    }
}

/// Run every customer's transactions through its state, in parallel over
/// customers.  `states` holds one state per customer code (streaming) or is
/// `None` (fresh states, dropped after use).  Each task folds its rows (by
/// position in customer order; `sorted.order[k]` is position `k`'s row) into
/// an accumulator; accumulators come back in customer order.
pub(super) fn run<A: Send>(
    sorted: &SortedLog,
    config: &FeatureConfig,
    states: Option<&mut [CustomerState]>,
    ctl: &Control,
    init: impl Fn() -> A + Sync,
    visit: impl Fn(&mut A, usize, Option<Observation>) + Sync,
) -> Result<Vec<A>> {
    let log = &sorted.log;
    let tasks = sorted.tasks();
    let mut slices: Vec<Option<&mut [CustomerState]>> = Vec::with_capacity(tasks.len());
    match states {
        Some(mut rest) => {
            for &(a, b) in &tasks {
                let (head, tail) = rest.split_at_mut(b - a);
                slices.push(Some(head));
                rest = tail;
            }
        }
        None => slices.resize_with(tasks.len(), || None),
    }
    let results: Vec<Result<A>> = tasks
        .into_par_iter()
        .zip(slices)
        .map(|((a, b), mut slice)| {
            ctl.check()?;
            let mut acc = init();
            let mut fresh;
            for c in a..b {
                let state = match slice.as_deref_mut() {
                    Some(s) => &mut s[c - a],
                    None => {
                        fresh = CustomerState::default();
                        &mut fresh
                    }
                };
                let (first, end) = (sorted.starts[c], sorted.starts[c + 1]);
                if let (Some(last), true) = (state.last_seen, first < end) {
                    let first_time = log.times[first];
                    if first_time < last {
                        return Err(Error::column_value(
                            &log.schema.time,
                            format!(
                                "has a transaction of customer {} at {} before the last one \
                                 already seen ({}); new transactions must not be earlier than \
                                 those already scored",
                                log.customer_ids.describe(c as u32),
                                format_micros(first_time),
                                format_micros(last)
                            ),
                        ));
                    }
                }
                for k in first..end {
                    let obs = state.observe(config, &sorted.transaction(k));
                    visit(&mut acc, k, obs);
                }
            }
            Ok(acc)
        })
        .collect();
    results.into_iter().collect()
}
