//! Serving and evaluation with ids: the entry points the bindings call.
//! Queries arrive as id columns, answers leave as tables with ids in their
//! own types, so ids cross the boundary once each way.

use std::sync::Arc;

use rayon::prelude::*;

use arrow_array::{ArrayRef, BooleanArray, Float32Array, RecordBatch, StringArray};
use arrow_select::nullif::nullif;

use super::explain::Source;
use super::metrics::{self, Catalogue, RankingMetrics};
use super::model::{Model, Recommender, SeenItems, Unknown};
use super::repeat::RepeatAware;
use super::sparse::Csr;
use super::topn::{Queries, TopN};
use crate::control::Control;
use crate::error::{Error, Result};
use crate::table::{self, Column, IdMap, Table};

/// Ranking metrics with the hits (recommended test items in the top k)
/// split by whether the user had the item in training.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Evaluation {
    pub metrics: RankingMetrics,
    pub repeat_hits: usize,
    pub new_hits: usize,
}

/// Test users not in training: left out of an evaluation, or served the most
/// popular items.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnknownTestUsers {
    Skip,
    Popular,
}

impl UnknownTestUsers {
    pub fn parse(value: &str) -> Result<Self> {
        match value {
            "skip" => Ok(UnknownTestUsers::Skip),
            "popular" => Ok(UnknownTestUsers::Popular),
            other => Err(Error::argument(
                "unknown_users",
                format!("must be 'skip' or 'popular', got '{other}'"),
            )),
        }
    }
}

impl Recommender {
    /// Items a caller restricts answers to, as a mask over item codes.
    fn allowed(&self, items: Option<&Column>) -> Result<Option<Vec<bool>>> {
        let Some(column) = items else { return Ok(None) };
        let mut mask = vec![false; self.n_items()];
        for code in self.data.items.lookup(column)?.into_iter().flatten() {
            mask[code as usize] = true;
        }
        Ok(Some(mask))
    }

    /// Top `n` for the given users (every training user when `None`): a
    /// table (user, item, score, rank), with `reasons` also `because` (the
    /// user's item that adds most to the score) and `because_share` (the
    /// share it adds).  The repeat-aware model adds `kind` ("repeat": the
    /// user bought the item before, or "new"), and with `reasons` `reason`
    /// ("bought 3 times, last on 2001-01-05"; null for new items).
    #[allow(clippy::too_many_arguments)]
    pub fn recommend_ids(
        &self,
        users: Option<&Column>,
        n: usize,
        rule: SeenItems,
        items: Option<&Column>,
        unknown: Unknown,
        reasons: bool,
        ctl: &Control,
    ) -> Result<RecordBatch> {
        let allowed = self.allowed(items)?;
        let d = &self.data;
        let names = [d.user_col.as_str(), d.item_col.as_str()];
        // Every training user by code when none are named; those whose
        // interactions all weigh 0 get the popular items (no one named them).
        let all: Vec<u32> = match users {
            Some(_) => Vec::new(),
            None => (0..self.n_users() as u32).collect(),
        };
        let (codes, unknown, queries) = match users {
            Some(column) => (d.users.lookup(column)?, unknown, Queries::Given(column)),
            None => (
                all.iter().map(|&u| Some(u)).collect(),
                Unknown::Popular,
                Queries::Codes(&d.users, &all),
            ),
        };
        let top = self.recommend(&codes, n, rule, allowed.as_deref(), unknown, ctl)?;
        let mut extra = Vec::new();
        if let Model::RepeatAware(model) = &self.model {
            extra.extend(self.repeat_columns(model, &top, &codes, reasons));
        } else if reasons {
            extra.extend(self.because_columns(&self.reasons(&top, &codes, ctl)?)?);
        }
        let batch = top.into_batch(queries, names, &d.items)?;
        if extra.is_empty() {
            return Ok(batch);
        }
        let schema = batch.schema();
        let mut columns: Vec<(String, ArrayRef)> = schema
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .zip(batch.columns().iter().cloned())
            .collect();
        columns.extend(extra);
        table::record_batch(columns)
    }

    /// The `because` and `because_share` columns of `reasons`.
    fn because_columns(&self, reasons: &[Option<(u32, f32)>]) -> Result<[(String, ArrayRef); 2]> {
        let codes: Vec<u32> = reasons.iter().map(|r| r.map_or(0, |(j, _)| j)).collect();
        let missing = BooleanArray::from_iter(reasons.iter().map(|r| Some(r.is_none())));
        let because = nullif(&self.data.items.take(&codes), &missing)
            .map_err(|e| Error::Arrow(format!("could not build the reasons: {e}")))?;
        let share: Float32Array = reasons.iter().map(|r| r.map(|(_, s)| s)).collect();
        Ok([
            ("because".into(), because),
            ("because_share".into(), Arc::new(share)),
        ])
    }

    /// The repeat-aware model's `kind` of each entry of `top` (the lists of
    /// `users`) and, with `reasons`, its `reason`.
    fn repeat_columns(
        &self,
        model: &RepeatAware,
        top: &TopN,
        users: &[Option<u32>],
        reasons: bool,
    ) -> Vec<(String, ArrayRef)> {
        let baskets = &self.data.matrix;
        let entries = || {
            top.queries()
                .into_iter()
                .zip(top.item.iter().copied())
                .map(|(q, item)| (users[q as usize], item))
        };
        let kind: StringArray = entries()
            .map(|(user, item)| {
                let bought =
                    user.is_some_and(|u| baskets.row(u as usize).0.binary_search(&item).is_ok());
                Some(if bought { "repeat" } else { "new" })
            })
            .collect();
        let mut columns: Vec<(String, ArrayRef)> = vec![("kind".into(), Arc::new(kind))];
        if reasons {
            let reason: StringArray = entries()
                .map(|(user, item)| user.and_then(|u| model.reason(baskets, u as usize, item)))
                .collect();
            columns.push(("reason".into(), Arc::new(reason)));
        }
        columns
    }

    /// Top `n` for users not in training, from a log of their items (items
    /// unknown to the model are ignored): a table (user, item, score, rank).
    #[allow(clippy::too_many_arguments)]
    pub fn recommend_new_ids(
        &self,
        table: &Table,
        user_col: &str,
        item_col: &str,
        weight_col: Option<&str>,
        n: usize,
        exclude_seen: bool,
        items: Option<&Column>,
        ctl: &Control,
    ) -> Result<RecordBatch> {
        let allowed = self.allowed(items)?;
        let users = IdMap::encode(&table.column(user_col)?)?;
        let item_codes = self.data.items.lookup(&table.column(item_col)?)?;
        let weights = super::interactions::weights(table, weight_col, item_codes.len())?;
        let (mut rows, mut cols, mut vals) = (Vec::new(), Vec::new(), Vec::new());
        for (k, code) in item_codes.iter().enumerate() {
            if let Some(code) = code {
                rows.push(users.codes[k]);
                cols.push(*code);
                vals.push(weights[k]);
            }
        }
        let histories = Csr::from_coo(users.ids.len(), self.n_items(), &rows, &cols, &vals);
        let top = self.recommend_new(&histories, n, exclude_seen, allowed.as_deref(), ctl)?;
        let new_users: Vec<u32> = (0..users.ids.len() as u32).collect();
        top.into_batch(
            Queries::Codes(&users.ids, &new_users),
            [user_col, &self.data.item_col],
            &self.data.items,
        )
    }

    /// Why `user` gets its score for `item` (one id each): a table of the
    /// sources, the largest contribution first (the first `n` when given),
    /// named by the user's items (item column) or, for the repeat-aware
    /// model, by customers (user column, with each one's `reason`), with
    /// `contribution` and `share` (of the score).
    pub fn explain_ids(
        &self,
        user: &Column,
        item: &Column,
        n: Option<usize>,
    ) -> Result<RecordBatch> {
        let one = |column: &Column, ids: &IdMap, name: &str| -> Result<u32> {
            match ids.lookup(column)?.as_slice() {
                [Some(code)] => Ok(*code),
                [None] => Err(Error::argument(name, "was not seen in training")),
                _ => Err(Error::argument(name, "must be one id")),
            }
        };
        let (u, i) = (
            one(user, &self.data.users, "user")?,
            one(item, &self.data.items, "item")?,
        );
        let mut e = self.explain(u, i)?;
        e.contributions.truncate(n.unwrap_or(usize::MAX));
        let codes: Vec<u32> = e.contributions.iter().map(|c| c.0).collect();
        let amounts: Float32Array = e.contributions.iter().map(|c| Some(c.1)).collect();
        let shares: Float32Array = e
            .contributions
            .iter()
            .map(|c| (e.score != 0.0).then(|| c.1 / e.score))
            .collect();
        let d = &self.data;
        let (name, ids) = match e.source {
            Source::Items => (&d.item_col, &d.items),
            Source::Customers => (&d.user_col, &d.users),
        };
        let mut columns: Vec<(String, ArrayRef)> = vec![
            (name.clone(), ids.take(&codes)),
            ("contribution".into(), Arc::new(amounts)),
            ("share".into(), Arc::new(shares)),
        ];
        if let Model::RepeatAware(model) = &self.model {
            let reason: StringArray = codes
                .iter()
                .map(|&c| model.reason(&d.matrix, c as usize, i))
                .collect();
            columns.push(("reason".into(), Arc::new(reason)));
        }
        table::record_batch(columns)
    }

    /// The `n` items most similar to each given item: a table (item,
    /// similar_item, score, rank).
    pub fn similar_items_ids(
        &self,
        items: &Column,
        n: usize,
        candidates: Option<&Column>,
        ctl: &Control,
    ) -> Result<RecordBatch> {
        let allowed = self.allowed(candidates)?;
        let codes = self.data.items.lookup(items)?;
        let top = self.similar_items(&codes, n, allowed.as_deref(), ctl)?;
        let names = [self.data.item_col.as_str(), "similar_item"];
        top.into_batch(Queries::Given(items), names, &self.data.items)
    }

    /// The `n` users most similar to each given user: a table (user,
    /// similar_user, score, rank).
    pub fn similar_users_ids(
        &self,
        users: &Column,
        n: usize,
        ctl: &Control,
    ) -> Result<RecordBatch> {
        let codes = self.data.users.lookup(users)?;
        let top = self.similar_users(&codes, n, ctl)?;
        let names = [self.data.user_col.as_str(), "similar_user"];
        top.into_batch(Queries::Given(users), names, &self.data.users)
    }

    /// Recommend `k` items under `rule` to every test user and score them
    /// against the test items (test items the model never saw still count
    /// as relevant), with the hits split by whether the user had the item
    /// in training.
    #[allow(clippy::too_many_arguments)]
    pub fn evaluate(
        &self,
        test: &Table,
        user_col: &str,
        item_col: &str,
        k: usize,
        rule: SeenItems,
        unknown: UnknownTestUsers,
        ctl: &Control,
    ) -> Result<Evaluation> {
        let test_users = test.column(user_col)?;
        if test_users.is_empty() {
            return Err(Error::empty("the test set has no rows"));
        }
        let users = IdMap::encode(&test_users)?;
        let known = self.data.users.translate(&users.ids, user_col)?;
        let evaluated: Vec<Option<u32>> = match unknown {
            UnknownTestUsers::Skip => known.iter().map(|k| k.map(|_| 0)).collect(),
            UnknownTestUsers::Popular => vec![Some(0); known.len()],
        };
        // Number the evaluated test users 0.. in code order.
        let mut position = vec![None; known.len()];
        let mut queries = Vec::new();
        for (c, keep) in evaluated.iter().enumerate() {
            if keep.is_some() {
                position[c] = Some(queries.len() as u32);
                queries.push(known[c]);
            }
        }
        let items = IdMap::encode(&test.column(item_col)?)?;
        let n_items = self.n_items() as u32;
        let found = self.data.items.translate(&items.ids, item_col)?;
        let item_codes: Vec<u32> = items
            .codes
            .iter()
            .map(|&c| found[c as usize].unwrap_or(n_items + c))
            .collect();
        let row_users: Vec<Option<u32>> =
            users.codes.iter().map(|&c| position[c as usize]).collect();
        let relevant = metrics::relevant_lists(&row_users, &item_codes, queries.len());
        let catalogue = Catalogue {
            n_items: self.n_items(),
            n_outside: found.iter().filter(|f| f.is_none()).count(),
        };
        let top = self.recommend(&queries, k, rule, None, Unknown::Popular, ctl)?;
        let recommended: Vec<Vec<u32>> = top
            .offsets
            .windows(2)
            .map(|w| top.item[w[0]..w[1]].to_vec())
            .collect();
        let (repeat_hits, hits) = recommended
            .par_iter()
            .zip(&relevant)
            .zip(&queries)
            .map(|((list, relevant), user)| {
                let seen = user.map_or(&[][..], |u| self.data.matrix.row(u as usize).0);
                let hits = list.iter().filter(|i| relevant.binary_search(i).is_ok());
                hits.fold((0, 0), |(repeat, all), i| {
                    (repeat + seen.binary_search(i).is_ok() as usize, all + 1)
                })
            })
            .reduce(|| (0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
        Ok(Evaluation {
            metrics: metrics::ranking_metrics(&recommended, &relevant, k, catalogue)?,
            repeat_hits,
            new_hits: hits - repeat_hits,
        })
    }
}
