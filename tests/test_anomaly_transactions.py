"""TransactionRiskScorer: fraud found on the simulator, features equal to a
plain-Python reference, streaming equal to batch, no look-ahead, bad input."""

import pickle

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
from sklearn.base import clone
from sklearn.ensemble import IsolationForest as SkIsolationForest
from sklearn.metrics import roc_auc_score

from pyod.models.ecod import ECOD as PyodECOD

from patronage import NotFittedError
from patronage.anomaly import TransactionRiskScorer
from patronage.datasets import simulate_transactions

COLS = dict(place_col="place", category_col="category")


@pytest.fixture(scope="module")
def simulated():
    log, truth = simulate_transactions(20_000, seed=11)
    return log, truth.is_fraud


def split_rows(frame: pd.DataFrame, n: int) -> list[pd.DataFrame]:
    bounds = np.linspace(0, len(frame), n + 1).astype(int)
    return [frame.iloc[a:b] for a, b in zip(bounds[:-1], bounds[1:])]


def precision_at(y, scores, k=100):
    return float(y[np.argsort(-scores, kind="stable")[:k]].mean())


def raw_features(log: pd.DataFrame) -> np.ndarray:
    """What a detector sees without per-customer history."""
    return np.column_stack(
        [log["amount"], log["category"], log["place"], log["timestamp"].dt.hour, log["timestamp"].dt.dayofweek]
    ).astype(float)


# -- quality on the simulator's labelled fraud ---------------------------------


def test_finds_simulated_fraud_better_than_detectors_on_raw_features(simulated):
    log, y = simulated
    scored = TransactionRiskScorer(**COLS).fit(log).score(log)
    ours = scored["risk_score"].to_numpy()
    raw = raw_features(log)
    forest = -SkIsolationForest(random_state=0, n_jobs=2).fit(raw).score_samples(raw)
    ecod = PyodECOD().fit(raw).decision_scores_
    table = {
        "TransactionRiskScorer": (roc_auc_score(y, ours), precision_at(y, ours)),
        "sklearn IsolationForest (raw)": (roc_auc_score(y, forest), precision_at(y, forest)),
        "PyOD ECOD (raw)": (roc_auc_score(y, ecod), precision_at(y, ecod)),
    }
    print(f"\n{len(log):,} transactions, {int(y.sum())} fraud")
    print(f"{'':32} {'AUROC':>7} {'P@100':>7}")
    for name, (auc, p100) in table.items():
        print(f"{name:32} {auc:7.4f} {p100:7.2f}")
    assert table["TransactionRiskScorer"][0] > 0.99
    assert table["TransactionRiskScorer"][1] >= 0.95
    for name in ("sklearn IsolationForest (raw)", "PyOD ECOD (raw)"):
        assert table["TransactionRiskScorer"][0] > table[name][0]
        assert table["TransactionRiskScorer"][1] > table[name][1]


def test_alerts_have_reasons_and_catch_most_episodes(simulated):
    log, y = simulated
    scorer = TransactionRiskScorer(**COLS, alert_rate=0.01).fit(log)
    scored = scorer.score(log, features=True)
    alert = scored["alert"].to_numpy()
    assert alert.mean() == pytest.approx(0.01, abs=0.002)
    assert (scored["risk_score"][alert] > scorer.threshold_).all()
    assert scored["reasons"][alert].notna().all() and scored["reasons"][~alert].isna().all()
    assert y[alert].mean() > 0.3 and alert[y].mean() > 0.8
    # Large purchases of an episode are explained as card testing when the
    # test purchase was small for that customer (most of them).
    large = alert & y & (log["amount"] >= 200).to_numpy()
    pattern = scored["card_testing"].to_numpy() > 0
    assert pattern[large].mean() > 0.6
    assert scored["reasons"][large & pattern].str.contains("card-testing pattern").all()
    reasons = scored["reasons"][alert].str.split("; ")
    assert reasons.map(len).max() <= scorer.n_reasons


# -- features equal a plain-Python reference -----------------------------------


def reference_features(log: pd.DataFrame, small_share=0.2, large_multiple=3.0, short_h=1.0, long_h=24.0):
    """Straightforward per-customer loop over the past, for checking."""
    out = {k: np.full(len(log), np.nan) for k in
           ["amount_ratio", "amount_zscore", "hours_since_previous", "count_short_window", "count_long_window",
            "amount_long_window", "new_place", "card_testing"]}  # fmt: skip
    hours = (log["timestamp"] - pd.Timestamp("2020-01-01")).dt.total_seconds().to_numpy() / 3600
    order = np.lexsort((np.arange(len(log)), hours, log["customer_id"].to_numpy()))
    past: dict = {}
    for i in order:
        c, t, a, p = log["customer_id"].iloc[i], hours[i], log["amount"].iloc[i], log["place"].iloc[i]
        h = past.setdefault(c, [])
        recent = [(tt, aa, small) for tt, aa, _, small in h if t - tt < long_h]
        if h:
            amounts = np.array([aa for _, aa, _, _ in h])
            usual = max(amounts.mean(), 0.01)
            out["amount_ratio"][i] = a / usual
            if len(h) >= 2:
                out["amount_zscore"][i] = (a - amounts.mean()) / max(amounts.std(ddof=1), 0.01 * usual, 0.01)
            out["hours_since_previous"][i] = t - h[-1][0]
            out["new_place"][i] = float(p not in {pp for _, _, pp, _ in h})
            tests = [aa for _, aa, small in recent if small]
            out["card_testing"][i] = a / usual if tests and a >= large_multiple * usual else 0.0
        out["count_short_window"][i] = sum(1 for tt, _, _ in recent if t - tt < short_h)
        out["count_long_window"][i] = len(recent)
        out["amount_long_window"][i] = sum(aa for _, aa, _ in recent) + a
        small = bool(h) and a <= small_share * max(np.mean([aa for _, aa, _, _ in h]), 0.01)
        h.append((t, a, p, small))
    return out


def test_features_equal_a_plain_reference():
    log, _ = simulate_transactions(300, seed=2, fraud_rate=0.2)
    scored = TransactionRiskScorer(place_col="place").fit(log).score(log, features=True)
    expected = reference_features(log)
    for name, values in expected.items():
        np.testing.assert_allclose(scored[name].to_numpy(), values, rtol=1e-9, atol=1e-9, err_msg=name)
    assert scored["new_category"].isna().all() and scored["new_merchant"].isna().all()
    # Each term's risk is non-negative and the score is their sum.
    terms = scored[[f"risk_{t}" for t in TransactionRiskScorer().term_names_]]
    assert (terms.to_numpy() >= 0).all()
    np.testing.assert_allclose(terms.sum(axis=1), scored["risk_score"], rtol=1e-12)
    first = ~log.duplicated("customer_id")
    assert (scored["risk_score"][first] == 0).all()  # no history, no evidence


# -- no look-ahead, order, streaming ---------------------------------------------


@pytest.fixture(scope="module")
def small_log():
    log, truth = simulate_transactions(1500, seed=5, fraud_rate=0.05)
    return log, truth.is_fraud


def test_no_look_ahead(small_log):
    log, _ = small_log
    scorer = TransactionRiskScorer(**COLS).fit(log)
    full = scorer.score(log, features=True)
    k = len(log) // 2
    head = scorer.score(log.iloc[:k], features=True)
    pd.testing.assert_frame_equal(head, full.iloc[:k])
    # Changing the future does not change the past.
    future = log.copy()
    future.loc[future.index[k:], "amount"] *= 100
    pd.testing.assert_frame_equal(scorer.score(future).iloc[:k], full.iloc[:k][["risk_score", "alert", "reasons"]])


def test_unsorted_log_gives_the_same_scores_per_row(small_log):
    log, _ = small_log
    scorer = TransactionRiskScorer(**COLS).fit(log)
    expected = scorer.score(log, features=True)
    shuffled = log.sample(frac=1.0, random_state=3)
    got = scorer.score(shuffled, features=True)
    pd.testing.assert_frame_equal(got.loc[log.index], expected)
    refit = TransactionRiskScorer(**COLS).fit(shuffled)
    assert refit.threshold_ == scorer.threshold_


def test_a_fit_on_a_long_log_does_not_depend_on_its_row_order():
    # Past 2^17 rows the calibration samples every k-th purchase: taken in
    # customer order, not in the order rows came (a cluster's is arbitrary).
    log, _ = simulate_transactions(20_000, seed=7)
    assert len(log) > 1 << 17
    scorer = TransactionRiskScorer(**COLS).fit(log)
    shuffled = TransactionRiskScorer(**COLS).fit(log.sample(frac=1.0, random_state=1))
    assert shuffled.threshold_ == scorer.threshold_


@pytest.mark.parametrize("n_batches", [1, 7, 50])
def test_streaming_equals_batch(small_log, n_batches):
    log, _ = small_log
    split = len(log) * 2 // 3
    history, rest = log.iloc[:split], log.iloc[split:]
    scorer = TransactionRiskScorer(**COLS).fit(history)
    batch = scorer.score(log, features=True).iloc[split:]
    parts = [scorer.score_new(part, features=True) for part in split_rows(rest, n_batches)]
    streamed = pd.concat(parts)
    pd.testing.assert_frame_equal(streamed, batch)
    assert scorer.n_customers_ == log["customer_id"].nunique()


def test_update_then_score_new_equals_batch(small_log):
    log, _ = small_log
    a, b, c = split_rows(log, 3)
    scorer = TransactionRiskScorer(**COLS).fit(a)
    assert scorer.update(b) is scorer
    expected = scorer.score(log).iloc[len(a) + len(b):]
    pd.testing.assert_frame_equal(scorer.score_new(c), expected)


def test_streaming_rejects_the_past_and_leaves_state_untouched(small_log):
    log, _ = small_log
    split = len(log) // 2
    scorer = TransactionRiskScorer(**COLS).fit(log.iloc[:split])
    before = bytes(scorer._model.to_bytes())
    late = log.iloc[split:split + 50]
    history = log.iloc[:split]
    repeat = history[history.duplicated("customer_id", keep=False)]
    first_of_repeat = repeat.drop_duplicates("customer_id").iloc[[0]]  # older than that customer's state
    stale = pd.concat([late, first_of_repeat])
    with pytest.raises(ValueError, match="'timestamp' has a transaction of customer .* before the last one"):
        scorer.score_new(stale)
    assert bytes(scorer._model.to_bytes()) == before
    expected = scorer.score(log).iloc[split:split + 50]
    pd.testing.assert_frame_equal(scorer.score_new(late), expected)


# -- frames, ids, persistence --------------------------------------------------


def test_frame_kinds_and_id_kinds(small_log):
    log, _ = small_log
    scorer = TransactionRiskScorer(**COLS).fit(log)
    expected = scorer.score(log)["risk_score"].to_numpy()
    out = scorer.score(pl.from_pandas(log))
    assert isinstance(out, pl.DataFrame)
    np.testing.assert_array_equal(out["risk_score"].to_numpy(), expected)
    out = scorer.score(pa.Table.from_pandas(log, preserve_index=False))
    assert isinstance(out, pa.Table)
    np.testing.assert_array_equal(out.column("risk_score").to_numpy(), expected)
    strings = log.assign(
        customer_id="c" + log["customer_id"].astype(str),
        place=("p" + log["place"].astype(str)).astype("category"),
        timestamp=log["timestamp"].dt.tz_localize("UTC").dt.tz_convert("Europe/Paris"),
    )
    scorer_s = TransactionRiskScorer(**COLS).fit(strings)
    np.testing.assert_allclose(scorer_s.score(strings)["risk_score"].to_numpy(), expected, rtol=1e-12)
    indexed = log.set_index(log.index * 10 + 3)
    assert list(scorer.score(indexed).index) == list(indexed.index)


def test_pickle_save_load_and_clone(small_log, tmp_path):
    log, _ = small_log
    split = len(log) // 2
    scorer = TransactionRiskScorer(**COLS, alert_rate=0.02).fit(log.iloc[:split])
    copies = [pickle.loads(pickle.dumps(scorer))]
    scorer.save(tmp_path / "risk.patronage")
    copies.append(TransactionRiskScorer.load(tmp_path / "risk.patronage"))
    expected = scorer.score_new(log.iloc[split:], features=True)
    for copy in copies:
        assert copy.threshold_ == scorer.threshold_ and copy.get_params() == scorer.get_params()
        pd.testing.assert_frame_equal(copy.score_new(log.iloc[split:], features=True), expected)
        assert bytes(copy._model.to_bytes()) == bytes(scorer._model.to_bytes())
    fresh = clone(scorer)
    assert fresh.get_params() == scorer.get_params()
    with pytest.raises(NotFittedError):
        fresh.score(log)


def test_without_history_scores_the_same_and_is_small(small_log):
    log, _ = small_log
    scorer = TransactionRiskScorer(**COLS).fit(log)
    light = pickle.loads(pickle.dumps(scorer.without_history()))
    assert light.n_customers_ == 0 and light.threshold_ == scorer.threshold_
    pd.testing.assert_frame_equal(light.score(log, features=True), scorer.score(log, features=True))
    assert len(pickle.dumps(light)) < len(pickle.dumps(scorer))  # the calibration stays; the histories go
    # Every customer is new to it: the first batch scores as a log from scratch.
    pd.testing.assert_frame_equal(light.score_new(log), scorer.score(log))


# -- bad input ---------------------------------------------------------------


def test_refunds_are_ignored_or_rejected(small_log):
    log, _ = small_log
    scorer = TransactionRiskScorer(**COLS).fit(log)
    expected = scorer.score(log)
    refunds = log.iloc[::50].assign(amount=lambda d: -d["amount"])
    with_refunds = pd.concat([log, refunds.set_index(refunds.index + 10**6)])
    out = scorer.score(with_refunds)
    assert (out["risk_score"].iloc[len(log):] == 0).all()
    assert out["reasons"].iloc[len(log):].isna().all()
    # Refunds stay out of the history: the purchases score as before.
    pd.testing.assert_frame_equal(out.iloc[: len(log)], expected)
    with pytest.raises(ValueError, match="'amount' has .* negative amount"):
        TransactionRiskScorer(**COLS, refunds="error").fit(with_refunds)
    with pytest.raises(ValueError, match="refunds"):
        TransactionRiskScorer(refunds="drop").fit(log)


def test_bad_columns_and_values_are_named(small_log):
    log, _ = small_log
    with pytest.raises(ValueError, match="'merchant'"):
        TransactionRiskScorer(merchant_col="merchant").fit(log)
    bad = log.copy()
    bad.loc[bad.index[4], "amount"] = np.nan
    with pytest.raises(ValueError, match="'amount' contains 1 null"):
        TransactionRiskScorer().fit(bad)  # pandas hands NaN over as null
    table = pa.Table.from_pandas(log, preserve_index=False)
    amounts = table.column("amount").to_numpy().copy()
    amounts[[3, 9]] = [np.nan, np.inf]
    with pytest.raises(ValueError, match="'amount' contains 2 NaN or infinite"):
        TransactionRiskScorer().fit(table.set_column(2, "amount", pa.array(amounts)))
    bad = log.assign(amount=log["amount"].astype(str))
    with pytest.raises(TypeError, match="'amount'.*numeric"):
        TransactionRiskScorer().fit(bad)
    bad = log.assign(timestamp=log["amount"])
    with pytest.raises(TypeError, match="'timestamp'.*date or datetime"):
        TransactionRiskScorer().fit(bad)
    bad = log.assign(customer_id=log["customer_id"].astype("Int64"))
    bad.loc[bad.index[0], "customer_id"] = pd.NA
    with pytest.raises(ValueError, match="'customer_id' contains 1 null"):
        TransactionRiskScorer().fit(bad)
    with pytest.raises(ValueError, match="no rows"):
        TransactionRiskScorer().fit(log.iloc[:0])
    with pytest.raises(TypeError, match="log must be"):
        TransactionRiskScorer().fit([1, 2, 3])
    # A fitted scorer reads the columns it was fitted with (new parameters
    # take effect at the next fit, as in scikit-learn).
    fitted = TransactionRiskScorer(place_col="place").fit(log)
    expected = fitted.score(log)
    pd.testing.assert_frame_equal(fitted.set_params(place_col=None).score(log), expected)


@pytest.mark.parametrize(
    "params,match",
    [
        ({"alert_rate": 0.0}, "alert_rate"),
        ({"alert_rate": 1.5}, "alert_rate"),
        ({"small_share": 1.0}, "small_share"),
        ({"large_multiple": 0.5}, "large_multiple"),
        ({"short_window_hours": 0}, "short_window"),
        ({"short_window_hours": 48.0}, "long_window"),
        ({"n_reasons": -1}, "n_reasons"),
    ],
)
def test_bad_parameters(small_log, params, match):
    log, _ = small_log
    with pytest.raises(ValueError, match=match):
        TransactionRiskScorer(**params).fit(log)
