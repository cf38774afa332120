//! Isolation forest (Liu, Ting & Zhou 2008), following scikit-learn.
//!
//! Each tree is grown on a sub-sample of `max_samples` rows drawn without
//! replacement, over `max_features` features drawn per tree, to depth
//! `ceil(log2(max_samples))`.  A node splits on a feature drawn uniformly among
//! those not constant in the node, at a threshold uniform between the node's
//! minimum and maximum (rows `<= threshold` go left), as scikit-learn's
//! `ExtraTreeRegressor(max_features=1)` does.  The path length of a row is the
//! depth of its leaf plus `c(leaf size)`, the average path length of an
//! unsuccessful search in a binary search tree of that size; the score is
//! `-2^(-mean path / c(max_samples))` (scikit-learn's `score_samples`, higher
//! is more normal, in `[-1, 0]`).

use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::{percentile, require_n_features, require_training_data, stream_seed, Matrix};
use crate::control::Control;
use crate::error::Result;
use crate::persist::{self, Persist};
use crate::spec::{self, Accept, Literal, Param, Params, Spec, Value};

/// The contract of `patronage.anomaly.IsolationForest` (scikit-learn's
/// parameters and meanings).
pub static SPEC: Spec = Spec {
    name: "IsolationForest",
    params: &[
        Param {
            name: "n_estimators",
            default: Literal::Int(100),
            // Each tree takes tens of kB: a million would not fit in memory.
            accepts: &[Accept::Int {
                min: 1,
                max: 100_000,
            }],
            unit: "trees",
            doc: "number of trees",
        },
        Param {
            name: "max_samples",
            default: Literal::Str("auto"),
            accepts: &[
                Accept::Word(&["auto"]),
                Accept::int_from(1),
                Accept::in_open_closed(0.0, 1.0),
            ],
            unit: "",
            doc: "rows per tree: 'auto' (min(256, n_samples)), a count (more than n_samples \
                  warns and uses all rows), or a float share of the rows",
        },
        Param {
            name: "contamination",
            default: Literal::Str("auto"),
            accepts: &[Accept::Word(&["auto"]), Accept::in_open_closed(0.0, 0.5)],
            unit: "",
            doc: "'auto' (offset -0.5) or the expected share of outliers",
        },
        Param {
            name: "max_features",
            default: Literal::Float(1.0),
            accepts: &[Accept::int_from(1), Accept::in_open_closed(0.0, 1.0)],
            unit: "",
            doc: "features per tree: a count or a float share of the features",
        },
        Param {
            name: "bootstrap",
            default: Literal::Bool(false),
            accepts: &[Accept::Bool],
            unit: "",
            doc: "draw each tree's rows with replacement",
        },
        spec::RANDOM_STATE,
        spec::N_JOBS,
    ],
    columns: &[],
    fitted: &[],
};

/// scikit-learn treats a feature as constant in a node below this range.
const FEATURE_THRESHOLD: f64 = 1e-7;
const EULER_GAMMA: f64 = 0.577_215_664_901_532_9;

/// `c(n)`: average path length of an unsuccessful search in a binary search
/// tree of `n` points (scikit-learn's `_average_path_length`).
pub fn average_path_length(n: usize) -> f64 {
    match n {
        0 | 1 => 0.0,
        2 => 1.0,
        _ => {
            let n = n as f64;
            2.0 * ((n - 1.0).ln() + EULER_GAMMA) - 2.0 * (n - 1.0) / n
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MaxSamples {
    /// `min(256, n_rows)`.
    Auto,
    Count(usize),
    Fraction(f64),
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MaxFeatures {
    Count(usize),
    Fraction(f64),
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Contamination {
    /// Offset -0.5, as in the original paper.
    Auto,
    /// Share of training rows to call outliers, in (0, 0.5].
    Share(f64),
}

#[derive(Debug, Clone, PartialEq)]
pub struct IsolationForestParams {
    pub n_estimators: usize,
    pub max_samples: MaxSamples,
    pub max_features: MaxFeatures,
    pub contamination: Contamination,
    pub bootstrap: bool,
    pub seed: u64,
}

impl IsolationForestParams {
    /// From parameters checked against [`SPEC`].
    pub fn from_params(p: &Params) -> Self {
        IsolationForestParams {
            n_estimators: p.count("n_estimators"),
            max_samples: match p.get("max_samples") {
                Value::Int(k) => MaxSamples::Count(*k as usize),
                Value::Float(f) => MaxSamples::Fraction(*f),
                _ => MaxSamples::Auto,
            },
            max_features: match p.get("max_features") {
                Value::Int(k) => MaxFeatures::Count(*k as usize),
                _ => MaxFeatures::Fraction(p.number("max_features")),
            },
            contamination: match p.float("contamination") {
                Some(share) => Contamination::Share(share),
                None => Contamination::Auto,
            },
            bootstrap: p.flag("bootstrap"),
            seed: p.seed(),
        }
    }
}

/// A node: rows with `x[feature] > threshold` go to `left + 1`, others to
/// `left`.  A leaf points to itself with an infinite threshold, so a row can
/// take exactly `depth` steps from the root without testing for leaves.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct Node {
    feature: u32,
    left: u32,
    threshold: f64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct Tree {
    nodes: Vec<Node>,
    /// For leaves: depth + c(leaf size), the path length of rows ending there.
    path_length: Vec<f64>,
    /// Depth of the deepest leaf.
    depth: u32,
}

/// Rows walked down a tree together: their independent chains of loads
/// overlap, where one row at a time would wait on each node in turn.
const LOCKSTEP: usize = 16;
/// Rows scored together through every tree: their features stay in L1/L2.
const TREE_BLOCK: usize = 256;

impl Tree {
    /// Add each row's path length in this tree to `out` (rows `start..`).
    fn add_path_lengths(&self, x: &Matrix<'_>, start: usize, out: &mut [f64]) {
        for (g, group) in out.chunks_mut(LOCKSTEP).enumerate() {
            let first = start + g * LOCKSTEP;
            let mut at = [0u32; LOCKSTEP];
            let at = &mut at[..group.len()];
            for _ in 0..self.depth {
                for (r, node) in at.iter_mut().enumerate() {
                    debug_assert!((*node as usize) < self.nodes.len());
                    // SAFETY: nodes only point at nodes of the same tree (built
                    // in `grow_tree`), features are below the fitted feature
                    // count (checked against `x` before scoring) and rows
                    // below `x.n_rows()` (the caller's block).
                    let n = unsafe { *self.nodes.get_unchecked(*node as usize) };
                    let v = unsafe { x.get_unchecked(first + r, n.feature as usize) };
                    *node = n.left + (v > n.threshold) as u32;
                }
            }
            for (total, &node) in group.iter_mut().zip(at.iter()) {
                *total += self.path_length[node as usize];
            }
        }
    }
}

/// A fitted isolation forest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IsolationForest {
    trees: Vec<Tree>,
    n_features: usize,
    max_samples: usize,
    /// `score_samples - offset < 0` marks an outlier.
    pub offset: f64,
    /// Column names seen in fit (empty for arrays).
    pub feature_names: Vec<String>,
}

/// Rows per tree; scikit-learn warns and uses every row when more are asked for.
fn resolve_max_samples(spec: MaxSamples, n_rows: usize, ctl: &Control) -> usize {
    match spec {
        MaxSamples::Auto => n_rows.min(256),
        MaxSamples::Count(k) => {
            if k > n_rows {
                ctl.warn(format!(
                    "max_samples ({k}) is greater than the total number of samples \
                     ({n_rows}). max_samples will be set to n_samples for estimation."
                ));
            }
            k.clamp(1, n_rows)
        }
        MaxSamples::Fraction(f) => ((f * n_rows as f64) as usize).max(1),
    }
}

fn resolve_max_features(spec: MaxFeatures, n_features: usize) -> Result<usize> {
    match spec {
        MaxFeatures::Count(k) if k == 0 || k > n_features => Err(SPEC.defaults().error(
            "max_features",
            format!("is {k}; it must be between 1 and the number of features ({n_features})"),
        )),
        MaxFeatures::Count(k) => Ok(k),
        MaxFeatures::Fraction(f) => Ok(((f * n_features as f64) as usize).max(1)),
    }
}

impl IsolationForest {
    /// Grow the forest on `x`; with a contamination share, also score the
    /// training rows to set the offset (as scikit-learn does).
    pub fn fit(
        x: &Matrix<'_>,
        names: &[String],
        params: &IsolationForestParams,
        ctl: &Control,
    ) -> Result<Self> {
        require_training_data(x, names)?;
        let max_samples = resolve_max_samples(params.max_samples, x.n_rows(), ctl);
        let max_features = resolve_max_features(params.max_features, x.n_cols())?;
        let max_depth = (max_samples.max(2) as f64).log2().ceil() as usize;
        let trees = (0..params.n_estimators)
            .into_par_iter()
            .map(|t| {
                if ctl.cancelled() {
                    return Tree::default();
                }
                let mut rng = Xoshiro256PlusPlus::seed_from_u64(stream_seed(params.seed, t as u64));
                let rows = sample_rows(&mut rng, x.n_rows(), max_samples, params.bootstrap);
                let features = sample_without_replacement(&mut rng, x.n_cols(), max_features);
                grow_tree(x, rows, features, max_depth, &mut rng)
            })
            .collect();
        ctl.check()?;
        let mut forest = IsolationForest {
            trees,
            n_features: x.n_cols(),
            max_samples,
            offset: -0.5,
            feature_names: names.to_vec(),
        };
        if let Contamination::Share(c) = params.contamination {
            let scores = forest.score_samples(x, ctl)?;
            forest.offset = percentile(&scores, 100.0 * c);
        }
        Ok(forest)
    }

    pub fn n_features(&self) -> usize {
        self.n_features
    }

    pub fn max_samples(&self) -> usize {
        self.max_samples
    }

    pub fn n_estimators(&self) -> usize {
        self.trees.len()
    }

    /// scikit-learn's `score_samples`: minus the anomaly score, in [-1, 0];
    /// the lower, the more abnormal.
    pub fn score_samples(&self, x: &Matrix<'_>, ctl: &Control) -> Result<Vec<f64>> {
        require_n_features(SPEC.name, self.n_features, x)?;
        x.require_finite(&self.feature_names)?;
        let denominator = self.trees.len() as f64 * average_path_length(self.max_samples);
        let mut scores = vec![0.0; x.n_rows()];
        scores
            .par_chunks_mut(TREE_BLOCK)
            .enumerate()
            .for_each(|(block, out)| {
                if ctl.cancelled() {
                    return;
                }
                let start = block * TREE_BLOCK;
                // Tree-major within a block: a tree's nodes stay in cache.
                for tree in &self.trees {
                    tree.add_path_lengths(x, start, out);
                }
                for total in out.iter_mut() {
                    let ratio = if denominator != 0.0 {
                        *total / denominator
                    } else {
                        1.0
                    };
                    *total = -(2f64).powf(-ratio);
                }
            });
        ctl.check()?;
        Ok(scores)
    }

    /// scikit-learn's `decision_function`: `score_samples - offset`,
    /// negative for outliers.
    pub fn decision_function(&self, x: &Matrix<'_>, ctl: &Control) -> Result<Vec<f64>> {
        let mut scores = self.score_samples(x, ctl)?;
        scores.iter_mut().for_each(|s| *s -= self.offset);
        Ok(scores)
    }

    /// scikit-learn's `predict`: -1 for outliers, 1 for inliers.
    pub fn predict(&self, x: &Matrix<'_>, ctl: &Control) -> Result<Vec<i64>> {
        let decision = self.decision_function(x, ctl)?;
        Ok(decision
            .iter()
            .map(|&d| if d < 0.0 { -1 } else { 1 })
            .collect())
    }
}

impl Persist for IsolationForest {
    fn kind(&self) -> String {
        "anomaly.IsolationForest".into()
    }

    fn accepts_kind(kind: &str) -> bool {
        kind == "anomaly.IsolationForest"
    }

    fn expected() -> String {
        "anomaly.IsolationForest".into()
    }

    /// The invariants the scoring loop relies on: every tree has nodes,
    /// children and features in range, finite path lengths.
    fn validate(&self) -> Result<()> {
        persist::require(!self.trees.is_empty() && self.n_features > 0, || {
            "the forest has no trees or no features".into()
        })?;
        persist::require(self.max_samples > 0, || "max_samples is 0".into())?;
        persist::require(
            self.feature_names.is_empty() || self.feature_names.len() == self.n_features,
            || "feature names do not match the number of features".into(),
        )?;
        persist::require_finite(&[self.offset], "the offset")?;
        for (k, t) in self.trees.iter().enumerate() {
            let n = t.nodes.len();
            // A path is at most as long as the tree has nodes (and max_samples
            // below 2^64 grows trees at most 64 deep).
            let consistent = n > 0
                && t.depth <= 64
                && (t.depth as usize) < n.max(2)
                && t.path_length.len() == n
                && t.path_length.iter().all(|v| v.is_finite())
                && t.nodes.iter().all(|node| {
                    (node.left as usize) + 1 < n + (node.threshold == f64::INFINITY) as usize
                        && (node.feature as usize) < self.n_features
                });
            persist::require(consistent, || format!("tree {k} is malformed"))?;
        }
        Ok(())
    }
}

fn sample_rows(rng: &mut impl Rng, n: usize, k: usize, bootstrap: bool) -> Vec<u32> {
    if bootstrap {
        (0..k).map(|_| rng.random_range(0..n) as u32).collect()
    } else {
        sample_without_replacement(rng, n, k)
    }
}

/// `k` distinct indices below `n`: a partial Fisher-Yates shuffle when `k` is
/// a large share of `n`, else rejection with a small hash set (sub-samples of
/// 256 out of millions must not cost O(n)).
fn sample_without_replacement(rng: &mut impl Rng, n: usize, k: usize) -> Vec<u32> {
    if k * 4 >= n {
        let mut all: Vec<u32> = (0..n as u32).collect();
        for i in 0..k {
            let j = rng.random_range(i..n);
            all.swap(i, j);
        }
        all.truncate(k);
        all
    } else {
        let mut seen = hashbrown::HashSet::with_capacity(k * 2);
        let mut out = Vec::with_capacity(k);
        while out.len() < k {
            let i = rng.random_range(0..n) as u32;
            if seen.insert(i) {
                out.push(i);
            }
        }
        out
    }
}

/// Grow one isolation tree over `rows`, splitting on `features`.
fn grow_tree(
    x: &Matrix<'_>,
    mut rows: Vec<u32>,
    features: Vec<u32>,
    max_depth: usize,
    rng: &mut impl Rng,
) -> Tree {
    struct Pending {
        node: usize,
        start: usize,
        end: usize,
        depth: usize,
    }
    let mut tree = Tree {
        nodes: vec![leaf(0)],
        path_length: vec![0.0],
        depth: 0,
    };
    let mut stack = vec![Pending {
        node: 0,
        start: 0,
        end: rows.len(),
        depth: 0,
    }];
    let mut candidates = features;
    while let Some(p) = stack.pop() {
        let size = p.end - p.start;
        let part = &mut rows[p.start..p.end];
        let split = if p.depth >= max_depth || size <= 1 {
            None
        } else {
            draw_split(x, part, &mut candidates, rng)
        };
        let Some((feature, threshold)) = split else {
            tree.nodes[p.node] = leaf(p.node);
            tree.path_length[p.node] = p.depth as f64 + average_path_length(size);
            tree.depth = tree.depth.max(p.depth as u32);
            continue;
        };
        let mut mid = 0;
        for i in 0..part.len() {
            if x.get(part[i] as usize, feature as usize) <= threshold {
                part.swap(i, mid);
                mid += 1;
            }
        }
        let left = tree.nodes.len();
        tree.nodes.extend([leaf(left), leaf(left + 1)]);
        tree.path_length.extend([0.0, 0.0]);
        tree.nodes[p.node] = Node {
            feature,
            left: left as u32,
            threshold,
        };
        stack.push(Pending {
            node: left + 1,
            start: p.start + mid,
            end: p.end,
            depth: p.depth + 1,
        });
        stack.push(Pending {
            node: left,
            start: p.start,
            end: p.start + mid,
            depth: p.depth + 1,
        });
    }
    tree
}

/// A leaf at index `at`: every row stays.
fn leaf(at: usize) -> Node {
    Node {
        feature: 0,
        left: at as u32,
        threshold: f64::INFINITY,
    }
}

/// A feature drawn uniformly among those not constant on `rows` and a
/// threshold uniform in [min, max) of it; `None` if every feature is constant.
fn draw_split(
    x: &Matrix<'_>,
    rows: &[u32],
    candidates: &mut [u32],
    rng: &mut impl Rng,
) -> Option<(u32, f64)> {
    let mut remaining = candidates.len();
    while remaining > 0 {
        let pick = rng.random_range(0..remaining);
        let feature = candidates[pick];
        let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
        for &r in rows {
            let v = x.get(r as usize, feature as usize);
            lo = lo.min(v);
            hi = hi.max(v);
        }
        if hi - lo > FEATURE_THRESHOLD {
            let mut threshold = lo + (hi - lo) * rng.random::<f64>();
            if threshold >= hi {
                threshold = lo;
            }
            return Some((feature, threshold));
        }
        // Constant here: move it out of the draw for this node.
        remaining -= 1;
        candidates.swap(pick, remaining);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(seed: u64) -> IsolationForestParams {
        IsolationForestParams {
            n_estimators: 50,
            max_samples: MaxSamples::Auto,
            max_features: MaxFeatures::Fraction(1.0),
            contamination: Contamination::Auto,
            bootstrap: false,
            seed,
        }
    }

    fn data() -> Vec<f64> {
        // 200 rows on a grid, plus one far point, in 2 columns.
        let mut a: Vec<f64> = (0..200).map(|i| (i % 20) as f64).collect();
        let mut b: Vec<f64> = (0..200).map(|i| (i / 20) as f64).collect();
        a.push(100.0);
        b.push(-100.0);
        a.extend(b);
        a
    }

    #[test]
    fn isolates_the_far_point_and_is_deterministic() {
        let d = data();
        let x = Matrix::new(&d, 201, 2).unwrap();
        let ctl = Control::new();
        let f = IsolationForest::fit(&x, &[], &params(3), &ctl).unwrap();
        let s = f.score_samples(&x, &ctl).unwrap();
        let worst = s
            .iter()
            .enumerate()
            .min_by(|a, b| a.1.total_cmp(b.1))
            .unwrap()
            .0;
        assert_eq!(worst, 200);
        assert!(s.iter().all(|&v| (-1.0..=0.0).contains(&v)));
        assert_eq!(f, IsolationForest::fit(&x, &[], &params(3), &ctl).unwrap());
        assert!(f.validate().is_ok());
        let mut broken = f.clone();
        broken.trees[0].nodes[0].left = 1_000_000;
        assert!(broken.validate().is_err());
    }

    #[test]
    fn constant_data_gives_equal_scores() {
        let d = vec![1.0; 100];
        let x = Matrix::new(&d, 50, 2).unwrap();
        let ctl = Control::new();
        let f = IsolationForest::fit(&x, &[], &params(0), &ctl).unwrap();
        let s = f.score_samples(&x, &ctl).unwrap();
        assert!(s.iter().all(|&v| v == s[0]));
    }

    #[test]
    fn spec_defaults_give_scikit_learns_forest_and_warn_like_it() {
        let p = IsolationForestParams::from_params(&SPEC.defaults());
        assert_eq!(p.n_estimators, 100);
        assert_eq!(p.max_samples, MaxSamples::Auto);
        assert_eq!(p.contamination, Contamination::Auto);
        let d = data();
        let x = Matrix::new(&d, 201, 2).unwrap();
        let ctl = Control::new();
        let many = IsolationForestParams {
            max_samples: MaxSamples::Count(1000),
            ..params(1)
        };
        let f = IsolationForest::fit(&x, &[], &many, &ctl).unwrap();
        assert_eq!(f.max_samples(), 201);
        assert!(ctl.take_warnings()[0].contains("max_samples (1000)"));
        let cancelled = Control::new();
        cancelled.cancel();
        assert!(IsolationForest::fit(&x, &[], &params(1), &cancelled).is_err());
    }

    #[test]
    fn path_length_normalisation_matches_sklearn() {
        // sklearn.ensemble._iforest._average_path_length([256])
        assert!((average_path_length(256) - 10.244_770_920_119_917).abs() < 1e-12);
    }
}
