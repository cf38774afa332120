"""Bundled CDNOW data and the transaction simulator."""

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

import patronage
from patronage.datasets import load_cdnow, load_cdnow_summary, load_donations, simulate_transactions


def test_cdnow_files_match_the_shared_originals(shared_cdnow):
    master = load_cdnow("master")
    assert master.shape == (69659, 4)
    assert master["customer_id"].nunique() == 23570
    raw = pd.read_csv(shared_cdnow / "CDNOW_master.txt", sep=r"\s+", skiprows=1, header=None)
    np.testing.assert_array_equal(master["dollar_value"], raw[3])
    assert master["date"].min() == pd.Timestamp("1997-01-01")
    assert master["date"].max() == pd.Timestamp("1998-06-30")
    sample = load_cdnow("sample", output="polars")
    assert isinstance(sample, pl.DataFrame) and sample.height == 6919
    summary = load_cdnow_summary(with_monetary_value=True, output="pyarrow")
    assert isinstance(summary, pa.Table) and summary.num_rows == 2357
    assert load_donations()["weights"].sum() == 11104
    with pytest.raises(ValueError, match="kind"):
        load_cdnow("other")


def test_simulation_is_deterministic_and_sorted():
    a, ta = simulate_transactions(2000, seed=3)
    b, tb = simulate_transactions(2000, seed=3)
    c, _ = simulate_transactions(2000, seed=4)
    pd.testing.assert_frame_equal(a, b)
    np.testing.assert_array_equal(ta.is_fraud, tb.is_fraud)
    assert not a.equals(c)
    assert a["timestamp"].is_monotonic_increasing
    assert list(a.columns) == ["customer_id", "timestamp", "amount", "item_id", "category", "place"]
    assert a["timestamp"].dtype == "datetime64[us]"
    assert len(ta.is_fraud) == len(a)


def test_simulation_truth_is_consistent():
    log, truth = simulate_transactions(20_000, seed=1, fraud_rate=0.02)
    customers = truth.customers.set_index("customer_id")
    # Every customer buys at least once, first purchase inside the acquisition window.
    assert log["customer_id"].nunique() == 20_000
    first = log.groupby("customer_id")["timestamp"].min()
    days = (first - pd.Timestamp("2024-01-01")) / pd.Timedelta(days=1)
    np.testing.assert_allclose(days.to_numpy(), customers["first_day"].to_numpy(), atol=1e-6)
    assert days.max() < 180
    # Gamma(r, alpha) rates: mean r / alpha.
    assert abs(customers["lambda"].mean() - 0.75 / 20) < 0.002
    # Categories are the items' taste clusters.
    np.testing.assert_array_equal(truth.clusters[log["item_id"]], log["category"])
    # Customers mostly buy from their own taste cluster.
    own = (log["category"].to_numpy() == customers["cluster"].to_numpy()[log["customer_id"] - 1]).mean()
    assert own > 0.75
    # Fraud: labelled rows belong to victims, start with small tests, then large amounts.
    fraud = log[truth.is_fraud]
    victims = set(customers.index[customers["fraud_victim"]])
    assert set(fraud["customer_id"]) <= victims and len(victims) > 300
    first_fraud = fraud.groupby("customer_id").head(1)
    assert (first_fraud["amount"] <= 5).all()
    assert (fraud.groupby("customer_id")["amount"].max() >= 200).mean() > 0.9
    home = customers["home_place"].to_numpy()[fraud["customer_id"] - 1]
    assert (fraud["place"].to_numpy() != home).all()


def test_simulated_log_feeds_the_summary_and_other_frame_kinds():
    log, truth = simulate_transactions(500, seed=2, output="polars")
    assert isinstance(log, pl.DataFrame) and isinstance(truth.customers, pl.DataFrame)
    summary = patronage.rfm_summary(log, "customer_id", "timestamp", "amount", freq="W")
    assert summary.height == 500
    table, _ = simulate_transactions(100, seed=2, output="pyarrow")
    assert isinstance(table, pa.Table)


@pytest.mark.parametrize(
    "kwargs,name",
    [
        (dict(n_customers=0), "n_customers"),
        (dict(n_customers=10, alpha=-1.0), "alpha"),
        (dict(n_customers=10, fraud_rate=2.0), "fraud_rate"),
        (dict(n_customers=10, n_items=0), "n_items"),
        (dict(n_customers=10, seed=-1), "seed"),
        (dict(n_customers=10, output="excel"), "output"),
        (dict(n_customers=10, acquisition_days=1000.0), "acquisition_days"),
    ],
)
def test_simulator_bad_arguments(kwargs, name):
    with pytest.raises(ValueError, match=name):
        simulate_transactions(**kwargs)
