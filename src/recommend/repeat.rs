//! Repeat-aware recommendations for next purchases: TIFU-KNN (Hu, He, Gao &
//! Zhang, "Modeling personalized item frequency information for next-basket
//! recommendation", SIGIR 2020).
//!
//! Customers buy the same things again, which the models built for unseen
//! items (implicit's) do not use.  A customer's baskets (the rows at one
//! customer and time, each item counted once) are taken in time order and
//! split into groups of `group_size` counted back from the latest, so the
//! oldest group may be smaller.  Basket `j` places before its group's latest
//! weighs `within_decay^j`, group `g` places before the latest
//! `group_decay^g`, and the customer's vector is
//!
//! ```text
//! v = 1/G · Σ_g group_decay^g · mean over the group's baskets of within_decay^j · basket
//! ```
//!
//! (`G` groups): items bought often and lately weigh most.  An item's score
//! is `alpha · v + (1 − alpha) · (mean v of the k customers nearest by
//! cosine of v)`, so similar customers add what they buy; a customer with
//! no neighbour is scored by `v` alone.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::interactions::Interactions;
use super::similar::row_cosine_top;
use super::sparse::{Csr, SparseAccumulator};
use crate::control::Control;
use crate::error::{Error, Result};
use crate::persist;
use crate::spec::{Accept, Literal, Param, Params, Spec};
use crate::table::time::wall_times;
use crate::table::{IdMap, Table};

/// The contract of `patronage.recommend.RepeatAware`.  The defaults are the
/// paper's for Ta-Feng (`k`, `group_decay`, `alpha`) with groups of 20
/// baskets not decayed within: less decay than the paper's groups of 7 at
/// 0.9, which did better on Ta-Feng and the simulator alike (see
/// `benchmarks/README.md`).
pub static SPEC: Spec = Spec {
    name: "RepeatAware",
    params: &[
        Param {
            name: "group_size",
            default: Literal::Int(20),
            accepts: &[Accept::int_from(1)],
            unit: "baskets",
            doc: "baskets per group, counted back from the latest",
        },
        Param {
            name: "within_decay",
            default: Literal::Float(1.0),
            accepts: &[Accept::in_open_closed(0.0, 1.0)],
            unit: "",
            doc: "weight kept per basket back within a group (1: no decay)",
        },
        Param {
            name: "group_decay",
            default: Literal::Float(0.7),
            accepts: &[Accept::in_open_closed(0.0, 1.0)],
            unit: "",
            doc: "weight kept per group back (1: no decay)",
        },
        Param {
            name: "k",
            default: Literal::Int(300),
            accepts: &[Accept::int_from(0)],
            unit: "customers",
            doc: "nearest customers (cosine) whose mean vector is blended in; 0: none",
        },
        Param {
            name: "alpha",
            default: Literal::Float(0.7),
            accepts: &[Accept::in_closed(0.0, 1.0)],
            unit: "",
            doc: "weight of the customer's own vector; the neighbours' mean gets 1 - alpha",
        },
    ],
    columns: &[],
    fitted: &[],
};

/// Settings, from parameters checked against [`SPEC`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RepeatParams {
    pub group_size: usize,
    pub within_decay: f64,
    pub group_decay: f64,
    pub k: usize,
    pub alpha: f32,
}

impl RepeatParams {
    pub fn from_params(p: &Params) -> Self {
        RepeatParams {
            group_size: p.count("group_size").max(1),
            within_decay: p.number("within_decay"),
            group_decay: p.number("group_decay"),
            k: p.count("k"),
            alpha: p.number("alpha") as f32,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RepeatAware {
    /// Each customer's decayed vector `v` (user × item).
    pub history: Csr,
    /// Each customer's nearest customers (user × user, cosine, best first).
    pub neighbours: Csr,
    pub alpha: f32,
    /// When each entry of the interactions matrix (customer, item: number
    /// of baskets) was last bought, wall-clock µs, aligned with its entries.
    pub last_bought: Vec<i64>,
}

/// One customer's item: its decayed weight, baskets holding it, last time.
struct Bought {
    item: u32,
    weight: f64,
    baskets: u32,
    last: i64,
}

/// A customer's items from their purchases `(time, item)`, sorted by time
/// (then item) with no repeated pair.
fn customer_items(purchases: &[(i64, u32)], p: &RepeatParams) -> Vec<Bought> {
    let n_baskets = 1 + purchases.windows(2).filter(|w| w[0].0 != w[1].0).count();
    let m = p.group_size;
    let n_groups = n_baskets.div_ceil(m);
    let oldest_group_len = n_baskets - (n_groups - 1) * m;
    let mut basket = 0;
    let mut bought: Vec<Bought> = Vec::with_capacity(purchases.len());
    for (k, &(time, item)) in purchases.iter().enumerate() {
        if k > 0 && purchases[k - 1].0 != time {
            basket += 1;
        }
        let back = n_baskets - 1 - basket;
        let (group, within) = (back / m, back % m);
        let group_len = if group == n_groups - 1 {
            oldest_group_len
        } else {
            m
        };
        let weight = p.group_decay.powi(group as i32) * p.within_decay.powi(within as i32)
            / (group_len * n_groups) as f64;
        bought.push(Bought {
            item,
            weight,
            baskets: 1,
            last: time,
        });
    }
    // Stable: an item's purchases stay in time order, the last one last.
    bought.sort_by_key(|b| b.item);
    let mut merged: Vec<Bought> = Vec::new();
    for b in bought {
        match merged.last_mut() {
            Some(m) if m.item == b.item => {
                m.weight += b.weight;
                m.baskets += 1;
                m.last = b.last;
            }
            _ => merged.push(b),
        }
    }
    merged
}

impl RepeatAware {
    /// Fit on a transaction log: the interactions (customer × item, the
    /// number of baskets holding the item) and the model.
    pub fn fit(
        table: &Table,
        user_col: &str,
        item_col: &str,
        time_col: &str,
        p: RepeatParams,
        ctl: &Control,
    ) -> Result<(Interactions, RepeatAware)> {
        if table.num_rows() == 0 {
            return Err(Error::empty(
                "the transaction log has no rows; nothing to fit",
            ));
        }
        let users = IdMap::encode(&table.column(user_col)?)?;
        let items = IdMap::encode(&table.column(item_col)?)?;
        let time_column = table.column(time_col)?;
        let times = wall_times(&time_column)?.micros;
        let (n_users, n_items) = (users.ids.len(), items.ids.len());

        // One purchase per (customer, time, item), by customer, then time.
        let mut purchases: Vec<(u32, i64, u32)> = (0..table.num_rows())
            .into_par_iter()
            .map(|r| (users.codes[r], times[r], items.codes[r]))
            .collect();
        purchases.par_sort_unstable();
        purchases.dedup();
        let mut starts = vec![0usize; n_users + 1];
        for &(u, _, _) in &purchases {
            starts[u as usize + 1] += 1;
        }
        for u in 0..n_users {
            starts[u + 1] += starts[u];
        }
        ctl.check()?;
        let per_customer: Vec<Vec<Bought>> = (0..n_users)
            .into_par_iter()
            .map(|u| {
                let rows = &purchases[starts[u]..starts[u + 1]];
                let rows: Vec<(i64, u32)> = rows.iter().map(|&(_, t, i)| (t, i)).collect();
                customer_items(&rows, &p)
            })
            .collect();
        drop(purchases);

        let rows_of = |value: &(dyn Fn(&Bought) -> f32 + Sync)| -> Vec<Vec<(u32, f32)>> {
            per_customer
                .par_iter()
                .map(|c| c.iter().map(|b| (b.item, value(b))).collect())
                .collect()
        };
        let baskets = Csr::from_rows(&rows_of(&|b| b.baskets as f32), n_items);
        let history = Csr::from_rows(&rows_of(&|b| b.weight as f32), n_items);
        let last_bought = per_customer.iter().flatten().map(|b| b.last).collect();
        drop(per_customer);
        ctl.check()?;

        let neighbours = if p.k == 0 {
            Csr::empty(n_users, n_users)
        } else {
            let everyone: Vec<Option<u32>> = (0..n_users as u32).map(Some).collect();
            let top = row_cosine_top(&history, &everyone, p.k, |q, v| v != q, ctl)?;
            Csr {
                n_rows: n_users,
                n_cols: n_users,
                indptr: top.offsets,
                indices: top.item,
                data: top.score,
            }
        };
        let data = Interactions {
            users: users.ids,
            items: items.ids,
            matrix: baskets,
            user_col: user_col.to_string(),
            item_col: item_col.to_string(),
        };
        let model = RepeatAware {
            history,
            neighbours,
            alpha: p.alpha,
            last_bought,
        };
        Ok((data, model))
    }

    /// Accumulate the scores of customer `user` (own vector and the mean of
    /// the neighbours').
    pub fn score(&self, user: usize, acc: &mut SparseAccumulator) {
        for (customer, share) in self.blend(user) {
            let (items, weights) = self.history.row(customer as usize);
            acc.add_row(items, weights, share, true);
        }
    }

    /// The customers whose vectors make `user`'s scores, with their shares:
    /// the user (`alpha`, all of it without neighbours) and each neighbour.
    pub fn blend(&self, user: usize) -> Vec<(u32, f32)> {
        let (nbrs, _) = self.neighbours.row(user);
        if nbrs.is_empty() {
            return vec![(user as u32, 1.0)];
        }
        let share = (1.0 - self.alpha) / nbrs.len() as f32;
        let others = nbrs.iter().map(|&v| (v, share));
        std::iter::once((user as u32, self.alpha))
            .chain(others)
            .collect()
    }

    /// Customer `customer`'s decayed weight of `item` (0 if never bought).
    pub fn weight(&self, customer: usize, item: u32) -> f32 {
        let (items, weights) = self.history.row(customer);
        items.binary_search(&item).map_or(0.0, |k| weights[k])
    }

    /// Why `item` is a repeat for `user` ("bought 3 times, last on
    /// 2001-01-05"), from the interactions `baskets` it was fitted with;
    /// `None` for an item the customer never bought.
    pub fn reason(&self, baskets: &Csr, user: usize, item: u32) -> Option<String> {
        let (items, counts) = baskets.row(user);
        let k = items.binary_search(&item).ok()?;
        let last = crate::table::time::format_date(self.last_bought[baskets.indptr[user] + k]);
        Some(match counts[k] as u64 {
            1 => format!("bought once, on {last}"),
            n => format!("bought {n} times, last on {last}"),
        })
    }

    /// The invariants serving relies on, for a model read from bytes.
    pub fn validate(&self, baskets: &Csr) -> Result<()> {
        let (n_users, n_items) = (baskets.n_rows, baskets.n_cols);
        let (h, nb) = (&self.history, &self.neighbours);
        persist::require(h.n_rows == n_users && h.n_cols == n_items, || {
            format!(
                "the history is {}x{} for {n_users}x{n_items}",
                h.n_rows, h.n_cols
            )
        })?;
        persist::require(nb.n_rows == n_users && nb.n_cols == n_users, || {
            format!(
                "the neighbours are {}x{} for {n_users} users",
                nb.n_rows, nb.n_cols
            )
        })?;
        for (m, name) in [(h, "the history"), (nb, "the neighbours")] {
            m.validate(name)
                .map_err(|e| Error::saved_model(e.to_string()))?;
            persist::require(m.data.iter().all(|v| v.is_finite()), || {
                format!("{name} holds NaN or infinite values")
            })?;
        }
        persist::require(self.last_bought.len() == baskets.nnz(), || {
            "the last purchase times do not match the interactions".into()
        })?;
        persist::require((0.0..=1.0).contains(&self.alpha), || {
            format!("alpha is {}, outside [0, 1]", self.alpha)
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::{ArrayRef, Int64Array, StringArray, TimestampMicrosecondArray};

    use super::*;
    use crate::spec::Value;

    const DAY: i64 = 86_400_000_000;

    fn params(given: &[(&str, Value)]) -> RepeatParams {
        let given = given
            .iter()
            .map(|(n, v)| (n.to_string(), v.clone()))
            .collect();
        RepeatParams::from_params(&SPEC.check(given).unwrap())
    }

    fn log(rows: &[(i64, i64, &str)]) -> Table {
        let users: ArrayRef = Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.0)));
        let times: ArrayRef = Arc::new(TimestampMicrosecondArray::from_iter_values(
            rows.iter().map(|r| r.1 * DAY),
        ));
        let items: ArrayRef = Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.2)));
        let batch = arrow_array::RecordBatch::try_from_iter(vec![
            ("user", users),
            ("time", times),
            ("item", items),
        ])
        .unwrap();
        Table::new(batch.schema(), vec![batch])
    }

    fn fit(rows: &[(i64, i64, &str)], p: RepeatParams) -> (Interactions, RepeatAware) {
        RepeatAware::fit(&log(rows), "user", "item", "time", p, &Control::new()).unwrap()
    }

    #[test]
    fn decay_weighs_recent_baskets_and_groups_more() {
        // Five baskets, groups of two back from the latest: {4, 3}, {2, 1}, {0}.
        let p = params(&[
            ("group_size", Value::Int(2)),
            ("within_decay", Value::Float(0.5)),
            ("group_decay", Value::Float(0.25)),
        ]);
        let purchases: Vec<(i64, u32)> = (0..5).map(|t| (t, t as u32)).collect();
        let got: Vec<f64> = customer_items(&purchases, &p)
            .iter()
            .map(|b| b.weight)
            .collect();
        let g = 3.0;
        let expected = [
            0.25f64.powi(2) / g,
            0.25 * 0.5 / 2.0 / g,
            0.25 / 2.0 / g,
            0.5 / 2.0 / g,
            1.0 / 2.0 / g,
        ];
        for (a, b) in got.iter().zip(expected) {
            assert!((a - b).abs() < 1e-12, "{got:?} vs {expected:?}");
        }
    }

    #[test]
    fn baskets_count_once_per_item_and_remember_the_last_time() {
        let rows = [
            (1, 0, "tea"),
            (1, 0, "tea"), // the same basket: one purchase
            (1, 3, "tea"),
            (1, 3, "milk"),
            (2, 1, "milk"),
        ];
        let (data, model) = fit(&rows, params(&[]));
        let m = &data.matrix;
        assert_eq!(m.row(0), (&[0u32, 1][..], &[1.0f32, 2.0][..])); // milk, tea
        assert_eq!(
            model.reason(m, 0, 1).unwrap(),
            "bought 2 times, last on 1970-01-04"
        );
        assert_eq!(model.reason(m, 0, 0).unwrap(), "bought once, on 1970-01-04");
        assert_eq!(model.reason(m, 1, 1), None);
        model.validate(m).unwrap();
    }

    #[test]
    fn neighbours_add_what_similar_customers_buy() {
        // 1 and 2 share tea; 2 also buys jam, 3 buys only soap.
        let rows = [
            (1, 0, "tea"),
            (1, 1, "tea"),
            (2, 0, "tea"),
            (2, 1, "jam"),
            (3, 0, "soap"),
        ];
        let (_, model) = fit(&rows, params(&[("k", Value::Int(5))]));
        assert_eq!(model.neighbours.row(0).0, &[1u32]);
        let mut acc = SparseAccumulator::new(3);
        model.score(0, &mut acc);
        let mut scores = acc.drain(|_, s, _| s);
        scores.sort_by_key(|s| s.0);
        // Items: jam 0, soap 1, tea 2.  Own tea first, the neighbour's jam next.
        assert_eq!(scores.iter().map(|s| s.0).collect::<Vec<_>>(), [0, 2]);
        assert!(scores[1].1 > scores[0].1);
        // Without neighbours only the customer's own items score.
        let p = params(&[("k", Value::Int(0)), ("within_decay", Value::Float(0.9))]);
        let (_, alone) = fit(&rows, p);
        alone.score(0, &mut acc);
        // Two baskets in one group: (1 + within_decay) / 2.
        assert_eq!(acc.drain(|_, s, _| s), [(2, (1.0 + 0.9) / 2.0)]);
    }

    #[test]
    fn bad_logs_are_errors_naming_the_column() {
        let t = log(&[(1, 0, "tea")]);
        let ctl = Control::new();
        let err = RepeatAware::fit(&t, "user", "item", "item", params(&[]), &ctl).unwrap_err();
        assert!(err.to_string().contains("'item'"), "{err}");
        let err = RepeatAware::fit(&t, "user", "nope", "time", params(&[]), &ctl).unwrap_err();
        assert!(err.to_string().contains("nope"), "{err}");
    }
}
