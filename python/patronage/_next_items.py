"""Next items for each customer: those they are likely to buy again and those
new to them, each with a reason a person can check."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ._clean import grouping_key
from .recommend import Interactions, ItemKNN

#: An item counts as a habit once bought in this many different rows.
MIN_REPEATS = 2


def _first_n_per_group(keys: pa.ChunkedArray | pa.Array, n: int) -> np.ndarray:
    """Row positions among the first ``n`` of each run of equal ``keys``
    (``keys`` sorted so that equal values are adjacent), and their ranks."""
    keys = pa.chunked_array([keys]) if isinstance(keys, pa.Array) else keys
    keys = keys.combine_chunks()
    rows = len(keys)
    if rows == 0:
        return np.zeros(0, dtype=np.int64)
    starts = np.ones(rows, dtype=bool)
    starts[1:] = pc.not_equal(keys[1:], keys[:-1]).to_numpy(zero_copy_only=False)
    start_of = np.maximum.accumulate(np.where(starts, np.arange(rows), 0))
    return np.arange(rows) - start_of + 1


def buy_again(log: pa.Table, customer: str, time: str, item: str, n: int) -> pa.Table:
    """Items each customer bought at least :data:`MIN_REPEATS` times, most
    often first (ties: most recently bought first), at most ``n`` each."""
    (customers, back_to_customer), (items, back_to_item) = grouping_key(log[customer]), grouping_key(log[item])
    codes = pa.table({"customer": customers, "item": items, "time": log[time]})
    habits = codes.group_by(["customer", "item"]).aggregate([("time", "count"), ("time", "max")])
    habits = habits.filter(pc.greater_equal(habits["time_count"], MIN_REPEATS))
    habits = habits.sort_by([("customer", "ascending"), ("time_count", "descending"), ("time_max", "descending")])
    rank = _first_n_per_group(habits["customer"], n)
    keep = rank <= n
    habits = habits.filter(pa.array(keep))
    count = habits["time_count"]
    last = pc.strftime(pc.cast(habits["time_max"], pa.timestamp("s"), safe=False), "%Y-%m-%d")
    reason = pc.binary_join_element_wise("bought", pc.cast(count, pa.string()), "times, last", last, " ")
    return pa.table(
        {
            customer: back_to_customer(habits["customer"]),
            item: back_to_item(habits["item"]),
            "rank": pa.array(rank[keep], pa.int32()),
            "kind": pa.array(["again"] * habits.num_rows, pa.string()),
            "score": pc.cast(count, pa.float32()),
            "reason": reason,
        }
    )


def item_pairs(log: pa.Table, customer: str, item: str) -> pa.Table:
    """Each (customer, item) pair of ``log`` with its number of rows (``count``)."""
    (customers, back_to_customer), (items, back_to_item) = grouping_key(log[customer]), grouping_key(log[item])
    pairs = pa.table({"c": customers, "i": items}).group_by(["c", "i"], use_threads=False).aggregate([("c", "count")])
    return pa.table({customer: back_to_customer(pairs["c"]), item: back_to_item(pairs["i"]), "count": pairs["c_count"]})


def fit_next(pairs: pa.Table, customer: str, item: str) -> Any:
    """Item-kNN on who bought what, from :func:`item_pairs` of the whole log
    (ids are numbered in sorted order and counts are whole numbers, so the
    fit does not depend on how the log was split)."""
    return ItemKNN().fit(Interactions(pairs, user_col=customer, item_col=item, weight_col="count"))


def try_next(model: Any, customers: pa.Array, customer: str, item: str, n: int) -> pa.Table:
    """Items new to each of ``customers`` from the fitted item-kNN ``model``,
    each with the customer's item that adds most to its score."""
    recs = model.recommend(customers, n=n, exclude_seen=True, reasons=True, unknown_users="popular", output="pyarrow")
    because = pc.cast(recs["because"], pa.string())
    reason = pc.if_else(
        pc.is_null(because), "popular with other customers", pc.binary_join_element_wise("often bought with", because, " ")
    )
    return pa.table(
        {
            customer: recs[customer],
            item: recs[item],
            "rank": recs["rank"],
            "kind": pa.array(["new"] * recs.num_rows, pa.string()),
            "score": recs["score"],
            "reason": reason,
        }
    )


def joined_per_customer(items: pa.Table, customer: str, item: str) -> pa.Table:
    """One row per customer with their items in rank order joined by ", "."""
    as_text = items.select([customer]).append_column(item, pc.cast(items[item], pa.string()))
    lists = as_text.group_by(customer, use_threads=False).aggregate([(item, "list")])
    return pa.table({customer: lists[customer], item: pc.binary_join(lists[f"{item}_list"], ", ")})
