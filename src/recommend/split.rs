//! Train/test splits of an interaction log.  Each returns a mask over the
//! rows: `true` for rows that go to the test set.

use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::table::{self, Column, IdMap, Table};

/// Rows at or after `cutoff` are test rows.
pub fn by_time(times: &[i64], cutoff: i64) -> Vec<bool> {
    times.par_iter().map(|&t| t >= cutoff).collect()
}

/// Each user's `k` latest rows are test rows (ties in time: later rows count
/// as later).  Users with `k` rows or fewer keep them all in training, so
/// every test user has something to be recommended from.
pub fn last_k(users: &[u32], times: &[i64], k: usize) -> Result<Vec<bool>> {
    if k == 0 {
        return Err(Error::argument("k", "must be at least 1"));
    }
    let mut order: Vec<u32> = (0..users.len() as u32).collect();
    order.par_sort_unstable_by_key(|&r| (users[r as usize], times[r as usize], r));
    let mut test = vec![false; users.len()];
    let mut start = 0;
    while start < order.len() {
        let user = users[order[start] as usize];
        let mut end = start;
        while end < order.len() && users[order[end] as usize] == user {
            end += 1;
        }
        if end - start > k {
            for &r in &order[end - k..end] {
                test[r as usize] = true;
            }
        }
        start = end;
    }
    Ok(test)
}

/// Each row is a test row with probability `fraction`, drawn from a hash of
/// the seed and the row number (the same for any thread count).  A user's
/// rows are never all held out: if every row of a user was drawn, the first
/// stays in training.
pub fn random(users: &[u32], n_users: usize, fraction: f64, seed: u64) -> Result<Vec<bool>> {
    if !(fraction > 0.0 && fraction < 1.0) {
        return Err(Error::argument(
            "test_size",
            "must be between 0 and 1 (exclusive)",
        ));
    }
    let threshold = (fraction * u64::MAX as f64) as u64;
    let mut test: Vec<bool> = (0..users.len() as u64)
        .into_par_iter()
        .map(|row| splitmix64(seed ^ splitmix64(row)) < threshold)
        .collect();
    let mut kept = vec![false; n_users];
    let mut first = vec![u32::MAX; n_users];
    for (row, (&u, &t)) in users.iter().zip(&test).enumerate() {
        if !t {
            kept[u as usize] = true;
        }
        if first[u as usize] == u32::MAX {
            first[u as usize] = row as u32;
        }
    }
    for (u, &row) in first.iter().enumerate() {
        if row != u32::MAX && !kept[u] {
            test[row as usize] = false;
        }
    }
    Ok(test)
}

fn splitmix64(x: u64) -> u64 {
    crate::hashing::stream_seed(x, 0)
}

/// How a log is split (see [`mask`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Split {
    /// Rows at or after the cutoff, `(microseconds, is_utc)`.
    Time { cutoff: (i64, bool) },
    /// Each user's `k` latest rows.
    Last { k: usize },
    /// Each row with probability `test_size`.
    Random { test_size: f64, seed: u64 },
}

impl Split {
    /// The split `how` names, with its arguments (errors name the missing one).
    pub fn parse(
        how: &str,
        cutoff: Option<(i64, bool)>,
        k: usize,
        test_size: f64,
        seed: u64,
    ) -> Result<Self> {
        match how {
            "time" => Ok(Split::Time {
                cutoff: cutoff
                    .ok_or_else(|| Error::argument("cutoff", "is required to split by time"))?,
            }),
            "last" => Ok(Split::Last { k }),
            "random" => Ok(Split::Random { test_size, seed }),
            other => Err(Error::argument(
                "how",
                format!("must be 'time', 'last' or 'random', got '{other}'"),
            )),
        }
    }
}

/// The test-row mask of a log split by `split` (`time_col` for the time and
/// last-k splits).
pub fn mask(
    table: &Table,
    user_col: &str,
    time_col: Option<&str>,
    split: Split,
) -> Result<Vec<bool>> {
    if table.num_rows() == 0 {
        return Err(Error::empty(
            "the interactions table has no rows; nothing to split",
        ));
    }
    let times = || -> Result<Column> {
        let name = time_col.ok_or_else(|| {
            Error::argument(
                "time_col",
                "is required to split by time or by the last rows",
            )
        })?;
        table.column(name)
    };
    match split {
        Split::Time { cutoff } => {
            let column = times()?;
            let times = table::wall_times(&column)?;
            Ok(by_time(&times.micros, times.wall(cutoff)))
        }
        Split::Last { k } => {
            let users = IdMap::encode(&table.column(user_col)?)?;
            let column = times()?;
            last_k(&users.codes, &table::wall_times(&column)?.micros, k)
        }
        Split::Random { test_size, seed } => {
            let users = IdMap::encode(&table.column(user_col)?)?;
            random(&users.codes, users.ids.len(), test_size, seed)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_k_takes_the_latest_rows() {
        let users = [0, 0, 0, 1, 1, 2];
        let times = [5, 1, 9, 3, 2, 7];
        let mask = last_k(&users, &times, 1).unwrap();
        assert_eq!(mask, vec![false, false, true, true, false, false]);
    }

    #[test]
    fn random_keeps_every_user_in_training() {
        let users: Vec<u32> = (0..10_000).map(|r| r % 100).collect();
        let mask = random(&users, 100, 0.9, 3).unwrap();
        for u in 0..100 {
            assert!(users.iter().zip(&mask).any(|(&v, &t)| v == u && !t));
        }
        let share = mask.iter().filter(|&&t| t).count() as f64 / 10_000.0;
        assert!((share - 0.89).abs() < 0.03, "{share}");
    }
}
