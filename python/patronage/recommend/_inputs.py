"""Turning what users pass (frames, scipy matrices, id lists) into core inputs."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from .. import _core
from .._frames import arrow_stream


def is_sparse_matrix(data: Any) -> bool:
    return type(data).__module__.startswith("scipy.sparse") and hasattr(data, "tocsr")


def interactions(
    data: Any, user_col: str, item_col: str, weight_col: str | None, argument: str = "X"
) -> Any:
    """A native ``Interactions`` from a frame or a scipy.sparse user × item matrix."""
    if isinstance(data, _core.Interactions):
        return data
    if is_sparse_matrix(data):
        csr = data.tocsr()
        if csr.shape[1] >= 2**31:
            raise ValueError(f"{argument} has {csr.shape[1]} columns; at most 2**31 - 1 are supported")
        if csr.data.dtype.kind not in "fiub":
            raise TypeError(f"{argument} must hold numbers, not {csr.data.dtype}")
        return _core.Interactions.from_csr(
            tuple(int(s) for s in csr.shape),
            np.ascontiguousarray(csr.indptr, dtype=np.int64),
            np.ascontiguousarray(csr.indices, dtype=np.int32),
            np.ascontiguousarray(csr.data, dtype=np.float32),
        )
    for name, value in {"user_col": user_col, "item_col": item_col}.items():
        if not isinstance(value, str):
            raise TypeError(f"{name} must be a column name (str), got {type(value).__name__}")
    stream = arrow_stream(data, [user_col, item_col, weight_col], argument=argument)
    return _core.Interactions.from_table(stream, user_col, item_col, weight_col)


def id_array(values: Any, argument: str) -> pa.Array:
    """Ids given as a scalar, list, numpy array, pandas/polars Series or Arrow array."""
    if isinstance(values, (pa.Array, pa.ChunkedArray)):
        return values
    module = type(values).__module__.split(".", 1)[0]
    if module == "polars" and hasattr(values, "to_arrow"):
        return values.to_arrow()
    if module == "pandas" and hasattr(values, "array"):
        return pa.Array.from_pandas(values)
    if isinstance(values, (str, bytes, int, np.integer)):
        values = [values]
    try:
        return pa.array(np.asarray(values) if not isinstance(values, list) else values)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError) as e:
        raise TypeError(f"{argument} must be ids (a scalar or a list/array/Series of ids): {e}") from None


def check_n(n: Any, argument: str = "n") -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"{argument} must be a positive integer, got {n!r}")
    return int(n)
