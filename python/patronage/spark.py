"""patronage on PySpark DataFrames: the Rust cores run inside each partition
over Arrow batches (``mapInArrow``: no pandas round trip, no row objects).

The same rules as :mod:`patronage.dask` keep results equal to one machine:
the log is repartitioned by customer so each customer is summarised once
against one observation end; purchase models fit on the distinct (frequency,
recency, T) rows counted on the cluster; fitted models (a few numbers) are
shipped to every partition to score it (transaction risk on partitions that
hold whole customers); recommenders fit on the (user, item)
pairs summed on the cluster and serve every batch of users;
:func:`customer_table` runs :func:`patronage.customer_table`'s steps on
partitions of whole customers, with the same merges on the driver.

Needs ``pip install "patronage[spark]"`` (and Java); ``import patronage``
does not import PySpark.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pyarrow as pa

from . import summary as _summary
from ._engines import guarded
from ._frames import _check_columns

def _end_of(df: Any, datetime_col: str) -> Any:
    """The log's last time as an aware UTC timestamp (Spark's own collect
    would give it in the session's zone, without saying which)."""
    import datetime as dt

    from pyspark.sql import functions as F

    micros = df.agg(F.unix_micros(F.max(datetime_col).cast("timestamp"))).first()[0]
    return dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc) + dt.timedelta(microseconds=micros)


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
    """:func:`patronage.rfm_summary` of a Spark DataFrame: a Spark DataFrame
    with the customer column, frequency, recency, T (and monetary_value).

    Times are bucketed in their Arrow zone, which Spark sets to UTC: use a
    UTC session (``spark.sql.session.timeZone``) for periods in local time
    to match a single-machine run on naive times.

    Example:
        >>> summary = patronage.spark.rfm_summary(log, "customer_id", "date", "amount")  # doctest: +SKIP
    """
    from pyspark.sql.types import DoubleType, StructField, StructType

    columns = [c for c in (customer_col, datetime_col, monetary_value_col) if c is not None]
    _check_columns(list(log.columns), columns, "log")
    end = _end_of(log, datetime_col) if observation_period_end is None else observation_period_end
    out_names = [*_summary.PURCHASE_COLUMNS, *(["monetary_value"] if monetary_value_col else [])]
    schema = StructType([log.schema[customer_col], *(StructField(n, DoubleType()) for n in out_names)])

    def summarise(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        parts = list(batches)  # a partition holds whole customers: summarise it at once
        if not parts or not any(b.num_rows for b in parts):
            return
        out = _summary.rfm_summary(
            pa.Table.from_batches(parts), customer_col, datetime_col, monetary_value_col,
            observation_period_end=end, freq=freq, freq_multiplier=freq_multiplier,
            include_first_transaction=include_first_transaction, output="pyarrow",
        )  # fmt: skip
        yield from out.to_batches()

    return log.select(*columns).repartition(customer_col).mapInArrow(summarise, schema)


def fit(model: Any, summary: Any) -> Any:
    """Fit a purchase model (BetaGeo, ModifiedBetaGeo, ParetoNBD) on a Spark
    summary from its distinct (frequency, recency, T) rows and their counts,
    counted on the cluster; returns the model.

    Example:
        >>> model = patronage.spark.fit(BetaGeo(), summary)  # doctest: +SKIP
    """
    distinct = summary.groupBy(*_summary.PURCHASE_COLUMNS).count().toArrow()
    return model.fit(distinct, weights="count")


def predict(model: Any, summary: Any, what: str = "conditional_probability_alive", *args: Any) -> Any:
    """``summary`` with one more column, ``what``: the fitted model's method
    of that name (e.g. ``"conditional_probability_alive"``, or ``"predict"``
    with the horizon as ``*args``) applied to every partition.

    Example:
        >>> alive = patronage.spark.predict(model, summary)  # doctest: +SKIP
    """
    from pyspark.sql.types import DoubleType, StructField, StructType

    if getattr(model, what, None) is None or what.startswith("_"):
        raise ValueError(f"{type(model).__name__} has no method {what!r}")
    schema = StructType([*summary.schema.fields, StructField(what, DoubleType())])

    def apply(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            if batch.num_rows:
                values = np.asarray(getattr(model, what)(*args, batch), dtype=np.float64)
                yield batch.append_column(what, pa.array(values))

    return summary.mapInArrow(apply, schema)


def interactions(log: Any, user_col: str, item_col: str, weight_col: str | None = None) -> Any:
    """The :class:`~patronage.recommend.Interactions` of a Spark log: each
    (user, item) pair's rows summed on the cluster (counted without
    ``weight_col``), the pairs collected on the driver as Arrow (one row per
    pair: 100M pairs take ~1.6 GB).

    Example:
        >>> data = patronage.spark.interactions(log, "customer_id", "item_id")  # doctest: +SKIP
    """
    from pyspark.sql import functions as F

    from .recommend import Interactions

    weight = F.sum(weight_col) if weight_col else F.count(F.lit(1))
    pairs = log.groupBy(user_col, item_col).agg(weight.cast("double").alias("weight"))
    table = pairs.toArrow().sort_by([(user_col, "ascending"), (item_col, "ascending")])
    return Interactions(table, user_col=user_col, item_col=item_col, weight_col="weight")


def recommend(model: Any, users: Any, n: int = 10, **options: Any) -> Any:
    """Top ``n`` items for every user in the one-column Spark DataFrame
    ``users`` from a fitted recommender, one Arrow batch at a time
    (``options`` as in ``model.recommend``); a Spark DataFrame like its result.

    Example:
        >>> top = patronage.spark.recommend(model, log.select("customer_id").distinct())  # doctest: +SKIP
    """
    from pyspark.sql.pandas.types import from_arrow_schema

    if len(users.columns) != 1:
        raise ValueError(f"users must have one column (the user ids), got {users.columns}")
    # The output's schema, from the recommendations of one user.
    first = users.limit(1).toArrow()
    schema = model.recommend(first.column(0), n=n, output="pyarrow", **options).schema

    def serve(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            if batch.num_rows:
                yield from model.recommend(batch.column(0), n=n, output="pyarrow", **options).to_batches()

    return users.mapInArrow(serve, from_arrow_schema(schema))


def score(scorer: Any, log: Any) -> Any:
    """``log`` with ``risk_score``, ``alert`` and ``reasons`` from a fitted
    :class:`~patronage.anomaly.TransactionRiskScorer` (fitted on the driver,
    on the log or a sample of whole customers); the log is repartitioned by
    customer so each customer's rows are scored together in time order, as
    ``scorer.score`` does on one machine.

    Example:
        >>> scored = patronage.spark.score(scorer, spark_log)  # doctest: +SKIP
    """
    from pyspark.sql.types import BooleanType, DoubleType, StringType, StructField, StructType

    customer = scorer.get_params()["customer_col"]
    schema = StructType([*log.schema.fields, StructField("risk_score", DoubleType()),
                         StructField("alert", BooleanType()), StructField("reasons", StringType())])  # fmt: skip

    light = scorer.without_history()  # what scoring needs; the histories stay here

    def apply(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        parts = [b for b in batches if b.num_rows]
        if not parts:
            return
        table = pa.Table.from_batches(parts)  # whole customers: their histories in one piece
        scored = light.score(table, output="pyarrow")
        for name in ("risk_score", "alert", "reasons"):
            table = table.append_column(name, scored[name].cast(pa.string()) if name == "reasons" else scored[name])
        yield from table.to_batches()

    return log.repartition(customer).mapInArrow(apply, schema)


class _Engine:
    """The customer table's engine (:class:`patronage._engines.Engine`) on
    Spark: each partition's Arrow batches are handed to the steps as one table."""

    def read(self, log: Any, columns: list[str]) -> Any:
        _check_columns(list(log.columns), columns, "log")
        return log.select(*columns)

    def schema(self, frame: Any) -> pa.Schema:
        return frame.limit(0).toArrow().schema

    def by_customer(self, frame: Any, key: str) -> Any:
        return frame.repartition(key)

    def apply(self, frame: Any, step: Any, schema: pa.Schema) -> Any:
        from pyspark.sql.pandas.types import from_arrow_schema

        run = guarded(step, schema)

        def on_partition(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
            parts = list(batches)
            if parts:
                yield from run(pa.Table.from_batches(parts)).to_batches()

        return frame.mapInArrow(on_partition, from_arrow_schema(schema))

    def collect(self, frame: Any) -> pa.Table:
        return frame.toArrow()

    def persist(self, frame: Any) -> Any:
        return frame.cache()

    def join(self, left: Any, right: Any, key: str) -> Any:
        return left.join(right, on=key, how="left")

    def output(self, frame: Any, kind: Any, index: str | None = None) -> Any:
        return frame


def customer_table(log: Any, customer_col: str, datetime_col: str, monetary_value_col: str,
                   item_col: str | None = None, **options: Any) -> Any:  # fmt: skip
    """:func:`patronage.customer_table` of a Spark DataFrame (same arguments
    and results; ``table``, ``next_items`` and ``alerts`` are Spark
    DataFrames, sorted within partitions only). Use a UTC session for
    periods in local time, as for :func:`rfm_summary`.

    Example:
        >>> result = patronage.spark.customer_table(log, "customer_id", "date", "amount", "item_id")  # doctest: +SKIP
        >>> result.table.write.parquet("customers.parquet")  # doctest: +SKIP
    """
    from .customers import _on_engine

    return _on_engine(_Engine(), log, customer_col, datetime_col, monetary_value_col, item_col, **options)
