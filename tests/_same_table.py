"""The check shared by the Dask and Spark tests: a customer table computed on
a cluster is the single-machine one."""

import numpy as np
import pandas as pd
import pytest

import patronage
from patronage.datasets import simulate_transactions

#: The simulated log's columns the customer tables read.
ARGS = ("customer_id", "timestamp", "amount", "item_id")
OPTIONS = {"category_col": "category", "place_col": "place", "freq": "W"}


def dirty_log(seed):
    """A simulated log with what cleaning drops: repeated rows and returns."""
    log = simulate_transactions(1500, seed=seed)[0]
    amount = log["amount"].to_numpy().copy()
    amount[::97] *= -1
    log = log.assign(amount=amount)
    return pd.concat([log, log.iloc[::50]], ignore_index=True)


def single_machine(log):
    return patronage.customer_table(log, *ARGS, **OPTIONS)


def assert_same_customer_table(expected, got, table, next_items, alerts):
    """``table``, ``next_items`` and ``alerts`` are ``got``'s frames on this machine (pandas)."""
    assert got.model_choice == expected.model_choice
    assert got.cleaning.as_dict() == pytest.approx(expected.cleaning.as_dict())  # returned_value: a float sum
    assert got.purchase_model.params_ == expected.purchase_model.params_
    assert got.spend_model.params_ == expected.spend_model.params_
    want = expected.table.reset_index()
    table = table.sort_values("customer_id").reset_index(drop=True)[list(want.columns)]
    numbers = want.select_dtypes("number").columns
    np.testing.assert_allclose(table[numbers].to_numpy(float), want[numbers].to_numpy(float), rtol=1e-9)
    for text in want.columns.difference(numbers):
        assert table[text].astype(object).fillna("").tolist() == want[text].astype(object).fillna("").tolist(), text

    def rows(frame, keys):
        frame = frame.astype({"score": "float64"}) if "score" in frame else frame
        return frame.sort_values(keys).reset_index(drop=True)

    keys = ["customer_id", "kind", "rank"]
    pd.testing.assert_frame_equal(rows(next_items, keys), rows(expected.next_items, keys), check_dtype=False)
    keys = ["customer_id", "timestamp"]
    pd.testing.assert_frame_equal(rows(alerts, keys), rows(expected.alerts, keys), check_dtype=False)
