"""Explanations of recommendation scores: contributions that sum to the score
each model serves, ALS's equal to implicit's ``explain`` on the same factors,
reasons on ``recommend`` that agree with them, and clear errors."""

import numpy as np
import pandas as pd
import pytest

from patronage.datasets import simulate_transactions
from patronage.recommend import ALS, BPR, EASE, ItemKNN, Popularity, RepeatAware, RP3Beta, evaluate, train_test_split

implicit = pytest.importorskip("implicit")
from implicit.cpu.als import AlternatingLeastSquares  # noqa: E402


@pytest.fixture(scope="module")
def log():
    frame, _ = simulate_transactions(600, seed=4)
    return frame


def _pairs(model, n_users=15):
    """(user, item, served score) of the top 5 of some users, seen items allowed."""
    users = model.user_ids_[:n_users]
    if isinstance(model, RepeatAware):
        recs = model.recommend(users, n=5, mode="replenish")
    else:
        recs = model.recommend(users, n=5, exclude_seen=False)
    return recs[["customer_id", "item_id", "score"]].itertuples(index=False)


@pytest.mark.parametrize(
    "make",
    [
        lambda log: ItemKNN(k=20).fit(log),
        lambda log: ItemKNN(k=20, weighting="bm25").fit(log),
        lambda log: RP3Beta(k=20).fit(log),
        lambda log: EASE(regularization=50.0).fit(log),
        lambda log: RepeatAware(k=10).fit(log),
    ],
    ids=["cosine", "bm25", "rp3beta", "ease", "repeat-aware"],
)
def test_additive_models_explain_exactly_the_served_score(log, make):
    model = make(log)
    for user, item, score in _pairs(model):
        e = model.explain(user, item)
        assert e["contribution"].sum() == pytest.approx(score, rel=1e-4, abs=1e-6)
        if score > 1e-6:
            assert e["share"].sum() == pytest.approx(1.0, rel=1e-4)
        assert e["contribution"].is_monotonic_decreasing
        top = model.explain(user, item, n=2)
        pd.testing.assert_frame_equal(top, e.iloc[:2])


def test_item_contributions_are_the_users_items(log):
    model = ItemKNN(k=20).fit(log)
    user, item, _ = next(iter(_pairs(model)))
    e = model.explain(user, item)
    bought = set(log.loc[log["customer_id"] == user, "item_id"])
    assert set(e["item_id"]) <= bought


def test_repeat_aware_names_the_customer_and_neighbours_with_reasons(log):
    model = RepeatAware(k=10, alpha=0.7).fit(log)
    user, item, _ = next(iter(_pairs(model)))
    e = model.explain(user, item)
    assert list(e.columns) == ["customer_id", "contribution", "share", "reason"]
    neighbours = set(model.neighbours_()[np.flatnonzero(model.user_ids_ == user)[0]].indices)
    others = set(e["customer_id"]) - {user}
    assert {int(np.flatnonzero(model.user_ids_ == c)[0]) for c in others} <= neighbours
    # Every listed customer bought the item: each reason says when.
    assert e["reason"].str.match(r"bought (once, on|\d+ times, last on) \d{4}-\d\d-\d\d").all()


def test_als_contributions_equal_implicits_explain_on_the_same_factors(log):
    model = ALS(factors=16, iterations=15, alpha=2.0, regularization=0.1, random_state=0).fit(log)
    reference = AlternatingLeastSquares(factors=16, regularization=0.1, alpha=2.0, random_state=0)
    reference.user_factors = model.user_factors_.astype(np.float32)
    reference.item_factors = model.item_factors_.astype(np.float32)
    X = model.user_items_()
    items = pd.Index(model.item_ids_)
    for u in range(10):
        user = model.user_ids_[u]
        for item in model.recommend(user, n=3, exclude_seen=False)["item_id"]:
            total, top, _ = reference.explain(u, X, items.get_loc(item), N=1000)
            e = model.explain(user, item)
            assert e["contribution"].sum() == pytest.approx(total, rel=1e-3, abs=1e-5)
            theirs = {items[i]: s for i, s in top}
            for j, amount in zip(e["item_id"], e["contribution"]):
                assert amount == pytest.approx(theirs[j], rel=1e-3, abs=1e-5)


def test_als_explanations_approach_the_served_score(log):
    model = ALS(factors=16, iterations=30, alpha=2.0, regularization=0.1, random_state=0).fit(log)
    gaps = [abs(model.explain(u, i)["contribution"].sum() - s) for u, i, s in _pairs(model)]
    assert max(gaps) < 0.02


def test_reasons_name_the_largest_contribution(log):
    for model in [ItemKNN(k=20).fit(log), EASE(regularization=50.0).fit(log), ALS(factors=8, random_state=0).fit(log)]:
        recs = model.recommend(model.user_ids_[:5], n=3, reasons=True)
        for row in recs.itertuples(index=False):
            e = model.explain(row.customer_id, row.item_id)
            if pd.isna(row.because):
                continue
            assert row.because == e["item_id"].iloc[0]
            assert row.because_share == pytest.approx(e["share"].iloc[0], rel=1e-4)


@pytest.mark.parametrize(
    "model, call, words",
    [
        (Popularity(), lambda m, u, i: m.explain(u, i), "no additive explanation"),
        (BPR(factors=4, iterations=2, random_state=0), lambda m, u, i: m.explain(u, i), "no additive"),
        (ItemKNN(), lambda m, u, i: m.explain(-1, i), "'user' was not seen in training"),
        (ItemKNN(), lambda m, u, i: m.explain(u, "no such item"), "'item'"),
        (ItemKNN(), lambda m, u, i: m.explain([u, u], i), "'user' must be one id"),
        (ItemKNN(), lambda m, u, i: m.explain(u, i, n=0), "'n'"),
    ],
    ids=["popularity", "bpr", "unknown-user", "unknown-item", "two-users", "n"],
)
def test_bad_requests_are_named(log, model, call, words):
    model.fit(log)
    user, item = model.user_ids_[0], model.item_ids_[0]
    with pytest.raises((ValueError, TypeError), match=words):
        call(model, user, item)


def test_evaluate_splits_hits_into_repeats_and_new_items(log):
    train, test = train_test_split(log, "last", k=3)
    model = ItemKNN(k=20).fit(train)
    excluded = evaluate(model, test)
    assert excluded["repeat_hits"] == 0 and excluded["new_hits"] > 0
    allowed = evaluate(model, test, exclude_seen=False)
    assert allowed["repeat_hits"] > 0
    # Hits are the recommended test items: recount them from recommend.
    recs = model.recommend(test["customer_id"].unique(), n=10, exclude_seen=False, unknown_users="popular")
    pairs = set(zip(test["customer_id"], test["item_id"]))
    seen = set(zip(train["customer_id"], train["item_id"]))
    hits = [(u, i) for u, i in zip(recs["customer_id"], recs["item_id"]) if (u, i) in pairs]
    users_in_train = set(train["customer_id"])
    hits = [h for h in hits if h[0] in users_in_train]
    assert allowed["repeat_hits"] == sum(h in seen for h in hits)
    assert allowed["new_hits"] == sum(h not in seen for h in hits)
    repeat = RepeatAware(k=10).fit(train)
    assert evaluate(repeat, test, mode="discover")["repeat_hits"] == 0
    with pytest.raises(ValueError, match="'mode'"):
        evaluate(repeat, test, mode="sometimes")
