"""Tables in, tables out: the one place that knows pandas, polars and pyarrow.

Inputs are handed to the Rust core through the Arrow PyCapsule stream
interface (``__arrow_c_stream__``), so polars and pyarrow columns are read
zero-copy; pandas exports through pyarrow.  Outputs are built as the same kind
of frame the user passed in.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import pyarrow as pa

FrameKind = Literal["pandas", "polars", "pyarrow"]
_KINDS = ("pandas", "polars", "pyarrow")


def _module_of(obj: Any) -> str:
    return type(obj).__module__.split(".", 1)[0]


def frame_kind(data: Any) -> FrameKind:
    """The kind of frame to return for ``data`` (generic Arrow objects give pyarrow)."""
    module = _module_of(data)
    if module == "pandas":
        return "pandas"
    if module == "polars":
        return "polars"
    return "pyarrow"


def resolve_kind(output: str | None, like: Any = None) -> FrameKind:
    """``output`` if given, else the kind of ``like``, else pandas when installed."""
    if output is not None:
        if output not in _KINDS:
            raise ValueError(f"output must be one of {_KINDS}, got {output!r}")
        return output  # type: ignore[return-value]
    if like is not None:
        return frame_kind(like)
    try:
        import pandas  # noqa: F401
    except ImportError:
        return "pyarrow"
    return "pandas"


def arrow_stream(data: Any, columns: Sequence[str | None] | None = None, *, argument: str = "data") -> Any:
    """Check that ``data`` is a table and return an object exporting an Arrow stream.

    Only ``columns`` are exported when given, so that pandas does not convert
    columns that are not used.  Missing columns raise ``ValueError`` listing the
    columns the table has.
    """
    wanted = None if columns is None else [c for c in dict.fromkeys(columns) if c is not None]
    module = _module_of(data)
    if module == "pandas" and hasattr(data, "columns"):
        if wanted is not None:
            _check_columns(list(map(str, data.columns)), wanted, argument)
        # pyarrow's conversion threads cost more than they save below a
        # million rows (a thread pool per call).
        threads = None if len(data) >= 1_000_000 else 1
        return pa.Table.from_pandas(data, columns=wanted, preserve_index=False, nthreads=threads)
    if module == "polars" and hasattr(data, "columns") and hasattr(data, "select"):
        if hasattr(data, "collect") and not hasattr(data, "__arrow_c_stream__"):
            data = data.collect()  # a LazyFrame
        if wanted is not None:
            _check_columns(list(data.columns), wanted, argument)
            data = data.select(wanted)
        for name, dtype in data.schema.items():
            if str(dtype) == "Null":  # its Arrow export cannot be read
                raise ValueError(f"column {name!r} of {argument} holds only nulls")
        return data
    if isinstance(data, (pa.Table, pa.RecordBatch)):
        if wanted is not None:
            _check_columns(data.schema.names, wanted, argument)
            data = data.select(wanted)
        return data
    if hasattr(data, "__arrow_c_stream__") or hasattr(data, "__arrow_c_array__"):
        return arrow_stream(pa.table(data), wanted, argument=argument)
    if isinstance(data, Mapping):
        return arrow_stream(pa.table(dict(data)), wanted, argument=argument)
    raise TypeError(
        f"{argument} must be a pandas or polars DataFrame, a pyarrow Table/RecordBatch or an "
        f"object with the Arrow PyCapsule interface; got {type(data).__name__}"
    )


def _check_columns(available: Sequence[str], wanted: Sequence[str], argument: str) -> None:
    for name in wanted:
        if not isinstance(name, str):
            raise TypeError(f"column names must be strings; got {name!r} in {argument}")
        if name not in available:
            raise ValueError(f"column {name!r} not found in {argument}; it has columns {list(available)}")


def _to_arrow(values: Any) -> pa.Array:
    if isinstance(values, (pa.Array, pa.ChunkedArray)):
        return values
    if isinstance(values, np.ndarray) and values.ndim == 1 and values.dtype.kind in "iuf":
        # Wrap the buffer (no copy); pa.array would also import pandas to
        # check for pandas-backed arrays (about 50 MB and 0.5 s the first time).
        values = np.ascontiguousarray(values)
        return pa.Array.from_buffers(pa.from_numpy_dtype(values.dtype), len(values), [None, pa.py_buffer(values)])
    return pa.array(values)  # Arrow PyCapsule objects from the core


def build_frame(columns: Mapping[str, Any], kind: FrameKind, *, index: str | None = None) -> Any:
    """Build a frame of ``kind`` from numpy arrays and Arrow arrays.

    For pandas, the column named ``index`` becomes the index (as lifetimes
    returns customer summaries).
    """
    if kind == "pandas":
        import pandas as pd

        data = {
            name: values if isinstance(values, np.ndarray) else _to_arrow(values).to_pandas().array
            for name, values in columns.items()
        }
        idx = pd.Index(data.pop(index), name=index) if index is not None else None
        return pd.DataFrame(data, index=idx)
    table = pa.table({name: _to_arrow(values) for name, values in columns.items()})
    if kind == "polars":
        import polars as pl

        return pl.from_arrow(table)
    return table


def from_arrow(batch: Any, kind: FrameKind, *, index: str | None = None) -> Any:
    """A frame of ``kind`` from an Arrow record batch or table (as the core
    returns them): zero-copy for pyarrow and polars; for pandas each column
    keeps its own block, so numeric columns are not copied together.

    For pandas, the column named ``index`` becomes the index (as lifetimes
    returns customer summaries).
    """
    owned = not isinstance(batch, pa.Table)
    table = pa.Table.from_batches([pa.record_batch(batch)]) if owned else batch
    if kind == "pandas":
        # Freeing columns as they convert is safe only for a table made here.
        frame = table.to_pandas(split_blocks=True, self_destruct=owned)
        return frame.set_index(index) if index is not None else frame
    if kind == "polars":
        import polars as pl

        return pl.from_arrow(table)
    return table


def to_utc_micros(value: Any, argument: str) -> tuple[int, bool]:
    """A date/time scalar as ``(microseconds since epoch, is_utc)``.

    Naive values are wall-clock times; aware values are converted to UTC and
    flagged, so the core can express them in the time zone of the column.
    """
    if isinstance(value, str):
        try:
            value = _dt.datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(f"{argument} could not be parsed as an ISO date/time: {value!r}") from None
    if (isinstance(value, np.datetime64) and np.isnat(value)) or type(value).__name__ == "NaTType":
        raise ValueError(f"{argument} is NaT (a missing date)")
    if isinstance(value, np.datetime64):
        return int(value.astype("datetime64[us]").astype(np.int64)), False
    if hasattr(value, "to_pydatetime") and not isinstance(value, _dt.datetime):
        value = value.to_pydatetime()
    if isinstance(value, _dt.datetime):
        if value.tzinfo is not None and value.utcoffset() is not None:
            value = value.astimezone(_dt.timezone.utc).replace(tzinfo=None)
            return _naive_micros(value), True
        return _naive_micros(value), False
    if isinstance(value, _dt.date):
        return _naive_micros(_dt.datetime(value.year, value.month, value.day)), False
    raise TypeError(
        f"{argument} must be a date, datetime, numpy datetime64, pandas Timestamp or ISO string; "
        f"got {type(value).__name__}"
    )


def _naive_micros(value: _dt.datetime) -> int:
    delta = value - _dt.datetime(1970, 1, 1)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
