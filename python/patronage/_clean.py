"""Real exports are messy: the rules that turn one into a log the models can read.

Rows that cannot be a purchase are dropped and counted, never an error for
the whole file: a missing customer id (null or blank text), a missing time, a
missing or non-finite amount, a return or cancellation (negative amount), a
zero amount, and (by default) exact duplicate rows.  The counts go into the
result's summary so nothing disappears silently.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ._frames import arrow_stream


@dataclass(frozen=True)
class Cleaning:
    """What cleaning the log did: rows read, dropped per rule, and kept.

    Attributes:
        rows: rows read.
        missing_customer: rows without a customer id (null or blank text).
        missing_time: rows without a time.
        missing_amount: rows whose amount is null, NaN or infinite.
        returns: rows with a negative amount (returns, cancellations);
            ``returned_value`` is their total (a positive number).
        zero_amount: rows with an amount of 0.
        duplicates: exact repeats of an earlier row (same customer, time,
            amount and item) dropped; 0 when duplicates are kept.
        kept: rows used.
    """

    rows: int
    missing_customer: int
    missing_time: int
    missing_amount: int
    returns: int
    returned_value: float
    zero_amount: int
    duplicates: int
    kept: int

    def dropped(self) -> dict[str, int]:
        """The non-zero counts of dropped rows, by reason."""
        reasons = ("missing_customer", "missing_time", "missing_amount", "returns", "zero_amount", "duplicates")
        return {name: getattr(self, name) for name in reasons if getattr(self, name)}

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def read_log(log: Any, columns: list[str | None]) -> pa.Table:
    """``columns`` of ``log`` (any frame kind) as a pyarrow Table, with
    dictionary (categorical) columns decoded to their values and string views
    as strings."""
    table = arrow_stream(log, columns, argument="log")
    table = table if isinstance(table, pa.Table) else pa.table(table)
    if table.num_rows == 0:
        raise ValueError("log has no rows")
    return decoded(table)


def decoded(table: pa.Table) -> pa.Table:
    """``table`` with dictionary columns decoded and string views as strings."""
    for i, field in enumerate(table.schema):
        kind = field.type.value_type if pa.types.is_dictionary(field.type) else field.type
        if pa.types.is_string_view(kind):  # polars' strings; few Arrow kernels take them yet
            kind = pa.large_string()
        if kind != field.type:
            table = table.set_column(i, field.name, pc.cast(table[i], kind))
    return table


def grouping_key(column: pa.ChunkedArray) -> tuple[Any, Any]:
    """A grouping key for ``column`` and the way back to its values: text as
    integer codes (Arrow hashes them several times faster), other types as is."""
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        encoded = pc.dictionary_encode(column).combine_chunks()
        return encoded.indices, encoded.dictionary.take
    return column, lambda values: values


def coded(table: pa.Table, names: list[str]) -> pa.Table:
    """``names`` of ``table`` as grouping keys (:func:`grouping_key`)."""
    return pa.table({name: grouping_key(table[name])[0] for name in names})


def _may_repeat(keys: pa.Table) -> bool:
    """False when every row of ``keys`` is distinct, shown by distinct 64-bit
    hashes (a sort, several times faster than hashing rows into groups); True
    when two hashes are equal, which the exact grouping then settles."""
    hashes = np.zeros(keys.num_rows, dtype=np.uint64)
    for column in keys.columns:
        values = np.asarray(pc.fill_null(column, 0).to_numpy(zero_copy_only=False))
        bits = values.view(np.uint64) if values.dtype.itemsize == 8 else values.astype(np.int64).view(np.uint64)
        hashes = (hashes ^ bits) * np.uint64(0x9E3779B97F4A7C15)
        hashes ^= hashes >> np.uint64(29)
    hashes.sort()
    return bool(np.any(hashes[1:] == hashes[:-1]))


def _times(column: pa.ChunkedArray, name: str) -> pa.ChunkedArray:
    if pa.types.is_timestamp(column.type) or pa.types.is_date(column.type):
        return column
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        try:
            return pc.cast(column, pa.timestamp("us"))
        except pa.ArrowInvalid as error:
            raise TypeError(
                f"column {name!r} holds text that is not an ISO 8601 date or time ({error}); "
                "parse it first (pandas.to_datetime, or --time-format on the command line)"
            ) from None
    raise TypeError(f"column {name!r} must hold dates or datetimes, got {column.type}")


def _amounts(column: pa.ChunkedArray, name: str) -> pa.ChunkedArray:
    kind = column.type
    if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        return pc.cast(column, pa.float64())
    raise TypeError(f"column {name!r} must hold numbers (amounts), got {kind}")


def _count(mask: pa.ChunkedArray | pa.Array) -> int:
    return int(pc.sum(mask).as_py() or 0)


def clean_log(
    table: pa.Table, customer: str, time: str, amount: str, item: str | None, *, drop_duplicates: bool
) -> tuple[pa.Table, Cleaning]:
    """Apply the cleaning rules (module doc) to ``table``; returns the rows
    kept (times as dates or timestamps, amounts as float64) and the counts."""
    rows = table.num_rows
    table = table.set_column(table.schema.get_field_index(time), time, _times(table[time], time))
    values = _amounts(table[amount], amount)
    table = table.set_column(table.schema.get_field_index(amount), amount, values)

    ids = table[customer]
    missing_customer = pc.is_null(ids)
    if pa.types.is_string(ids.type) or pa.types.is_large_string(ids.type):
        missing_customer = pc.or_(missing_customer, pc.equal(pc.utf8_trim_whitespace(ids), ""))
    missing_customer = pc.fill_null(missing_customer, True)
    missing_time = pc.is_null(table[time])
    finite = pc.fill_null(pc.is_finite(values), False)
    negative = pc.fill_null(pc.less(values, 0.0), False)
    zero = pc.fill_null(pc.equal(values, 0.0), False)
    # Each row is counted under the first rule it breaks, in the order listed.
    earlier = missing_customer
    counts = {"missing_customer": _count(missing_customer)}
    for name, mask in (("missing_time", missing_time), ("missing_amount", pc.invert(finite)),
                       ("returns", negative), ("zero_amount", zero)):  # fmt: skip
        counted = pc.and_(mask, pc.invert(earlier))
        counts[name] = _count(counted)
        if name == "returns":
            returned = pc.sum(pc.filter(values, counted))
        earlier = pc.or_(earlier, mask)
    table = table.filter(pc.invert(earlier))

    duplicates = 0
    keys = coded(table, [c for c in (customer, time, amount, item) if c is not None]) if drop_duplicates else None
    if keys is not None and table.num_rows and _may_repeat(keys):
        first = (
            keys.append_column("__row", pa.array(np.arange(table.num_rows)))
            .group_by(keys.column_names, use_threads=False)
            .aggregate([("__row", "min")])["__row_min"]
        )
        duplicates = table.num_rows - len(first)
        if duplicates:
            table = table.take(np.sort(first.to_numpy()))  # first rows, in log order

    cleaning = Cleaning(
        rows=rows,
        returned_value=abs(float(returned.as_py() or 0.0)),
        duplicates=duplicates,
        kept=table.num_rows,
        **counts,
    )
    return table, cleaning
