"""Recommenders against implicit (run side by side), numpy's EASE, and popularity."""

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from patronage.datasets import simulate_transactions
from patronage.recommend import (
    ALS,
    BPR,
    EASE,
    ItemKNN,
    Popularity,
    RP3Beta,
    evaluate,
    ranking_metrics,
    train_test_split,
    tune,
)

implicit = pytest.importorskip("implicit")
from implicit.als import AlternatingLeastSquares  # noqa: E402
from implicit.bpr import BayesianPersonalizedRanking  # noqa: E402
from implicit.evaluation import ranking_metrics_at_k  # noqa: E402
from implicit.nearest_neighbours import BM25Recommender, CosineRecommender, TFIDFRecommender  # noqa: E402

K = 10


class Split:
    """A simulated log split last-2-per-user, with the matrices implicit needs."""

    def __init__(self, n_customers=3000, seed=0):
        log, self.truth = simulate_transactions(n_customers, seed=seed)
        self.train, test = train_test_split(log, "last", k=2)
        reference = Popularity().fit(self.train)
        self.user_ids, self.item_ids = reference.user_ids_, reference.item_ids_
        self.X = reference.user_items_()
        users, items = pd.Index(self.user_ids), pd.Index(self.item_ids)
        self.test = test[test["customer_id"].isin(users) & test["item_id"].isin(items)]
        rows = users.get_indexer(self.test["customer_id"])
        cols = items.get_indexer(self.test["item_id"])
        self.T = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=self.X.shape)
        self.T.data[:] = 1.0


@pytest.fixture(scope="module")
def data():
    return Split()


class Adapter:
    """Serves a patronage model to implicit's ranking_metrics_at_k (indices in, indices out).

    A model fitted on the frame has the log's ids; one fitted on the scipy
    matrix has row and column numbers as ids.
    """

    def __init__(self, model, data):
        self.model = model
        native = model._check_fitted()
        self.user_col, self.item_col = native.user_col, native.item_col
        on_matrix = self.user_col == "user"
        self.user_ids = np.arange(data.X.shape[0]) if on_matrix else data.user_ids
        self.items = pd.Index(np.arange(data.X.shape[1]) if on_matrix else data.item_ids)

    def recommend(self, userid, user_items, N=10, **kwargs):
        userid = np.atleast_1d(userid)
        users = self.user_ids[userid]
        recs = self.model.recommend(users, n=N)
        ids = np.full((len(userid), N), -1, dtype=np.int32)
        row = pd.Index(users).get_indexer(recs[self.user_col])
        ids[row, recs["rank"].to_numpy() - 1] = self.items.get_indexer(recs[self.item_col])
        return ids, np.zeros(ids.shape, dtype=np.float32)


def implicit_metrics(model, data):
    return ranking_metrics_at_k(model, data.X, data.T, K=K, show_progress=False)


def assert_same_metrics(ours, theirs):
    for name in ("precision", "map", "ndcg", "auc"):
        assert ours[name] == pytest.approx(theirs[name], rel=1e-12, abs=1e-15), name


# -- metrics: the same numbers as implicit on the same recommendations -------


@pytest.mark.parametrize("model", [Popularity(), ItemKNN(k=50), ALS(factors=16, iterations=5, random_state=0)])
def test_metrics_equal_implicit_on_our_recommendations(data, model):
    model.fit(data.train)
    theirs = implicit_metrics(Adapter(model, data), data)
    assert_same_metrics(evaluate(model, data.test, K), theirs)
    recs = model.recommend(n=K)
    assert_same_metrics(ranking_metrics(recs, data.test, K, n_items=model.n_items_), theirs)


def test_metrics_equal_implicit_on_implicits_recommendations(data):
    reference = CosineRecommender(K=50)
    reference.fit(data.X, show_progress=False)
    users = np.flatnonzero(np.diff(data.T.indptr))
    ids, _ = reference.recommend(users, data.X[users], N=K)
    rows = [(data.user_ids[u], data.item_ids[i], r + 1) for u, row in zip(users, ids) for r, i in enumerate(row) if i >= 0]
    recs = pd.DataFrame(rows, columns=["customer_id", "item_id", "rank"])
    ours = ranking_metrics(recs, data.test, K, n_items=data.X.shape[1])
    assert_same_metrics(ours, implicit_metrics(reference, data))
    assert 0 < ours["coverage"] <= 1 and 0 < ours["hit_rate"] <= 1 and 0 < ours["recall"] <= 1


# -- quality: within 2% of implicit with the same hyper-parameters ----------


@pytest.mark.parametrize(
    "ours, theirs",
    [
        (ItemKNN(k=50, weighting="cosine"), CosineRecommender(K=50)),
        (ItemKNN(k=50, weighting="bm25", k1=1.2, b=0.75), BM25Recommender(K=50, K1=1.2, B=0.75)),
        (ItemKNN(k=50, weighting="tfidf"), TFIDFRecommender(K=50)),
    ],
    ids=["cosine", "bm25", "tfidf"],
)
def test_item_knn_matches_implicit(data, ours, theirs):
    ours.fit(data.X)
    theirs.fit(data.X, show_progress=False)
    a, b = ours.similarity_().toarray(), theirs.similarity.toarray()
    both = (a != 0) & (b != 0)
    # Neighbour sets agree except for ties at the k-th place; values agree.
    assert both.sum() >= 0.99 * max((a != 0).sum(), (b != 0).sum())
    np.testing.assert_allclose(a[both], b[both], rtol=1e-4, atol=1e-6)
    m_ours, m_theirs = implicit_metrics(Adapter(ours, data), data), implicit_metrics(theirs, data)
    for name in ("ndcg", "precision"):
        assert m_ours[name] == pytest.approx(m_theirs[name], rel=0.02), name


def test_als_matches_implicit_averaged_over_seeds():
    # Seed-to-seed spread of nDCG is about 2% on 3,000 customers; a larger log
    # and four seeds keep the comparison about the algorithm, not the noise.
    data = Split(10_000, seed=1)
    params = dict(factors=32, iterations=15, regularization=0.05, alpha=10.0)
    ours, theirs = [], []
    for seed in range(4):
        model = ALS(**params, random_state=seed).fit(data.X)
        ours.append(implicit_metrics(Adapter(model, data), data))
        reference = AlternatingLeastSquares(**params, random_state=seed)
        reference.fit(data.X, show_progress=False)
        theirs.append(implicit_metrics(reference, data))
    for name in ("ndcg", "precision"):
        mean_ours = np.mean([m[name] for m in ours])
        mean_theirs = np.mean([m[name] for m in theirs])
        assert mean_ours == pytest.approx(mean_theirs, rel=0.02), name


def test_revisited_als_solves_its_normal_equations():
    # Rendle et al.'s iALS: every unobserved pair weighs alpha_0, and item i's
    # penalty is reg * (n_i + alpha_0 * n_users)^nu. The last half-iteration
    # solved the items given the users, with as many CG steps as factors.
    log, _ = simulate_transactions(400, seed=4)
    params = dict(factors=6, iterations=4, cg_steps=6, regularization=0.02, alpha=5.0)
    model = ALS(**params, unobserved_weight=0.3, frequency_scaling=0.7, random_state=0).fit(log)
    X, Y = model.user_factors_.astype(np.float64), model.item_factors_.astype(np.float64)
    C = (model.user_items_() * params["alpha"]).tocsc()
    n_users = X.shape[0]
    for i in range(0, Y.shape[0], 7):
        users, c = C.indices[C.indptr[i]:C.indptr[i + 1]], C.data[C.indptr[i]:C.indptr[i + 1]]
        penalty = params["regularization"] * (len(users) + 0.3 * n_users) ** 0.7
        A = 0.3 * X.T @ X + penalty * np.eye(6) + (X[users].T * (c - 0.3)) @ X[users]
        exact = np.linalg.solve(A, X[users].T @ c)
        np.testing.assert_allclose(Y[i], exact, rtol=2e-2, atol=1e-4)
    plain = ALS(**params, random_state=0).fit(log)
    same = ALS(**params, unobserved_weight=1.0, frequency_scaling=0.0, random_state=0).fit(log)
    assert np.array_equal(plain.user_factors_, same.user_factors_)


def test_bpr_at_least_matches_implicit():
    # The libraries scale SGD steps differently (the same learning_rate is not
    # the same step), so each gets its best of a small grid.
    data = Split(10_000, seed=1)
    ours, theirs = [], []
    for rate in (0.01, 0.05):
        params = dict(factors=32, iterations=100, learning_rate=rate, regularization=0.01)
        model = BPR(**params, random_state=0).fit(data.X)
        ours.append(implicit_metrics(Adapter(model, data), data)["ndcg"])
        reference = BayesianPersonalizedRanking(**params, random_state=0)
        reference.fit(data.X, show_progress=False)
        theirs.append(implicit_metrics(reference, data)["ndcg"])
    assert max(ours) >= 0.98 * max(theirs), (ours, theirs)


def test_every_model_beats_popularity_widely(data):
    baseline = evaluate(Popularity().fit(data.train), data.test, K)["ndcg"]
    models = [
        ItemKNN(k=50),
        ItemKNN(k=50, weighting="bm25"),
        ALS(factors=32, iterations=15, regularization=0.05, alpha=10.0, random_state=0),
        EASE(regularization=200.0),
        BPR(factors=32, iterations=100, random_state=0),
        RP3Beta(k=50),
    ]
    for model in models:
        ndcg = evaluate(model.fit(data.train), data.test, K)["ndcg"]
        assert ndcg > 1.4 * baseline, (model, ndcg, baseline)


# -- RP3beta: against the reference formulation --------------------------------


def rp3beta_reference(X: sp.csr_matrix, alpha: float, beta: float) -> np.ndarray:
    """Ferrari Dacrema et al.'s RP3beta before pruning: user -> item steps in
    proportion to the weights, item -> user uniform, both to the power alpha,
    columns divided by popularity^beta."""
    X = X.astype(np.float64).toarray()
    p_ui = (X / X.sum(axis=1, keepdims=True)) ** alpha
    seen = (X > 0).astype(np.float64)
    popularity = seen.sum(axis=0)
    p_iu = (seen.T / np.maximum(popularity, 1)[:, None]) ** alpha
    return (p_iu @ p_ui) * np.maximum(popularity, 1) ** -beta


@pytest.mark.parametrize("alpha, beta", [(1.0, 0.6), (0.7, 0.0), (1.3, 1.0)])
def test_rp3beta_equals_the_reference_formulation(alpha, beta):
    log, _ = simulate_transactions(300, seed=6)
    model = RP3Beta(k=10**6, alpha=alpha, beta=beta).fit(log)
    W = rp3beta_reference(model.user_items_(), alpha, beta)
    expected = W / W.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(model.similarity_().toarray(), expected, rtol=1e-4, atol=1e-7)
    # Pruned to k per item: each row keeps its k largest walks, rescaled.
    pruned = RP3Beta(k=5, alpha=alpha, beta=beta).fit(log).similarity_().toarray()
    for i in range(0, W.shape[0], 17):
        kept = np.flatnonzero(pruned[i])
        assert len(kept) == min(5, np.count_nonzero(W[i]))
        assert W[i, kept].min() >= np.sort(W[i])[-len(kept)] * (1 - 1e-5)
        np.testing.assert_allclose(pruned[i, kept], W[i, kept] / W[i, kept].sum(), rtol=1e-4)


# -- EASE: the closed form ----------------------------------------------------


def test_ease_equals_numpy_closed_form(data):
    lam = 100.0
    model = EASE(regularization=lam).fit(data.X)
    X = data.X.toarray()
    P = np.linalg.inv(X.T @ X + lam * np.eye(X.shape[1]))
    B = -P / np.diag(P)
    np.fill_diagonal(B, 0.0)
    np.testing.assert_allclose(model.weights_, B, atol=1e-6, rtol=0)
    # Scores are X B; recommendations follow them.
    user = 5
    scores = X[user] @ B
    scores[X[user] > 0] = -np.inf
    expected = np.argsort(-scores, kind="stable")[:5]
    recs = model.recommend(user, n=5)
    np.testing.assert_array_equal(recs["item"], expected)


def test_ease_refuses_large_catalogues(data):
    with pytest.raises(ValueError, match="max_items"):
        EASE(max_items=100).fit(data.X)


# -- determinism --------------------------------------------------------------


@pytest.mark.parametrize("make", [lambda: ALS(factors=8, iterations=3, random_state=7), lambda: BPR(factors=8, iterations=5, random_state=7)])
def test_seeded_fits_are_identical(data, make):
    a, b = make().fit(data.train), make().fit(data.train)
    np.testing.assert_array_equal(a.user_factors_, b.user_factors_)
    np.testing.assert_array_equal(a.item_factors_, b.item_factors_)
    c = type(a)(**{**a.get_params(), "random_state": 8}).fit(data.train)
    assert not np.array_equal(a.item_factors_, c.item_factors_)


def test_tune_scores_every_setting_as_evaluate_does(data):
    grid = {"k": [10, 50], "weighting": ["cosine", "bm25"]}
    table = tune(ItemKNN(), grid, data.train, data.test)
    assert len(table) == 4 and table["ndcg"].is_monotonic_decreasing
    best = table.iloc[0]
    expected = evaluate(ItemKNN(k=int(best["k"]), weighting=best["weighting"]).fit(data.train), data.test, K)
    assert best["ndcg"] == pytest.approx(expected["ndcg"], rel=1e-9)
    # Seen items excluded: every hit is on an item new to the user.
    assert (table["repeat_hits"] == 0).all() and (table["new_hits"] > 0).all()
    allowed = tune(ItemKNN(), {"k": [50]}, data.train, data.test, recommend_params={"exclude_seen": False})
    assert allowed["repeat_hits"].iloc[0] > 0
    with pytest.raises(ValueError, match="'neighbours'"):
        tune(ItemKNN(), {"neighbours": [5]}, data.train, data.test)
