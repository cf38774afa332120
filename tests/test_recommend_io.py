"""Recommenders: frames in and out, ids, serving rules, persistence and bad input."""

import pickle

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
import scipy.sparse as sp

from patronage import NotFittedError
from patronage.datasets import simulate_transactions
from patronage.recommend import (
    ALS,
    BPR,
    EASE,
    Interactions,
    ItemKNN,
    Popularity,
    RP3Beta,
    evaluate,
    ranking_metrics,
    train_test_split,
)

MODELS = {
    "popularity": lambda: Popularity(),
    "knn": lambda: ItemKNN(k=30, weighting="tfidf", shrinkage=2.0),
    "rp3beta": lambda: RP3Beta(k=30),
    "als": lambda: ALS(factors=8, iterations=4, random_state=0),
    "ease": lambda: EASE(regularization=20.0),
    "bpr": lambda: BPR(factors=8, iterations=10, random_state=0),
}


@pytest.fixture(scope="module")
def log():
    log, _ = simulate_transactions(400, seed=3)
    return log


def small():
    return pd.DataFrame(
        {
            "user": ["ann", "ann", "bob", "bob", "cat", "cat", "cat", "dan"],
            "item": ["x", "y", "y", "z", "x", "z", "w", "x"],
            "qty": [1.0, 2.0, 1.0, 1.0, 3.0, 1.0, 1.0, 1.0],
        }
    )


# -- frames and ids -------------------------------------------------------------


@pytest.mark.parametrize("kind", ["pandas", "polars", "pyarrow"])
def test_output_kind_follows_input_and_ids_come_back(kind):
    df = small()
    data = {"pandas": df, "polars": pl.from_pandas(df), "pyarrow": pa.Table.from_pandas(df)}[kind]
    model = ItemKNN(k=5).fit(data, user_col="user", item_col="item", weight_col="qty")
    recs = model.recommend(["ann", "bob"], n=2)
    assert type(recs).__module__.split(".")[0] == {"pandas": "pandas", "polars": "polars", "pyarrow": "pyarrow"}[kind]
    recs = pa.table(recs) if kind != "pandas" else pa.Table.from_pandas(recs, preserve_index=False)
    assert recs.column_names == ["user", "item", "score", "rank"]
    assert set(recs.column("user").to_pylist()) <= {"ann", "bob"}
    assert set(recs.column("item").to_pylist()) <= {"x", "y", "z", "w"}


def test_categorical_and_integer_ids(log):
    cat = log.assign(customer_id=log["customer_id"].astype(str).astype("category"))
    a = ItemKNN(k=20).fit(log)
    b = ItemKNN(k=20).fit(cat)
    u, v = log["customer_id"].value_counts().index[:2]
    ra = a.recommend([u, v], n=3)
    rb = b.recommend([str(u), str(v)], n=3)
    # String ids sort differently from integers; the model is the same.
    np.testing.assert_array_equal(ra["item_id"], rb["item_id"])
    np.testing.assert_allclose(ra["score"], rb["score"], rtol=1e-6)
    assert rb["customer_id"].tolist() == [str(u)] * 3 + [str(v)] * 3
    with pytest.raises(TypeError, match="'users' holds numbers but the ids .* are strings"):
        b.recommend([5])


def test_scipy_input_uses_row_and_column_numbers():
    X = sp.random(50, 30, density=0.2, format="coo", random_state=0)
    X.data[:] = 1.0
    model = ALS(factors=4, iterations=2, random_state=0).fit(X)
    assert (model.n_users_, model.n_items_) == (50, 30)
    recs = model.recommend([0, 3], n=5)
    assert list(recs.columns) == ["user", "item", "score", "rank"]
    assert recs["item"].between(0, 29).all()
    np.testing.assert_array_equal(model.user_items_().toarray(), X.toarray())


@pytest.mark.parametrize("kind", ["polars", "scipy"])
def test_shared_interactions_fit_like_their_input(log, kind):
    X = pl.from_pandas(log) if kind == "polars" else Popularity().fit(log).user_items_()
    data = Interactions(X)
    assert data.shape == (data.n_users, data.n_items) == (log["customer_id"].nunique(), log["item_id"].nunique())
    if kind == "scipy":
        assert (data.user_col, data.item_col, data.nnz) == ("user", "item", X.nnz)
        np.testing.assert_array_equal(data.to_scipy().toarray(), X.toarray())
        np.testing.assert_array_equal(data.user_ids, np.arange(X.shape[0]))
    for name in ("knn", "als"):
        shared = MODELS[name]().fit(data)
        direct = MODELS[name]().fit(X)
        users = data.user_ids[:20]
        a, b = shared.recommend(users, n=5), direct.recommend(users, n=5)
        assert type(a) is type(b)  # the output kind of the data the interactions came from
        assert (pa.table(a) if kind == "polars" else pa.Table.from_pandas(a)).equals(
            pa.table(b) if kind == "polars" else pa.Table.from_pandas(b)
        )
    copy = pickle.loads(pickle.dumps(data))
    assert repr(copy) == repr(data) and copy.user_col == data.user_col
    np.testing.assert_array_equal(copy.to_scipy().toarray(), data.to_scipy().toarray())
    assert "Interactions(" in repr(data) and "users" in repr(data)


# -- serving --------------------------------------------------------------------


@pytest.mark.parametrize("name", list(MODELS))
def test_recommend_excludes_seen_and_respects_items(log, name):
    model = MODELS[name]().fit(log)
    users = log["customer_id"].unique()[:20]
    recs = model.recommend(users, n=5)
    seen = set(zip(log["customer_id"], log["item_id"]))
    assert not any((u, i) in seen for u, i in zip(recs["customer_id"], recs["item_id"]))
    assert recs.groupby("customer_id")["rank"].apply(lambda r: list(r) == list(range(1, len(r) + 1))).all()
    assert recs.groupby("customer_id")["score"].apply(lambda s: s.is_monotonic_decreasing).all()
    allowed = log["item_id"].value_counts().index[:40]
    restricted = model.recommend(users, n=5, items=allowed)
    assert restricted["item_id"].isin(allowed).all()
    with_seen = model.recommend(users[:3], n=5, exclude_seen=False)
    assert len(with_seen) == 15 or name == "knn"


def test_n_larger_than_catalogue_returns_every_candidate():
    model = Popularity().fit(small(), user_col="user", item_col="item")
    recs = model.recommend("ann", n=100)
    assert sorted(recs["item"]) == ["w", "z"]  # every item ann does not have
    assert len(model.recommend("ann", n=100, exclude_seen=False)) == 4


def test_unknown_users_error_or_popular_fallback():
    model = ALS(factors=4, iterations=2, random_state=0).fit(small(), user_col="user", item_col="item")
    with pytest.raises(ValueError, match="not seen in training"):
        model.recommend(["ann", "zoe"])
    recs = model.recommend(["ann", "zoe"], n=2, unknown_users="popular")
    popular = Popularity().fit(small(), user_col="user", item_col="item").recommend("zoe", n=2, unknown_users="popular")
    assert recs[recs["user"] == "zoe"]["item"].tolist() == popular["item"].tolist()
    with pytest.raises(ValueError, match="unknown_users"):
        model.recommend("ann", unknown_users="maybe")


def test_user_without_interactions_is_documented():
    # Weights summing to zero drop the entry: dan keeps an id but no items.
    df = small()
    df.loc[df["user"] == "dan", "qty"] = 0.0
    model = ItemKNN(k=3).fit(df, user_col="user", item_col="item", weight_col="qty")
    with pytest.raises(ValueError, match="no interactions"):
        model.recommend("dan")
    assert len(model.recommend("dan", n=2, unknown_users="popular")) == 2


@pytest.mark.parametrize("name", ["knn", "als", "ease", "bpr", "popularity"])
def test_fold_in_new_users(log, name):
    train = log[log["customer_id"] > 50]
    new = log[log["customer_id"] <= 50]
    model = MODELS[name]().fit(train)
    recs = model.recommend_new(new, n=5)
    assert set(recs["customer_id"]) <= set(new["customer_id"])
    seen = set(zip(new["customer_id"], new["item_id"]))
    assert not any((u, i) in seen for u, i in zip(recs["customer_id"], recs["item_id"]))
    if name in ("knn", "ease"):
        # Item-based models score a history exactly as a training user's.
        again = model.recommend_new(train[train["customer_id"] == 60], n=5)
        known = model.recommend(60, n=5)
        assert again["item_id"].tolist() == known["item_id"].tolist()
        np.testing.assert_allclose(again["score"], known["score"], rtol=1e-6)


def test_als_fold_in_recovers_training_users(log):
    model = ALS(factors=16, iterations=15, regularization=0.1, random_state=0).fit(log)
    users = log["customer_id"].value_counts().index[:10]
    folded = model.recommend_new(log[log["customer_id"].isin(users)], n=10)
    known = model.recommend(users, n=10)
    overlap = np.mean(
        [len(set(folded[folded.customer_id == u].item_id) & set(known[known.customer_id == u].item_id)) / 10 for u in users]
    )
    assert overlap > 0.7


@pytest.mark.parametrize("name", ["knn", "als", "ease", "bpr"])
def test_similar_items_and_users(log, name):
    model = MODELS[name]().fit(log)
    items = log["item_id"].value_counts().index[:3]
    sim = model.similar_items(items, n=4)
    assert list(sim.columns) == ["item_id", "similar_item", "score", "rank"]
    assert not (sim["item_id"] == sim["similar_item"]).any()
    users = log["customer_id"].unique()[:3]
    simu = model.similar_users(users, n=4)
    assert list(simu.columns) == ["customer_id", "similar_user", "score", "rank"]
    assert 0 < len(simu) <= 12 and not (simu["customer_id"] == simu["similar_user"]).any()


def test_similar_items_of_als_are_cosines(log):
    model = ALS(factors=8, iterations=3, random_state=0).fit(log)
    Y = model.item_factors_ / np.linalg.norm(model.item_factors_, axis=1, keepdims=True)
    item = model.item_ids_[0]
    sim = model.similar_items(item, n=3)
    expected = np.argsort(-(Y @ Y[0]))[1:4]
    np.testing.assert_array_equal(sim["similar_item"], model.item_ids_[expected])
    # Popularity answers with co-occurrence: the cosine of the items' columns.
    pop = Popularity().fit(log)
    X = pop.user_items_().toarray()
    columns = X / np.linalg.norm(X, axis=0, keepdims=True)
    cosine = columns.T @ columns[:, 0]
    cosine[0] = -np.inf
    got = pop.similar_items(item, n=3)
    np.testing.assert_allclose(got["score"], np.sort(cosine)[::-1][:3], rtol=1e-5)


# -- persistence ------------------------------------------------------------------


@pytest.mark.parametrize("name", list(MODELS))
def test_pickle_and_save_load_round_trip_exactly(log, name, tmp_path):
    model = MODELS[name]().fit(log)
    users = log["customer_id"].unique()[:10]
    expected = model.recommend(users, n=5)
    for restored in (pickle.loads(pickle.dumps(model)), _save_load(model, tmp_path)):
        assert restored._model == model._model
        assert restored.get_params() == model.get_params()
        pd.testing.assert_frame_equal(restored.recommend(users, n=5), expected)


def _save_load(model, tmp_path):
    path = tmp_path / "model.patronage"
    model.save(path)
    return type(model).load(path)


def test_unfitted_model_raises():
    with pytest.raises(NotFittedError):
        ALS().recommend([1])


# -- evaluation helpers -------------------------------------------------------------


def test_splits(log):
    train, test = train_test_split(log, "time", cutoff="2025-06-01")
    assert train["timestamp"].max() < pd.Timestamp("2025-06-01") <= test["timestamp"].min()
    train, test = train_test_split(log, "last", k=2)
    last = log.sort_values("timestamp").groupby("customer_id").tail(2)
    multi = log["customer_id"].map(log["customer_id"].value_counts()) > 2
    assert set(test.index) == set(last.index[multi.loc[last.index]])
    train, test = train_test_split(pl.from_pandas(log), "random", test_size=0.3, random_state=1)
    assert isinstance(test, pl.DataFrame) and 0.2 < len(test) / len(log) < 0.35
    assert set(train["customer_id"]) == set(log["customer_id"])
    again, _ = train_test_split(pl.from_pandas(log), "random", test_size=0.3, random_state=1)
    assert again.equals(train)


def test_metrics_by_hand():
    recs = pd.DataFrame({"customer_id": [1, 1, 2, 2], "item_id": ["a", "b", "c", "d"], "rank": [1, 2, 1, 2]})
    test = pd.DataFrame({"customer_id": [1, 2, 3], "item_id": ["b", "e", "a"]})
    m = ranking_metrics(recs, test, k=2, n_items=10)
    assert m["n_users"] == 3  # user 3 has no recommendations: counted as a miss
    assert m["precision"] == pytest.approx(1 / 3)
    assert m["hit_rate"] == pytest.approx(1 / 3)
    assert m["ndcg"] == pytest.approx((1 / np.log2(3)) / 3)
    assert m["coverage"] == pytest.approx(0.4)


def test_evaluate_skips_or_serves_unknown_users(log):
    train, test = train_test_split(log, "time", cutoff="2025-01-01")
    test = pd.concat([test, test.head(3).assign(customer_id=10_000)])  # a customer new in the test period
    model = ALS(factors=8, iterations=3, random_state=0).fit(train)
    skipped = evaluate(model, test)
    served = evaluate(model, test, unknown_users="popular")
    assert served["n_users"] > skipped["n_users"]


# -- bad input ----------------------------------------------------------------------------


def test_bad_input_is_a_clear_error():
    df = small()
    with pytest.raises(ValueError, match="no rows"):
        ALS().fit(df.iloc[:0], user_col="user", item_col="item")
    with_nan = df.assign(qty=[np.nan] + [1.0] * 7)
    with pytest.raises(ValueError, match="'qty'.*null"):  # pandas sends NaN to Arrow as null
        ALS().fit(with_nan, user_col="user", item_col="item", weight_col="qty")
    with pytest.raises(ValueError, match="'qty'.*NaN"):
        ALS().fit(pl.from_pandas(with_nan, nan_to_null=False), user_col="user", item_col="item", weight_col="qty")
    with pytest.raises(ValueError, match="'qty'.*negative"):
        ItemKNN().fit(df.assign(qty=-df["qty"]), user_col="user", item_col="item", weight_col="qty")
    with pytest.raises(ValueError, match="'nope' not found"):
        ALS().fit(df, user_col="nope", item_col="item")
    with pytest.raises(TypeError, match="'qty'"):
        ALS().fit(df.assign(qty=["a"] * 8), user_col="user", item_col="item", weight_col="qty")
    with pytest.raises(ValueError, match="null"):
        ALS().fit(df.assign(user=[None] + ["ann"] * 7), user_col="user", item_col="item")
    with pytest.raises(ValueError, match="empty"):
        ALS().fit(sp.csr_matrix((3, 4)))
    with pytest.raises(ValueError, match="'nope' not found"):
        Interactions(df, user_col="nope", item_col="item")
    bad = sp.csr_matrix(np.array([[1.0, -2.0], [0.0, 1.0]]))
    with pytest.raises(ValueError, match="negative"):
        ALS().fit(bad)
    model = Popularity().fit(df, user_col="user", item_col="item")
    for n in (0, -1):
        with pytest.raises(ValueError, match="'n' must be an integer >= 1"):
            model.recommend("ann", n=n)
    for n in (2.5, True, "3"):
        with pytest.raises(TypeError, match="'n' must be an integer >= 1"):
            model.recommend("ann", n=n)
    with pytest.raises(ValueError, match="weighting"):
        ItemKNN(weighting="jaccard").fit(df, user_col="user", item_col="item")
    with pytest.raises(ValueError, match="factors"):
        ALS(factors=0).fit(df, user_col="user", item_col="item")
    with pytest.raises(ValueError, match="alpha"):
        ALS(alpha=-1.0).fit(df, user_col="user", item_col="item")
    with pytest.raises(ValueError, match="random_state"):
        ALS(random_state=-3).fit(df, user_col="user", item_col="item")
    with pytest.raises(ValueError, match="how"):
        train_test_split(df, "sideways", user_col="user", time_col=None)


def test_duplicate_rows_are_summed():
    df = pd.DataFrame({"user": [1, 1, 1, 2], "item": [7, 7, 8, 7], "w": [1.0, 2.5, 1.0, 1.0]})
    model = Popularity().fit(df, user_col="user", item_col="item", weight_col="w")
    np.testing.assert_array_equal(model.user_items_().toarray(), [[3.5, 1.0], [1.0, 0.0]])
    X = sp.coo_matrix(([1.0, 2.0], ([0, 0], [1, 1])), shape=(1, 2))
    np.testing.assert_array_equal(Popularity().fit(X).user_items_().toarray(), [[0.0, 3.0]])


def test_show_progress_draws_a_bar(log, capsys):
    ALS(factors=4, iterations=2, random_state=0, show_progress=True).fit(log)
    ItemKNN(show_progress=True).fit(log)
    err = capsys.readouterr().err
    assert "ALS" in err and "ItemKNN" in err


def test_sklearn_clone_keeps_parameters():
    from sklearn.base import clone

    model = ItemKNN(k=7, weighting="bm25", shrinkage=1.5)
    copy = clone(model)
    assert copy.get_params() == model.get_params() and copy is not model
    assert "k=7" in repr(model)


def test_item_knn_reasons_name_an_item_from_the_users_history(log):
    model = ItemKNN(k=20).fit(log)
    users = log["customer_id"].unique()[:30]
    recs = model.recommend(users, n=5, reasons=True)
    history = log.groupby("customer_id")["item_id"].apply(set)
    assert all(b in history[u] for u, b in zip(recs["customer_id"], recs["because"]))
    assert ((recs["because_share"] > 0) & (recs["because_share"] <= 1 + 1e-6)).all()
    plain = model.recommend(users, n=5)
    pd.testing.assert_frame_equal(recs[plain.columns], plain)


def test_reasons_by_hand_and_for_popular_fallback():
    # ann has x (weight 1) and y (2). Cosines over users (ann, bob, cat, dan):
    # x = (1, 0, 3, 1), y = (2, 1, 0, 0), z = (0, 1, 1, 0), w = (0, 0, 1, 0).
    model = ItemKNN(k=5).fit(small(), user_col="user", item_col="item", weight_col="qty")
    recs = model.recommend(["ann", "zoe"], n=2, reasons=True, unknown_users="popular")
    ann = recs[recs["user"] == "ann"].set_index("item")
    assert ann["because"].to_dict() == {"z": "x", "w": "x"}
    from_x, from_y = 1 * 3 / np.sqrt(11 * 2), 2 * 1 / np.sqrt(5 * 2)
    assert ann.loc["z", "because_share"] == pytest.approx(from_x / (from_x + from_y), rel=1e-5)
    assert ann.loc["w", "because_share"] == pytest.approx(1.0)
    zoe = recs[recs["user"] == "zoe"]
    assert zoe["because"].isna().all() and zoe["because_share"].isna().all()


@pytest.mark.parametrize("name", ["popularity", "bpr"])
def test_reasons_for_models_without_additive_scores_are_a_clear_error(log, name):
    model = MODELS[name]().fit(log)
    with pytest.raises(ValueError, match="no additive explanation"):
        model.recommend(log["customer_id"].iloc[:2], reasons=True)
