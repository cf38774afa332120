"""Feature matrices for the detectors: numpy, pandas, polars, Arrow or
scipy.sparse in, one contiguous float64 array out (C or Fortran order; the
core reads either in place and checks shape and finiteness).  Messages
follow scikit-learn's wording, which its estimator checks look for."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from .._frames import _module_of

_PANDAS_NUMERIC = {"Int8", "Int16", "Int32", "Int64", "UInt8", "UInt16", "UInt32", "UInt64", "Float32",
                   "Float64", "boolean"}  # fmt: skip


def _not_numeric(name: str, dtype: Any, argument: str) -> TypeError:
    return TypeError(f"column {name!r} of {argument} has type {dtype}; detectors need numeric features")


def as_matrix(X: Any, argument: str = "X") -> tuple[np.ndarray, list[str]]:
    """``X`` as a contiguous float64 array and its column names (empty for
    arrays). Non-numeric columns raise ``TypeError`` naming the column;
    nulls become NaN, which the core reports by column."""
    module = _module_of(X)
    names: list[str] = []
    if module == "pandas" and hasattr(X, "columns"):
        names = [str(c) for c in X.columns]
        for name, dtype in zip(names, X.dtypes):
            if not (dtype.kind in "biuf" or str(dtype) in _PANDAS_NUMERIC):
                raise _not_numeric(name, dtype, argument)
        values = X.to_numpy(dtype=np.float64, na_value=np.nan)
    elif module == "polars" and hasattr(X, "columns") and hasattr(X, "select"):
        if hasattr(X, "collect") and not hasattr(X, "__arrow_c_stream__"):
            X = X.collect()
        names = list(X.columns)
        for name, dtype in X.schema.items():
            if not (dtype.is_numeric() or str(dtype) == "Boolean"):
                raise _not_numeric(name, dtype, argument)
        values = X.cast({n: float for n in names}).to_numpy() if names else np.empty((len(X), 0))
    elif isinstance(X, (pa.Table, pa.RecordBatch)) or hasattr(X, "__arrow_c_stream__"):
        table = X if isinstance(X, (pa.Table, pa.RecordBatch)) else pa.table(X)
        names = list(table.schema.names)
        columns = []
        for name, column in zip(names, table.columns):
            t = column.type
            if not (pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t)
                    or pa.types.is_decimal(t)):  # fmt: skip
                raise _not_numeric(name, t, argument)
            columns.append(column.cast(pa.float64()).to_numpy(zero_copy_only=False))
        values = np.column_stack(columns) if columns else np.empty((table.num_rows, 0))
    elif type(X).__module__.startswith("scipy.sparse") and hasattr(X, "toarray"):
        # Densified: every tree and histogram needs each feature's values.
        values = X.toarray()
    else:
        try:
            values = np.asarray(X)
        except Exception as e:  # ragged lists and the like
            raise TypeError(f"{argument} could not be read as a 2-D numeric array: {e}") from None
    if values.dtype.kind == "c":
        raise ValueError(f"Complex data not supported: {argument} has dtype {values.dtype}")
    if values.ndim != 2:
        raise ValueError(
            f"Expected a 2-D array for {argument}, got a {values.ndim}-D array instead. Reshape your data "
            "either using X.reshape(-1, 1) if it has a single feature or X.reshape(1, -1) if it is a "
            "single sample."
        )
    if values.dtype != np.float64:
        try:
            values = values.astype(np.float64)
        except (TypeError, ValueError) as e:  # numpy's message names the value
            raise TypeError(f"{argument} has dtype {values.dtype}; detectors need numeric features: {e}") from None
    if not (values.flags.c_contiguous or values.flags.f_contiguous):
        values = np.ascontiguousarray(values)
    return values, names
