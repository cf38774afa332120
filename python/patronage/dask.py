"""patronage on Dask DataFrames: the Rust cores run inside each partition.

Nothing here is a second implementation: every partition goes through the
same functions as a single machine, and the rules for splitting work are the
ones that keep results equal to theirs:

* :func:`rfm_summary` shuffles the log by customer, so each customer's rows
  meet in one partition and are summarised once, against one observation end
  for all partitions (the log's last time unless given).
* :func:`fit` collapses the summary to its distinct (frequency, recency, T)
  rows with counts on the cluster and fits on the client: the likelihood only
  needs those counts, so the fit is the single-machine fit.
* :func:`predict` applies a fitted model to every partition (the model is
  pickled to the workers; it is a few numbers).
* :func:`score` scores transactions with a fitted
  :class:`~patronage.anomaly.TransactionRiskScorer` on partitions that hold
  whole customers, so each customer's history is read in time order as on
  one machine.
* :func:`interactions` sums each (user, item) pair on the cluster and brings
  the pairs to the client, where recommenders fit (one row per pair: 100M
  pairs take ~1.6 GB); :func:`recommend` then serves every partition of users.
* :func:`customer_table` runs the steps of :func:`patronage.customer_table`
  on partitions of whole customers, with the same merges on the client.

Needs ``pip install "patronage[dask]"``; ``import patronage`` does not import
Dask.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from . import summary as _summary
from ._engines import guarded
from ._frames import _check_columns

def _meta(ddf: Any, customer_col: str, with_money: bool) -> pd.DataFrame:
    """The empty frame a summary partition looks like."""
    columns = [*_summary.PURCHASE_COLUMNS, *(["monetary_value"] if with_money else [])]
    index = pd.Index(ddf._meta[customer_col].iloc[:0], name=customer_col)
    return pd.DataFrame({c: pd.Series([], dtype="float64") for c in columns}, index=index)


def rfm_summary(
    log: Any,
    customer_col: str,
    datetime_col: str,
    monetary_value_col: str | None = None,
    observation_period_end: Any = None,
    freq: str = "D",
    freq_multiplier: float = 1.0,
    include_first_transaction: bool = False,
) -> Any:
    """:func:`patronage.rfm_summary` of a Dask DataFrame, as a Dask DataFrame
    indexed by customer (one row per customer; partitions are not sorted
    across each other).

    Example:
        >>> import dask.dataframe as dd
        >>> import patronage.dask as pdask
        >>> from patronage.datasets import load_cdnow
        >>> log = dd.from_pandas(load_cdnow("sample"), npartitions=4)
        >>> summary = pdask.rfm_summary(log, "customer_id", "date", "dollar_value",
        ...                             observation_period_end="1997-09-30", freq="W")
        >>> summary.compute().sort_index().loc[1, ["frequency", "recency", "T"]].tolist()
        [2.0, 30.0, 39.0]
    """
    columns = [c for c in (customer_col, datetime_col, monetary_value_col) if c is not None]
    _check_columns(list(log.columns), columns, "log")
    end = observation_period_end
    if end is None:
        end = log[datetime_col].max().compute()
    meta = _meta(log, customer_col, monetary_value_col is not None)

    def summarise(part: pd.DataFrame) -> pd.DataFrame:
        if len(part) == 0:
            return meta
        return _summary.rfm_summary(
            part, customer_col, datetime_col, monetary_value_col, observation_period_end=end, freq=freq,
            freq_multiplier=freq_multiplier, include_first_transaction=include_first_transaction, output="pandas",
        )  # fmt: skip

    by_customer = log[columns].shuffle(customer_col)
    return by_customer.map_partitions(summarise, meta=meta)


def fit(model: Any, summary: Any) -> Any:
    """Fit a purchase model (BetaGeo, ModifiedBetaGeo, ParetoNBD) on a Dask
    summary: distinct (frequency, recency, T) rows are counted on the cluster
    and the model is fitted on those counts; returns the model.

    Example:
        >>> import dask.dataframe as dd
        >>> import patronage.dask as pdask
        >>> from patronage.clv import BetaGeo
        >>> from patronage.datasets import load_cdnow_summary
        >>> summary = dd.from_pandas(load_cdnow_summary(), npartitions=3)
        >>> {k: round(v, 3) for k, v in pdask.fit(BetaGeo(), summary).params_.items()}
        {'r': 0.243, 'alpha': 4.414, 'a': 0.793, 'b': 2.426}
    """
    counts = summary.groupby(list(_summary.PURCHASE_COLUMNS)).size().compute()
    distinct = counts.rename("weight").reset_index()
    return model.fit(distinct, weights="weight")


def predict(model: Any, summary: Any, what: str = "conditional_probability_alive", *args: Any) -> Any:
    """One value per customer of a Dask summary from a fitted model: ``what``
    names the model's method (e.g. ``"conditional_probability_alive"``,
    ``"predict"`` with the horizon as ``*args``); returns a Dask Series
    aligned with ``summary``.

    Example:
        >>> import dask.dataframe as dd
        >>> import patronage.dask as pdask
        >>> from patronage.clv import BetaGeo
        >>> from patronage.datasets import load_cdnow_summary
        >>> summary = dd.from_pandas(load_cdnow_summary(), npartitions=3)
        >>> model = pdask.fit(BetaGeo(), summary)
        >>> expected = pdask.predict(model, summary, "predict", 39).compute()
        >>> round(float(expected.sum()), 1) > 0
        True
    """
    method = getattr(model, what, None)
    if method is None or what.startswith("_"):
        raise ValueError(f"{type(model).__name__} has no method {what!r}")

    def apply(part: pd.DataFrame) -> pd.Series:
        if len(part) == 0:
            return pd.Series([], dtype="float64", index=part.index, name=what)
        return pd.Series(np.asarray(getattr(model, what)(*args, part)), index=part.index, name=what)

    return summary.map_partitions(apply, meta=pd.Series([], dtype="float64", name=what))


def interactions(log: Any, user_col: str, item_col: str, weight_col: str | None = None) -> Any:
    """The :class:`~patronage.recommend.Interactions` of a Dask log: each
    (user, item) pair's rows summed on the cluster (counted without
    ``weight_col``), the pairs collected on the client.

    Example:
        >>> import dask.dataframe as dd
        >>> import patronage.dask as pdask
        >>> from patronage.datasets import simulate_transactions
        >>> log, _ = simulate_transactions(500, seed=1)
        >>> data = pdask.interactions(dd.from_pandas(log, npartitions=3), "customer_id", "item_id")
        >>> data.shape[0] == log["customer_id"].nunique()
        True
    """
    from .recommend import Interactions

    grouped = log.groupby([user_col, item_col])
    pairs = (grouped[weight_col].sum() if weight_col else grouped.size()).compute()
    pairs = pairs.rename("weight").reset_index().sort_values([user_col, item_col], kind="stable")
    return Interactions(pairs, user_col=user_col, item_col=item_col, weight_col="weight")


def recommend(model: Any, users: Any, n: int = 10, **options: Any) -> Any:
    """Top ``n`` items for every user of the Dask Series ``users`` from a
    fitted recommender, one partition at a time (``options`` as in
    ``model.recommend``: ``exclude_seen``, ``items``, ``unknown_users``,
    ``reasons``); a Dask DataFrame like ``model.recommend``'s.

    Example:
        >>> import dask.dataframe as dd
        >>> import patronage.dask as pdask
        >>> from patronage.recommend import ItemKNN
        >>> from patronage.datasets import simulate_transactions
        >>> log, _ = simulate_transactions(500, seed=1)
        >>> ddf = dd.from_pandas(log, npartitions=3)
        >>> model = ItemKNN().fit(pdask.interactions(ddf, "customer_id", "item_id"))
        >>> top = pdask.recommend(model, ddf["customer_id"].unique(), n=3).compute()
        >>> int(top["rank"].max())
        3
    """
    meta = model.recommend(users._meta.iloc[:0].to_numpy(), n=n, output="pandas", **options)

    def serve(part: pd.Series) -> pd.DataFrame:
        if len(part) == 0:
            return meta
        return model.recommend(part.to_numpy(), n=n, output="pandas", **options)

    return users.map_partitions(serve, meta=meta)


def score(scorer: Any, log: Any) -> Any:
    """``log`` with ``risk_score``, ``alert`` and ``reasons`` from a fitted
    :class:`~patronage.anomaly.TransactionRiskScorer` (fit it on the client,
    on the log or a sample of whole customers); the log is shuffled by
    customer so each customer's rows are scored together, as ``scorer.score``
    does on one machine (rows keep their index, not their order).

    Example:
        >>> import dask.dataframe as dd
        >>> import patronage.dask as pdask
        >>> from patronage.anomaly import TransactionRiskScorer
        >>> from patronage.datasets import simulate_transactions
        >>> log, _ = simulate_transactions(500, seed=2)
        >>> scorer = TransactionRiskScorer().fit(log)
        >>> scored = pdask.score(scorer, dd.from_pandas(log, npartitions=3)).compute()
        >>> list(scored.columns[-3:])
        ['risk_score', 'alert', 'reasons']
    """
    customer = scorer.get_params()["customer_col"]
    meta = log._meta.assign(risk_score=pd.Series([], dtype="float64"), alert=pd.Series([], dtype="bool"),
                            reasons=pd.Series([], dtype="object"))  # fmt: skip

    light = scorer.without_history()  # what scoring needs; the histories stay here

    def apply(part: pd.DataFrame) -> pd.DataFrame:
        if len(part) == 0:
            return meta
        scored = light.score(part, output="pandas")
        return part.assign(risk_score=scored["risk_score"], alert=scored["alert"], reasons=scored["reasons"])

    return log.shuffle(customer).map_partitions(apply, meta=meta)


class _Engine:
    """The customer table's engine (:class:`patronage._engines.Engine`) on Dask:
    each pandas partition is handed to the steps as Arrow."""

    def read(self, log: Any, columns: list[str]) -> Any:
        _check_columns(list(log.columns), columns, "log")
        return log[columns]

    def schema(self, frame: Any) -> pa.Schema:
        return pa.Schema.from_pandas(frame._meta_nonempty, preserve_index=False)

    def by_customer(self, frame: Any, key: str) -> Any:
        return frame.shuffle(key)

    def apply(self, frame: Any, step: Any, schema: pa.Schema) -> Any:
        run = guarded(step, schema)

        def on_partition(part: pd.DataFrame) -> pd.DataFrame:
            return run(pa.Table.from_pandas(part, preserve_index=False)).to_pandas()

        return frame.map_partitions(on_partition, meta=schema.empty_table().to_pandas())

    def collect(self, frame: Any) -> pa.Table:
        return pa.Table.from_pandas(frame.compute(), preserve_index=False)

    def persist(self, frame: Any) -> Any:
        return frame.persist()

    def join(self, left: Any, right: Any, key: str) -> Any:
        return left.merge(right, on=key, how="left")

    def output(self, frame: Any, kind: Any, index: str | None = None) -> Any:
        return frame


def customer_table(log: Any, customer_col: str, datetime_col: str, monetary_value_col: str,
                   item_col: str | None = None, **options: Any) -> Any:  # fmt: skip
    """:func:`patronage.customer_table` of a Dask DataFrame (same arguments
    and results; ``table``, ``next_items`` and ``alerts`` are Dask DataFrames
    with the customer as a column, sorted within partitions only).

    Example:
        >>> import dask.dataframe as dd
        >>> import patronage.dask as pdask
        >>> from patronage.datasets import simulate_transactions
        >>> log, _ = simulate_transactions(1000, seed=1)
        >>> result = pdask.customer_table(dd.from_pandas(log, npartitions=2), "customer_id", "timestamp", "amount")
        >>> table = result.table.compute()
        >>> len(table) == log["customer_id"].nunique()
        True
    """
    from .customers import _on_engine

    return _on_engine(_Engine(), log, customer_col, datetime_col, monetary_value_col, item_col, **options)
