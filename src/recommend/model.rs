//! A fitted recommender: the training interactions, the model, and serving
//! top-n lists (for known users, and for new users from their items), all
//! parallel over the queried users; similar items and users are in
//! [`similar`](super::similar), explanations in [`explain`](super::explain).

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::als::{self, AlsParams};
use super::bpr::{self, BprParams};
use super::ease::Ease;
use super::factors::{Factors, Panels, BLOCK_USERS};
use super::interactions::Interactions;
use super::knn::{self, ItemKnn, KnnParams, Rp3Params};
use super::repeat::{self, RepeatAware, RepeatParams};
use super::sparse::{Csr, SparseAccumulator};
use super::topn::{top_n_dense, top_n_pairs, TopCollector, TopN};
use crate::control::Control;
use crate::error::{Error, Result};
use crate::persist::{self, Persist};
use crate::spec::{Params, Spec};
use crate::table::Table;

/// The contract of `patronage.recommend.Popularity` (no parameters).
pub static POPULARITY: Spec = Spec {
    name: "Popularity",
    params: &[],
    columns: &[],
    fitted: &[],
};

/// The recommenders, named by their specs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelKind {
    Popularity,
    ItemKnn,
    Rp3Beta,
    Als,
    Bpr,
    Ease,
    RepeatAware,
}

impl ModelKind {
    pub const ALL: [ModelKind; 7] = [
        ModelKind::Popularity,
        ModelKind::ItemKnn,
        ModelKind::Rp3Beta,
        ModelKind::Als,
        ModelKind::Bpr,
        ModelKind::Ease,
        ModelKind::RepeatAware,
    ];

    pub fn spec(self) -> &'static Spec {
        match self {
            ModelKind::Popularity => &POPULARITY,
            ModelKind::ItemKnn => &knn::SPEC,
            ModelKind::Rp3Beta => &knn::RP3_SPEC,
            ModelKind::Als => &als::SPEC,
            ModelKind::Bpr => &bpr::SPEC,
            ModelKind::Ease => &super::ease::SPEC,
            ModelKind::RepeatAware => &repeat::SPEC,
        }
    }

    pub fn name(self) -> &'static str {
        self.spec().name
    }

    /// The recommender named `name` (the Python class name).
    pub fn parse(name: &str) -> Result<Self> {
        ModelKind::ALL
            .into_iter()
            .find(|k| k.name() == name)
            .ok_or_else(|| Error::argument("model", format!("{name:?} is not a recommender")))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Model {
    Popularity,
    ItemKnn(ItemKnn),
    Als(Factors),
    Bpr(Factors),
    Ease(Ease),
    /// An item-item similarity too, from random walks (served as item-kNN);
    /// last, so the variants before keep their place in saved bytes.
    Rp3Beta(ItemKnn),
    RepeatAware(RepeatAware),
}

impl Model {
    /// Fit the model of `params`' spec on the user × item matrix.
    pub fn fit(kind: ModelKind, params: &Params, m: &Csr, ctl: &Control) -> Result<Model> {
        debug_assert_eq!(params.spec().name, kind.name());
        Ok(match kind {
            ModelKind::Popularity => Model::Popularity,
            ModelKind::ItemKnn => {
                Model::ItemKnn(ItemKnn::fit(m, KnnParams::from_params(params), ctl)?)
            }
            ModelKind::Rp3Beta => Model::Rp3Beta(ItemKnn::fit_rp3beta(
                m,
                Rp3Params::from_params(params),
                ctl,
            )?),
            ModelKind::Als => Model::Als(als::fit(m, AlsParams::from_params(params), ctl)?),
            ModelKind::Bpr => Model::Bpr(bpr::fit(m, BprParams::from_params(params), ctl)?),
            ModelKind::Ease => Model::Ease(Ease::fit(m, params, ctl)?),
            ModelKind::RepeatAware => {
                return Err(Error::unsupported(
                    kind.name(),
                    "needs purchase times: fit it on a transaction log with a time column",
                ))
            }
        })
    }

    pub fn kind(&self) -> ModelKind {
        match self {
            Model::Popularity => ModelKind::Popularity,
            Model::ItemKnn(_) => ModelKind::ItemKnn,
            Model::Rp3Beta(_) => ModelKind::Rp3Beta,
            Model::Als(_) => ModelKind::Als,
            Model::Bpr(_) => ModelKind::Bpr,
            Model::Ease(_) => ModelKind::Ease,
            Model::RepeatAware(_) => ModelKind::RepeatAware,
        }
    }

    pub fn factors(&self) -> Option<&Factors> {
        match self {
            Model::Als(f) | Model::Bpr(f) => Some(f),
            _ => None,
        }
    }

    /// The item-item similarity of the models that score by one.
    pub fn neighbours(&self) -> Option<&ItemKnn> {
        match self {
            Model::ItemKnn(knn) | Model::Rp3Beta(knn) => Some(knn),
            _ => None,
        }
    }
}

/// What to do with users the model cannot score (not in training, or with no
/// interactions there).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unknown {
    Error,
    Popular,
}

impl Unknown {
    pub fn parse(value: &str) -> Result<Self> {
        match value {
            "error" => Ok(Unknown::Error),
            "popular" => Ok(Unknown::Popular),
            other => Err(Error::argument(
                "unknown_users",
                format!("must be 'error' or 'popular', got '{other}'"),
            )),
        }
    }
}

/// What a list does with the items its user has in training.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeenItems {
    /// Ranked with the others ("replenish").
    Allowed,
    /// Left out ("discover", `exclude_seen`).
    Excluded,
    /// Half the list, rounded up, for the best seen items and the rest for
    /// the best unseen ones, in score order; a side short of candidates
    /// leaves its places to the other ("mix").
    Mixed,
}

impl SeenItems {
    pub fn excluded_if(exclude_seen: bool) -> Self {
        if exclude_seen {
            SeenItems::Excluded
        } else {
            SeenItems::Allowed
        }
    }

    /// The mode of a repeat-aware list: "replenish", "discover" or "mix".
    pub fn parse_mode(mode: &str) -> Result<Self> {
        match mode {
            "replenish" => Ok(SeenItems::Allowed),
            "discover" => Ok(SeenItems::Excluded),
            "mix" => Ok(SeenItems::Mixed),
            other => Err(Error::argument(
                "mode",
                format!("must be 'replenish', 'discover' or 'mix', got '{other}'"),
            )),
        }
    }

    /// The list of [`SeenItems::Mixed`] from the best `n` seen (`repeats`)
    /// and unseen (`new`) candidates, each best first.
    fn mix(repeats: Vec<(u32, f32)>, new: Vec<(u32, f32)>, n: usize) -> Vec<(u32, f32)> {
        let n_repeats = repeats
            .len()
            .min(n.div_ceil(2).max(n.saturating_sub(new.len())));
        let n_new = new.len().min(n - n_repeats);
        let chosen = repeats[..n_repeats]
            .iter()
            .chain(&new[..n_new])
            .copied()
            .collect();
        top_n_pairs(chosen, n)
    }
}

/// Per-thread scratch for scoring one user.
struct Scratch {
    dense: Vec<f32>,
    sparse: SparseAccumulator,
}

/// Whom to score: a training user, or a history of items.
#[derive(Clone, Copy)]
enum Who<'a> {
    User(usize),
    History(&'a [u32], &'a [f32]),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recommender {
    /// Shared with the interactions object it was fitted on (no copy).
    #[serde(with = "shared")]
    pub data: Arc<Interactions>,
    /// Number of users who have each item.
    pub popularity: Vec<f32>,
    pub model: Model,
}

impl Recommender {
    pub fn new(data: Arc<Interactions>, model: Model) -> Self {
        let popularity = data
            .matrix
            .column_counts()
            .into_iter()
            .map(|c| c as f32)
            .collect();
        Recommender {
            data,
            popularity,
            model,
        }
    }

    /// Fit the repeat-aware model (parameters checked against its spec) on a
    /// transaction log with purchase times.
    pub fn fit_repeat_aware(
        log: &Table,
        user_col: &str,
        item_col: &str,
        time_col: &str,
        params: &Params,
        ctl: &Control,
    ) -> Result<Self> {
        debug_assert_eq!(params.spec().name, ModelKind::RepeatAware.name());
        let p = RepeatParams::from_params(params);
        let (data, model) = RepeatAware::fit(log, user_col, item_col, time_col, p, ctl)?;
        Ok(Recommender::new(Arc::new(data), Model::RepeatAware(model)))
    }

    /// Fit the model of `kind` (parameters checked against its spec) on `data`.
    pub fn fit(
        data: Arc<Interactions>,
        kind: ModelKind,
        params: &Params,
        ctl: &Control,
    ) -> Result<Self> {
        let model = Model::fit(kind, params, &data.matrix, ctl)?;
        Ok(Recommender::new(data, model))
    }

    pub fn n_items(&self) -> usize {
        self.data.matrix.n_cols
    }

    pub fn n_users(&self) -> usize {
        self.data.matrix.n_rows
    }

    fn scratch(&self) -> Scratch {
        Scratch {
            dense: vec![0.0; self.n_items()],
            sparse: SparseAccumulator::new(self.n_items()),
        }
    }

    /// Top `n` for users given by code (`None`: not in training).
    pub fn recommend(
        &self,
        users: &[Option<u32>],
        n: usize,
        rule: SeenItems,
        allowed: Option<&[bool]>,
        unknown: Unknown,
        ctl: &Control,
    ) -> Result<TopN> {
        // No list is longer than the catalogue (and n sizes buffers).
        let n = n.min(self.n_items());
        let m = &self.data.matrix;
        if unknown == Unknown::Error {
            if let Some(pos) = users.iter().position(|u| u.is_none()) {
                return Err(Error::argument(
                    "users",
                    format!(
                        "has {} id(s) not seen in training (the first at position {pos}); pass \
                         unknown_users='popular' to recommend popular items to them, or use \
                         recommend_new with their items",
                        users.iter().filter(|u| u.is_none()).count()
                    ),
                ));
            }
            if let Some(pos) = users
                .iter()
                .position(|u| u.is_some_and(|u| m.row_len(u as usize) == 0))
            {
                return Err(Error::argument(
                    "users",
                    format!(
                        "has user(s) with no interactions in training (the first at position \
                         {pos}); pass unknown_users='popular' to recommend popular items to them"
                    ),
                ));
            }
        }
        if let Some(f) = self.model.factors() {
            return self.recommend_factors(f, users, n, rule, allowed, ctl);
        }
        let width = n.min(self.n_items());
        TopN::gather_each(
            users.len(),
            width,
            ctl,
            || self.scratch(),
            |scratch, q| match users[q] {
                Some(u) if m.row_len(u as usize) > 0 => {
                    let seen = m.row(u as usize).0;
                    self.top(Who::User(u as usize), n, rule, seen, allowed, scratch)
                }
                _ => self.popular(n, allowed),
            },
        )
    }

    /// Factor models score four users at a time against packed item panels.
    fn recommend_factors(
        &self,
        f: &Factors,
        users: &[Option<u32>],
        n: usize,
        rule: SeenItems,
        allowed: Option<&[bool]>,
        ctl: &Control,
    ) -> Result<TopN> {
        let m = &self.data.matrix;
        let panels = Panels::new(&f.item, f.n_factors);
        let n_items = panels.n_items();
        let zero = vec![0f32; f.n_factors];
        let scorable = |user: &Option<u32>| user.filter(|&u| m.row_len(u as usize) > 0);
        TopN::gather(
            users.len(),
            BLOCK_USERS,
            n.min(n_items),
            ctl,
            || vec![0f32; BLOCK_USERS * n_items],
            |scores, range| {
                let chunk = &users[range];
                {
                    let xs: [&[f32]; BLOCK_USERS] =
                        std::array::from_fn(|r| match chunk.get(r).and_then(scorable) {
                            Some(u) => f.user_row(u as usize),
                            None => &zero,
                        });
                    panels.score_block(xs, scores);
                    chunk
                        .iter()
                        .enumerate()
                        .map(|(r, user)| match scorable(user) {
                            Some(u) => {
                                let seen = m.row(u as usize).0;
                                let s = &mut scores[r * n_items..(r + 1) * n_items];
                                self.best_dense(n, rule, seen, allowed, s)
                            }
                            None => self.popular(n, allowed),
                        })
                        .collect::<Vec<_>>()
                }
            },
        )
    }

    /// Top `n` for users not in training, from their items (rows of `histories`,
    /// item codes of this model).  Factor models fold the user in by least
    /// squares; item-based models score the items directly.
    pub fn recommend_new(
        &self,
        histories: &Csr,
        n: usize,
        exclude_seen: bool,
        allowed: Option<&[bool]>,
        ctl: &Control,
    ) -> Result<TopN> {
        if let Model::RepeatAware(_) = self.model {
            return Err(Error::unsupported(
                self.model_name(),
                "scores customers from their purchases in time: refit with the new customers' \
                 purchases to recommend to them",
            ));
        }
        let n = n.min(self.n_items());
        let rule = SeenItems::excluded_if(exclude_seen);
        let yty = self.model.factors().map(|f| f.item_gram());
        TopN::gather_each(
            histories.n_rows,
            n.min(self.n_items()),
            ctl,
            || self.scratch(),
            |scratch, r| {
                let (items, weights) = histories.row(r);
                if items.is_empty() {
                    return self.popular(n, allowed);
                }
                if let (Some(f), Some(yty)) = (self.model.factors(), &yty) {
                    let x = f.fold_in(yty, items, weights);
                    f.score_into(&x, &mut scratch.dense);
                    return self.best_dense(n, rule, items, allowed, &mut scratch.dense);
                }
                let who = Who::History(items, weights);
                self.top(who, n, rule, items, allowed, scratch)
            },
        )
    }

    /// The most popular items, for users the model cannot score.
    fn popular(&self, n: usize, allowed: Option<&[bool]>) -> Vec<(u32, f32)> {
        top_n_dense(&self.popularity, n, |i| {
            allowed.map_or(true, |a| a[i as usize])
        })
    }

    /// Top `n` for `who`, whose items are `seen` (sorted), under `rule`.
    fn top(
        &self,
        who: Who<'_>,
        n: usize,
        rule: SeenItems,
        seen: &[u32],
        allowed: Option<&[bool]>,
        scratch: &mut Scratch,
    ) -> Vec<(u32, f32)> {
        let history = |who: Who<'_>| -> (Vec<u32>, Vec<f32>) {
            match who {
                Who::User(u) => {
                    let (i, w) = self.data.matrix.row(u);
                    (i.to_vec(), w.to_vec())
                }
                Who::History(i, w) => (i.to_vec(), w.to_vec()),
            }
        };
        match &self.model {
            Model::Popularity => {
                scratch.dense.copy_from_slice(&self.popularity);
                self.best_dense(n, rule, seen, allowed, &mut scratch.dense)
            }
            Model::ItemKnn(knn) | Model::Rp3Beta(knn) => {
                let (items, weights) = match who {
                    Who::User(u) => self.data.matrix.row(u),
                    Who::History(i, w) => (i, w),
                };
                knn.score(items, weights, &mut scratch.sparse);
                best_sparse(n, rule, seen, allowed, &mut scratch.sparse)
            }
            Model::RepeatAware(model) => {
                let Who::User(u) = who else {
                    unreachable!("recommend_new refuses the repeat-aware model")
                };
                model.score(u, &mut scratch.sparse);
                best_sparse(n, rule, seen, allowed, &mut scratch.sparse)
            }
            Model::Ease(ease) => {
                let (items, weights) = history(who);
                ease.score_into(&items, &weights, &mut scratch.dense);
                self.best_dense(n, rule, seen, allowed, &mut scratch.dense)
            }
            Model::Als(f) | Model::Bpr(f) => {
                let Who::User(u) = who else {
                    unreachable!("factor models fold histories in before scoring")
                };
                f.score_into(f.user_row(u), &mut scratch.dense);
                self.best_dense(n, rule, seen, allowed, &mut scratch.dense)
            }
        }
    }

    /// Top `n` of dense `scores` (overwritten) under `rule`, `seen` sorted.
    fn best_dense(
        &self,
        n: usize,
        rule: SeenItems,
        seen: &[u32],
        allowed: Option<&[bool]>,
        scores: &mut [f32],
    ) -> Vec<(u32, f32)> {
        let ok = |i: u32| allowed.map_or(true, |a| a[i as usize]);
        let repeats = match rule {
            SeenItems::Allowed => return top_n_dense(scores, n, ok),
            SeenItems::Excluded => Vec::new(),
            SeenItems::Mixed => {
                let candidates = seen.iter().filter(|&&i| ok(i));
                top_n_pairs(candidates.map(|&i| (i, scores[i as usize])).collect(), n)
            }
        };
        // Seen items sink below every other, so selection skips them fast.
        for &i in seen {
            scores[i as usize] = f32::NEG_INFINITY;
        }
        let new = top_n_dense(scores, n, |i| {
            scores[i as usize] != f32::NEG_INFINITY && ok(i)
        });
        match rule {
            SeenItems::Mixed => SeenItems::mix(repeats, new, n),
            _ => new,
        }
    }

    pub fn model_name(&self) -> &'static str {
        self.model.kind().name()
    }
}

impl Persist for Recommender {
    fn kind(&self) -> String {
        format!("recommend.{}", self.model_name())
    }

    fn accepts_kind(kind: &str) -> bool {
        kind.strip_prefix("recommend.")
            .is_some_and(|name| ModelKind::parse(name).is_ok())
    }

    fn expected() -> String {
        "a recommender (recommend.ALS, recommend.ItemKNN, ...)".into()
    }

    /// Every index and length serving relies on.
    fn validate(&self) -> Result<()> {
        self.data.validate_parts()?;
        let (n_users, n_items) = (self.n_users(), self.n_items());
        persist::require(
            self.popularity.len() == n_items
                && self.popularity.iter().all(|p| p.is_finite() && *p >= 0.0),
            || "the item popularity is malformed".into(),
        )?;
        match &self.model {
            Model::Popularity => Ok(()),
            Model::ItemKnn(knn) | Model::Rp3Beta(knn) => knn.validate(n_items),
            Model::Als(f) | Model::Bpr(f) => f.validate(n_users, n_items),
            Model::Ease(e) => e.validate(n_items),
            Model::RepeatAware(r) => r.validate(&self.data.matrix),
        }
    }
}

/// Top `n` of the scores accumulated in `acc` (drained) under `rule`,
/// `seen` sorted.
fn best_sparse(
    n: usize,
    rule: SeenItems,
    seen: &[u32],
    allowed: Option<&[bool]>,
    acc: &mut SparseAccumulator,
) -> Vec<(u32, f32)> {
    let (mut repeats, mut new) = (TopCollector::new(n), TopCollector::new(n));
    acc.drain_into(
        |_, s, _| s,
        |i, s| {
            if !allowed.map_or(true, |a| a[i as usize]) {
                return;
            }
            let is_seen = seen.binary_search(&i).is_ok();
            match rule {
                SeenItems::Allowed => new.push(i, s),
                SeenItems::Excluded if is_seen => {}
                SeenItems::Mixed if is_seen => repeats.push(i, s),
                _ => new.push(i, s),
            }
        },
    );
    match rule {
        SeenItems::Mixed => SeenItems::mix(repeats.finish(), new.finish(), n),
        _ => new.finish(),
    }
}

/// Serde for the shared interactions: written and read as a plain value.
mod shared {
    use std::sync::Arc;

    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use super::Interactions;

    pub fn serialize<S: Serializer>(value: &Arc<Interactions>, s: S) -> Result<S::Ok, S::Error> {
        value.as_ref().serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Arc<Interactions>, D::Error> {
        Interactions::deserialize(d).map(Arc::new)
    }
}

#[cfg(test)]
mod tests {
    use super::SeenItems;

    #[test]
    fn mix_halves_the_list_and_lends_places_a_side_cannot_fill() {
        let repeats = vec![(1, 0.9), (2, 0.5), (3, 0.4)];
        let new = vec![(7, 0.6), (8, 0.3), (9, 0.2)];
        let mixed = SeenItems::mix(repeats.clone(), new.clone(), 3);
        assert_eq!(mixed, [(1, 0.9), (7, 0.6), (2, 0.5)]);
        // One new candidate: repeats take its empty places.
        let mixed = SeenItems::mix(repeats.clone(), new[..1].to_vec(), 4);
        assert_eq!(mixed, [(1, 0.9), (7, 0.6), (2, 0.5), (3, 0.4)]);
        // No repeats: every place goes to new items.
        assert_eq!(SeenItems::mix(Vec::new(), new.clone(), 2), new[..2]);
    }
}
