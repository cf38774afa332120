"""Turning what users pass (frames, scipy matrices, id lists) into core inputs."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa


def is_sparse_matrix(data: Any) -> bool:
    return type(data).__module__.startswith("scipy.sparse") and hasattr(data, "tocsr")


def id_array(values: Any, argument: str) -> pa.Array:
    """Ids given as a scalar, list, numpy array, pandas/polars Series or Arrow array."""
    if isinstance(values, (pa.Array, pa.ChunkedArray)):
        return values
    module = type(values).__module__.split(".", 1)[0]
    if module == "polars" and hasattr(values, "to_arrow"):
        return values.to_arrow()
    if module == "pandas" and hasattr(values, "array"):
        return pa.Array.from_pandas(values)
    if isinstance(values, (str, bytes, int, float, np.integer, np.floating)):
        values = [values]
    try:
        return pa.array(np.asarray(values) if not isinstance(values, list) else values)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, OverflowError) as e:
        raise TypeError(f"{argument} must be ids (a scalar or a list/array/Series of ids): {e}") from None


def to_numpy(array: Any) -> np.ndarray:
    """An Arrow array of ids as numpy."""
    return pa.array(array).to_numpy(zero_copy_only=False)


def csr_matrix(parts: tuple[Any, Any, Any, Any]) -> Any:
    """A scipy CSR matrix from the core's ``(shape, indptr, indices, data)``."""
    from scipy.sparse import csr_matrix

    shape, indptr, indices, data = parts
    return csr_matrix((data, indices, indptr), shape=shape)
