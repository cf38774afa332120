//! Why a model scores an item for a user: the score split into what each
//! source adds.  Item-based models (ItemKNN, RP3Beta, EASE) add one term per
//! item of the user; ALS does too once the user's factor is written as the
//! least-squares solution `x = A⁻¹ Σ c_j y_j`, so item `i` scores
//! `Σ_j c_j y_jᵀ A⁻¹ y_i` (implicit's `explain`); the repeat-aware model adds
//! the customer's own history and each neighbour's.

use rayon::prelude::*;

use super::ease::Ease;
use super::factors::Factors;
use super::knn::ItemKnn;
use super::model::{Model, Recommender};
use super::repeat::RepeatAware;
use super::topn::TopN;
use crate::control::Control;
use crate::error::{Error, Result};

use faer::linalg::solvers::Solve;
use faer::ColRef;

/// What the sources of a model's scores are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The user's items (codes of the item map).
    Items,
    /// Customers: the user and their neighbours (codes of the user map).
    Customers,
}

/// A score split by source, the largest contribution first.
#[derive(Debug, Clone, PartialEq)]
pub struct Explanation {
    pub source: Source,
    pub contributions: Vec<(u32, f32)>,
    /// The sum of the contributions: the model's score (ALS: with the
    /// user's factor solved exactly against the final item factors, which
    /// the served one approaches as the fit converges).
    pub score: f32,
}

/// A model's scores made explainable, prepared once for many users.
enum Explainer<'a> {
    Neighbours(&'a ItemKnn),
    Ease(&'a Ease),
    /// The factors and their weighted Gram matrix.
    Als(&'a Factors, Vec<f32>),
    Repeat(&'a RepeatAware),
}

impl Explainer<'_> {
    fn source(&self) -> Source {
        match self {
            Explainer::Repeat(_) => Source::Customers,
            _ => Source::Items,
        }
    }
}

impl Recommender {
    fn explainer(&self) -> Result<Explainer<'_>> {
        Ok(match &self.model {
            Model::ItemKnn(knn) | Model::Rp3Beta(knn) => Explainer::Neighbours(knn),
            Model::Ease(ease) => Explainer::Ease(ease),
            Model::Als(f) => Explainer::Als(f, f.item_gram()),
            Model::RepeatAware(model) => Explainer::Repeat(model),
            Model::Popularity | Model::Bpr(_) => {
                return Err(Error::unsupported(
                    self.model_name(),
                    "has no additive explanation of its scores (given for ItemKNN, RP3Beta, \
                     EASE, ALS and RepeatAware)",
                ))
            }
        })
    }

    /// What each source adds to the score of each of `targets` for training
    /// user `user`, in the order of the sources (zero terms left out).
    fn contributions(&self, ex: &Explainer, user: usize, targets: &[u32]) -> Vec<Vec<(u32, f32)>> {
        let (items, weights) = self.data.matrix.row(user);
        let mut out = vec![Vec::new(); targets.len()];
        let mut push = |t: usize, source: u32, amount: f32| {
            if amount != 0.0 {
                out[t].push((source, amount));
            }
        };
        match ex {
            Explainer::Neighbours(knn) => {
                for (&j, &w) in items.iter().zip(weights) {
                    let (nbrs, sims) = knn.similarity.row(j as usize);
                    for (&i, &s) in nbrs.iter().zip(sims) {
                        if let Some(t) = targets.iter().position(|&target| target == i) {
                            push(t, j, w * s);
                        }
                    }
                }
            }
            Explainer::Ease(ease) => {
                for (t, &i) in targets.iter().enumerate() {
                    for (&j, &w) in items.iter().zip(weights) {
                        push(t, j, (w as f64 * ease.weight(j, i)) as f32);
                    }
                }
            }
            Explainer::Als(f, yty) => {
                let Some(ls) = f.least_squares(yty, items, weights) else {
                    return out;
                };
                for (t, &i) in targets.iter().enumerate() {
                    let y_i: Vec<f64> = f.item_row(i as usize).iter().map(|&v| v as f64).collect();
                    let v = ls.llt.solve(ColRef::from_slice(&y_i));
                    for (&j, &w) in items.iter().zip(weights) {
                        let y_j = f.item_row(j as usize);
                        let dot: f64 = y_j.iter().zip(v.iter()).map(|(&a, &b)| a as f64 * b).sum();
                        push(t, j, (f.confidence(w) as f64 * dot) as f32);
                    }
                }
            }
            Explainer::Repeat(model) => {
                for (t, &i) in targets.iter().enumerate() {
                    for (customer, share) in model.blend(user) {
                        push(t, customer, share * model.weight(customer as usize, i));
                    }
                }
            }
        }
        out
    }

    /// Why `user` (a training user's code) gets score for `item`: every
    /// source's contribution, the largest first.
    pub fn explain(&self, user: u32, item: u32) -> Result<Explanation> {
        let ex = self.explainer()?;
        if self.data.matrix.row_len(user as usize) == 0 {
            return Err(Error::argument(
                "user",
                "has no interactions in training: the model scores it by popularity",
            ));
        }
        let mut contributions = self
            .contributions(&ex, user as usize, &[item])
            .swap_remove(0);
        contributions.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        let score = contributions.iter().map(|&(_, a)| a as f64).sum::<f64>() as f32;
        Ok(Explanation {
            source: ex.source(),
            contributions,
            score,
        })
    }

    /// Why each entry of `top` (the lists of `users`) was recommended: the
    /// user's item that adds most to its score and the share of the score
    /// it adds (`None` where a list came from popularity or nothing adds).
    pub fn reasons(
        &self,
        top: &TopN,
        users: &[Option<u32>],
        ctl: &Control,
    ) -> Result<Vec<Option<(u32, f32)>>> {
        let ex = self.explainer()?;
        debug_assert_eq!(
            ex.source(),
            Source::Items,
            "repeats have reasons of their own"
        );
        let m = &self.data.matrix;
        let reasons = (0..users.len())
            .into_par_iter()
            .flat_map_iter(|q| {
                let targets = &top.item[top.offsets[q]..top.offsets[q + 1]];
                let contributions = match users[q] {
                    Some(u) if !ctl.cancelled() && m.row_len(u as usize) > 0 => {
                        self.contributions(&ex, u as usize, targets)
                    }
                    _ => vec![Vec::new(); targets.len()],
                };
                contributions.into_iter().map(|terms| {
                    let total: f32 = terms.iter().map(|t| t.1).sum();
                    // The first of equal contributions, in the user's item order.
                    let most = terms
                        .into_iter()
                        .reduce(|a, b| if b.1 > a.1 { b } else { a });
                    most.filter(|_| total > 0.0)
                        .map(|(j, adds)| (j, adds / total))
                })
            })
            .collect();
        ctl.check()?;
        Ok(reasons)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::recommend::model::ModelKind;
    use crate::recommend::{als, ease, knn, Interactions};
    use crate::spec::Value;

    /// Users ann, bob, cat, dan; items x, y, z, w = 0..4.
    fn interactions() -> Arc<Interactions> {
        let indptr = [0, 2, 4, 7, 8];
        let indices = [0, 1, 1, 2, 0, 2, 3, 0];
        let data = [1.0, 2.0, 1.0, 1.0, 3.0, 1.0, 1.0, 1.0];
        Arc::new(Interactions::from_scipy((4, 4), &indptr, &indices, &data).unwrap())
    }

    fn fitted(kind: ModelKind, given: &[(&str, Value)]) -> Recommender {
        let spec = match kind {
            ModelKind::ItemKnn => &knn::SPEC,
            ModelKind::Als => &als::SPEC,
            _ => &ease::SPEC,
        };
        let given = given
            .iter()
            .map(|(n, v)| (n.to_string(), v.clone()))
            .collect();
        let params = spec.check(given).unwrap();
        Recommender::fit(interactions(), kind, &params, &Control::new()).unwrap()
    }

    fn score(model: &Recommender, user: u32, item: u32) -> f32 {
        let top = model
            .recommend(
                &[Some(user)],
                4,
                crate::recommend::SeenItems::Allowed,
                None,
                crate::recommend::Unknown::Error,
                &Control::new(),
            )
            .unwrap();
        let k = top.item.iter().position(|&i| i == item).unwrap();
        top.score[k]
    }

    #[test]
    fn knn_contributions_are_weight_times_similarity() {
        // Cosines with z: x·z = 3/√22 ≈ 0.64, y·z = 1/√10 ≈ 0.32; ann has
        // x (weight 1) and y (weight 2), so x adds 0.64 and y 0.63.
        let model = fitted(ModelKind::ItemKnn, &[]);
        let (x, y, z) = (0, 1, 2);
        let e = model.explain(0, z).unwrap();
        let (from_x, from_y) = (3.0 / 22f32.sqrt(), 2.0 / 10f32.sqrt());
        assert_eq!(e.source, Source::Items);
        assert_eq!(e.contributions[0].0, x);
        assert!((e.contributions[0].1 - from_x).abs() < 1e-5);
        assert_eq!(e.contributions[1].0, y);
        assert!((e.contributions[1].1 - from_y).abs() < 1e-5);
        assert!((e.score - score(&model, 0, z)).abs() < 1e-5);
    }

    #[test]
    fn contributions_sum_to_the_score() {
        let ease = fitted(ModelKind::Ease, &[("regularization", Value::Float(1.0))]);
        let als = fitted(
            ModelKind::Als,
            &[
                ("factors", Value::Int(3)),
                ("iterations", Value::Int(30)),
                ("regularization", Value::Float(0.1)),
            ],
        );
        for user in 0..4 {
            for item in 0..4 {
                let e = ease.explain(user, item).unwrap();
                assert!((e.score - score(&ease, user, item)).abs() < 1e-5);
                // ALS serves the factor of the fit's last CG steps, against
                // the item factors before their last update; the
                // explanation solves against the final ones, so the two
                // agree as far as the fit has converged.
                let e = als.explain(user, item).unwrap();
                let sum: f32 = e.contributions.iter().map(|c| c.1).sum();
                assert!((e.score - sum).abs() < 1e-6);
                let served = score(&als, user, item);
                // (Preferences are 0 or 1: scores live on that scale.)
                assert!((e.score - served).abs() < 5e-3, "{} vs {served}", e.score);
            }
        }
    }
}
