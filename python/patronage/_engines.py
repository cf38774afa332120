"""Where the customer table's steps run.

A step is a function of an Arrow table holding whole customers (every row of
each customer in it) that returns an Arrow table; an engine runs a step on
each of its partitions. :class:`Local` is one machine (one partition, the
whole log); :mod:`patronage.dask` and :mod:`patronage.spark` have the
cluster engines. The steps themselves are in :mod:`patronage._job`, written
once for all of them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import pyarrow as pa
import pyarrow.compute as pc

Step = Callable[[pa.Table], pa.Table]


def guarded(step: Step, schema: pa.Schema) -> Step:
    """``step`` with its output in ``schema`` (columns in that order and of
    those types), and an empty partition giving an empty table."""

    def run(part: pa.Table) -> pa.Table:
        if part.num_rows == 0:
            return schema.empty_table()
        return step(part).select(schema.names).cast(schema)

    return run


def attach(left: pa.Table, right: pa.Table, key: str) -> pa.Table:
    """``left`` with ``right``'s other columns in ``left``'s row order
    (``right`` has one row per ``key`` at most; null where it has none)."""
    rows = pc.index_in(left[key], value_set=right[key].combine_chunks())
    for name in right.column_names:
        if name != key:
            left = left.append_column(name, right[name].combine_chunks().take(rows))
    return left


class Engine(Protocol):
    """What the customer table needs from an engine; ``frame`` is the
    engine's own table type (pyarrow, Dask or Spark DataFrame)."""

    def read(self, log: Any, columns: list[str]) -> Any:
        """``columns`` of ``log`` (each named if missing)."""

    def schema(self, frame: Any) -> pa.Schema:
        """The Arrow schema of ``frame``'s partitions."""

    def by_customer(self, frame: Any, key: str) -> Any:
        """``frame`` with each customer's rows in one partition."""

    def apply(self, frame: Any, step: Step, schema: pa.Schema) -> Any:
        """``step`` on every partition of ``frame`` (partitioning kept),
        each output in ``schema``."""

    def collect(self, frame: Any) -> pa.Table:
        """``frame`` on this machine."""

    def persist(self, frame: Any) -> Any:
        """``frame`` kept in memory for the steps that read it again."""

    def join(self, left: Any, right: Any, key: str) -> Any:
        """``left`` with ``right``'s other columns (one row per ``key`` at
        most; null where ``right`` has none)."""

    def output(self, frame: Any, kind: Any, index: str | None = None) -> Any:
        """``frame`` as the caller gets it."""


class Local:
    """One machine: the whole log is one partition."""

    def read(self, log: Any, columns: list[str]) -> pa.Table:
        from ._clean import read_log

        return read_log(log, list(columns))

    def schema(self, frame: pa.Table) -> pa.Schema:
        return frame.schema

    def by_customer(self, frame: pa.Table, key: str) -> pa.Table:
        return frame

    def apply(self, frame: pa.Table, step: Step, schema: pa.Schema) -> pa.Table:
        return guarded(step, schema)(frame)

    def collect(self, frame: pa.Table) -> pa.Table:
        return frame

    def persist(self, frame: pa.Table) -> pa.Table:
        return frame

    def join(self, left: pa.Table, right: pa.Table, key: str) -> pa.Table:
        return attach(left, right, key)

    def output(self, frame: pa.Table, kind: Any, index: str | None = None) -> Any:
        from ._frames import from_arrow

        return from_arrow(frame, kind, index=index)
