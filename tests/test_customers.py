"""customer_table, the main job: each column agrees with the core it comes from,
messy exports are cleaned as documented, and bad input is a clear error."""

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

import patronage
from patronage import clv
from patronage.datasets import simulate_transactions

COLUMNS = ("customer_id", "timestamp", "amount", "item_id")


@pytest.fixture(scope="module")
def log():
    return simulate_transactions(3000, seed=7)[0]


@pytest.fixture(scope="module")
def result(log):
    return patronage.customer_table(log, *COLUMNS, place_col="place", category_col="category")


def test_one_row_per_customer_with_every_column(log, result):
    table = result.table
    assert table.index.name == "customer_id" and table.index.is_unique
    assert set(table.index) == set(log["customer_id"])
    assert list(table.columns) == [
        "frequency", "recency", "T", "monetary_value", "probability_alive", "expected_purchases", "clv",
        "value_tier", "lifecycle_stage", "buy_again", "try_next", "n_alerts", "max_risk_score", "risk_reasons",
    ]  # fmt: skip
    assert table["probability_alive"].between(0, 1).all() and (table["clv"] >= 0).all()
    assert table["n_alerts"].sum() == len(result.alerts)
    assert result.alerts["risk_score"].is_monotonic_decreasing
    assert set(result.timings) >= {"summary", "purchase model", "value", "next items", "risk"}


def test_columns_equal_the_cores_they_come_from(log, result):
    summary = patronage.rfm_summary(log, "customer_id", "timestamp", "amount", freq="W")
    table = result.table.loc[summary.index]
    pd.testing.assert_frame_equal(table[["frequency", "recency", "T", "monetary_value"]], summary)
    model = type(result.purchase_model)().fit(summary)
    assert model.params_ == pytest.approx(result.purchase_model.params_)
    np.testing.assert_allclose(table["probability_alive"], model.conditional_probability_alive(summary))
    np.testing.assert_allclose(table["expected_purchases"], model.predict(12 * 4.345, summary))
    value = clv.GammaGamma().fit(summary).customer_lifetime_value(model, summary, time=12, freq="W")
    np.testing.assert_allclose(table["clv"], value)
    np.testing.assert_array_equal(table["value_tier"], clv.value_tiers(value))


def test_model_is_chosen_on_the_holdout(result):
    assert set(result.holdout) == {"BetaGeo", "ModifiedBetaGeo", "ParetoNBD"}
    best = min(result.holdout, key=lambda name: result.holdout[name].mae)
    assert type(result.purchase_model).__name__ == best
    assert result.model_choice.startswith(best)


def test_holdout_zero_and_named_models(log):
    plain = patronage.customer_table(log, *COLUMNS[:3], holdout=0, risk=False)
    assert type(plain.purchase_model).__name__ == "BetaGeo" and plain.holdout == {}
    assert "holdout=0" in plain.model_choice
    named = patronage.customer_table(log, *COLUMNS[:3], model="ParetoNBD", risk=False)
    assert type(named.purchase_model).__name__ == "ParetoNBD" and set(named.holdout) == {"ParetoNBD"}
    assert named.next_items is None and named.alerts is None and "buy_again" not in named.table


def test_a_holdout_too_short_to_compare_falls_back_to_bg_nbd(log):
    # Hourly periods over 20 hours; the calibration's 15 hours hold no repeat purchase.
    start = log["timestamp"].min()
    short = log[log["timestamp"] < start + pd.Timedelta(hours=15)]
    short = pd.concat([short, short.iloc[-1:].assign(timestamp=start + pd.Timedelta(hours=20))])
    result = patronage.customer_table(short, *COLUMNS[:3], freq="h", risk=False)
    assert type(result.purchase_model).__name__ == "BetaGeo" and result.holdout == {}
    assert result.model_choice.startswith("BetaGeo: no model could be compared on the holdout; BetaGeo: ")


def test_next_items_again_were_bought_twice_and_new_were_not(log, result):
    items = result.next_items
    bought = log.groupby(["customer_id", "item_id"]).size()
    again, new = items[items["kind"] == "again"], items[items["kind"] == "new"]
    assert len(again) and len(new)
    counts = bought.loc[list(zip(again["customer_id"], again["item_id"]))].to_numpy()
    np.testing.assert_array_equal(counts, again["score"])
    assert (counts >= 2).all() and again["reason"].str.startswith(tuple(f"bought {c} times" for c in set(counts))).all()
    assert not any(pair in bought.index for pair in zip(new["customer_id"], new["item_id"]))
    assert new["reason"].str.startswith("often bought with").all()
    assert items.groupby(["customer_id", "kind"])["rank"].max().max() <= 5
    first = result.table["try_next"].dropna().index[0]
    listed = new[new["customer_id"] == first].sort_values("rank")["item_id"].astype(str)
    assert result.table.loc[first, "try_next"] == ", ".join(listed)


@pytest.mark.parametrize("kind", ["polars", "pyarrow"])
def test_frames_in_the_same_kind_out(log, result, kind):
    data = pl.from_pandas(log) if kind == "polars" else pa.Table.from_pandas(log)
    other = patronage.customer_table(data, *COLUMNS, place_col="place", category_col="category")
    assert patronage._frames.frame_kind(other.table) == kind
    assert patronage._frames.frame_kind(other.next_items) == kind
    values = pa.table(other.table)["clv"].to_numpy()
    np.testing.assert_allclose(values, result.table["clv"].to_numpy())


def test_messy_export_is_cleaned_and_counted(log):
    clean = log[log["customer_id"] <= 600].copy()
    clean["customer_id"] = clean["customer_id"].astype(str)
    messy = pd.concat(
        [
            clean,
            clean.iloc[:7],  # exact duplicates
            clean.iloc[:3].assign(customer_id=[None, "", "  "]),
            clean.iloc[:2].assign(timestamp=pd.NaT),
            clean.iloc[:4].assign(amount=[np.nan, np.inf, None, -np.inf]),
            clean.iloc[:5].assign(amount=-10.0),  # returns
            clean.iloc[:6].assign(amount=0.0),
        ]
    ).sample(frac=1.0, random_state=0)
    result = patronage.customer_table(messy, *COLUMNS, risk=False)
    c = result.cleaning
    assert (c.duplicates, c.missing_customer, c.missing_time, c.missing_amount) == (7, 3, 2, 4)
    assert (c.returns, c.returned_value, c.zero_amount, c.kept) == (5, 50.0, 6, len(clean))
    expected = patronage.customer_table(clean, *COLUMNS, risk=False)
    pd.testing.assert_frame_equal(result.table, expected.table)
    assert "duplicates 7" in result.summary() and "returns 5 (value 50.00)" in result.summary()
    kept = patronage.customer_table(messy, *COLUMNS, risk=False, drop_duplicates=False)
    assert kept.cleaning.duplicates == 0 and kept.cleaning.kept == len(clean) + 7


def test_text_times_are_parsed_and_lines_are_purchases_for_risk():
    log = pd.DataFrame(
        {
            "who": ["a"] * 6 + ["b"] * 4,
            "when": ["2024-01-0%d" % d for d in (1, 1, 3, 5, 8, 9)] + ["2024-01-0%d" % d for d in (2, 4, 6, 9)],
            "spent": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 1.0, 2.0, 3.0, 4.0],
        }
    )
    result = patronage.customer_table(log, "who", "when", "spent", freq="D", holdout=0, model="BetaGeo")
    assert result.settings["purchases_scored"] == 9  # a's two lines on Jan 1 are one purchase
    assert result.table.loc["a", "frequency"] == 4


def test_summary_and_html(result, tmp_path):
    text = result.summary()
    assert "transactions of 3,000 customers" in text and "Most valuable customers" in text
    assert "Alerts:" in text and "Purchase model:" in text
    page = result.to_html(tmp_path / "report.html")
    assert (tmp_path / "report.html").read_text() == page
    assert page.count("<img") == 3 and "Riskiest transactions" in page and "Next items" in page
    assert "<pre>" in result._repr_html_()


@pytest.mark.parametrize(
    "change, error, match",
    [
        (dict(monetary_value_col="price"), ValueError, "'price' not found"),
        (dict(log=pd.DataFrame({"customer_id": [1], "timestamp": ["x"], "amount": [1.0]})), TypeError, "'timestamp'"),
        (dict(log=pd.DataFrame({"customer_id": [1], "timestamp": [pd.Timestamp(0)], "amount": ["1"]})), TypeError,
         "'amount' must hold numbers"),
        (dict(log=pd.DataFrame({"customer_id": [1], "timestamp": [pd.Timestamp(0)], "amount": [-1.0]})), ValueError,
         "no transactions left after cleaning"),
        (dict(log=pd.DataFrame({"customer_id": [], "timestamp": [], "amount": []})), ValueError, "no rows"),
        (dict(holdout=1.0), ValueError, "holdout"),
        (dict(model="BG"), ValueError, "model must be"),
        (dict(n_items=0), ValueError, "n_items"),
        (dict(freq="Q"), ValueError, "freq"),
    ],
)  # fmt: skip
def test_bad_input_is_a_clear_error(log, change, error, match):
    args = dict(log=log.iloc[:2000], customer_col="customer_id", datetime_col="timestamp", monetary_value_col="amount")
    with pytest.raises(error, match=match):
        patronage.customer_table(**{**args, **change})
