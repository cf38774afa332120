"""patronage.spark gives the single-machine results (Spark in local mode, one
session shared by the module)."""

import os
import shutil
import sys

import numpy as np
import pandas as pd
import pytest

pyspark = pytest.importorskip("pyspark")
if shutil.which("java") is None:
    pytest.skip("Spark needs Java", allow_module_level=True)

import patronage  # noqa: E402
import patronage.spark as pspark  # noqa: E402
from patronage import clv  # noqa: E402
from patronage.datasets import simulate_transactions  # noqa: E402

COLUMNS = ("customer_id", "timestamp", "amount")


@pytest.fixture(scope="module")
def spark():
    os.environ["PYSPARK_PYTHON"] = sys.executable
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[2]")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )
    yield session
    session.stop()


@pytest.fixture(scope="module")
def log():
    return simulate_transactions(3000, seed=13)[0][list(COLUMNS)]


def _local(frame):
    return frame.toArrow().to_pandas().set_index("customer_id").sort_index()


@pytest.mark.parametrize("freq, end", [("D", None), ("W", "2025-06-30")])
def test_summary_equals_the_single_machine_one(spark, log, freq, end):
    expected = patronage.rfm_summary(log, *COLUMNS, observation_period_end=end, freq=freq)
    got = pspark.rfm_summary(spark.createDataFrame(log), *COLUMNS, observation_period_end=end, freq=freq)
    pd.testing.assert_frame_equal(_local(got), expected)


@pytest.mark.parametrize("model_type", [clv.BetaGeo, clv.ParetoNBD])
def test_fit_on_counts_and_predict_per_partition_equal_single_machine(spark, log, model_type):
    summary = patronage.rfm_summary(log, *COLUMNS[:2], freq="W")
    local = model_type().fit(summary)
    spark_summary = pspark.rfm_summary(spark.createDataFrame(log), *COLUMNS[:2], freq="W")
    model = pspark.fit(model_type(), spark_summary)
    assert model.params_ == pytest.approx(local.params_, rel=1e-6)
    scored = _local(pspark.predict(model, pspark.predict(model, spark_summary), "predict", 52))
    np.testing.assert_allclose(scored["conditional_probability_alive"], local.conditional_probability_alive(summary),
                               rtol=1e-6)  # fmt: skip
    np.testing.assert_allclose(scored["predict"], local.predict(52, summary), rtol=1e-6)


def test_bad_input_names_the_column_or_method(spark, log):
    df = spark.createDataFrame(log)
    with pytest.raises(ValueError, match="'price' not found"):
        pspark.rfm_summary(df, "customer_id", "timestamp", "price")
    with pytest.raises(ValueError, match="no method 'fit_transform'"):
        pspark.predict(clv.BetaGeo.from_params({"r": 1, "alpha": 1, "a": 1, "b": 1}), df, "fit_transform")


def test_recommendations_equal_single_machine(spark):
    from patronage.recommend import ItemKNN

    log = simulate_transactions(1500, seed=5)[0][["customer_id", "item_id"]]
    df = spark.createDataFrame(log)
    model = ItemKNN(k=30).fit(pspark.interactions(df, "customer_id", "item_id"))
    got = pspark.recommend(model, df.select("customer_id").distinct(), n=5, reasons=True).toArrow().to_pandas()
    local = ItemKNN(k=30).fit(log).recommend(n=5, reasons=True)
    key = ["customer_id", "rank"]
    got, local = (t.sort_values(key).reset_index(drop=True) for t in (got, local))
    pd.testing.assert_frame_equal(got[local.columns], local, check_dtype=False)


def test_risk_scores_equal_single_machine(spark):
    from patronage.anomaly import TransactionRiskScorer

    log = simulate_transactions(1500, seed=3)[0].reset_index(names="row")
    scorer = TransactionRiskScorer(place_col="place", category_col="category").fit(log)
    got = pspark.score(scorer, spark.createDataFrame(log)).toArrow().to_pandas().set_index("row").sort_index()
    local = scorer.score(log)
    np.testing.assert_allclose(got["risk_score"], local["risk_score"], rtol=1e-12)
    assert (got["alert"].to_numpy() == local["alert"].to_numpy()).all()
    assert got["reasons"].fillna("").tolist() == local["reasons"].fillna("").tolist()


def test_customer_table_equals_single_machine(spark):
    from _same_table import ARGS, OPTIONS, assert_same_customer_table, dirty_log, single_machine

    log = dirty_log(seed=21)
    expected = single_machine(log)
    got = pspark.customer_table(spark.createDataFrame(log), *ARGS, **OPTIONS)
    frames = [frame.toArrow().to_pandas() for frame in (got.table, got.next_items, got.alerts)]
    assert_same_customer_table(expected, got, *frames)
