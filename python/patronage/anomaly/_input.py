"""Feature matrices for the detectors: numpy, pandas, polars or Arrow in, one
contiguous float64 array out (C or Fortran order; the core reads either in place)."""

from __future__ import annotations

import numbers
import os
from typing import Any

import numpy as np
import pyarrow as pa

from .._frames import _module_of


def as_matrix(X: Any, argument: str = "X") -> tuple[np.ndarray, list[str]]:
    """``X`` as a contiguous float64 array and its column names (empty
    for arrays). Non-numeric columns raise ``TypeError`` naming the column;
    nulls become NaN, which the core reports by column."""
    module = _module_of(X)
    if module == "pandas" and hasattr(X, "columns"):
        names = [str(c) for c in X.columns]
        for name, dtype in zip(names, X.dtypes):
            if not (dtype.kind in "biuf" or str(dtype) in {"Int8", "Int16", "Int32", "Int64", "UInt8", "UInt16",
                                                           "UInt32", "UInt64", "Float32", "Float64", "boolean"}):
                raise TypeError(f"column {name!r} of {argument} has type {dtype}; detectors need numeric features")
        values = X.to_numpy(dtype=np.float64, na_value=np.nan)
    elif module == "polars" and hasattr(X, "columns") and hasattr(X, "select"):
        if hasattr(X, "collect") and not hasattr(X, "__arrow_c_stream__"):
            X = X.collect()
        names = list(X.columns)
        for name, dtype in X.schema.items():
            if not (dtype.is_numeric() or str(dtype) == "Boolean"):
                raise TypeError(f"column {name!r} of {argument} has type {dtype}; detectors need numeric features")
        values = X.cast({n: float for n in names}).to_numpy() if names else np.empty((len(X), 0))
    elif isinstance(X, (pa.Table, pa.RecordBatch)) or hasattr(X, "__arrow_c_stream__"):
        table = X if isinstance(X, (pa.Table, pa.RecordBatch)) else pa.table(X)
        names = list(table.schema.names)
        columns = []
        for name, column in zip(names, table.columns):
            t = column.type
            if not (pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t)
                    or pa.types.is_decimal(t)):
                raise TypeError(f"column {name!r} of {argument} has type {t}; detectors need numeric features")
            columns.append(column.cast(pa.float64()).to_numpy(zero_copy_only=False))
        values = np.column_stack(columns) if columns else np.empty((table.num_rows, 0))
    else:
        names = []
        try:
            values = np.asarray(X)
        except Exception as e:  # ragged lists and the like
            raise TypeError(f"{argument} could not be read as a 2-D numeric array: {e}") from None
        if values.dtype.kind not in "biuf":
            try:
                values = values.astype(np.float64)
            except (TypeError, ValueError):
                raise TypeError(
                    f"{argument} has dtype {values.dtype}; detectors need numeric features"
                ) from None
    if values.ndim != 2:
        raise ValueError(
            f"{argument} must be 2-D (samples x features); got a {values.ndim}-D array. "
            "Reshape a single feature with X.reshape(-1, 1)"
        )
    values = np.asarray(values, dtype=np.float64)
    if not (values.flags.c_contiguous or values.flags.f_contiguous):
        values = np.ascontiguousarray(values)
    return values, names


def resolve_n_jobs(n_jobs: Any) -> int | None:
    """scikit-learn's n_jobs: None or -1 for all cores, -2 for all but one, ..."""
    if n_jobs is None:
        return None
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, numbers.Integral) or n_jobs == 0:
        raise ValueError(f"n_jobs must be None or a non-zero integer, got {n_jobs!r}")
    if n_jobs < 0:
        return max(1, (os.cpu_count() or 1) + 1 + int(n_jobs))
    return int(n_jobs)


def resolve_seed(random_state: Any) -> int:
    """A 63-bit seed from ``random_state`` (None: numpy's global generator,
    an int, or a ``RandomState``/``Generator``), as scikit-learn accepts."""
    if random_state is None:
        return int(np.random.randint(np.iinfo(np.int32).max))
    if isinstance(random_state, bool):
        raise ValueError(f"random_state must be None, an int or a numpy random generator, got {random_state!r}")
    if isinstance(random_state, numbers.Integral):
        if random_state < 0:
            raise ValueError(f"random_state must be non-negative, got {random_state}")
        return int(random_state)
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(np.iinfo(np.int32).max))
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(2**63 - 1))
    raise ValueError(f"random_state must be None, an int or a numpy random generator, got {random_state!r}")
