"""What crosses the boundary besides parameters: ids of every kind (float ids
holding whole numbers included), several Python threads at once, and Ctrl-C
during long work."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pytest

import patronage
from patronage.anomaly import ECOD, HBOS, IsolationForest, TransactionRiskScorer
from patronage.clv import BetaGeo, GammaGamma
from patronage.datasets import load_cdnow_summary, simulate_transactions
from patronage.recommend import ALS, ItemKNN, Popularity


@pytest.fixture(scope="module")
def log():
    return simulate_transactions(400, seed=5)[0]


# -- float ids ------------------------------------------------------------------


def test_whole_float_ids_work_everywhere_and_come_back_as_floats(log):
    floats = log.assign(customer_id=log["customer_id"].astype("float64"), item_id=log["item_id"].astype("float64"))
    summary = patronage.rfm_summary(log, "customer_id", "timestamp", "amount")
    summary_f = patronage.rfm_summary(floats, "customer_id", "timestamp", "amount")
    assert summary_f.index.dtype == np.float64
    np.testing.assert_array_equal(summary_f.index.to_numpy(), summary.index.to_numpy().astype(float))
    pd.testing.assert_frame_equal(summary_f.reset_index(drop=True), summary.reset_index(drop=True))

    recs = ItemKNN(k=20).fit(log).recommend([1, 2], n=3)
    recs_f = ItemKNN(k=20).fit(floats).recommend([1.0, 2.0], n=3)
    assert recs_f["item_id"].dtype == np.float64
    np.testing.assert_array_equal(recs_f["item_id"], recs["item_id"].astype(float))
    np.testing.assert_allclose(recs_f["score"], recs["score"])
    # Integer queries find float ids.
    assert len(ItemKNN(k=20).fit(floats).recommend([1, 2], n=3)) == 6

    scores = TransactionRiskScorer().fit(log).score(log)
    scores_f = TransactionRiskScorer().fit(floats).score(floats)
    pd.testing.assert_frame_equal(scores_f, scores)


def test_float_ids_that_are_not_whole_name_the_column_and_a_value(log):
    bad = log.assign(customer_id=log["customer_id"] + 0.5)
    for call in (
        lambda: patronage.rfm_summary(bad, "customer_id", "timestamp"),
        lambda: Popularity().fit(bad),
        lambda: TransactionRiskScorer().fit(bad),
    ):
        with pytest.raises(ValueError, match=r"column 'customer_id' has float ids that are not whole numbers \(\d+\.5 at row \d+\)"):
            call()
    nan = log.assign(item_id=log["item_id"].astype(float))
    nan.loc[nan.index[3], "item_id"] = np.nan
    with pytest.raises(ValueError, match="'item_id' contains 1 null"):
        Popularity().fit(nan)


# -- threads ----------------------------------------------------------------------


def hammer(call, n_threads=4, repeats=6):
    """``call()`` from several threads at once; the results, in order."""
    with ThreadPoolExecutor(n_threads) as pool:
        return list(pool.map(lambda _: call(), range(n_threads * repeats)))


def test_every_estimator_reads_concurrently_with_sequential_results(log):
    X = np.random.default_rng(0).normal(size=(3000, 5))
    summary = load_cdnow_summary(with_monetary_value=True)
    bg = BetaGeo().fit(summary)
    gg = GammaGamma().fit(summary[summary["frequency"] > 0])
    calls = {
        "isolation forest": lambda m=IsolationForest(random_state=0).fit(X): m.score_samples(X),
        "hbos": lambda m=HBOS().fit(X): m.decision_function(X),
        "ecod": lambda m=ECOD().fit(X): m.decision_function(X),
        "bg/nbd": lambda: bg.conditional_expected_number_of_purchases_up_to_time(10, summary).to_numpy(),
        "clv": lambda: gg.customer_lifetime_value(bg, summary, freq="W").to_numpy(),
        "als": lambda m=ALS(factors=8, iterations=3, random_state=0).fit(log): m.recommend(n=5)["score"].to_numpy(),
        "risk": lambda m=TransactionRiskScorer().fit(log): m.score(log)["risk_score"].to_numpy(),
    }
    for name, call in calls.items():
        expected = call()
        for result in hammer(call):
            np.testing.assert_array_equal(result, expected, err_msg=name)
    # Fits from several threads give the same model.
    fits = hammer(lambda: bytes(IsolationForest(random_state=1).fit(X)._model.to_bytes()), repeats=2)
    assert len(set(fits)) == 1


def test_streaming_scorer_serialises_updates_from_threads(log):
    log = log.sort_values("timestamp", kind="stable").reset_index(drop=True)
    head, tail = log.iloc[: len(log) // 2], log.iloc[len(log) // 2 :]
    groups = [tail[tail["customer_id"] % 4 == g] for g in range(4)]
    batches = [[g.iloc[i : i + 25] for i in range(0, len(g), 25)] for g in groups]

    sequential = TransactionRiskScorer().fit(head)
    expected = [[sequential.score_new(b)["risk_score"].to_numpy() for b in group] for group in batches]

    shared = TransactionRiskScorer().fit(head)
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(lambda group: [shared.score_new(b)["risk_score"].to_numpy() for b in group], batches))
    for g in range(4):
        for a, b in zip(got[g], expected[g]):
            np.testing.assert_array_equal(a, b)
    assert shared.n_customers_ == sequential.n_customers_
    probe = log.groupby("customer_id").tail(1).assign(timestamp=log["timestamp"].max() + pd.Timedelta(days=1))
    np.testing.assert_array_equal(
        shared.score_new(probe)["risk_score"].to_numpy(), sequential.score_new(probe)["risk_score"].to_numpy()
    )


# -- Ctrl-C -----------------------------------------------------------------------

INTERRUPTED = """
import sys, time
import numpy as np
{setup}
print("started", flush=True)
start = time.perf_counter()
try:
    {work}
    print("finished", flush=True)
except KeyboardInterrupt:
    print("interrupted", time.perf_counter() - start, flush=True)
    {check}
    print("unchanged", flush=True)
"""


def run_and_interrupt(setup: str, work: str, check: str, after: float = 1.0) -> tuple[list[str], float]:
    """Start the script, send SIGINT ``after`` seconds into ``work``; the
    script's output lines and the seconds from the signal to its exit."""
    script = INTERRUPTED.format(setup=textwrap.dedent(setup), work=work, check=check)
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "started"
    time.sleep(after)
    sent = time.perf_counter()
    child.send_signal(signal.SIGINT)
    out, _ = child.communicate(timeout=60)
    return out.split("\n"), time.perf_counter() - sent


@pytest.mark.parametrize(
    "setup, work, check",
    [
        (  # a long fit
            """
            from patronage.datasets import simulate_transactions
            from patronage.recommend import ALS
            log, _ = simulate_transactions(20_000, seed=1)
            model = ALS(factors=32, iterations=100_000, random_state=0)
            """,
            "model.fit(log)",
            "assert model._model is None",
        ),
        (  # batch scoring that updates state
            """
            from patronage.datasets import simulate_transactions
            from patronage.anomaly import TransactionRiskScorer
            log, _ = simulate_transactions(3_000, seed=1)
            scorer = TransactionRiskScorer().fit(log)
            before = bytes(scorer._model.to_bytes())
            late = log.assign(timestamp=log["timestamp"] + (log["timestamp"].max() - log["timestamp"].min()))
            import pyarrow as pa
            # Arrow already: the time is spent in the core, not converting.
            huge = pa.concat_tables([pa.Table.from_pandas(late, preserve_index=False)] * 100)
            """,
            "scorer.score_new(huge)",
            "assert bytes(scorer._model.to_bytes()) == before",
        ),
    ],
    ids=["fit", "score_new"],
)
def test_ctrl_c_stops_within_a_second_and_changes_nothing(setup, work, check):
    lines, seconds = run_and_interrupt(setup, work, check)
    assert lines[0].startswith("interrupted"), lines
    assert float(lines[0].split()[1]) > 0.9  # it was stopped, not finished early
    assert "unchanged" in lines
    assert seconds < 1.0, seconds
