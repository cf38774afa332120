"""Customer summaries (RFM) from transaction logs, computed in Rust."""

from __future__ import annotations

from typing import Any

from . import _core
from ._frames import FrameKind, arrow_stream, from_arrow, resolve_kind, to_utc_micros

__all__ = ["rfm_summary", "rfm_calibration_holdout"]

#: What the purchase models read from a summary, in the core's names; the
#: summary adds ``monetary_value`` with an amount column.
PURCHASE_COLUMNS = ("frequency", "recency", "T")


def _end(value: Any, argument: str) -> tuple[int, bool] | None:
    return None if value is None else to_utc_micros(value, argument)


def rfm_summary(
    transactions: Any,
    customer_col: str,
    datetime_col: str,
    monetary_value_col: str | None = None,
    observation_period_end: Any = None,
    freq: str = "D",
    freq_multiplier: float = 1.0,
    include_first_transaction: bool = False,
    output: FrameKind | None = None,
) -> Any:
    """One row per customer: frequency, recency, T and mean repeat spend.

    The same numbers as ``lifetimes.utils.summary_data_from_transaction_data``:
    times are bucketed into periods of ``freq`` (``'W'`` weeks ending on
    Sunday, ``'D'``, ``'h'``, ``'min'``, ``'s'``, ``'ms'``, ``'us'``), and
    purchases in the same period count once, their amounts summed.

    * ``frequency``: number of repeat purchase periods (periods with a
      purchase, minus the first one).
    * ``recency``: periods from the first to the last purchase.
    * ``T``: periods from the first purchase to ``observation_period_end``.
    * ``monetary_value`` (with ``monetary_value_col``): mean spend per repeat
      period, 0 for customers without repeat purchases.

    Durations are divided by ``freq_multiplier``. With
    ``include_first_transaction=True`` the first period counts in frequency
    and in the mean spend.

    Args:
        transactions: the log, as a pandas or polars DataFrame, a pyarrow
            Table/RecordBatch or any object with the Arrow PyCapsule interface.
            Ids may be integers, strings or categoricals; times dates or
            datetimes of any unit, with or without time zone (zoned times are
            bucketed in their local wall-clock time, as pandas does); amounts
            floats, integers or decimals.
        customer_col, datetime_col, monetary_value_col: column names.
        observation_period_end: end of observation (date, datetime, pandas
            Timestamp, numpy datetime64 or ISO string); defaults to the last
            transaction. Transactions in later periods are ignored.
        output: ``'pandas'``, ``'polars'`` or ``'pyarrow'``; defaults to the
            kind of ``transactions``.

    Returns:
        A frame of the input's kind. pandas frames are indexed by customer id
        (as lifetimes returns them); polars and pyarrow have the id as the first
        column. Rows are sorted by customer id.

    Raises:
        ValueError: a column is missing or holds nulls/NaN, the table is empty,
            ``observation_period_end`` is before the first transaction, or
            ``freq`` is not supported.
        TypeError: a column has the wrong type.

    Example:
        >>> import patronage
        >>> from patronage.datasets import load_cdnow
        >>> log = load_cdnow("sample")
        >>> summary = patronage.rfm_summary(
        ...     log, "customer_id", "date", "dollar_value",
        ...     observation_period_end="1997-09-30", freq="W")
        >>> summary.loc[1, ["frequency", "recency", "T"]].tolist()
        [2.0, 30.0, 39.0]
    """
    stream = arrow_stream(
        transactions, [customer_col, datetime_col, monetary_value_col], argument="transactions"
    )
    batch = _core.rfm_summary(
        stream,
        customer_col,
        datetime_col,
        monetary_value_col,
        _end(observation_period_end, "observation_period_end"),
        freq,
        freq_multiplier,
        include_first_transaction,
    )
    return from_arrow(batch, resolve_kind(output, transactions), index=customer_col)


def rfm_calibration_holdout(
    transactions: Any,
    customer_col: str,
    datetime_col: str,
    calibration_period_end: Any,
    observation_period_end: Any = None,
    monetary_value_col: str | None = None,
    freq: str = "D",
    freq_multiplier: float = 1.0,
    include_first_transaction: bool = False,
    output: FrameKind | None = None,
) -> Any:
    """Summary of a calibration period and purchases in the holdout period after it.

    The same numbers as ``lifetimes.utils.calibration_and_holdout_data``.
    Customers are those who bought by ``calibration_period_end``. Columns:
    ``frequency_cal``, ``recency_cal``, ``T_cal`` (and ``monetary_value_cal``)
    as in :func:`rfm_summary` for the calibration period;
    ``frequency_holdout``, the number of periods with purchases in
    (``calibration_period_end``, ``observation_period_end``];
    ``monetary_value_holdout``, the mean amount per holdout transaction (0 if
    none); ``duration_holdout``, the holdout length in periods.

    Example:
        >>> import patronage
        >>> from patronage.datasets import load_cdnow
        >>> log = load_cdnow("sample")
        >>> ch = patronage.rfm_calibration_holdout(
        ...     log, "customer_id", "date", calibration_period_end="1997-09-30",
        ...     observation_period_end="1998-06-30", freq="W")
        >>> float(ch["duration_holdout"].iloc[0])
        39.0
    """
    stream = arrow_stream(
        transactions, [customer_col, datetime_col, monetary_value_col], argument="transactions"
    )
    batch = _core.rfm_calibration_holdout(
        stream,
        customer_col,
        datetime_col,
        to_utc_micros(calibration_period_end, "calibration_period_end"),
        monetary_value_col,
        _end(observation_period_end, "observation_period_end"),
        freq,
        freq_multiplier,
        include_first_transaction,
    )
    return from_arrow(batch, resolve_kind(output, transactions), index=customer_col)
