"""Property-based tests of every public function that takes a table or an array.

Each test draws valid and malformed inputs (wrong column types, nulls, NaN/inf,
empty tables, huge values, unicode/float/categorical ids, time zones, pandas,
polars and pyarrow frames) and classifies the outcome:

* a result: basic correctness (row counts, ids, ranges, finiteness);
* a ``ValueError``/``TypeError``: allowed only when the input is malformed (or
  may legitimately fail), and its message must name the column, argument or
  parameter at fault;
* anything else (``PanicException``, ``OverflowError``, ``KeyError``, ...):
  the test fails.

Each strategy says what it made wrong (an :class:`Expect`), so a malformed
input *must* raise and a valid one *must not*.

Strategies stay inside the ranges where a known bug is reproduced by an
``xfail(strict=True)`` test at the end of this file (each bound says which), so
the properties keep checking everything else while the bugs are open.

Profiles: ``ci`` (default, 40 examples per test) and ``long`` (10,000), chosen
with ``PATRONAGE_HYPOTHESIS_PROFILE=long``.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import subprocess
import sys
import textwrap
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
import scipy.sparse as sp

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, assume, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra import numpy as hnp  # noqa: E402

import patronage  # noqa: E402
from patronage import anomaly, clv, recommend  # noqa: E402

settings.register_profile(
    "ci",
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)
settings.register_profile(
    "long",
    max_examples=10_000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)
settings.load_profile(os.environ.get("PATRONAGE_HYPOTHESIS_PROFILE", "ci"))

pytestmark = [
    pytest.mark.filterwarnings("ignore::patronage.clv.ConvergenceWarning"),
    pytest.mark.filterwarnings("ignore::UserWarning"),
    pytest.mark.filterwarnings("ignore::RuntimeWarning"),
]

KINDS = ("pandas", "polars", "pyarrow")


# -- outcome classification -------------------------------------------------


@dataclass
class Expect:
    """What a call may do. Each entry of ``must``/``may`` is a tuple of
    substrings that an error message must all contain to explain the failure
    (e.g. the column name and the bad value)."""

    must: list[tuple[str, ...]] = field(default_factory=list)
    may: list[tuple[str, ...]] = field(default_factory=list)

    def __add__(self, other: Expect) -> Expect:
        return Expect(self.must + other.must, self.may + other.may)

    def fail(self, *names: str) -> Expect:
        return Expect(self.must + [names], self.may)

    def allow(self, *names: str) -> Expect:
        return Expect(self.must, self.may + [names])

    @property
    def valid(self) -> bool:
        return not self.must


def outcome(expect: Expect, call: Callable[[], Any]) -> Any:
    """The result of ``call()``, or None after checking that its error is expected
    and explained. Exceptions other than ValueError/TypeError propagate (and fail)."""
    try:
        result = call()
    except (ValueError, TypeError) as error:
        message = str(error)
        explanations = expect.must + expect.may
        assert explanations, f"valid input raised {type(error).__name__}: {message}"
        assert any(all(part in message for part in parts) for parts in explanations), (
            f"{type(error).__name__}: {message!r} names none of {explanations}"
        )
        return None
    assert expect.valid, f"expected an error naming one of {expect.must}, got {type(result).__name__}"
    return result


# -- frames ------------------------------------------------------------------


def to_kind(table: pa.Table, kind: str) -> Any:
    if kind == "pandas":
        return table.to_pandas()
    if kind == "polars":
        return pl.from_arrow(table)
    return table


def kind_of(frame: Any) -> str:
    if isinstance(frame, (pd.DataFrame, pd.Series)):
        return "pandas"
    if isinstance(frame, (pl.DataFrame, pl.Series)):
        return "polars"
    return "pyarrow"


def as_pandas(frame: Any) -> pd.DataFrame:
    if isinstance(frame, pd.DataFrame):
        return frame
    return (frame.to_arrow() if isinstance(frame, pl.DataFrame) else frame).to_pandas()


def values_of(result: Any) -> np.ndarray:
    """A Series (pandas/polars) or array as float numpy."""
    if isinstance(result, pl.Series):
        return result.to_numpy().astype(np.float64)
    return np.asarray(result, dtype=np.float64)


def assert_finite(values: Any, what: str) -> None:
    values = np.asarray(values, dtype=np.float64)
    assert np.all(np.isfinite(values)), f"{what} has non-finite values: {values[~np.isfinite(values)][:5]}"


def assert_probability(values: Any, what: str, slack: float = 0.0) -> None:
    values = np.asarray(values, dtype=np.float64)
    assert_finite(values, what)
    outside = (values < -slack) | (values > 1 + slack)
    assert not np.any(outside), f"{what} outside [0, 1]: {values[outside][:5]!r}"


def pooled(draw: Any, elements: st.SearchStrategy, n: int, max_pool: int = 6) -> list[Any]:
    """``n`` values drawn from a small pool, so that values repeat (ids shared
    by rows, duplicate times)."""
    if n == 0:
        return []
    pool = draw(st.lists(elements, min_size=1, max_size=min(n, max_pool)))
    return [pool[i] for i in draw(st.lists(st.integers(0, len(pool) - 1), min_size=n, max_size=n))]


# -- columns of transaction logs and interaction tables ----------------------


@dataclass
class Column:
    array: pa.Array | None  # None: the column is missing from the table
    expect: Expect = field(default_factory=Expect)


TEXT_IDS = st.one_of(
    st.text(max_size=8),
    st.sampled_from(["", "🎉", "👩‍👩‍👧", "é", "e\u0301", "\x00", "x" * 5000]),
)
ID_KINDS: dict[str, tuple[st.SearchStrategy, Any]] = {
    "int64": (st.integers(-(2**63), 2**63 - 1), pa.int64()),
    "int32": (st.integers(-(2**31), 2**31 - 1), pa.int32()),
    "whole float": (st.integers(-(2**53), 2**53).map(float), pa.float64()),
    "string": (TEXT_IDS, pa.string()),
    "large string": (TEXT_IDS, pa.large_string()),
    "categorical": (TEXT_IDS, "dictionary"),
}
# Times stay within the microsecond range of int64: past it they are silently
# wrapped or clamped (test_known_bug_out_of_range_times_are_wrapped).
TIMES = st.datetimes(min_value=dt.datetime(1970, 1, 1), max_value=dt.datetime(2100, 1, 1))
ZONES = [None, "UTC", "Asia/Kolkata", "America/St_Johns", "Pacific/Chatham", "Europe/Paris"]
# Amounts stay within ±1e300 so sums of a customer's few amounts stay finite
# (test_known_bug_rfm_summary_nan_from_finite_amounts).
AMOUNTS = {
    "float": (st.floats(-1e300, 1e300, allow_nan=False), pa.float64()),
    "small float": (st.floats(-1e4, 1e4, allow_nan=False).map(lambda x: round(x, 2)), pa.float64()),
    "int64": (st.integers(-(2**63), 2**63 - 1), pa.int64()),
    "decimal": (st.decimals(-(10**12), 10**12, places=2, allow_nan=False, allow_infinity=False), pa.decimal128(16, 2)),
}


def flaw_among(draw: Any, flaws: list[str]) -> str:
    """One of ``flaws``, or the column left out."""
    return draw(st.sampled_from([*flaws, "missing"]))


@st.composite
def id_columns(draw: Any, n: int, name: str, malformed: bool = False) -> Column:
    kind = draw(st.sampled_from(sorted(ID_KINDS)))
    values_strategy, type_ = ID_KINDS[kind]
    values = pooled(draw, values_strategy, n)
    if not malformed:
        array = pa.array(values, pa.string() if type_ == "dictionary" else type_)
        return Column(array.dictionary_encode() if type_ == "dictionary" else array)
    flaw = flaw_among(draw, ["fraction", "bool", "timestamp", "binary", "null"])
    if flaw == "missing":
        return Column(None, Expect().fail(name))
    if flaw == "bool":
        return Column(pa.array([bool(i % 2) for i in range(n)], pa.bool_()), Expect().fail(name))
    if flaw == "timestamp":
        return Column(pa.array(draw(st.lists(TIMES, min_size=n, max_size=n)), pa.timestamp("us")), Expect().fail(name))
    if flaw == "binary":
        return Column(pa.array([b"id"] * n, pa.binary()), Expect().fail(name))
    if n == 0:
        return Column(pa.array([], pa.float64()))
    row = draw(st.integers(0, n - 1))
    whole = [float(v) for v in pooled(draw, st.integers(-1000, 1000), n)]
    if flaw == "null":
        whole[row] = None
        return Column(pa.array(whole, pa.float64()), Expect().fail(name, "null"))
    # A non-whole float id must be named together with the bad value.
    bad = draw(st.integers(-999, 999)) + 0.5
    whole[row] = bad
    return Column(pa.array(whole, pa.float64()), Expect().fail(name, str(bad)))


@st.composite
def time_columns(draw: Any, n: int, name: str, malformed: bool = False) -> Column:
    times = pooled(draw, TIMES, n, max_pool=8)
    if not malformed:
        if draw(st.booleans()):
            return Column(pa.array([t.date() for t in times], pa.date32()))
        unit = draw(st.sampled_from(["s", "ms", "us", "ns"]))
        times = [t.replace(microsecond=0) if unit == "s" else t for t in times]
        return Column(pa.array(times, pa.timestamp(unit, tz=draw(st.sampled_from(ZONES)))))
    flaw = flaw_among(draw, ["string", "int", "float", "bool", "duration", "null"])
    if flaw == "missing":
        return Column(None, Expect().fail(name))
    if flaw == "null":
        if n == 0:
            return Column(pa.array([], pa.timestamp("us")))
        times[draw(st.integers(0, n - 1))] = None
        return Column(pa.array(times, pa.timestamp("us")), Expect().fail(name, "null"))
    array = {
        "string": lambda: pa.array([t.isoformat() for t in times], pa.string()),
        "int": lambda: pa.array([int(t.timestamp()) for t in times], pa.int64()),
        "float": lambda: pa.array([t.timestamp() for t in times], pa.float64()),
        "bool": lambda: pa.array([True] * n, pa.bool_()),
        "duration": lambda: pa.array([t - dt.datetime(1970, 1, 1) for t in times], pa.duration("us")),
    }[flaw]()
    return Column(array, Expect().fail(name))


@st.composite
def amount_columns(draw: Any, n: int, name: str, malformed: bool = False) -> Column:
    kind = draw(st.sampled_from(sorted(AMOUNTS)))
    values_strategy, type_ = AMOUNTS[kind]
    values = draw(st.lists(values_strategy, min_size=n, max_size=n))
    if not malformed:
        return Column(pa.array(values, type_))
    flaw = flaw_among(draw, ["nan", "inf", "null", "string", "timestamp"])
    if flaw == "missing":
        return Column(None, Expect().fail(name))
    if flaw == "string":
        return Column(pa.array([str(v) for v in values], pa.string()), Expect().fail(name))
    if flaw == "timestamp":
        return Column(pa.array([dt.datetime(2020, 1, 1)] * n, pa.timestamp("us")), Expect().fail(name))
    if n == 0:
        return Column(pa.array([], pa.float64()))
    floats = [float(v) for v in values]
    floats[draw(st.integers(0, n - 1))] = {"nan": math.nan, "inf": -math.inf, "null": None}[flaw]
    return Column(pa.array(floats, pa.float64()), Expect().fail(name))


@st.composite
def weight_columns(draw: Any, n: int, name: str, malformed: bool = False) -> Column:
    # Weights stay <= 1e6: past float32's range they become inf silently
    # (test_known_bug_huge_weights_become_inf).
    values = draw(st.lists(st.one_of(st.integers(0, 100).map(float), st.floats(0, 1e6)), min_size=n, max_size=n))
    if not malformed:
        return Column(pa.array(values, pa.float64()))
    flaw = flaw_among(draw, ["negative", "nan", "inf", "null", "string"])
    if flaw == "missing":
        return Column(None, Expect().fail(name))
    if flaw == "string":
        return Column(pa.array([str(v) for v in values], pa.string()), Expect().fail(name))
    if n == 0:
        return Column(pa.array([], pa.float64()))
    values[draw(st.integers(0, n - 1))] = {"negative": -1.0, "nan": math.nan, "inf": math.inf, "null": None}[flaw]
    return Column(pa.array(values, pa.float64()), Expect().fail(name))


ROLES = {"id": id_columns, "time": time_columns, "amount": amount_columns, "weight": weight_columns}


@dataclass
class Log:
    table: pa.Table
    expect: Expect
    roles: dict[str, str]

    def frame(self, kind: str) -> Any:
        return to_kind(self.table, kind)


@st.composite
def logs(draw: Any, roles: dict[str, str], *, min_rows: int = 0, max_rows: int = 25, malformed: bool = True) -> Log:
    """A table with a column per ``roles`` entry (name → id/time/amount/weight),
    with at most one malformed column when ``malformed``."""
    n = draw(st.integers(min_rows, max_rows))
    bad = draw(st.sampled_from([None, None, *roles])) if malformed else None
    columns, expect = {}, Expect()
    for name, role in roles.items():
        column = draw(ROLES[role](n, name, malformed=name == bad))
        expect += column.expect
        if column.array is not None:
            columns[name] = column.array
    if n == 0:  # an empty table may be refused as such or for its (untyped) columns
        expect = expect.fail("rows")
        for name in roles:
            expect = expect.allow(name)
    table = pa.table(columns) if columns else pa.table({"unused": pa.array([], pa.int8())})
    return Log(table, expect, dict(roles))


def wall_clock_days(column: pa.Array) -> np.ndarray:
    """Days since the epoch of each time, in its own zone's wall clock."""
    series = pd.Series(pa.chunked_array([column]).to_pandas())
    series = pd.to_datetime(series)
    if series.dt.tz is not None:
        series = series.dt.tz_localize(None)
    return series.to_numpy().astype("datetime64[D]").astype(np.int64)


def python_ids(column: pa.Array) -> list[Any]:
    if pa.types.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    return column.to_pylist()


# -- rfm_summary / rfm_calibration_holdout -----------------------------------

CUSTOMER, WHEN, SPENT = "client 🎉", "when", "spent €"
LOG_ROLES = {CUSTOMER: "id", WHEN: "time", SPENT: "amount"}
FREQS = ["D", "W", "h", "min", "s", "ms", "us"]


@st.composite
def freq_options(draw: Any) -> tuple[str, float, Expect]:
    freq = draw(st.sampled_from([*FREQS, "D", "D", "Q", "2D", ""]))
    # A non-numeric multiplier is test_known_bug_freq_multiplier_type_error_unnamed;
    # tiny positive ones overflow (test_known_bug_tiny_freq_multiplier_gives_inf).
    multiplier = draw(st.sampled_from([1.0, 1.0, 7.0, 0.5, 1e-3, 1e6, 0.0, -1.0, math.nan, math.inf]))
    expect = Expect()
    if freq not in FREQS:
        expect = expect.fail("freq")
    if not (math.isfinite(multiplier) and multiplier > 0):
        expect = expect.fail("freq_multiplier")
    return freq, multiplier, expect


def end_after(draw: Any, log: Log, argument: str) -> tuple[Any, Expect]:
    """A date/time argument: valid (and possibly before some transactions) or malformed."""
    choice = draw(st.sampled_from(["time", "string", "date", "numpy", "timestamp", "garbage", "int"]))
    when = draw(TIMES)
    if choice == "garbage":
        return "not a date", Expect().fail(argument)
    if choice == "int":
        return 20200101, Expect().fail(argument)
    value = {
        "time": when,
        "string": when.isoformat(),
        "date": when.date(),
        "numpy": np.datetime64(when, "us"),
        "timestamp": pd.Timestamp(when, tz=draw(st.sampled_from(ZONES))),
    }[choice]
    # Before (some) transactions it may be refused, naming itself.
    return value, Expect().allow(argument)


def check_summary_invariants(frame: pd.DataFrame, with_money: bool) -> None:
    expected = ["frequency", "recency", "T"] + (["monetary_value"] if with_money else [])
    assert list(frame.columns) == expected
    assert_finite(frame.to_numpy(dtype=np.float64), "summary")
    f, r, T = (frame[c].to_numpy(dtype=np.float64) for c in ("frequency", "recency", "T"))
    assert np.all(f >= 0) and np.all(f == np.round(f))
    assert np.all(r >= 0) and np.all(T >= r)
    if with_money:
        assert np.all(frame["monetary_value"].to_numpy()[f == 0] == 0)


def summary_ids(result: Any, column: str) -> list[Any]:
    frame = as_pandas(result)
    return list(frame.index) if isinstance(result, pd.DataFrame) else list(frame[column])


def reference_summary(log: Log, include_first: bool, with_money: bool) -> dict[Any, tuple[float, float, float, float]]:
    """Daily (frequency, recency, T, monetary_value) computed independently."""
    days = wall_clock_days(log.table.column(WHEN).combine_chunks())
    ids = python_ids(log.table.column(CUSTOMER).combine_chunks())
    amounts = [float(a) for a in log.table.column(SPENT).to_pylist()] if with_money else [0.0] * len(ids)
    periods: dict[Any, dict[int, float]] = defaultdict(lambda: defaultdict(float))
    for customer, day, amount in zip(ids, days, amounts):
        periods[customer][int(day)] += amount
    end = int(days.max())
    out = {}
    for customer, by_day in periods.items():
        first, last = min(by_day), max(by_day)
        sums = [by_day[d] for d in sorted(by_day)]
        counted = sums if include_first else sums[1:]
        money = sum(counted) / len(counted) if counted else 0.0
        out[customer] = (len(counted), last - first, end - first, money)
    return out


@given(
    log=logs(LOG_ROLES),
    kind=st.sampled_from(KINDS),
    options=freq_options(),
    with_money=st.booleans(),
    include_first=st.booleans(),
    data=st.data(),
)
def test_rfm_summary(log, kind, options, with_money, include_first, data):
    freq, multiplier, expect = options
    end, end_expect = (None, Expect()) if data.draw(st.booleans()) else end_after(data.draw, log, "observation_period_end")
    expect = log.expect + expect + end_expect
    if not with_money:  # the amount column is not read
        expect.must = [m for m in expect.must if SPENT not in m]
    result = outcome(
        expect,
        lambda: patronage.rfm_summary(
            log.frame(kind),
            CUSTOMER,
            WHEN,
            SPENT if with_money else None,
            observation_period_end=end,
            freq=freq,
            freq_multiplier=multiplier,
            include_first_transaction=include_first,
        ),
    )
    if result is None:
        return
    assert kind_of(result) == kind
    frame = as_pandas(result)
    if kind != "pandas":
        frame = frame.set_index(CUSTOMER)
    check_summary_invariants(frame, with_money)
    ids = summary_ids(result, CUSTOMER)
    input_ids = set(python_ids(log.table.column(CUSTOMER).combine_chunks()))
    assert len(set(ids)) == len(ids) and set(ids) <= input_ids
    assert ids == sorted(ids), "rows must be sorted by customer id"
    if end is None:
        assert set(ids) == input_ids
    if end is None and freq == "D" and multiplier == 1.0:
        reference = reference_summary(log, include_first, with_money)
        for customer, row in zip(ids, frame.itertuples(index=False)):
            f, r, T, money = reference[customer]
            assert (row.frequency, row.recency, row.T) == (f, r, T), customer
            if with_money:
                scale = max(1.0, *(abs(float(a)) for a in log.table.column(SPENT).to_pylist()))
                assert abs(row.monetary_value - money) <= 1e-9 * scale * 30, customer


@given(
    log=logs(LOG_ROLES, min_rows=1),
    kind=st.sampled_from(KINDS),
    options=freq_options(),
    with_money=st.booleans(),
    data=st.data(),
)
def test_rfm_calibration_holdout(log, kind, options, with_money, data):
    freq, multiplier, expect = options
    cal_end, cal_expect = end_after(data.draw, log, "calibration_period_end")
    end, end_expect = (None, Expect()) if data.draw(st.booleans()) else end_after(data.draw, log, "observation_period_end")
    # The observation end must follow the calibration end (it defaults to the last transaction).
    expect = log.expect + expect + cal_expect + end_expect.allow("observation_period_end")
    if not with_money:
        expect.must = [m for m in expect.must if SPENT not in m]
    frame = log.frame(kind)
    call = dict(
        monetary_value_col=SPENT if with_money else None, freq=freq, freq_multiplier=multiplier, output="pandas"
    )
    result = outcome(
        expect,
        lambda: patronage.rfm_calibration_holdout(
            frame, CUSTOMER, WHEN, calibration_period_end=cal_end, observation_period_end=end, **call
        ),
    )
    if result is None:
        return
    assert_finite(result.to_numpy(dtype=np.float64), "calibration/holdout summary")
    assert result.index.is_monotonic_increasing and result.index.is_unique
    holdout = result["frequency_holdout"].to_numpy()
    assert np.all(holdout >= 0) and np.all(holdout == np.round(holdout))
    assert np.all(result["duration_holdout"] > 0) and result["duration_holdout"].nunique() == 1
    # The calibration columns are the summary of the log at calibration_period_end.
    calibration = patronage.rfm_summary(
        frame, CUSTOMER, WHEN, call["monetary_value_col"], observation_period_end=cal_end, freq=freq,
        freq_multiplier=multiplier, output="pandas",
    )  # fmt: skip
    renamed = result[[c for c in result.columns if c.endswith("_cal")]].rename(columns=lambda c: c[: -len("_cal")])
    pd.testing.assert_frame_equal(renamed, calibration, check_names=False)


# -- lifetime-value models ---------------------------------------------------

BG_PARAMS = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
PURCHASE_MODELS = {
    clv.BetaGeo: BG_PARAMS,
    clv.ModifiedBetaGeo: BG_PARAMS,
    clv.ParetoNBD: {"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669},
}
# Durations stay <= 1e5 periods: BG/NBD and MBG/NBD predict -inf or NaN for
# very long histories (test_known_bug_purchase_models_negative_or_nan_for_huge_histories).
DURATIONS = st.one_of(st.integers(0, 60).map(float), st.floats(0, 1e5), st.sampled_from([0.0, 1e-9, 1e5]))


@dataclass
class Summary:
    columns: dict[str, np.ndarray]
    expect: Expect
    flaw: str | None = None

    @property
    def n(self) -> int:
        return len(next(iter(self.columns.values())))

    def frame(self, kind: str) -> Any:
        table = pa.table({name: pa.array(values) for name, values in self.columns.items()})
        return to_kind(table, kind)

    def arrays(self, names: tuple[str, ...]) -> list[np.ndarray]:
        return [self.columns[name] for name in names]


def unchecked_values(summary: Summary, kind: str = "pandas") -> Expect:
    """rfm_scores, lifecycle_stages, period_transactions and
    calibration_holdout_comparison check nulls and NaN but not value ranges
    (test_known_bug_segments_accept_negative_values), and read datetime
    columns as numbers (test_known_bug_datetime_arrays_read_as_numbers): such
    a flaw may pass. lifecycle_stages and period_transactions also take inf, and
    NaN from polars and pyarrow (where NaN is not null)."""
    if summary.flaw in ("negative", "timestamp", "inf") or summary.flaw == "nan" and kind != "pandas":
        return Expect(may=summary.expect.must + summary.expect.may)
    return summary.expect


@st.composite
def purchase_rows(draw: Any) -> tuple[float, float, float]:
    T = draw(DURATIONS)
    # Positive recencies stay >= 1e-6: a subnormal one sends Pareto/NBD's fit to
    # parameters near 1e-308, where predictions can be NaN
    # (test_known_bug_pareto_nbd_nan_for_tiny_alpha).
    recency = draw(st.one_of(st.just(0.0), st.floats(1e-6, T))) if T >= 1e-6 else 0.0
    frequency = float(draw(st.integers(1, 50))) if recency > 0 else 0.0
    return frequency, recency, T


def corrupt(draw: Any, columns: dict[str, np.ndarray], relations: dict[str, tuple[str, ...]]) -> tuple[dict, Expect, str]:
    """One column made wrong: a bad value (negative, NaN, inf, null), a wrong
    type, or missing. ``relations`` gives, per column, other names a message may
    use for a negative value (e.g. a negative T is "recency greater than T")."""
    name = draw(st.sampled_from(sorted(columns)))
    flaw = draw(st.sampled_from(["negative", "nan", "inf", "null", "string", "timestamp", "missing"]))
    columns = dict(columns)
    n = len(columns[name])
    if flaw == "missing":
        del columns[name]
        return columns, Expect().fail(name), flaw
    if flaw in ("string", "timestamp"):
        kind = dict(string=np.array(["x"] * n, dtype=str), timestamp=np.full(n, np.datetime64("2020-01-01", "us")))
        columns[name] = kind[flaw]
        # With no rows there is nothing to read: refusing the type is optional.
        return columns, Expect().fail(name) if n else Expect().allow(name), flaw
    if n == 0:
        return columns, Expect(), flaw
    values = columns[name].astype(object if flaw == "null" else np.float64).copy()
    values[draw(st.integers(0, n - 1))] = {"negative": -1.0, "nan": np.nan, "inf": np.inf, "null": None}[flaw]
    columns[name] = values
    others = relations.get(name, ()) if flaw == "negative" else ()
    return columns, Expect(must=[(name,)], may=[(other,) for other in others]), flaw


@st.composite
def summaries(
    draw: Any, rows: st.SearchStrategy, names: tuple[str, ...], relations: dict[str, tuple[str, ...]],
    malformed: bool = True, min_rows: int = 0,
) -> Summary:  # fmt: skip
    drawn = draw(st.lists(rows, min_size=min_rows, max_size=20))
    columns = {name: np.array([row[i] for row in drawn], dtype=np.float64) for i, name in enumerate(names)}
    if malformed and draw(st.booleans()):
        return Summary(*corrupt(draw, columns, relations))
    return Summary(columns, Expect())


PURCHASE_NAMES = ("frequency", "recency", "T")
PURCHASE_RELATIONS = {"recency": ("T",), "T": ("recency",), "frequency": ("recency",)}


def no_repeat_purchases(summary: Summary) -> bool:
    f = summary.columns.get("frequency")
    return f is not None and f.dtype.kind in "fO" and not np.any(np.nan_to_num(np.asarray(f, dtype=np.float64)) > 0)


def call_on(summary: Summary, names: tuple[str, ...], how: str, method: Callable, *before: Any) -> Callable[[], Any]:
    """``method(*before, data)`` with the summary as a table of ``how``'s kind or as arrays."""
    if how == "arrays":
        if not all(n in summary.columns for n in names):
            return lambda: method(*before, *[summary.columns.get(n) for n in names])
        return lambda: method(*before, *summary.arrays(names))
    return lambda: method(*before, summary.frame(how))


HOW = st.sampled_from([*KINDS, "arrays"])


def expect_reading(summary: Summary, names: tuple[str, ...], how: str) -> Expect:
    """What reading ``names`` from the summary (as ``how``) must do."""
    if how == "polars" and summary.flaw == "null" and summary.n == 1:
        # An all-null polars column has dtype Null, which the core cannot import
        # (test_known_bug_polars_null_column_not_imported).
        return summary.expect.allow("C Data interface")
    if how != "arrays":
        return summary.expect
    if any(n not in summary.columns for n in names):
        return Expect().fail(*[n for n in names if n not in summary.columns][:1])
    if summary.flaw == "timestamp":
        # datetime64 arrays are read as numbers (test_known_bug_datetime_arrays_read_as_numbers).
        return Expect(may=summary.expect.must)
    return summary.expect


@given(
    model_type=st.sampled_from(sorted(PURCHASE_MODELS, key=lambda m: m.__name__)),
    summary=summaries(purchase_rows(), PURCHASE_NAMES, PURCHASE_RELATIONS),
    how=HOW,
    t=st.sampled_from([0.0, 1.0, 10.0, 52.0, 1e4, -1.0, math.nan, math.inf]),
    # n stays small: the conditional PMF costs O(n) (BG) or O(n²) (Pareto/NBD)
    # (test_known_bug_conditional_pmf_runtime_grows_with_n).
    n_purchases=st.integers(0, 20),
)
def test_purchase_model_predictions(model_type, summary, how, t, n_purchases):
    model = model_type.from_params(PURCHASE_MODELS[model_type])
    data_expect = expect_reading(summary, PURCHASE_NAMES, how)
    n = summary.n
    t_expect = Expect() if math.isfinite(t) and t >= 0 else Expect().fail("'t'") if n else Expect().allow("'t'")

    def checked(result: Any, what: str) -> np.ndarray:
        values = values_of(result)
        assert values.shape == (n,), what
        if how in ("pandas", "polars"):
            assert kind_of(result) == how
        return values

    expected = outcome(data_expect + t_expect, call_on(summary, PURCHASE_NAMES, how, model.predict, t))
    if expected is not None:
        values = checked(expected, "expected purchases")
        assert_finite(values, "expected purchases")
        assert np.all(values >= 0), values
    alive = outcome(data_expect, call_on(summary, PURCHASE_NAMES, how, model.conditional_probability_alive))
    if alive is not None:
        assert_probability(checked(alive, "probability alive"), "probability alive")
    pmf = outcome(
        data_expect + t_expect,
        call_on(summary, PURCHASE_NAMES, how, model.conditional_probability_of_n_purchases_up_to_time, n_purchases, t),
    )
    if pmf is not None:
        assert_probability(checked(pmf, "conditional PMF"), "conditional PMF")
    loglik = outcome(data_expect, call_on(summary, PURCHASE_NAMES, how, model.log_likelihood))
    if loglik is not None:
        values = checked(loglik, "log-likelihood")
        assert not np.any(np.isnan(values)) and not np.any(values == np.inf), values


@given(
    model_type=st.sampled_from(sorted(PURCHASE_MODELS, key=lambda m: m.__name__)),
    # t = 0 gives P(X(0) = 0) = 1 + 9e-16 (test_known_bug_probability_above_one).
    times=st.lists(st.one_of(st.floats(1e-9, 1e6), st.sampled_from([-1.0, math.nan, math.inf])), min_size=0, max_size=8),
    n_purchases=st.one_of(st.integers(0, 30), st.sampled_from([-1, 2.5, 2**40])),
)
def test_purchase_model_new_customer(model_type, times, n_purchases):
    model = model_type.from_params(PURCHASE_MODELS[model_type])
    t = np.array(times)
    t_expect = Expect() if np.all(np.isfinite(t) & (t >= 0)) else Expect().fail("'t'")
    expected = outcome(t_expect, lambda: model.expected_number_of_purchases_up_to_time(t))
    if expected is not None:
        values = np.asarray(expected, dtype=np.float64)
        assert_finite(values, "expected purchases")
        assert np.all(values >= 0)
        order = np.argsort(t, kind="stable")
        assert np.all(np.diff(values[order]) >= -1e-9 * np.maximum(1.0, values[order][1:])), "not non-decreasing in t"
    n_ok = isinstance(n_purchases, int) and 0 <= n_purchases < 2**32
    n_expect = Expect() if n_ok else Expect().fail("'n'")
    probabilities = outcome(t_expect + n_expect, lambda: model.probability_of_n_purchases_up_to_time(t, n_purchases))
    if probabilities is not None:
        assert_probability(probabilities, "P(X(t) = n)")


@given(
    model_type=st.sampled_from(sorted(PURCHASE_MODELS, key=lambda m: m.__name__)),
    summary=summaries(purchase_rows(), PURCHASE_NAMES, PURCHASE_RELATIONS),
    how=HOW,
    weights=st.one_of(st.none(), st.sampled_from(["ones", "counts", "negative", "nan", "short", "zeros"])),
    penalizer=st.sampled_from([0.0, 0.0, 0.01, 1.0, -1.0, math.nan]),
)
def test_purchase_model_fit(model_type, summary, how, weights, penalizer):
    expect = expect_reading(summary, PURCHASE_NAMES, how)
    n = summary.n
    weight_values = None
    if weights is not None:
        weight_values = {
            "ones": np.ones(n), "counts": np.arange(1, n + 1, dtype=float), "negative": -np.ones(n),
            "nan": np.full(n, np.nan), "short": np.ones(n + 1), "zeros": np.zeros(n),
        }[weights]  # fmt: skip
        if weights in ("negative", "nan", "zeros", "short") and (n > 0 or weights == "short"):
            expect = expect.fail("weights")
    if not penalizer >= 0:
        expect = expect.fail("penalizer_coef")
    if n == 0:
        expect = expect.fail("rows")
    if no_repeat_purchases(summary):
        expect = expect.fail("frequency")  # no repeat purchases: nothing to fit
    # A fit may legitimately fail to converge, saying so and pointing to the penalizer.
    expect = expect.allow("penalizer_coef")
    model = model_type(penalizer_coef=penalizer)
    fitted = outcome(expect, lambda: call_on(summary, PURCHASE_NAMES, how, lambda *a: model.fit(*a, weights=weight_values))())
    if fitted is None:
        return
    params = np.array(list(fitted.params_.values()))
    assert_finite(params, "parameters")
    assert np.all(params > 0)
    assert math.isfinite(fitted.log_likelihood_)
    # Fits can end at a tiny alpha, where Pareto/NBD predicts NaN
    # (test_known_bug_pareto_nbd_nan_for_tiny_alpha).
    assume(params.min() > 1e-6)
    alive = fitted.conditional_probability_alive(*summary.arrays(PURCHASE_NAMES))
    if model_type is clv.ParetoNBD:
        # Some unconverged Pareto/NBD fits predict NaN; the rounded printout of
        # such examples no longer fails, so they are known only through
        # test_known_bug_pareto_nbd_nan_for_tiny_alpha.
        assume(not np.any(np.isnan(alive)))
    assert_probability(alive, "probability alive after fit")


# BG/BB: frequency <= recency <= periods, whole numbers. Periods stay <= 60:
# the fit and predictions take time linear in periods
# (test_known_bug_bgbb_runtime_grows_with_periods).
@st.composite
def opportunity_rows(draw: Any) -> tuple[float, float, float]:
    periods = draw(st.integers(0, 60))
    recency = draw(st.integers(0, periods))
    frequency = draw(st.integers(0, recency)) if recency > 0 else 0
    if frequency == 0:
        recency = 0
    return float(frequency), float(recency), float(periods)


BGBB_NAMES = ("frequency", "recency", "periods")
BGBB_RELATIONS = {"frequency": ("recency",), "recency": ("frequency", "periods"), "periods": ("recency",)}


@given(
    summary=summaries(opportunity_rows(), BGBB_NAMES, BGBB_RELATIONS),
    how=HOW,
    # Horizons are 0 or in [1e-6, 1e6]: expectations turn negative near 1e16 and,
    # by cancellation, near 1e-14 (test_known_bug_bgbb_negative_expectations).
    m=st.one_of(st.integers(0, 100).map(float), st.floats(1e-6, 1e6), st.sampled_from([-1.0, math.nan, math.inf])),
    fit=st.booleans(),
)
def test_beta_geo_beta_binom(summary, how, m, fit):
    model = clv.BetaGeoBetaBinom.from_params({"alpha": 1.204, "beta": 0.75, "gamma": 0.657, "delta": 2.783})
    expect = expect_reading(summary, BGBB_NAMES, how)
    if fit:
        fit_expect = expect.allow("penalizer_coef")
        if summary.n == 0:
            fit_expect = fit_expect.fail("rows")
        if no_repeat_purchases(summary):
            fit_expect = fit_expect.fail("frequency")
        fitted = outcome(fit_expect, call_on(summary, BGBB_NAMES, how, clv.BetaGeoBetaBinom().fit))
        if fitted is not None:
            assert np.all(np.array(list(fitted.params_.values())) > 0)
            # Fits on a few customers can end at parameters above 1e4, where
            # predictions are NaN (test_known_bug_bgbb_nan_for_large_parameters).
            if max(fitted.params_.values()) < 1e3:
                model = fitted
    m_ok = math.isfinite(m) and m >= 0
    m_expect = Expect() if m_ok else Expect().fail("m_periods_in_future") if summary.n else Expect().allow("m_periods_in_future")
    expected = outcome(
        expect + m_expect,
        call_on(summary, BGBB_NAMES, how, model.conditional_expected_number_of_purchases_up_to_time, m),
    )
    if expected is not None:
        values = values_of(expected)
        assert_finite(values, "expected purchases")
        assert np.all(values >= 0), values
    alive = outcome(expect + m_expect, call_on(summary, BGBB_NAMES, how, model.conditional_probability_alive, m))
    if alive is not None:
        # Reaches 1 + 3e-9 after some fits (test_known_bug_probability_above_one).
        assert_probability(values_of(alive), "probability alive", slack=1e-8)
    # The message names 't' for the argument n (test_known_bug_bgbb_names_t_for_n).
    new = outcome(Expect() if m_ok else Expect().fail("'t'"), lambda: model.expected_number_of_purchases_up_to_time(m))
    if new is not None:
        assert math.isfinite(new) and new >= 0, new


@st.composite
def churn_rows(draw: Any) -> tuple[float, float]:
    return float(draw(st.integers(1, 40))), float(draw(st.booleans()))


@given(
    summary=summaries(churn_rows(), ("duration", "churned"), {}),
    how=HOW,
    # t stays <= 1e6: survival jumps back up (and to inf) near 1e17
    # (test_known_bug_shifted_beta_geo_survival_outside_unit_interval).
    t=st.lists(st.one_of(st.integers(0, 100).map(float), st.floats(1, 1e6)), min_size=1, max_size=6),
    flaw=st.sampled_from([None, None, "zero duration", "fraction", "churned 2"]),
)
def test_shifted_beta_geo(summary, how, t, flaw):
    expect = expect_reading(summary, ("duration", "churned"), how)
    if flaw and summary.n and summary.expect.valid:
        column = "duration" if flaw != "churned 2" else "churned"
        summary.columns[column] = summary.columns[column].copy()
        summary.columns[column][0] = {"zero duration": 0.0, "fraction": 1.5, "churned 2": 2.0}[flaw]
        expect = expect.fail(column)
    if summary.n == 0:
        expect = expect.fail("rows")
    fitted = outcome(expect.allow("penalizer_coef"), call_on(summary, ("duration", "churned"), how, clv.ShiftedBetaGeo().fit))
    model = clv.ShiftedBetaGeo.from_params({"alpha": 0.704, "beta": 1.182})
    # Fits with few churners end at parameters near 1e12, where survival is e²
    # (test_known_bug_shifted_beta_geo_survival_above_one_for_large_parameters).
    if fitted is not None and max(fitted.params_.values()) < 1e6:
        model = fitted
    times = np.sort(np.array(t))
    survival = np.asarray(model.survival_function(times))
    assert_probability(survival, "survival")
    assert np.all(np.diff(survival) <= 1e-12), "survival must not increase with t"
    # Retention is defined from period 1 (test_known_bug_retention_rate_accepts_period_0).
    assert_probability(model.retention_rate(times[times >= 1]), "retention rate")


@given(
    counts=st.lists(st.one_of(st.integers(0, 10**6).map(float), st.floats(0, 1e12)), min_size=0, max_size=10),
    flaw=st.sampled_from([None, None, "increase", "negative", "nan"]),
)
def test_shifted_beta_geo_fit_cohort(counts, flaw):
    survivors = sorted(counts, reverse=True)
    expect = Expect() if len(survivors) >= 2 else Expect().fail("survivors")
    if flaw and survivors:
        survivors[-1] = {"increase": survivors[0] + 1.0, "negative": -1.0, "nan": math.nan}[flaw]
        expect = expect.fail("survivors")
    if len(survivors) >= 2 and survivors[0] == 0:
        # Every count 0: nothing to fit. The message should name survivors, not an
        # internal argument (test_known_bug_fit_cohort_names_internal_weights).
        expect = expect.fail("survivors").allow("weights")
    if len(survivors) >= 2 and survivors[0] > 0 and survivors[0] == survivors[-1]:
        expect = expect.allow("penalizer_coef")  # nobody left: the estimates go to the edge
    expect = expect.allow("penalizer_coef")
    fitted = outcome(expect, lambda: clv.ShiftedBetaGeo().fit_cohort(survivors))
    if fitted is not None:
        assert np.all(np.array(list(fitted.params_.values())) > 0)


@st.composite
def spend_rows(draw: Any) -> tuple[float, float]:
    frequency = draw(st.integers(0, 30))
    money = draw(st.one_of(st.floats(0.01, 1e4), st.sampled_from([0.0, 1e-300, 1e6]))) if frequency else 0.0
    return float(frequency), money


@given(
    summary=summaries(spend_rows(), ("frequency", "monetary_value"), {}),
    how=HOW,
    fit=st.booleans(),
)
def test_gamma_gamma(summary, how, fit):
    names = ("frequency", "monetary_value")
    expect = expect_reading(summary, names, how)
    model = clv.GammaGamma.from_params({"p": 6.25, "q": 3.74, "v": 15.44})
    if fit:
        fit_expect = expect.allow("penalizer_coef")
        if summary.expect.must == [("frequency",)] and (summary.flaw in ("negative", "inf") or summary.flaw == "nan" and how != "pandas"):
            # Accepted when that customer's spend is 0 (test_known_bug_gamma_gamma_checks).
            fit_expect = Expect(may=fit_expect.must + fit_expect.may)
        if summary.n == 0:
            fit_expect = fit_expect.fail("rows")
        elif no_repeat_purchases(summary):
            fit_expect = fit_expect.fail("frequency")
        # Repeat buyers who all spent 0 are reported as "frequency is 0 for every
        # customer" (test_known_bug_gamma_gamma_checks).
        fitted = outcome(fit_expect.allow("monetary_value").allow("frequency"), call_on(summary, names, how, clv.GammaGamma().fit))
        if fitted is not None:
            assert np.all(np.array(list(fitted.params_.values())) > 0)
            # With q <= 1 the population mean spend is negative
            # (test_known_bug_gamma_gamma_negative_spend_for_q_below_1).
            if fitted.params_["q"] > 1:
                model = fitted
    profit = outcome(expect, call_on(summary, names, how, model.conditional_expected_average_profit))
    if profit is not None:
        values = values_of(profit)
        assert_finite(values, "expected average profit")
        assert np.all(values >= 0)


@st.composite
def clv_rows(draw: Any) -> tuple[float, float, float, float]:
    frequency, recency, T = draw(purchase_rows())
    money = draw(st.floats(0.01, 1e4)) if frequency else 0.0
    return frequency, recency, T, money


CLV_NAMES = ("frequency", "recency", "T", "monetary_value")


@given(
    summary=summaries(clv_rows(), CLV_NAMES, PURCHASE_RELATIONS),
    how=HOW,
    model_type=st.sampled_from(sorted(PURCHASE_MODELS, key=lambda m: m.__name__)),
    # time stays small: the cost grows with time² (test_known_bug_clv_runtime_quadratic_in_time).
    time=st.one_of(st.integers(0, 24), st.sampled_from([-1])),
    discount_rate=st.sampled_from([0.0, 0.01, 0.1, -0.5, 1e3, -1.0, math.nan]),
    freq=st.sampled_from(["D", "W", "M", "h", "Q"]),
    continuous=st.booleans(),
    steps=st.sampled_from([1, 4, 12, 0]),
)
def test_customer_lifetime_value(summary, how, model_type, time, discount_rate, freq, continuous, steps):
    transactions = model_type.from_params(PURCHASE_MODELS[model_type])
    spend = clv.GammaGamma.from_params({"p": 6.25, "q": 3.74, "v": 15.44})
    expect = expect_reading(summary, CLV_NAMES, how)
    if time < 0:
        expect = expect.fail("time")
    if not discount_rate > -1:
        expect = expect.fail("discount_rate")
    if freq == "Q":
        expect = expect.fail("freq")
    if continuous and steps < 1:
        expect = expect.fail("steps_per_month")
    elif steps < 1:
        expect = expect.allow("steps_per_month")
    value = outcome(
        expect,
        call_on(
            summary, CLV_NAMES, how,
            lambda *data: spend.customer_lifetime_value(
                transactions, *data, time=time, discount_rate=discount_rate, freq=freq, continuous=continuous,
                steps_per_month=steps,
            ),
        ),
    )  # fmt: skip
    if value is not None:
        values = values_of(value)
        assert values.shape == (summary.n,)
        assert_finite(values, "CLV")
        assert np.all(values >= 0)
        if time == 0:
            assert np.all(values == 0)


# -- segmentation and model checks -------------------------------------------


@st.composite
def rfm_rows(draw: Any) -> tuple[float, float, float, float]:
    frequency, recency, T = draw(purchase_rows())
    return frequency, recency, T, draw(st.floats(0, 1e300)) if frequency else 0.0


@given(
    summary=summaries(rfm_rows(), CLV_NAMES, {}),
    kind=st.sampled_from(KINDS),
    with_money=st.booleans(),
    # NaN and inf are test_known_bug_n_bins_nan_or_inf_unnamed.
    n_bins=st.sampled_from([2, 3, 5, 10, 1, 0, 2.5, "5"]),
    with_ids=st.booleans(),
)
def test_rfm_scores(summary, kind, with_money, n_bins, with_ids):
    if not with_money or "monetary_value" not in summary.columns:  # the column is optional
        with_money = False
        summary.columns.pop("monetary_value", None)
        summary.expect.must = [m for m in summary.expect.must if "monetary_value" not in m]
    expect = unchecked_values(summary)
    if not (isinstance(n_bins, int) and n_bins >= 2):
        expect = expect.fail("n_bins")
    if summary.n == 0:
        expect = expect.fail("empty")
    # rfm_scores takes no nulls or NaN: the column is named either way.
    table = summary.frame("pyarrow")
    if with_ids:
        table = table.append_column("id", pa.array([f"c{i}" for i in range(summary.n)]))
    frame = to_kind(table, kind)
    if kind == "pandas" and with_ids:
        frame = frame.set_index("id")
    scores = outcome(expect, lambda: clv.rfm_scores(frame, n_bins, customer_col="id" if with_ids else None))
    if scores is None:
        return
    assert kind_of(scores) == kind
    scores = as_pandas(scores)
    assert len(scores) == summary.n
    parts = ["recency_score", "frequency_score"] + (["monetary_score"] if with_money else [])
    values = scores[parts].to_numpy()
    assert np.all((values >= 1) & (values <= n_bins))
    assert np.array_equal(scores["rfm_score"].to_numpy(), values.sum(axis=1))
    assert scores["rfm_segment"].tolist() == ["".join(map(str, row)) for row in values]
    f = summary.columns["frequency"]
    order = np.argsort(f, kind="stable")
    assert np.all(np.diff(scores["frequency_score"].to_numpy()[order]) >= 0), "frequency score not monotone"


VALUE_CONTAINERS = ["list", "numpy", "pandas", "polars", "pyarrow"]


@given(
    values=st.lists(st.one_of(st.floats(-1e300, 1e300), st.integers(-(10**6), 10**6).map(float)), max_size=30),
    container=st.sampled_from(VALUE_CONTAINERS),
    flaw=st.sampled_from([None, None, "nan", "inf", "null"]),
    quantiles=st.sampled_from([(0.5, 0.8, 0.95), (0.5,), (0.25, 0.5, 0.75), (0.0, 0.5), (0.5, 0.5), (0.9, 0.1), (1.0,)]),
)
def test_value_tiers(values, container, flaw, quantiles):
    expect = Expect()
    if flaw and values:
        values = list(values)
        values[0] = {"nan": math.nan, "inf": math.inf, "null": None}[flaw]
        expect = expect.fail("values")
    q = np.array(quantiles)
    if np.any((q <= 0) | (q >= 1)) or np.any(np.diff(q) <= 0):
        expect = expect.fail("quantiles")
    labels = [f"tier {i}" for i in range(len(quantiles) + 1)]
    data = {
        "list": lambda: [math.nan if v is None else v for v in values],
        "numpy": lambda: np.array([math.nan if v is None else v for v in values], dtype=np.float64),
        "pandas": lambda: pd.Series(values, dtype="Float64", index=[f"c{i}" for i in range(len(values))]),
        "polars": lambda: pl.Series("v", values, dtype=pl.Float64),
        "pyarrow": lambda: pa.array(values, pa.float64()),
    }[container]()
    tiers = outcome(expect, lambda: clv.value_tiers(data, quantiles=quantiles, labels=labels))
    if tiers is None:
        return
    got = tiers.to_list() if container == "polars" else list(tiers)
    assert len(got) == len(values) and set(got) <= set(labels)
    if container == "pandas":
        assert list(tiers.index) == list(data.index)
    rank = np.array([labels.index(x) for x in got])
    order = np.argsort(np.array(values, dtype=np.float64), kind="stable")
    assert np.all(np.diff(rank[order]) >= 0), "a larger value got a lower tier"


STAGES = {"new", "active", "at risk", "lapsed"}


@given(
    summary=summaries(purchase_rows(), PURCHASE_NAMES, PURCHASE_RELATIONS),
    kind=st.sampled_from(KINDS),
    # probability_alive stays in [0, 1]: NaN or out-of-range values are accepted
    # silently (test_known_bug_lifecycle_stages_accepts_nan_probabilities).
    shift=st.sampled_from([0, 0, 1, -1]),
    thresholds=st.sampled_from([(0.2, 0.5), (0.0, 0.0), (0.5, 0.5), (0.6, 0.4), (-0.1, 0.5), (0.2, 1.5)]),
    new_within=st.sampled_from([None, 0.0, 4.0, 1e9]),
)
def test_lifecycle_stages(summary, kind, shift, thresholds, new_within):
    lapsed, at_risk = thresholds
    expect = unchecked_values(summary, kind)
    if not (0 <= lapsed <= at_risk <= 1):
        expect = expect.fail("lapsed_below")
    n = summary.n
    alive = np.linspace(0, 1, n)
    alive = alive[: max(n + shift, 0)] if shift < 0 else np.concatenate([alive, [0.5] * shift])
    if len(alive) != n:
        expect = expect.fail("probability_alive")
    # The stages use only frequency, recency and T; NaN is reported as "nulls".
    stages = outcome(
        expect,
        lambda: clv.lifecycle_stages(
            summary.frame(kind), alive, new_within=new_within, at_risk_below=at_risk, lapsed_below=lapsed
        ),
    )
    if stages is None:
        return
    got = stages.to_list() if kind == "polars" else list(stages)
    assert len(got) == n and set(got) <= STAGES
    for stage, p in zip(got, alive):
        if stage == "lapsed":
            assert p < lapsed
        elif stage in ("at risk", "active"):
            assert p >= lapsed and (stage == "at risk") == (p < at_risk)


@st.composite
def holdout_rows(draw: Any) -> tuple[float, float, float, float, float]:
    frequency, recency, T = draw(purchase_rows())
    return frequency, recency, T, float(draw(st.integers(0, 20))), draw(st.sampled_from([1.0, 39.0, 52.0]))


HOLDOUT_NAMES = ("frequency_cal", "recency_cal", "T_cal", "frequency_holdout", "duration_holdout")
HOLDOUT_RELATIONS = {"frequency_cal": ("recency_cal",), "recency_cal": ("T_cal",), "T_cal": ("recency_cal",)}


@given(
    summary=summaries(holdout_rows(), HOLDOUT_NAMES, HOLDOUT_RELATIONS, min_rows=1),
    kind=st.sampled_from(KINDS),
    model_type=st.sampled_from(sorted(PURCHASE_MODELS, key=lambda m: m.__name__)),
    # A non-finite or huge max_frequency is test_known_bug_max_frequency_overflow.
    max_frequency=st.sampled_from([1, 3, 7, 20, 0, -1, 2.5]),
)
def test_calibration_holdout_comparison(summary, kind, model_type, max_frequency):
    model = model_type.from_params(PURCHASE_MODELS[model_type])
    expect = unchecked_values(summary, kind)
    if not (isinstance(max_frequency, int) and max_frequency >= 1):
        expect = expect.fail("max_frequency")
    # Errors about the table's values may name the model's own arguments for the
    # columns (test_known_bug_holdout_comparison_names_internal_columns).
    if not summary.expect.valid:
        expect = expect.allow("frequency").allow("recency").allow("'t'").allow("T")
    check = outcome(expect, lambda: clv.calibration_holdout_comparison(model, summary.frame(kind), max_frequency=max_frequency))
    if check is None or not summary.expect.valid:  # garbage accepted (a known bug above) gives garbage
        return
    assert kind_of(check.by_frequency) == kind
    table = as_pandas(check.by_frequency)
    assert table["n_customers"].sum() == summary.n
    assert_finite(table[["actual", "predicted"]].to_numpy(dtype=np.float64), "holdout comparison")
    assert math.isfinite(check.mae) and check.mae >= 0
    assert math.isfinite(check.mae_by_frequency) and check.mae_by_frequency >= 0
    assert np.all(check.predicted >= 0) and len(check.predicted) == summary.n


@given(
    summary=summaries(purchase_rows(), PURCHASE_NAMES, PURCHASE_RELATIONS),
    kind=st.sampled_from(KINDS),
    max_frequency=st.sampled_from([1, 3, 7, 30, 0, 2.5]),
)
def test_period_transactions(summary, kind, max_frequency):
    model = clv.BetaGeo.from_params(BG_PARAMS)
    # A negative frequency gets numpy's message (test_known_bug_period_transactions_negative_frequency_message).
    expect = unchecked_values(summary, kind).allow("negative elements")
    if not (isinstance(max_frequency, int) and max_frequency >= 1):
        expect = expect.fail("max_frequency")
    # Only frequency and T are read: a recency flaw is not seen.
    expect.must = [m for m in expect.must if m[0] != "recency"]
    if not summary.expect.valid:
        expect = expect.allow("'t'")  # T is passed on to the model as its t
    table = outcome(expect, lambda: clv.period_transactions(model, summary.frame(kind), max_frequency=max_frequency))
    if table is None or not summary.expect.valid:
        return
    assert kind_of(table) == kind
    table = as_pandas(table)
    assert len(table) == max_frequency + 1
    assert table["actual"].sum() == summary.n
    assert_finite(table["model"], "period transactions")
    assert np.all(table["model"] >= -1e-9)
    assert table["model"].sum() == pytest.approx(summary.n, abs=1e-6 * max(1, summary.n))


@given(
    model_type=st.sampled_from(sorted(PURCHASE_MODELS, key=lambda m: m.__name__)),
    T=st.one_of(st.floats(0.5, 60), st.sampled_from([0.0, -1.0, math.nan, math.inf])),
    max_frequency=st.one_of(st.none(), st.integers(0, 40)),
    max_recency=st.one_of(st.none(), st.floats(0, 60)),
    t=st.sampled_from([1.0, 10.0, -1.0]),
    what=st.sampled_from(["expected_purchases", "probability_alive", "other"]),
)
def test_frequency_recency_matrix(model_type, T, max_frequency, max_recency, t, what):
    model = model_type.from_params(PURCHASE_MODELS[model_type])
    expect = Expect()
    if not (math.isfinite(T) and T > 0):
        expect = expect.fail("T")
    if what == "other":
        expect = expect.fail("what")
    if t < 0 and what == "expected_purchases":
        expect = expect.fail("'t'")
    grid = outcome(
        expect,
        lambda: clv.frequency_recency_matrix(model, T, max_frequency=max_frequency, max_recency=max_recency, t=t, what=what),
    )
    if grid is None:
        return
    rows = (int(T) if max_frequency is None else max_frequency) + 1
    cols = int(T if max_recency is None else min(max_recency, T)) + 1
    assert grid.shape == (rows, cols)
    f, r = np.meshgrid(np.arange(rows), np.arange(cols), indexing="ij")
    possible = ((f == 0) & (r == 0)) | ((f > 0) & (r > 0))
    assert np.all(np.isnan(grid[~possible])), "impossible cells are documented as NaN"
    if what == "probability_alive":
        assert_probability(grid[possible], "probability alive")
    else:
        assert_finite(grid[possible], "expected purchases")
        assert np.all(grid[possible] >= 0)


# -- recommenders ------------------------------------------------------------

USER, ITEM, WEIGHT = "customer_id", "item 🛒", "qty"


def recommenders() -> st.SearchStrategy:
    return st.sampled_from(
        [
            lambda: recommend.Popularity(),
            lambda: recommend.ItemKNN(k=3),
            lambda: recommend.ItemKNN(k=5, weighting="bm25"),
            lambda: recommend.ItemKNN(k=5, weighting="tfidf", shrinkage=1.0),
            lambda: recommend.ALS(factors=3, iterations=2, random_state=0),
            lambda: recommend.BPR(factors=3, iterations=3, random_state=0),
            lambda: recommend.EASE(regularization=1.0),
        ]
    )


def check_top_lists(frame: Any, key: str, value: str, n: int, allowed: set, queried: set) -> pd.DataFrame:
    """Per ``key``: at most ``n`` rows ranked 1..k, non-increasing finite scores,
    ``value`` among ``allowed``, keys among ``queried``."""
    frame = as_pandas(frame)
    assert list(frame.columns) == [key, value, "score", "rank"]
    assert_finite(frame["score"], "scores")
    assert set(frame[value]) <= allowed
    assert set(frame[key]) <= queried
    # One list per queried id, in query order (a repeated id gets its list again).
    run = (frame["rank"] == 1).cumsum()
    for _, group in frame.groupby(run, sort=False):
        assert group[key].nunique(dropna=False) == 1 and len(group) <= n
        assert group["rank"].tolist() == list(range(1, len(group) + 1))
        scores = group["score"].to_numpy()
        assert np.all(np.diff(scores) <= 1e-6 * np.maximum(1, np.abs(scores[1:]))), "scores must not increase with rank"
        assert group[value].is_unique
    return frame


@given(
    log=logs({USER: "id", ITEM: "id", WEIGHT: "weight"}),
    kind=st.sampled_from(KINDS),
    use_weights=st.booleans(),
    make_model=recommenders(),
    n=st.one_of(st.integers(1, 12), st.sampled_from([0, -1, 2.5])),
    data=st.data(),
)
def test_recommenders(log, kind, use_weights, make_model, n, data):
    expect = log.expect
    if not use_weights:
        expect.must = [m for m in expect.must if WEIGHT not in m]
    frame = log.frame(kind)
    model = make_model()
    fitted = outcome(
        # Models may refuse ill-conditioned data, naming their own parameter.
        expect.allow("regularization").allow("alpha"),
        lambda: model.fit(frame, user_col=USER, item_col=ITEM, weight_col=WEIGHT if use_weights else None),
    )
    if fitted is None:
        return
    users = set(python_ids(log.table.column(USER).combine_chunks()))
    items = set(python_ids(log.table.column(ITEM).combine_chunks()))
    assert set(fitted.user_ids_.tolist()) <= users and set(fitted.item_ids_.tolist()) <= items
    n_expect = Expect() if isinstance(n, int) and n >= 1 else Expect().fail("'n'")
    seen = defaultdict(set)
    weights = log.table.column(WEIGHT).to_pylist() if use_weights else [1] * log.table.num_rows
    for user, item, weight in zip(python_ids(log.table.column(USER)), python_ids(log.table.column(ITEM)), weights):
        # Weights are kept as float32 (test_known_bug_huge_weights_become_inf): tiny ones become 0.
        if np.float32(weight) > 0:
            seen[user].add(item)
    # A training user whose weights are all 0 makes recommend(None) raise
    # (test_known_bug_recommend_all_users_raises_for_zero_weight_user).
    top = outcome(n_expect.allow("users"), lambda: fitted.recommend(None, n=n))
    if top is not None:
        assert kind_of(top) == kind
        top = check_top_lists(top, USER, ITEM, n, items, users)
        for user, item in zip(top[USER], top[ITEM]):
            assert item not in seen[user], "recommended a seen item"
    known = list(fitted.user_ids_[:3])
    if known:
        picked = outcome(n_expect.allow("users"), lambda: fitted.recommend(known, n=n, unknown_users="popular"))
        if picked is not None:
            check_top_lists(picked, USER, ITEM, n, items, set(known))
        similar = outcome(n_expect, lambda: fitted.similar_users(known, n=n))
        if similar is not None:
            frame_ = check_top_lists(similar, USER, "similar_user", n, users, set(known))
            assert not any(frame_[USER] == frame_["similar_user"])
    some_items = list(fitted.item_ids_[:3])
    if some_items:
        similar = outcome(n_expect, lambda: fitted.similar_items(some_items, n=n))
        if similar is not None:
            frame_ = check_top_lists(similar, ITEM, "similar_item", n, items, set(some_items))
            assert not any(frame_[ITEM] == frame_["similar_item"])
    # New users, known only by their items.
    if some_items:
        item_type = log.table.column(ITEM).type
        item_type = item_type.value_type if pa.types.is_dictionary(item_type) else item_type
        new_items = pa.array([some_items[i % len(some_items)] for i in range(3)], item_type)
        new = pa.table({USER: pa.array(["new 1", "new 1", "new 2"]), ITEM: new_items})
        fresh = outcome(n_expect, lambda: fitted.recommend_new(to_kind(new, kind), n=n))
        if fresh is not None:
            check_top_lists(fresh, USER, ITEM, n, items, {"new 1", "new 2"})


ID_QUERIES = st.one_of(
    st.integers(-(2**63), 2**63 - 1),
    st.lists(st.integers(-5, 5), max_size=4),
    st.lists(st.integers(-5, 5).map(float), max_size=4),
    st.lists(st.sampled_from(["a", "b", "🎉", ""]), max_size=4),
    st.sampled_from([[1.5], [math.nan], [None], [True], [1, "a"], "a", np.int64(1), np.array([1, 2], dtype=np.uint64)]),
    st.sampled_from([pd.Series([1, 2]), pl.Series([1, 2]), pa.array([1, 2]), pd.Series(pd.Categorical(["a", "b"]))]),
)


@given(
    id_kind=st.sampled_from(["int", "string"]),
    users=ID_QUERIES,
    items=st.one_of(st.none(), ID_QUERIES),
    unknown_users=st.sampled_from(["error", "popular", "other"]),
)
def test_recommend_id_queries(id_kind, users, items, unknown_users):
    """Queries of every id form are matched against the training ids or refused,
    naming the argument."""
    ids = [1, 2, 3, 1] if id_kind == "int" else ["a", "b", "🎉", "a"]
    log = pd.DataFrame({USER: ids, ITEM: ids[::-1]})
    model = recommend.Popularity().fit(log, user_col=USER, item_col=ITEM)
    expect = Expect().allow("users")  # unknown ids, or ids of another type
    if unknown_users == "other":
        expect = expect.fail("unknown_users")
    if items is not None:
        expect = expect.allow("items")
    top = outcome(expect, lambda: model.recommend(users, n=2, items=items, unknown_users=unknown_users))
    if top is not None:
        check_top_lists(top, USER, ITEM, 2, set(ids), set(top[USER]))
    similar = outcome(Expect().allow("items"), lambda: model.similar_items(users, n=2))
    if similar is not None:
        check_top_lists(similar, ITEM, "similar_item", 2, set(ids), set(ids))


@given(log=logs({USER: "id", ITEM: "id", "when": "time"}), kind=st.sampled_from(KINDS), data=st.data())
def test_train_test_split(log, kind, data):
    how = data.draw(st.sampled_from(["time", "last", "random", "other"]))
    k = data.draw(st.sampled_from([1, 2, 5, 0, -1]))
    test_size = data.draw(st.sampled_from([0.2, 0.5, 0.99, 0.0, 1.0, math.nan]))
    cutoff = data.draw(st.one_of(st.none(), TIMES, st.just("not a date")))
    expect = log.expect
    if how == "random":  # the time column is not read
        expect.must = [m for m in expect.must if "when" not in m]
    if how == "time":  # the user column is not needed: checking its ids is optional
        expect = Expect([m for m in expect.must if USER not in m], expect.may + [m for m in expect.must if USER in m])
    if how == "other":
        expect = expect.fail("how")
    if how == "time" and cutoff is None:
        expect = expect.fail("cutoff")
    if cutoff == "not a date":  # checked whatever the split
        expect = expect.fail("cutoff") if how == "time" else expect.allow("cutoff")
    if k < 1:
        expect = expect.fail("'k'") if how == "last" else expect.allow("'k'")
    if how == "random" and not 0 < test_size < 1:
        expect = expect.fail("test_size")
    expect.must = [m for m in expect.must if ITEM not in m]  # the item column is not read
    frame = log.frame(kind)
    split = outcome(
        expect.allow("rows"),
        lambda: recommend.train_test_split(
            frame, how, cutoff=cutoff, k=k, test_size=test_size, user_col=USER, time_col="when"
        ),
    )
    if split is None:
        return
    train, test = split
    assert kind_of(train) == kind_of(test) == kind
    train, test = as_pandas(train), as_pandas(test)
    assert len(train) + len(test) == log.table.num_rows
    if how == "last":  # each user's k latest rows, for users with more than k
        rows = pd.Series(python_ids(log.table.column(USER).combine_chunks())).value_counts()
        for user, count in pd.Series(test[USER].tolist(), dtype=object).value_counts().items():
            assert count == k and rows[user] > k
    if how == "time" and len(test):  # rows at or after the cutoff (a day's slack for zones)
        days = wall_clock_days(pa.Table.from_pandas(test, preserve_index=False).column("when").combine_chunks())
        assert days.min() >= np.datetime64(cutoff, "D").astype(np.int64) - 1
    if how == "random":
        train_users = set(train[USER].tolist())
        assert set(test[USER].tolist()) <= train_users, "a user was held out entirely"


@given(
    log=logs({USER: "id", ITEM: "id"}, min_rows=1, malformed=False),
    make_model=recommenders(),
    k=st.one_of(st.integers(1, 10), st.just(0)),
    unknown_users=st.sampled_from(["skip", "popular"]),
)
def test_evaluate_and_ranking_metrics(log, make_model, k, unknown_users):
    # One row per (user, item): a test pair seen in training gives a negative AUC
    # (test_known_bug_auc_without_unseen_items).
    frame = log.frame("pandas").drop_duplicates([USER, ITEM])
    train, test = recommend.train_test_split(frame, "random", test_size=0.5, user_col=USER, time_col=None)
    # AUC needs an unseen item per test user: else it is NaN, -inf or negative
    # (test_known_bug_auc_without_unseen_items).
    catalogue = set(train[ITEM])
    seen = train.groupby(USER)[ITEM].agg(set)
    # Test items unknown to the model also give a negative AUC (same bug).
    test = test[test[ITEM].isin(catalogue)]
    assume(len(train) and len(test) and all(catalogue - seen.get(u, set()) for u in set(test[USER])))
    model = outcome(Expect().allow("regularization").allow("alpha"), lambda: make_model().fit(train, user_col=USER, item_col=ITEM))
    assume(model is not None)
    k_expect = Expect() if k >= 1 else Expect().fail("'k'")
    scores = outcome(k_expect, lambda: recommend.evaluate(model, test, k=k, unknown_users=unknown_users))
    if scores is not None:
        # AUC of a model's lists goes negative when a user gets fewer than k
        # items (test_known_bug_auc_without_unseen_items), so it is left out here.
        check_metrics(scores, auc=False)
    top = model.recommend(None, n=max(k, 1))
    metrics = outcome(
        k_expect,
        lambda: recommend.ranking_metrics(top, test, k=k, n_items=model.n_items_, user_col=USER, item_col=ITEM),
    )
    if metrics is not None:
        check_metrics(metrics, auc=False)
        assert metrics["n_users"] == test[USER].nunique()


def check_metrics(metrics: dict[str, float], auc: bool = True) -> None:
    for name, value in metrics.items():
        if name == "auc" and not auc:
            continue
        if name == "n_users":
            assert value >= 0
        else:
            assert 0 <= value <= 1, f"{name} = {value}"


@given(
    recs=st.lists(st.tuples(st.integers(0, 5), st.integers(0, 9), st.integers(1, 10)), max_size=30),
    test=st.lists(st.tuples(st.integers(0, 5), st.integers(0, 9)), max_size=30),
    k=st.one_of(st.integers(1, 10), st.sampled_from([0, -3])),
    extra_items=st.integers(0, 100),
    rank_flaw=st.sampled_from([None, None, "null", "string"]),
)
def test_ranking_metrics(recs, test, k, extra_items, rank_flaw):
    recs = pd.DataFrame(recs, columns=[USER, ITEM, "rank"], dtype=np.int64).drop_duplicates([USER, ITEM])
    test = pd.DataFrame(test, columns=[USER, ITEM], dtype=np.int64)
    # n_items covers every item that appears: a smaller catalogue gives AUC
    # outside [0, 1] (test_known_bug_ranking_metrics_auc_outside_unit_interval).
    # At least 2: a one-item catalogue gives AUC NaN (test_known_bug_auc_for_one_item_catalogue).
    n_items = max(2, len(set(recs[ITEM]) | set(test[ITEM])) + extra_items)
    expect = Expect()
    if k < 1:
        expect = expect.fail("'k'")
    if n_items < 1:
        expect = expect.fail("n_items")
    if test.empty:
        expect = expect.fail("test")
    if rank_flaw and len(recs):
        recs["rank"] = recs["rank"].astype(object)
        recs.iloc[0, 2] = None if rank_flaw == "null" else "1"
        expect = expect.fail("rank")
    metrics = outcome(expect, lambda: recommend.ranking_metrics(recs, test, k=k, n_items=n_items, user_col=USER, item_col=ITEM))
    if metrics is not None:
        # AUC is off for a user without a full list or without an irrelevant item
        # (test_known_bug_auc_without_unseen_items).
        full_lists = recs.groupby(USER).size().reindex(test[USER].unique(), fill_value=0) >= k
        has_negatives = test.groupby(USER)[ITEM].nunique() < n_items
        check_metrics(metrics, auc=bool(full_lists.all() and has_negatives.all()))
        assert metrics["n_users"] == test[USER].nunique()


@given(
    shape=st.tuples(st.integers(0, 12), st.integers(0, 12)),
    density=st.floats(0, 1),
    flaw=st.sampled_from([None, None, "negative", "nan", "complex"]),
    make_model=recommenders(),
)
def test_recommenders_on_sparse_matrices(shape, density, flaw, make_model):
    matrix = sp.random(*shape, density=density, format="csr", random_state=0, dtype=np.float64) * 10
    expect = Expect()
    if matrix.nnz == 0:
        expect = expect.fail("empty")
    if flaw and matrix.nnz:
        if flaw == "complex":
            matrix = matrix.astype(np.complex128)
        else:
            matrix.data[0] = -1.0 if flaw == "negative" else math.nan
        expect = expect.fail("X" if flaw == "complex" else "user_items")
    model = outcome(expect.allow("regularization").allow("alpha"), lambda: make_model().fit(matrix))
    if model is None:
        return
    top = outcome(Expect().allow("users"), lambda: model.recommend(None, n=3))
    if top is not None:
        check_top_lists(top, "user", "item", 3, set(range(shape[1])), set(range(shape[0])))


# -- anomaly detectors -------------------------------------------------------

DETECTORS = [
    lambda: anomaly.IsolationForest(n_estimators=20, random_state=0),
    lambda: anomaly.IsolationForest(n_estimators=10, max_samples=0.5, contamination=0.1, random_state=1),
    lambda: anomaly.HBOS(),
    lambda: anomaly.HBOS(n_bins=3, contamination=0.2),
    lambda: anomaly.ECOD(),
]
# No subnormal features: HBOS scores -inf when a feature's range is subnormal
# (test_known_bug_hbos_infinite_score_for_subnormal_range).
FEATURES = st.floats(allow_nan=False, allow_infinity=False, allow_subnormal=False)


@dataclass
class Matrix:
    values: np.ndarray
    flaw: str | None
    bad_column: int = 0


@st.composite
def matrices(draw: Any) -> Matrix:
    n = draw(st.integers(0, 25))
    p = draw(st.integers(0, 4))
    elements = st.one_of(FEATURES, st.floats(-10, 10), st.sampled_from([0.0, 1e308, -1e308, 2.0**63]))
    values = draw(hnp.arrays(np.float64, (n, p), elements=elements))
    flaw = draw(st.sampled_from([None, None, None, "nan", "inf"]))
    if flaw and n and p:
        row, column = draw(st.integers(0, n - 1)), draw(st.integers(0, p - 1))
        values[row, column] = math.nan if flaw == "nan" else -math.inf
        return Matrix(values, flaw, column)
    return Matrix(values, None)


CONTAINERS = ["numpy", "list", "pandas", "polars", "pyarrow", "scipy", "pandas nullable"]


def as_container(values: np.ndarray, container: str) -> Any:
    columns = [f"feature {j} ✓" for j in range(values.shape[1])]
    if container == "numpy":
        return values
    if container == "list":
        return values.tolist()
    if container == "scipy":
        return sp.csr_matrix(values)
    frame = pd.DataFrame(values, columns=columns)
    if container == "pandas":
        return frame
    if container == "pandas nullable":
        return frame.astype("Float64")
    if container == "polars":
        return pl.from_pandas(frame)
    return pa.Table.from_pandas(frame, preserve_index=False)


def matrix_expect(matrix: Matrix, container: str) -> Expect:
    n, p = matrix.values.shape
    expect = Expect()
    if n == 0:
        expect = expect.fail("sample")
    if p == 0:  # a frame without columns has no rows either
        expect = expect.fail("feature").allow("sample")
    if container == "list" and (p == 0 or n == 0):  # [] or [[]] do not say their shape
        expect = expect.allow("2-D")
    if matrix.flaw and n and p:
        frame = container not in ("numpy", "list", "scipy")
        expect = expect.fail(f"feature {matrix.bad_column} ✓" if frame else f"x{matrix.bad_column}")
    return expect


@given(
    matrix=matrices(),
    container=st.sampled_from(CONTAINERS),
    make_detector=st.sampled_from(DETECTORS),
    other=matrices(),
)
def test_detectors(matrix, container, make_detector, other):
    X = as_container(matrix.values, container)
    detector = make_detector()
    if isinstance(detector, anomaly.HBOS) and matrix.values.size:
        # test_known_bug_hbos_nan_for_large_constant_feature
        constant = np.ptp(matrix.values, axis=0) == 0
        assume(not np.any(constant & (np.abs(matrix.values[0]) >= 2.0**52)))
    detector = outcome(matrix_expect(matrix, container), lambda: detector.fit(X))
    if detector is None:
        return
    n, p = matrix.values.shape
    scores = detector.decision_function(X)
    assert scores.shape == (n,)
    assert_finite(scores, "decision_function")
    labels = detector.predict(X)
    if isinstance(detector, anomaly.IsolationForest):
        assert set(labels.tolist()) <= {-1, 1}
        samples = detector.score_samples(X)
        assert np.all((samples >= -1) & (samples <= 0)), samples
    else:
        assert set(labels.tolist()) <= {0, 1}
        assert_finite(detector.decision_scores_, "decision_scores_")
        assert set(detector.labels_.tolist()) <= {0, 1}
    # Scoring other rows: same number of features (and names) or a named refusal.
    Y = as_container(other.values, container)
    expect = matrix_expect(other, container)
    expect.must = [m for m in expect.must if m != ("sample",)]  # no rows to score is fine
    if other.values.shape[1] != p:
        expect = expect.fail("feature")
    if container in ("pandas", "polars", "pyarrow", "pandas nullable") and other.values.shape[1] != p:
        expect = expect.allow("feature names")
    other_scores = outcome(expect, lambda: detector.decision_function(Y))
    if other_scores is not None:
        assert other_scores.shape == (other.values.shape[0],)
        assert_finite(other_scores, "decision_function on new rows")


@given(
    n=st.integers(1, 10),
    column=st.sampled_from(["text", "categorical", "datetime", "object"]),
    container=st.sampled_from(["pandas", "polars", "pyarrow", "numpy"]),
    make_detector=st.sampled_from(DETECTORS),
)
def test_detectors_refuse_non_numeric_features(n, column, container, make_detector):
    values = {
        "text": [f"v{i}" for i in range(n)],
        "categorical": pd.Categorical([f"v{i % 2}" for i in range(n)]),
        "datetime": pd.date_range("2020-01-01", periods=n),
        "object": np.array([f"v{i}" for i in range(n)], dtype=object),
    }[column]
    frame = pd.DataFrame({"amount": np.arange(n, dtype=float), "label ✗": values})
    X = {
        "pandas": lambda: frame,
        "polars": lambda: pl.from_pandas(frame),
        "pyarrow": lambda: pa.Table.from_pandas(frame, preserve_index=False),
        "numpy": lambda: frame.to_numpy(),
    }[container]()
    expect = Expect().fail("label ✗") if container != "numpy" else Expect().fail("X")
    outcome(expect, lambda: make_detector().fit(X))


# -- transaction risk ----------------------------------------------------------

RISK_ROLES = {"card holder": "id", "at": "time", "amount $": "amount", "shop": "id"}


def risk_scorer(**params: Any) -> anomaly.TransactionRiskScorer:
    return anomaly.TransactionRiskScorer(
        customer_col="card holder", time_col="at", amount_col="amount $", merchant_col="shop", **params
    )


def check_risk_frame(scored: Any, n: int, scorer: anomaly.TransactionRiskScorer, features: bool) -> pd.DataFrame:
    frame = as_pandas(scored)
    assert len(frame) == n
    base = ["risk_score", "alert", "reasons"]
    assert list(frame.columns[:3]) == base
    if features:
        assert set(scorer.feature_names_) | {f"risk_{t}" for t in scorer.term_names_} <= set(frame.columns)
    risk = frame["risk_score"].to_numpy(dtype=np.float64)
    assert_finite(risk, "risk_score")
    assert np.all(risk >= 0)
    assert np.array_equal(frame["alert"].to_numpy(dtype=bool), risk > scorer.threshold_)
    assert frame["reasons"][~frame["alert"].to_numpy(dtype=bool)].isna().all()
    return frame


@given(
    log=logs(RISK_ROLES),
    kind=st.sampled_from(KINDS),
    features=st.booleans(),
    refunds=st.sampled_from(["ignore", "error"]),
    alert_rate=st.sampled_from([0.005, 0.1, 0.5, 0.0, 1.0]),
)
def test_transaction_risk_scorer(log, kind, features, refunds, alert_rate):
    expect = log.expect
    amounts = log.table.column("amount $") if "amount $" in log.table.column_names else None
    has_refund = (
        amounts is not None and log.expect.valid and any(a is not None and a < 0 for a in amounts.to_pylist())
    )
    if refunds == "error" and has_refund:
        expect = expect.fail("amount $")
    if not 0 < alert_rate < 1:
        expect = expect.fail("alert_rate")
    scorer = risk_scorer(refunds=refunds, alert_rate=alert_rate)
    fitted = outcome(expect, lambda: scorer.fit(log.frame(kind)))
    if fitted is None:
        return
    scored = fitted.score(log.frame(kind), features=features)
    assert kind_of(scored) == kind
    check_risk_frame(scored, log.table.num_rows, fitted, features)


@given(log=logs(RISK_ROLES, min_rows=2, malformed=False), kind=st.sampled_from(KINDS), data=st.data())
def test_transaction_risk_streaming_matches_batch(log, kind, data):
    """score_new on the rest of a log gives the scores of scoring it whole."""
    days = wall_clock_days(log.table.column("at").combine_chunks())
    order = np.argsort(days, kind="stable")
    table = log.table.take(order)
    split = data.draw(st.integers(1, table.num_rows - 1))
    first, rest = table.slice(0, split), table.slice(split)
    # Streaming needs each customer's new transactions no earlier than its last seen one.
    assume(rest.num_rows == 0 or wall_clock_days(rest.column("at").combine_chunks()).min() > days[order[split - 1]])
    scorer = risk_scorer().fit(to_kind(first, kind))
    whole = as_pandas(scorer.score(to_kind(table, kind)))
    streamed = check_risk_frame(scorer.score_new(to_kind(rest, kind)), rest.num_rows, scorer, False)
    np.testing.assert_allclose(
        streamed["risk_score"].to_numpy(dtype=np.float64), whole["risk_score"].to_numpy(dtype=np.float64)[split:],
        rtol=1e-9, atol=1e-12,
    )  # fmt: skip
    # An older transaction than one already seen is refused, naming the time column.
    late = rest.slice(0, 1) if rest.num_rows else first.slice(0, 1)
    earlier = late.set_column(1, "at", pa.array([dt.datetime(1960, 1, 1)], late.column("at").type))
    outcome(Expect().fail("at"), lambda: scorer.score_new(to_kind(earlier, kind)))


# -- known bugs (minimal repros; each xfail is strict, so a fix shows up) ------

PROBE_TIMEOUT = 20


def run_isolated(code: str, timeout: float = PROBE_TIMEOUT) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter: a crash or hang must not take the
    test session with it."""
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=timeout
    )


def assert_raises_named(code: str, name: str, timeout: float = PROBE_TIMEOUT) -> None:
    """``code`` (ending in a call) must raise ValueError/TypeError naming ``name``,
    cleanly and in time."""
    wrapped = f"""
import warnings; warnings.simplefilter("ignore")
try:
{textwrap.indent(textwrap.dedent(code).strip(), "    ")}
except (ValueError, TypeError) as e:
    print("RAISED", e)
else:
    print("RETURNED")
"""
    try:
        done = run_isolated(wrapped, timeout)
    except subprocess.TimeoutExpired:
        pytest.fail(f"did not answer within {timeout} s")
    assert done.returncode == 0, f"crashed (exit {done.returncode}): {done.stderr[-500:]}"
    assert done.stdout.startswith("RAISED") and name in done.stdout, done.stdout


def assert_answers_in_time(code: str, timeout: float) -> None:
    try:
        done = run_isolated("import warnings; warnings.simplefilter('ignore')\n" + textwrap.dedent(code), timeout)
    except subprocess.TimeoutExpired:
        pytest.fail(f"did not answer within {timeout} s")
    assert done.returncode == 0, done.stderr[-500:]


def known_bug(reason: str) -> pytest.MarkDecorator:
    return pytest.mark.xfail(strict=True, reason=reason)


SMALL_LOG = """
import pandas as pd
from patronage.recommend import Popularity, ranking_metrics
log = pd.DataFrame({"customer_id": [1, 1, 2], "item_id": ["a", "b", "a"]})
model = Popularity().fit(log)
"""


@known_bug("serving with a huge n allocates n rows up front: the process aborts (Rust OOM)")
@pytest.mark.parametrize(
    "call",
    [
        "model.recommend([1], n=2**32)",
        "model.recommend_new(log, n=2**32)",
        "model.similar_items(['a'], n=2**32)",
        "model.similar_users([1], n=2**32)",
        "ranking_metrics(log.assign(rank=1), log, k=10**12, n_items=2)",
        "ranking_metrics(log.assign(rank=1), log, k=2, n_items=2**62)",
    ],
)
def test_known_bug_huge_n_aborts_the_process(call):
    assert_raises_named(SMALL_LOG + call, "'n'" if "ranking" not in call else "")


@known_bug("detector parameters that size allocations abort the process instead of raising")
@pytest.mark.parametrize("make", ["IsolationForest(n_estimators=10**9)", "HBOS(n_bins=10**12)"])
def test_known_bug_detector_allocation_aborts(make):
    code = f"""
import numpy as np
from patronage.anomaly import IsolationForest, HBOS
{make}.fit(np.zeros((5, 1)))
"""
    assert_raises_named(code, make.split("(")[1].split("=")[0])


@known_bug("n_jobs is not capped: n_jobs=10**5 spawns 100,000 threads (about 10 minutes)")
def test_known_bug_n_jobs_not_capped():
    assert_answers_in_time("import numpy as np\nfrom patronage.anomaly import ECOD\nECOD(n_jobs=10**5).fit(np.zeros((5, 1)))", 5)


@known_bug("Pareto/NBD's conditional PMF is O(n²) and cannot be interrupted: n=10**6 takes 70 s")
def test_known_bug_conditional_pmf_runtime_grows_with_n():
    code = """
from patronage.clv import ParetoNBD
m = ParetoNBD.from_params({"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669})
m.conditional_probability_of_n_purchases_up_to_time(10**6, 10, [2], [5], [10])
"""
    assert_answers_in_time(code, 5)


@known_bug("BG/BB fitting takes time linear in periods (10**6 periods: 70 s, 1e300: forever)")
def test_known_bug_bgbb_runtime_grows_with_periods():
    code = """
from patronage.clv import BetaGeoBetaBinom
BetaGeoBetaBinom().fit([0, 1, 3], [0, 2, 5], [10**6] * 3)
"""
    assert_answers_in_time(code, 5)


@known_bug("customer_lifetime_value costs O(time²): time=10**5 months takes over 5 minutes")
def test_known_bug_clv_runtime_quadratic_in_time():
    code = """
from patronage.clv import BetaGeo, GammaGamma
bg = BetaGeo.from_params({"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426})
gg = GammaGamma.from_params({"p": 6.25, "q": 3.74, "v": 15.44})
gg.customer_lifetime_value(bg, [2], [30.4], [38.9], [46.0], time=10**5)
"""
    assert_answers_in_time(code, 5)


@known_bug("times outside int64 microseconds are wrapped or clamped silently")
@pytest.mark.parametrize(
    "times",
    [pa.array([0, 107_000_000], pa.date32()), pa.array([0, 300_000 * 365 * 86_400], pa.timestamp("s"))],
    ids=["date32", "timestamp[s]"],
)
def test_known_bug_out_of_range_times_are_wrapped(times):
    log = pa.table({"c": [1, 1], "t": times, "m": [1.0, 2.0]})
    result = outcome(Expect().fail("'t'"), lambda: patronage.rfm_summary(log, "c", "t", "m"))
    if result is not None:  # then the numbers must be right: the second purchase is the repeat one
        assert result.column("monetary_value").to_pylist() == [2.0]
        span = (times[1].as_py() - times[0].as_py()) if isinstance(times[1].as_py(), dt.date) else None
        assert span is None or result.column("recency").to_pylist() == [float(span.days)]


@known_bug("finite amounts give monetary_value NaN (inf - inf) instead of an error or a finite mean")
def test_known_bug_rfm_summary_nan_from_finite_amounts():
    log = pd.DataFrame(
        {"c": [1] * 4, "t": pd.to_datetime(["2020-01-01"] * 2 + ["2020-01-02"] * 2), "m": [1e308, 1e308, -1e308, -1e308]}
    )
    result = outcome(Expect().allow("'m'"), lambda: patronage.rfm_summary(log, "c", "t", "m", include_first_transaction=True))
    if result is not None:
        assert not result["monetary_value"].isna().any()


@known_bug("observation_period_end=NaT: TypeError \"'float' object cannot be interpreted as an integer\"")
@pytest.mark.parametrize("nat", [pd.NaT, np.datetime64("NaT")], ids=["pandas", "numpy"])
def test_known_bug_nat_end_message(nat):
    log = pd.DataFrame({"c": [1, 1], "t": pd.to_datetime(["2020-01-01", "2020-01-02"])})
    outcome(Expect().fail("observation_period_end", "NaT"), lambda: patronage.rfm_summary(log, "c", "t", observation_period_end=nat))


@known_bug("freq_multiplier='x' raises TypeError 'must be real number, not str' without naming the parameter")
def test_known_bug_freq_multiplier_type_error_unnamed():
    log = pd.DataFrame({"c": [1], "t": pd.to_datetime(["2020-01-01"])})
    outcome(Expect().fail("freq_multiplier"), lambda: patronage.rfm_summary(log, "c", "t", freq_multiplier="x"))


@known_bug("a tiny positive freq_multiplier gives infinite recency and T")
def test_known_bug_tiny_freq_multiplier_gives_inf():
    log = pd.DataFrame({"c": [1, 1], "t": pd.to_datetime(["2020-01-01", "2020-01-02"])})
    result = outcome(Expect().allow("freq_multiplier"), lambda: patronage.rfm_summary(log, "c", "t", freq_multiplier=1e-320))
    if result is not None:
        assert_finite(result.to_numpy(dtype=np.float64), "summary")


@known_bug("BG/NBD and MBG/NBD predict -inf or NaN expected purchases for long histories")
@pytest.mark.parametrize(
    "model_type, row",
    [(clv.BetaGeo, ([1e300], [1e300], [1e300])), (clv.ModifiedBetaGeo, ([1e300], [1e300], [1e300])),
     (clv.BetaGeo, ([1e300], [29.0], [30.0]))],
)  # fmt: skip
def test_known_bug_purchase_models_negative_or_nan_for_huge_histories(model_type, row):
    values = model_type.from_params(BG_PARAMS).predict(1.0, *row)
    assert np.all(np.isfinite(values)) and np.all(values >= 0), values


@known_bug("Pareto/NBD predicts NaN for a tiny alpha (where a fit on 4 customers ends)")
def test_known_bug_pareto_nbd_nan_for_tiny_alpha():
    params = {"r": 0.040864991687273464, "alpha": 3.569163600413547e-08, "s": 0.3780543136586128, "beta": 1.701417226460681}
    model = clv.ParetoNBD.from_params(params)
    assert_probability(model.conditional_probability_alive([0.0], [0.0], [11046.0]), "probability alive")


@known_bug("MBG/NBD accepts recency 0 with repeat purchases (BG/NBD and Pareto/NBD refuse it) and returns NaN")
def test_known_bug_modified_beta_geo_misses_recency_check():
    model = clv.ModifiedBetaGeo.from_params(BG_PARAMS)
    outcome(Expect().fail("recency"), lambda: model.predict(1.0, [1e300], [0.0], [10.0]))


@known_bug("a dict of initial_params missing a name raises KeyError")
def test_known_bug_initial_params_dict_key_error():
    s = {"frequency": [0, 1, 3], "recency": [0, 5, 20], "T": [10, 30, 30]}
    outcome(Expect().fail("initial_params"), lambda: clv.BetaGeo().fit(pa.table(s), initial_params={"r": 1.0}))


@known_bug("BG/BB: a fractional periods value is reported as a problem of column 'frequency'")
def test_known_bug_bgbb_names_wrong_column():
    outcome(Expect().fail("'periods'"), lambda: clv.BetaGeoBetaBinom().fit([0, 1, 3], [0, 2, 5], [6.5, 6, 6]))


@known_bug("BG/BB expectations turn negative (or -0.0) for horizons past about 1e15, and for tiny ones (-4e-15 at m=4.5e-14)")
@pytest.mark.parametrize("horizon", ["long", "tiny"])
def test_known_bug_bgbb_negative_expectations(horizon):
    model = clv.BetaGeoBetaBinom.from_params({"alpha": 1.204, "beta": 0.75, "gamma": 0.657, "delta": 2.783})
    if horizon == "tiny":
        assert model.conditional_expected_number_of_purchases_up_to_time(4.473392878476396e-14, [0.0], [0.0], [2.0])[0] >= 0
        return
    conditional = model.conditional_expected_number_of_purchases_up_to_time(1e16, [1], [2], [3])
    new = model.expected_number_of_purchases_up_to_time(1e16)
    assert conditional[0] > 0 and new > model.expected_number_of_purchases_up_to_time(1e14)


@known_bug("sBG survival_function rises back to 0.80 at t=1e17 and is inf at 1e300")
def test_known_bug_shifted_beta_geo_survival_outside_unit_interval():
    model = clv.ShiftedBetaGeo.from_params({"alpha": 0.704, "beta": 1.182})
    survival = model.survival_function(np.array([1e15, 1e17, 1e300]))
    assert_probability(survival, "survival")
    assert np.all(np.diff(survival) <= 0)


@known_bug("sBG survival is e² (7.39) for parameters near 1e12, where fits with few churners end")
def test_known_bug_shifted_beta_geo_survival_above_one_for_large_parameters():
    model = clv.ShiftedBetaGeo.from_params({"alpha": 4.5e12, "beta": 2.1e14})
    assert_probability(model.survival_function([1.0, 2.0]), "survival")


@known_bug("fit_cohort([0, 0, 0]) names argument 'weights', which the caller never passed")
def test_known_bug_fit_cohort_names_internal_weights():
    outcome(Expect().fail("survivors"), lambda: clv.ShiftedBetaGeo().fit_cohort([0, 0, 0]))


@known_bug("customer_lifetime_value(time=1.5): TypeError without naming 'time'")
def test_known_bug_clv_time_type_error_unnamed():
    bg = clv.BetaGeo.from_params(BG_PARAMS)
    gg = clv.GammaGamma.from_params({"p": 6.25, "q": 3.74, "v": 15.44})
    outcome(Expect().fail("time"), lambda: gg.customer_lifetime_value(bg, [2], [30.4], [38.9], [46.0], time=1.5))


@known_bug("rfm_scores(n_bins=nan/inf): ValueError/OverflowError from int() without naming n_bins")
@pytest.mark.parametrize("n_bins", [math.nan, math.inf])
def test_known_bug_n_bins_nan_or_inf_unnamed(n_bins):
    s = {"frequency": [0, 3], "recency": [0, 20], "T": [39, 39]}
    outcome(Expect().fail("n_bins"), lambda: clv.rfm_scores(s, n_bins=n_bins))


@known_bug("max_frequency=inf raises OverflowError, 10**12 MemoryError, NaN an unnamed ValueError")
@pytest.mark.parametrize("max_frequency", [math.inf, 10**12, math.nan])
def test_known_bug_max_frequency_overflow(max_frequency):
    s = {"frequency_cal": [0, 1], "recency_cal": [0, 5], "T_cal": [10, 10], "frequency_holdout": [0, 1],
         "duration_holdout": [5, 5]}  # fmt: skip
    model = clv.BetaGeo.from_params(BG_PARAMS)
    outcome(Expect().fail("max_frequency"), lambda: clv.calibration_holdout_comparison(model, s, max_frequency=max_frequency))


@known_bug("calibration_holdout_comparison names 'frequency' / 't' for its columns 'frequency_cal' / 'duration_holdout'")
@pytest.mark.parametrize("column, value, name", [("frequency_cal", -1.0, "frequency_cal"), ("duration_holdout", -1.0, "duration_holdout")])
def test_known_bug_holdout_comparison_names_internal_columns(column, value, name):
    s = {"frequency_cal": [0.0, 1.0], "recency_cal": [0.0, 5.0], "T_cal": [10.0, 10.0], "frequency_holdout": [0.0, 1.0],
         "duration_holdout": [5.0, 5.0]}  # fmt: skip
    s[column] = [value, s[column][1]]
    model = clv.BetaGeo.from_params(BG_PARAMS)
    outcome(Expect().fail(name), lambda: clv.calibration_holdout_comparison(model, s))


@known_bug("calibration_holdout_comparison on an empty table returns mae=nan")
def test_known_bug_holdout_comparison_empty_gives_nan():
    s = {name: pa.array([], pa.float64()) for name in HOLDOUT_NAMES}
    check = outcome(Expect().allow("empty").allow("rows"), lambda: clv.calibration_holdout_comparison(clv.BetaGeo.from_params(BG_PARAMS), s))
    if check is not None:
        assert math.isfinite(check.mae)


@known_bug("period_transactions with a negative frequency: numpy's \"'list' argument must have no negative elements\"")
def test_known_bug_period_transactions_negative_frequency_message():
    s = {"frequency": [-1.0, 1.0], "recency": [0.0, 5.0], "T": [10.0, 10.0]}
    outcome(Expect().fail("frequency"), lambda: clv.period_transactions(clv.BetaGeo.from_params(BG_PARAMS), s))


@known_bug("lifecycle_stages accepts NaN or out-of-range probability_alive silently")
@pytest.mark.parametrize("p", [math.nan, 5.0, -5.0])
def test_known_bug_lifecycle_stages_accepts_nan_probabilities(p):
    s = {"frequency": [0, 2], "recency": [0, 30], "T": [38, 38]}
    outcome(Expect().fail("probability_alive"), lambda: clv.lifecycle_stages(s, [p, 0.5]))


@known_bug("weights beyond float32 become inf: ItemKNN scores NaN, recommend_new scores inf")
def test_known_bug_huge_weights_become_inf():
    log = pd.DataFrame({"customer_id": [1, 1, 2, 2, 3], "item_id": ["a", "b", "a", "c", "b"], "w": [1e300] * 5})
    model = outcome(Expect().fail("w"), lambda: recommend.ItemKNN(k=3).fit(log, weight_col="w"))
    if model is not None:
        assert_finite(model.recommend(None, n=3)["score"], "scores")


@known_bug("recommend() for every training user raises when one has only zero weights (a user the caller never named)")
def test_known_bug_recommend_all_users_raises_for_zero_weight_user():
    log = pd.DataFrame({"customer_id": [1, 1, 2], "item_id": ["a", "b", "a"], "w": [1.0, 1.0, 0.0]})
    model = recommend.Popularity().fit(log, weight_col="w")
    outcome(Expect(), lambda: model.recommend(None, n=2))


@known_bug("a finite 1e300 in a scipy matrix is reported as 'NaN or infinite' of 'user_items' (the argument is X)")
def test_known_bug_scipy_huge_value_message():
    matrix = sp.csr_matrix(np.array([[1e300, 0.0], [0.0, 2.0]]))
    outcome(Expect().fail("X"), lambda: recommend.Interactions(matrix))


@known_bug("ranking_metrics with n_items below the items that appear returns AUC -1.67 (or NaN)")
@pytest.mark.parametrize("n_items", [1, 2])
def test_known_bug_ranking_metrics_auc_outside_unit_interval(n_items):
    recs = pd.DataFrame({"customer_id": [1] * 5, "item_id": list("abcde"), "rank": [1, 2, 3, 4, 5]})
    test = pd.DataFrame({"customer_id": [1, 2], "item_id": ["c", "x"]})
    metrics = outcome(Expect().fail("n_items"), lambda: recommend.ranking_metrics(recs, test, k=5, n_items=n_items))
    if metrics is not None:
        check_metrics(metrics)


@known_bug("recommend(1.0), recommend(np.float64(1)) refuse a scalar whole-number float id; 2**70 raises OverflowError")
@pytest.mark.parametrize("user", [1.0, np.float64(1.0), 2**70])
def test_known_bug_scalar_id_queries(user):
    model = recommend.Popularity().fit(pd.DataFrame({"customer_id": [1, 2], "item_id": ["a", "b"]}))
    result = outcome(Expect().allow("users"), lambda: model.recommend(user, n=1, unknown_users="popular"))
    assert result is not None or user == 2**70


@known_bug("BG/BB predictions are NaN for parameters above about 1e4 (where few-customer fits end)")
def test_known_bug_bgbb_nan_for_large_parameters():
    model = clv.BetaGeoBetaBinom.from_params({"alpha": 2e4, "beta": 1e4, "gamma": 1e4, "delta": 2e4})
    assert_finite(model.conditional_expected_number_of_purchases_up_to_time(1.0, [1.0], [1.0], [2.0]), "expected purchases")


@known_bug("probabilities round above 1: P(X(0) = 0) = 1 + 9e-16 (BG/NBD), BG/BB P(alive) = 1 + 3e-9")
@pytest.mark.parametrize("case", ["BG/NBD P(X(0) = 0)", "BG/BB P(alive)"])
def test_known_bug_probability_above_one(case):
    if case == "BG/BB P(alive)":
        model = clv.BetaGeoBetaBinom().fit([21.0], [21.0], [21.0])
        values = model.conditional_probability_alive(0.0, [21.0], [21.0], [21.0])
    else:
        values = clv.BetaGeo.from_params(BG_PARAMS).probability_of_n_purchases_up_to_time(0.0, 0)
    assert_probability(values, case)


@known_bug("sBG retention_rate(0) is accepted (period -1) and can be negative")
def test_known_bug_retention_rate_accepts_period_0():
    model = clv.ShiftedBetaGeo.from_params({"alpha": 1.0, "beta": 0.5})
    rate = outcome(Expect().allow("'t'"), lambda: model.retention_rate(0.0))
    if rate is not None:
        assert_probability(rate, "retention rate")


@known_bug("BG/BB expected_number_of_purchases_up_to_time(n=-1) names argument 't'")
def test_known_bug_bgbb_names_t_for_n():
    model = clv.BetaGeoBetaBinom.from_params({"alpha": 1.204, "beta": 0.75, "gamma": 0.657, "delta": 2.783})
    outcome(Expect().fail("'n'"), lambda: model.expected_number_of_purchases_up_to_time(-1.0))


@known_bug("datetime arrays or columns are read as numbers (µs since 1970) instead of being refused")
@pytest.mark.parametrize("call", ["fit arrays", "rfm_scores", "period_transactions"])
def test_known_bug_datetime_arrays_read_as_numbers(call):
    when = np.array(["2020-01-01", "2020-02-01"], dtype="datetime64[us]")
    table = pd.DataFrame({"frequency": [0.0, 1.0], "recency": [0.0, 5.0], "T": when})
    run = {
        "fit arrays": lambda: clv.ShiftedBetaGeo().fit(when, np.array([1.0, 0.0])),
        "rfm_scores": lambda: clv.rfm_scores(table),
        "period_transactions": lambda: clv.period_transactions(clv.BetaGeo.from_params(BG_PARAMS), table),
    }[call]
    outcome(Expect().fail("duration" if call == "fit arrays" else "T"), run)


@known_bug("rfm_scores, lifecycle_stages and calibration_holdout_comparison accept negative counts and durations; lifecycle_stages NaN from polars")
@pytest.mark.parametrize(
    "call", ["rfm_scores", "lifecycle_stages", "calibration_holdout_comparison", "lifecycle_stages NaN", "period_transactions inf"]
)
def test_known_bug_segments_accept_negative_values(call):
    s = {"frequency": [0.0, 1.0], "recency": [0.0, 5.0], "T": [-1.0, 10.0]}
    holdout = {"frequency_cal": [0.0, 1.0], "recency_cal": [0.0, 5.0], "T_cal": [10.0, 10.0],
               "frequency_holdout": [-3.0, 1.0], "duration_holdout": [5.0, 5.0]}  # fmt: skip
    run, name = {
        "lifecycle_stages NaN": (lambda: clv.lifecycle_stages(pl.DataFrame({**s, "T": [math.nan, 10.0]}), [0.5, 0.5]), "T"),
        "period_transactions inf": (
            lambda: clv.period_transactions(clv.BetaGeo.from_params(BG_PARAMS), {**s, "frequency": [math.inf, 1.0], "T": [1.0, 10.0]}),
            "frequency",
        ),
        "rfm_scores": (lambda: clv.rfm_scores(s), "T"),
        "lifecycle_stages": (lambda: clv.lifecycle_stages(s, [0.5, 0.5]), "T"),
        "calibration_holdout_comparison": (
            lambda: clv.calibration_holdout_comparison(clv.BetaGeo.from_params(BG_PARAMS), holdout), "frequency_holdout"
        ),
    }[call]
    outcome(Expect().fail(name), run)


@known_bug("AUC without unseen items or recommendations: NaN (ranking_metrics, n_items=1), -inf or -0.5 (evaluate)")
@pytest.mark.parametrize(
    "case", ["ranking_metrics", "ranking_metrics every item relevant", "ranking_metrics no recommendations", "evaluate one item", "evaluate all seen", "evaluate no recommendations", "evaluate unknown item"]
)
def test_known_bug_auc_without_unseen_items(case):
    log = pd.DataFrame({"customer_id": [1, 2], "item_id": ["a", "a"]})
    both = pd.DataFrame({"customer_id": [0, 0], "item_id": ["a", "b"]})
    metrics = {
        "ranking_metrics": lambda: recommend.ranking_metrics(log.iloc[:1].assign(rank=1), log, k=1, n_items=1),
        "ranking_metrics every item relevant": lambda: recommend.ranking_metrics(
            pd.DataFrame({"customer_id": [0], "item_id": [0], "rank": [1]}),
            pd.DataFrame({"customer_id": [0, 0], "item_id": [0, 1]}), k=1, n_items=2,
        ),
        "ranking_metrics no recommendations": lambda: recommend.ranking_metrics(
            pd.DataFrame({"customer_id": [], "item_id": [], "rank": []}, dtype=np.int64),
            pd.DataFrame({"customer_id": [0], "item_id": [0]}), k=2, n_items=2,
        ),
        "evaluate one item": lambda: recommend.evaluate(
            recommend.Popularity().fit(log.iloc[:1]), log.iloc[1:], k=1, unknown_users="popular"
        ),
        "evaluate all seen": lambda: recommend.evaluate(recommend.Popularity().fit(both), both.iloc[:1], k=2),
        "evaluate unknown item": lambda: recommend.evaluate(
            recommend.Popularity().fit(pd.DataFrame({"customer_id": [0, 1], "item_id": ["a", "b"]})),
            pd.DataFrame({"customer_id": [0], "item_id": ["c"]}), k=2,
        ),
        "evaluate no recommendations": lambda: recommend.evaluate(
            recommend.ItemKNN(k=3).fit(pd.DataFrame({"customer_id": [1, 2], "item_id": ["a", "b"]})),
            pd.DataFrame({"customer_id": [1], "item_id": ["b"]}), k=2,
        ),
    }[case]()
    check_metrics(metrics)


@known_bug("GammaGamma: negative, NaN or infinite frequency accepted when its spend is 0; zero spends reported as 'frequency is 0'")
@pytest.mark.parametrize(
    "frequency, spend, name",
    [([-1.0, 1.0], [0.0, 5.0], "frequency"), ([math.nan, 1.0], [0.0, 5.0], "frequency"), ([math.inf, 1.0], [0.0, 5.0], "frequency"),
     ([1.0], [0.0], "monetary_value")],
)
def test_known_bug_gamma_gamma_checks(frequency, spend, name):
    table = pa.table({"frequency": frequency, "monetary_value": spend})
    outcome(Expect().fail(name), lambda: clv.GammaGamma().fit(table))


@known_bug("GammaGamma with q <= 1 (e.g. after a non-converged fit) expects a negative spend")
def test_known_bug_gamma_gamma_negative_spend_for_q_below_1():
    model = clv.GammaGamma.from_params({"p": 6.25, "q": 0.5, "v": 15.44})
    profit = outcome(Expect().allow("q"), lambda: model.conditional_expected_average_profit([0.0], [0.0]))
    if profit is not None:
        assert profit[0] >= 0


@known_bug("HBOS scores NaN for a constant feature of magnitude >= 1e16 (its width-1 bin vanishes)")
def test_known_bug_hbos_nan_for_large_constant_feature():
    hbos = anomaly.HBOS().fit(np.array([[1e16], [1e16]]))
    assert_finite(hbos.decision_scores_, "HBOS training scores")


@known_bug("an all-null polars column (dtype Null) fails the Arrow import: 'C Data interface error', no column named")
@pytest.mark.parametrize("call", ["rfm_summary", "Interactions", "ShiftedBetaGeo.fit"])
def test_known_bug_polars_null_column_not_imported(call):
    run, name = {
        "rfm_summary": (lambda: patronage.rfm_summary(pl.DataFrame({"c": [None], "t": [dt.datetime(2020, 1, 1)]}), "c", "t"), "'c'"),
        "Interactions": (lambda: recommend.Interactions(pl.DataFrame({"customer_id": [None], "item_id": ["a"]})), "customer_id"),
        "ShiftedBetaGeo.fit": (lambda: clv.ShiftedBetaGeo().fit(pl.DataFrame({"duration": [1.0], "churned": [None]})), "churned"),
    }[call]
    outcome(Expect().fail(name), run)


@known_bug("HBOS scores -inf when a feature's training range is subnormal")
def test_known_bug_hbos_infinite_score_for_subnormal_range():
    hbos = anomaly.HBOS().fit(np.array([[0.0], [5e-324], [1e-323]]))
    assert_finite(hbos.decision_function(np.array([[5e-324]])), "HBOS score")


@known_bug("TransactionRiskScorer: times outside int64 microseconds give negative hours_since_previous")
def test_known_bug_risk_scorer_out_of_range_times():
    log = pa.table({"customer_id": [1, 1], "timestamp": pa.array([-(2**62), 2**62], pa.timestamp("s")), "amount": [1.0, 2.0]})
    scorer = outcome(Expect().fail("timestamp"), lambda: anomaly.TransactionRiskScorer().fit(log))
    if scorer is not None:
        hours = scorer.score(log, features=True).column("hours_since_previous").to_pylist()[1]
        assert hours > 0
