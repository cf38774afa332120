"""Recommendations: implicit-feedback collaborative filtering and ranking metrics.

Fit on a transaction log or interactions table (pandas, polars, pyarrow; ids
of any type) or on a scipy.sparse user × item matrix, then serve frames:

* Data: :class:`Interactions`, the user × item matrix with its ids; build it
  once to fit several models that share it.
* Models: :class:`Popularity` (baseline), :class:`ItemKNN` (cosine, TF-IDF,
  BM25), :class:`RP3Beta` (random walks with a popularity penalty),
  :class:`ALS` (implicit ALS, conjugate gradient; Rendle et al.'s revisited
  weighting), :class:`EASE`, :class:`BPR`; :class:`RepeatAware` for next
  purchases of customers who buy the same things again (TIFU-KNN, fitted on
  a log with times). All computed in Rust, in parallel, deterministic for a
  ``random_state`` and thread count.
* Serving: ``recommend`` (one or many users; unknown users raise or get
  popular items, as chosen), ``recommend_new`` (fold-in from a new user's
  items), ``similar_items``, ``similar_users``.
* Evaluation: :func:`train_test_split` (by time, last-k per user, random),
  :func:`evaluate` and :func:`ranking_metrics` (precision, recall, MAP,
  nDCG, AUC, hit rate, coverage; implicit's numbers for the shared ones);
  :func:`tune` fits a grid of settings on one split and returns a frame.

Bad input: an empty table, NaN/infinite or negative weights, unknown
columns raise ``ValueError`` naming the column; repeated (user, item) rows
are summed; ``n`` larger than the catalogue returns every candidate item.

Example:
    >>> from patronage.datasets import simulate_transactions
    >>> from patronage.recommend import ItemKNN
    >>> log, _ = simulate_transactions(300, seed=1)
    >>> model = ItemKNN(k=30).fit(log, user_col="customer_id", item_col="item_id")
    >>> model.recommend([1, 2], n=2)["customer_id"].tolist()
    [1, 1, 2, 2]
"""

from ._evaluation import evaluate, ranking_metrics, train_test_split, tune
from ._interactions import Interactions
from ._models import ALS, BPR, EASE, ItemKNN, Popularity, Recommender, RepeatAware, RP3Beta

__all__ = [
    "ALS",
    "BPR",
    "EASE",
    "Interactions",
    "ItemKNN",
    "Popularity",
    "RP3Beta",
    "Recommender",
    "RepeatAware",
    "evaluate",
    "ranking_metrics",
    "train_test_split",
    "tune",
]
