"""patronage.dask gives the single-machine results, on the threaded scheduler
and on a LocalCluster of 2 worker processes (models pickled to the workers)."""

import numpy as np
import pandas as pd
import pytest

dd = pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("distributed")

import patronage  # noqa: E402
import patronage.dask as pdask  # noqa: E402
from patronage import clv  # noqa: E402
from patronage.datasets import simulate_transactions  # noqa: E402

COLUMNS = ("customer_id", "timestamp", "amount")


@pytest.fixture(scope="module")
def log():
    return simulate_transactions(4000, seed=11)[0]


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as c:
        with distributed.Client(c) as client:
            yield client


@pytest.mark.parametrize("freq, end", [("D", None), ("W", "2025-06-30")])
def test_summary_equals_the_single_machine_one(log, freq, end):
    expected = patronage.rfm_summary(log, *COLUMNS, observation_period_end=end, freq=freq)
    got = pdask.rfm_summary(dd.from_pandas(log, npartitions=5), *COLUMNS, observation_period_end=end, freq=freq)
    pd.testing.assert_frame_equal(got.compute().sort_index(), expected)


@pytest.mark.parametrize("model_type", [clv.BetaGeo, clv.ParetoNBD])
def test_fit_on_counts_and_predict_per_partition_equal_single_machine(log, model_type):
    summary = patronage.rfm_summary(log, *COLUMNS[:2], freq="W")
    local = model_type().fit(summary)
    distributed_summary = pdask.rfm_summary(dd.from_pandas(log, npartitions=4), *COLUMNS[:2], freq="W")
    model = pdask.fit(model_type(), distributed_summary)
    assert model.params_ == pytest.approx(local.params_, rel=1e-6)
    alive = pdask.predict(model, distributed_summary).compute().sort_index()
    np.testing.assert_allclose(alive, local.conditional_probability_alive(summary), rtol=1e-6)
    expected = pdask.predict(model, distributed_summary, "predict", 52).compute().sort_index()
    np.testing.assert_allclose(expected, local.predict(52, summary), rtol=1e-6)


def test_on_two_worker_processes(log, cluster):
    summary = pdask.rfm_summary(dd.from_pandas(log, npartitions=4), *COLUMNS, freq="W")
    model = pdask.fit(clv.BetaGeo(), summary)
    alive = pdask.predict(model, summary).compute().sort_index()
    local_summary = patronage.rfm_summary(log, *COLUMNS, freq="W")
    pd.testing.assert_frame_equal(summary.compute().sort_index(), local_summary)
    np.testing.assert_allclose(alive, model.conditional_probability_alive(local_summary), rtol=1e-12)


def test_bad_input_names_the_column_or_method(log):
    ddf = dd.from_pandas(log, npartitions=2)
    with pytest.raises(ValueError, match="'price' not found"):
        pdask.rfm_summary(ddf, "customer_id", "timestamp", "price")
    summary = pdask.rfm_summary(ddf, *COLUMNS[:2])
    with pytest.raises(ValueError, match="no method 'fit_transform'"):
        pdask.predict(clv.BetaGeo.from_params({"r": 1, "alpha": 1, "a": 1, "b": 1}), summary, "fit_transform")


def test_recommendations_equal_single_machine(log, cluster):
    from patronage.recommend import ItemKNN

    ddf = dd.from_pandas(log, npartitions=4)
    model = ItemKNN(k=30).fit(pdask.interactions(ddf, "customer_id", "item_id"))
    users = ddf["customer_id"].unique()
    got = pdask.recommend(model, users, n=5, reasons=True).compute()
    local = ItemKNN(k=30).fit(log).recommend(n=5, reasons=True)
    key = ["customer_id", "rank"]
    got, local = (t.sort_values(key).reset_index(drop=True) for t in (got, local))
    pd.testing.assert_frame_equal(got[local.columns], local, check_dtype=False)


def test_risk_scores_equal_single_machine(cluster):
    from patronage.anomaly import TransactionRiskScorer

    log = simulate_transactions(1500, seed=3)[0]
    scorer = TransactionRiskScorer(place_col="place", category_col="category").fit(log)
    got = pdask.score(scorer, dd.from_pandas(log, npartitions=4)).compute().sort_index()
    local = scorer.score(log)
    pd.testing.assert_frame_equal(got[local.columns], local)


def test_customer_table_equals_single_machine(cluster):
    from _same_table import ARGS, OPTIONS, assert_same_customer_table, dirty_log, single_machine

    log = dirty_log(seed=21)
    expected = single_machine(log)
    got = pdask.customer_table(dd.from_pandas(log, npartitions=3), *ARGS, **OPTIONS)
    assert_same_customer_table(expected, got, got.table.compute(), got.next_items.compute(), got.alerts.compute())
    with pytest.raises(ValueError, match="one machine"):
        got.summary()
