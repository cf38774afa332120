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

Valid draws span each function's documented domain (README, "Numerical
domain"); values beyond it, and bad arguments, are checked at the end of this
file to be refused with a message naming them. Where a bug is still open, a
strategy stays clear of it and names the ``xfail(strict=True)`` test that
reproduces it, so the properties keep checking everything else meanwhile.

Profiles: ``ci`` (default: 40 examples per test, derandomized so that a CI run
is reproducible) and ``long`` (10,000 random examples, to explore), chosen with
``PATRONAGE_HYPOTHESIS_PROFILE=long``.
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
    derandomize=True,
    database=None,
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
# Times within nanosecond timestamps' range (every unit can hold them). Times
# beyond +-146,000 years of 1970, past what Python datetimes express, are
# refused naming the column (test_bad_logs_are_refused_naming_the_column).
TIMES = st.datetimes(min_value=dt.datetime(1900, 1, 1), max_value=dt.datetime(2200, 1, 1))
ZONES = [None, "UTC", "Asia/Kolkata", "America/St_Johns", "Pacific/Chatham", "Europe/Paris"]
# Amounts stay within ±1e300 so that the sums of a customer's few amounts stay
# finite: sums that overflow are refused naming the column
# (test_bad_logs_are_refused_naming_the_column).
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
    # Weights are kept as float32: larger ones are refused naming the column.
    # Valid ones stay <= 1e15: Popularity's item similarities overflow past
    # about 1e19 (test_known_bug_popularity_similar_items_overflow_float32).
    values = draw(st.lists(st.one_of(st.integers(0, 100).map(float), st.floats(0, 1e15)), min_size=n, max_size=n))
    if not malformed:
        return Column(pa.array(values, pa.float64()))
    flaw = flaw_among(draw, ["negative", "nan", "inf", "null", "string", "beyond float32"])
    if flaw == "missing":
        return Column(None, Expect().fail(name))
    if flaw == "string":
        return Column(pa.array([str(v) for v in values], pa.string()), Expect().fail(name))
    if n == 0:
        return Column(pa.array([], pa.float64()))
    bad = {"negative": -1.0, "nan": math.nan, "inf": math.inf, "null": None, "beyond float32": 1e39}[flaw]
    values[draw(st.integers(0, n - 1))] = bad
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
    multiplier = draw(st.sampled_from([1.0, 1.0, 7.0, 0.5, 1e-3, 1e6, 0.0, -1.0, math.nan, math.inf, "x", 1e-320]))
    expect = Expect()
    if freq not in FREQS:
        expect = expect.fail("freq")
    if isinstance(multiplier, str) or not (math.isfinite(multiplier) and multiplier > 0):
        expect = expect.fail("freq_multiplier")
    elif multiplier < 1e-300:  # recency and T overflow, unless every span is 0
        expect = expect.allow("freq_multiplier")
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
    # As in lifetimes, the calibration keeps transactions up to the instant
    # calibration_period_end while a summary's end keeps its whole period: a
    # purchase later in the end's period counts only in the summary.
    assert renamed.index.equals(calibration.index)
    pd.testing.assert_series_equal(renamed["T"], calibration["T"], check_names=False)
    assert (renamed["frequency"] <= calibration["frequency"]).all()
    assert (renamed["recency"] <= calibration["recency"]).all()
    same = renamed["frequency"] == calibration["frequency"]
    pd.testing.assert_frame_equal(renamed[same], calibration[same], check_names=False)


# -- lifetime-value models ---------------------------------------------------

BG_PARAMS = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
PURCHASE_MODELS = {
    clv.BetaGeo: BG_PARAMS,
    clv.ModifiedBetaGeo: BG_PARAMS,
    clv.ParetoNBD: {"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669},
}
# The models' domain: summaries and horizons of up to 1e7 periods (beyond, a
# ValueError names the column or argument: test_bad_summary_columns_are_refused_naming_them).
MAX_PERIODS = 1e7
DURATIONS = st.one_of(st.integers(0, 60).map(float), st.floats(0, MAX_PERIODS), st.sampled_from([0.0, 1e-9, MAX_PERIODS]))


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


@st.composite
def purchase_rows(draw: Any) -> tuple[float, float, float]:
    T = draw(DURATIONS)
    recency = draw(st.one_of(st.just(0.0), st.floats(0.0, T, exclude_min=True))) if T > 0 else 0.0
    frequency = float(draw(st.integers(1, 50))) if recency > 0 else 0.0
    return frequency, recency, T


def corrupt(draw: Any, columns: dict[str, np.ndarray]) -> tuple[dict, Expect, str]:
    """One column made wrong: a bad value (negative, NaN, inf, null), a wrong
    type, or missing. A bad value is reported for its own column (before any
    check relating columns, such as recency <= T)."""
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
    return columns, Expect().fail(f"'{name}'", *(["negative"] if flaw == "negative" else [])), flaw


@st.composite
def summaries(
    draw: Any, rows: st.SearchStrategy, names: tuple[str, ...], malformed: bool = True, min_rows: int = 0,
) -> Summary:  # fmt: skip
    drawn = draw(st.lists(rows, min_size=min_rows, max_size=20))
    columns = {name: np.array([row[i] for row in drawn], dtype=np.float64) for i, name in enumerate(names)}
    if malformed and draw(st.booleans()):
        return Summary(*corrupt(draw, columns))
    return Summary(columns, Expect())


PURCHASE_NAMES = ("frequency", "recency", "T")


# A prediction the formulas cannot compute for a model's parameters raises
# (README, "Numerical domain"), saying so.
CANNOT_COMPUTE = Expect().allow("outside the range where its formulas are accurate")


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
    if how != "arrays":
        return summary.expect
    if any(n not in summary.columns for n in names):
        return Expect().fail(*[n for n in names if n not in summary.columns][:1])
    if summary.flaw == "timestamp":  # datetime64 arrays are refused even when empty
        return Expect(must=summary.expect.must + summary.expect.may)
    return summary.expect


@given(
    model_type=st.sampled_from(sorted(PURCHASE_MODELS, key=lambda m: m.__name__)),
    summary=summaries(purchase_rows(), PURCHASE_NAMES),
    how=HOW,
    # Horizons stay <= 1e4 periods of the 1e7 allowed: BG/NBD and MBG/NBD can
    # expect negative purchases over longer ones
    # (test_known_bug_bg_nbd_expectations_wrong_for_long_horizons), and there a
    # large n makes the PMF take seconds per customer
    # (test_known_bug_purchase_pmf_slow_at_the_domain_edge).
    t=st.sampled_from([0.0, 1.0, 10.0, 52.0, 1e4, -1.0, math.nan, math.inf, 2 * MAX_PERIODS]),
    n_purchases=st.one_of(st.integers(0, 20), st.sampled_from([10**6, 2**32 - 1, 2**32, -1, 2.5])),
)
def test_purchase_model_predictions(model_type, summary, how, t, n_purchases):
    model = model_type.from_params(PURCHASE_MODELS[model_type])
    data_expect = expect_reading(summary, PURCHASE_NAMES, how)
    n = summary.n
    t_ok = math.isfinite(t) and 0 <= t <= MAX_PERIODS
    t_expect = Expect() if t_ok else Expect().fail("'t'") if n else Expect().allow("'t'")
    n_ok = isinstance(n_purchases, int) and 0 <= n_purchases < 2**32
    n_expect = Expect() if n_ok else Expect().fail("'n'")

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
        data_expect + t_expect + n_expect,
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
    # Valid times stay <= 1e6 of the 1e7 allowed: BG/NBD's and MBG/NBD's
    # expectations go wrong beyond (test_known_bug_bg_nbd_expectations_wrong_for_long_horizons).
    times=st.lists(
        st.one_of(st.floats(0, 1e6), st.sampled_from([0.0, 1e6, -1.0, math.nan, math.inf, 2 * MAX_PERIODS])),
        min_size=0, max_size=8,
    ),
    # n stays small: at t = 1e7 a large n takes seconds (test_known_bug_purchase_pmf_slow_at_the_domain_edge).
    n_purchases=st.one_of(st.integers(0, 30), st.sampled_from([-1, 2.5, 2**32, 2**40])),
)
def test_purchase_model_new_customer(model_type, times, n_purchases):
    model = model_type.from_params(PURCHASE_MODELS[model_type])
    t = np.array(times)
    t_expect = Expect() if np.all(np.isfinite(t) & (t >= 0) & (t <= MAX_PERIODS)) else Expect().fail("'t'")
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
    summary=summaries(purchase_rows(), PURCHASE_NAMES),
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
    # Fits on little data can end at parameters (e.g. a tiny alpha) where a
    # prediction cannot be computed: it raises saying so, never returns NaN.
    alive = outcome(CANNOT_COMPUTE, lambda: fitted.conditional_probability_alive(*summary.arrays(PURCHASE_NAMES)))
    if alive is not None:
        assert_probability(alive, "probability alive after fit")


# BG/BB: frequency <= recency <= periods, whole numbers. Periods stay <= 1000
# to keep fits quick (their cost grows with periods: seconds at the 1e5 limit,
# test_bgbb_fits_up_to_1e5_opportunities).
@st.composite
def opportunity_rows(draw: Any) -> tuple[float, float, float]:
    periods = draw(st.one_of(st.integers(0, 60), st.integers(0, 1000)))
    recency = draw(st.integers(0, periods))
    frequency = draw(st.integers(0, recency)) if recency > 0 else 0
    if frequency == 0:
        recency = 0
    return float(frequency), float(recency), float(periods)


BGBB_NAMES = ("frequency", "recency", "periods")


@given(
    summary=summaries(opportunity_rows(), BGBB_NAMES),
    how=HOW,
    m=st.one_of(
        st.integers(0, 100).map(float), st.floats(0, MAX_PERIODS), st.sampled_from([-1.0, math.nan, math.inf, 2 * MAX_PERIODS])
    ),
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
            model = fitted
            expect = expect + CANNOT_COMPUTE
    m_ok = math.isfinite(m) and 0 <= m <= MAX_PERIODS
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
        assert_probability(values_of(alive), "probability alive")
    new_expect = (Expect() if m_ok else Expect().fail("'n'")) + (CANNOT_COMPUTE if fit else Expect())
    new = outcome(new_expect, lambda: model.expected_number_of_purchases_up_to_time(m))
    if new is not None:
        assert math.isfinite(new) and new >= 0, new


@st.composite
def churn_rows(draw: Any) -> tuple[float, float]:
    duration = draw(st.one_of(st.integers(1, 40), st.integers(1, int(MAX_PERIODS))))
    return float(duration), float(draw(st.booleans()))


@given(
    summary=summaries(churn_rows(), ("duration", "churned")),
    how=HOW,
    t=st.lists(
        st.one_of(st.integers(0, 100).map(float), st.floats(0, MAX_PERIODS), st.sampled_from([-1.0, math.nan, 2 * MAX_PERIODS])),
        min_size=1, max_size=6,
    ),
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
    model = clv.ShiftedBetaGeo.from_params({"alpha": 0.704, "beta": 1.182}) if fitted is None else fitted
    times = np.sort(np.array(t))
    in_domain = np.isfinite(times) & (times >= 0) & (times <= MAX_PERIODS)
    t_expect = (Expect() if in_domain.all() else Expect().fail("'t'")) + CANNOT_COMPUTE
    survival = outcome(t_expect, lambda: model.survival_function(times))
    if survival is not None:
        assert_probability(survival, "survival")
        assert np.all(np.diff(survival) <= 1e-12), "survival must not increase with t"
    # Retention is defined from period 1.
    retention_expect = t_expect if np.all(times[in_domain] >= 1) else t_expect.fail("'t'")
    retention = outcome(retention_expect, lambda: model.retention_rate(times))
    if retention is not None:
        assert_probability(retention, "retention rate")


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
    if len(survivors) >= 2 and survivors[0] == 0:  # every count 0: nothing to fit
        expect = expect.fail("survivors")
    if len(survivors) >= 2 and survivors[0] > 0 and survivors[0] == survivors[-1]:
        expect = expect.allow("penalizer_coef")  # nobody left: the estimates go to the edge
    expect = expect.allow("penalizer_coef")
    fitted = outcome(expect, lambda: clv.ShiftedBetaGeo().fit_cohort(survivors))
    if fitted is not None:
        assert np.all(np.array(list(fitted.params_.values())) > 0)


@st.composite
def spend_rows(draw: Any) -> tuple[float, float]:
    frequency = draw(st.integers(0, 30))
    # Mean spends up to 1e15, Gamma-Gamma's domain.
    money = draw(st.one_of(st.floats(0.01, 1e4), st.floats(0, 1e15), st.sampled_from([0.0, 1e-300, 1e15]))) if frequency else 0.0
    return float(frequency), money


@given(
    summary=summaries(spend_rows(), ("frequency", "monetary_value")),
    how=HOW,
    fit=st.booleans(),
)
def test_gamma_gamma(summary, how, fit):
    names = ("frequency", "monetary_value")
    expect = expect_reading(summary, names, how)
    model = clv.GammaGamma.from_params({"p": 6.25, "q": 3.74, "v": 15.44})
    if fit:
        fit_expect = expect.allow("penalizer_coef")
        if summary.n == 0:
            fit_expect = fit_expect.fail("rows")
        elif summary.expect.valid:
            f, m = summary.columns["frequency"], summary.columns["monetary_value"]
            if not np.any((f > 0) & (m > 0)):  # a fit needs repeat buyers who spent
                fit_expect = fit_expect.fail("no customer to fit")
        fitted = outcome(fit_expect, call_on(summary, names, how, clv.GammaGamma().fit))
        if fitted is not None:
            assert np.all(np.array(list(fitted.params_.values())) > 0)
            model = fitted
            if fitted.params_["q"] <= 1:  # the population's mean spend is infinite: refused
                expect = expect.fail("q =")
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
    summary=summaries(clv_rows(), CLV_NAMES),
    how=HOW,
    model_type=st.sampled_from(sorted(PURCHASE_MODELS, key=lambda m: m.__name__)),
    # time (months, at most 1,200) stays <= 24: near the limit one customer can
    # take half a minute (test_known_bug_clv_slow_at_the_horizon_limit).
    time=st.one_of(st.integers(0, 24), st.sampled_from([-1, 1.5, 1201])),
    discount_rate=st.sampled_from([0.0, 0.01, 0.1, -0.5, 1e3, -1.0, math.nan]),
    freq=st.sampled_from(["D", "W", "M", "h", "Q"]),
    continuous=st.booleans(),
    steps=st.sampled_from([1, 4, 12, 0]),
)
def test_customer_lifetime_value(summary, how, model_type, time, discount_rate, freq, continuous, steps):
    transactions = model_type.from_params(PURCHASE_MODELS[model_type])
    spend = clv.GammaGamma.from_params({"p": 6.25, "q": 3.74, "v": 15.44})
    expect = expect_reading(summary, CLV_NAMES, how)
    if not (isinstance(time, int) and 0 <= time <= 1200):
        expect = expect.fail("'time'")
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
    summary=summaries(rfm_rows(), CLV_NAMES),
    kind=st.sampled_from(KINDS),
    with_money=st.booleans(),
    # A whole number in [2, 9] (the segment joins one digit per score).
    n_bins=st.one_of(
        st.integers(2, 9), st.sampled_from([2.0, np.int64(5), 10, 1, 0, 2.5, "5", True, math.nan, math.inf])
    ),
    with_ids=st.booleans(),
)
def test_rfm_scores(summary, kind, with_money, n_bins, with_ids):
    if not with_money or "monetary_value" not in summary.columns:  # the column is optional
        with_money = False
        summary.columns.pop("monetary_value", None)
        summary.expect.must = [m for m in summary.expect.must if not any("monetary_value" in part for part in m)]
    expect = summary.expect
    if not whole_number_in(n_bins, 2, 9):
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


def whole_number_in(value: Any, low: int, high: int) -> bool:
    """Whether ``value`` is a whole number (int or float, not bool) in [low, high]."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        return False
    return math.isfinite(value) and float(value).is_integer() and low <= value <= high


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
    summary=summaries(purchase_rows(), PURCHASE_NAMES),
    kind=st.sampled_from(KINDS),
    shift=st.sampled_from([0, 0, 1, -1]),
    alive_flaw=st.sampled_from([None, None, math.nan, 1.5, -0.5]),
    thresholds=st.sampled_from([(0.2, 0.5), (0.0, 0.0), (0.5, 0.5), (0.6, 0.4), (-0.1, 0.5), (0.2, 1.5)]),
    new_within=st.sampled_from([None, 0.0, 4.0, 1e9]),
)
def test_lifecycle_stages(summary, kind, shift, alive_flaw, thresholds, new_within):
    lapsed, at_risk = thresholds
    expect = summary.expect
    if not (0 <= lapsed <= at_risk <= 1):
        expect = expect.fail("lapsed_below")
    n = summary.n
    alive = np.linspace(0, 1, n)
    alive = alive[: max(n + shift, 0)] if shift < 0 else np.concatenate([alive, [0.5] * shift])
    if len(alive) != n:
        expect = expect.fail("probability_alive")
    if alive_flaw is not None and len(alive):  # not a probability
        alive[-1] = alive_flaw
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


@given(
    summary=summaries(holdout_rows(), HOLDOUT_NAMES, min_rows=1),
    kind=st.sampled_from(KINDS),
    model_type=st.sampled_from(sorted(PURCHASE_MODELS, key=lambda m: m.__name__)),
    # A whole number in [1, 10,000] (one row per frequency).
    max_frequency=st.one_of(
        st.sampled_from([1, 3, 7, 20]), st.integers(1, 10_000),
        st.sampled_from([20.0, 0, -1, 2.5, 10_001, math.inf, math.nan, "3", True]),
    ),
)
def test_calibration_holdout_comparison(summary, kind, model_type, max_frequency):
    model = model_type.from_params(PURCHASE_MODELS[model_type])
    expect = summary.expect
    if not whole_number_in(max_frequency, 1, 10_000):
        expect = expect.fail("max_frequency")
    check = outcome(expect, lambda: clv.calibration_holdout_comparison(model, summary.frame(kind), max_frequency=max_frequency))
    if check is None:
        return
    assert kind_of(check.by_frequency) == kind
    table = as_pandas(check.by_frequency)
    assert table["n_customers"].sum() == summary.n
    assert_finite(table[["actual", "predicted"]].to_numpy(dtype=np.float64), "holdout comparison")
    assert math.isfinite(check.mae) and check.mae >= 0
    assert math.isfinite(check.mae_by_frequency) and check.mae_by_frequency >= 0
    assert np.all(check.predicted >= 0) and len(check.predicted) == summary.n


@given(
    summary=summaries(purchase_rows(), PURCHASE_NAMES),
    kind=st.sampled_from(KINDS),
    # max_frequency stays <= 300 of the allowed 10,000: past about 1,000, each
    # frequency costs tens of ms for a T near 1e5
    # (test_known_bug_period_transactions_slow_for_large_max_frequency).
    max_frequency=st.one_of(
        st.sampled_from([1, 3, 7, 30]), st.integers(1, 300), st.sampled_from([30.0, 0, 2.5, 10_001, math.inf, "3", True])
    ),
)
def test_period_transactions(summary, kind, max_frequency):
    model = clv.BetaGeo.from_params(BG_PARAMS)
    expect = summary.expect
    if not whole_number_in(max_frequency, 1, 10_000):
        expect = expect.fail("max_frequency")
    # Only frequency and T are read: a recency flaw is not seen.
    expect.must = [m for m in expect.must if "recency" not in m[0]]
    if summary.n == 0:
        expect = expect.fail("rows")
    table = outcome(expect, lambda: clv.period_transactions(model, summary.frame(kind), max_frequency=max_frequency))
    if table is None:
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
            lambda: recommend.RP3Beta(k=4, beta=0.5),
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
        # Weights are kept as float32: tiny ones become 0 (not an interaction).
        if np.float32(weight) > 0:
            seen[user].add(item)
    # Every training user, those whose weights are all 0 included (they get the popular items).
    top = outcome(n_expect, lambda: fitted.recommend(None, n=n))
    if top is not None:
        assert kind_of(top) == kind
        top = check_top_lists(top, USER, ITEM, n, items, users)
        for user, item in zip(top[USER], top[ITEM]):
            assert item not in seen[user], "recommended a seen item"
    known = list(fitted.user_ids_[:3])
    if known:
        picked = outcome(n_expect, lambda: fitted.recommend(known, n=n, unknown_users="popular"))
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
    frame = log.frame("pandas")
    train, test = recommend.train_test_split(frame, "random", test_size=0.5, user_col=USER, time_col=None)
    # Test pairs may repeat training ones, or name items the model never saw.
    assume(len(train) and len(test))
    model = outcome(Expect().allow("regularization").allow("alpha"), lambda: make_model().fit(train, user_col=USER, item_col=ITEM))
    assume(model is not None)
    k_expect = Expect() if k >= 1 else Expect().fail("'k'")
    scores = outcome(k_expect, lambda: recommend.evaluate(model, test, k=k, unknown_users=unknown_users))
    if scores is not None:
        check_metrics(scores)
        assert scores["repeat_hits"] == 0  # seen items excluded: every hit is new
    top = model.recommend(None, n=max(k, 1))
    n_items = frame[ITEM].nunique()  # the catalogue: every item of the log
    metrics = outcome(
        k_expect,
        lambda: recommend.ranking_metrics(top, test, k=k, n_items=n_items, user_col=USER, item_col=ITEM),
    )
    if metrics is not None:
        check_metrics(metrics)
        assert metrics["n_users"] == test[USER].nunique()


def check_metrics(metrics: dict[str, float]) -> None:
    for name, value in metrics.items():
        if name in ("n_users", "repeat_hits", "new_hits"):  # counts
            assert value >= 0
        else:
            assert 0 <= value <= 1, f"{name} = {value}"


@given(
    recs=st.lists(st.tuples(st.integers(0, 5), st.integers(0, 9), st.integers(1, 10)), max_size=30),
    test=st.lists(st.tuples(st.integers(0, 5), st.integers(0, 9)), max_size=30),
    k=st.one_of(st.integers(1, 10), st.sampled_from([0, -3])),
    extra_items=st.one_of(st.integers(0, 100), st.integers(-3, -1)),
    rank_flaw=st.sampled_from([None, None, "null", "string"]),
)
def test_ranking_metrics(recs, test, k, extra_items, rank_flaw):
    recs = pd.DataFrame(recs, columns=[USER, ITEM, "rank"], dtype=np.int64).drop_duplicates([USER, ITEM])
    test = pd.DataFrame(test, columns=[USER, ITEM], dtype=np.int64)
    # n_items is the catalogue: at least every item that appears.
    n_items = len(set(recs[ITEM]) | set(test[ITEM])) + extra_items
    expect = Expect()
    if k < 1:
        expect = expect.fail("'k'")
    if extra_items < 0 or n_items < 1:
        expect = expect.fail("n_items")
    if test.empty:
        expect = expect.fail("test")
    if rank_flaw and len(recs):
        recs["rank"] = recs["rank"].astype(object)
        recs.iloc[0, 2] = None if rank_flaw == "null" else "1"
        expect = expect.fail("rank")
    metrics = outcome(expect, lambda: recommend.ranking_metrics(recs, test, k=k, n_items=n_items, user_col=USER, item_col=ITEM))
    if metrics is not None:
        check_metrics(metrics)
        assert metrics["n_users"] == test[USER].nunique()


@given(
    shape=st.tuples(st.integers(0, 12), st.integers(0, 12)),
    density=st.floats(0, 1),
    flaw=st.sampled_from([None, None, "negative", "nan", "beyond float32", "complex"]),
    make_model=recommenders(),
)
def test_recommenders_on_sparse_matrices(shape, density, flaw, make_model):
    matrix = sp.random(*shape, density=density, format="csr", random_state=0, dtype=np.float64) * 10
    expect = Expect()
    if matrix.nnz == 0:
        expect = expect.fail("'X'", "empty")
    if flaw and matrix.nnz:
        if flaw == "complex":
            matrix = matrix.astype(np.complex128)
            expect = expect.fail("X", "complex")
        else:
            matrix.data[0] = {"negative": -1.0, "nan": math.nan, "beyond float32": 1e39}[flaw]
            expect = expect.fail("'X'", {"negative": "negative", "nan": "NaN", "beyond float32": "float32"}[flaw])
    model = outcome(expect.allow("regularization").allow("alpha"), lambda: make_model().fit(matrix))
    if model is None:
        return
    # Every row is a user, those without interactions included (they get the popular items).
    top = outcome(Expect(), lambda: model.recommend(None, n=3))
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
# Features stay within ±1.79e308: HBOS scores -inf for a constant feature at the
# float maximum (test_known_bug_hbos_infinite_score_at_float_max).
FEATURES = st.floats(-1.79e308, 1.79e308)


@dataclass
class Matrix:
    values: np.ndarray
    flaw: str | None
    bad_column: int = 0


@st.composite
def matrices(draw: Any) -> Matrix:
    n = draw(st.integers(0, 25))
    p = draw(st.integers(0, 4))
    elements = st.one_of(FEATURES, st.floats(-10, 10), st.sampled_from([0.0, 1e308, -1e308, 2.0**63, 5e-324, 1e16]))
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
    earlier = late.set_column(1, "at", pa.array([dt.datetime(1899, 1, 1)], late.column("at").type))
    outcome(Expect().fail("at"), lambda: scorer.score_new(to_kind(earlier, kind)))


# -- the domain's edges and bad arguments ---------------------------------------
#
# Minimal cases of what the strategies above keep clear of: values beyond the
# documented domain and bad arguments are refused naming them, results at the
# domain's edges stay in range and arrive in time. Calls that could abort the
# process or hang run in a fresh interpreter.

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


def refused(call: Callable[[], Any], error: type[Exception], *names: str) -> None:
    """``call()`` raises ``error`` with a message naming every one of ``names``."""
    with pytest.raises(error) as caught:
        call()
    assert all(name in str(caught.value) for name in names), f"{str(caught.value)!r} does not name {names}"


SMALL_LOG = """
import pandas as pd
from patronage.recommend import Popularity, ranking_metrics
log = pd.DataFrame({"customer_id": [1, 1, 2], "item_id": ["a", "b", "a"]})
model = Popularity().fit(log)
"""


@pytest.mark.parametrize(
    "call, check",
    [
        ("model.recommend([1, 2], n=2**32)", "len(_) <= 1"),  # user 1 has seen both items
        ("model.recommend_new(log, n=2**32)", "len(_) <= 1"),
        ("model.similar_items(['a'], n=2**32)", "len(_) == 1"),
        ("model.similar_users([1], n=2**32)", "len(_) == 1"),
        ("ranking_metrics(log.assign(rank=1), log, k=10**12, n_items=2)", "_['precision'] == 1"),
        ("ranking_metrics(log.assign(rank=1), log, k=2, n_items=2**62)", "0 < _['coverage'] < 1e-18"),
    ],
)
def test_huge_n_or_k_is_capped_at_the_catalogue(call, check):
    """No list is longer than the catalogue, however large ``n`` or ``k``."""
    assert_answers_in_time(f"{SMALL_LOG}\n_ = {call}\nassert {check}, _", PROBE_TIMEOUT)


@pytest.mark.parametrize("make", ["IsolationForest(n_estimators=10**9)", "HBOS(n_bins=10**12)"])
def test_detector_sizes_are_bounded_naming_the_parameter(make):
    code = f"""
import numpy as np
from patronage.anomaly import IsolationForest, HBOS
{make}.fit(np.zeros((5, 1)))
"""
    assert_raises_named(code, make.split("(")[1].split("=")[0])


@pytest.mark.parametrize(
    "code",
    [
        # n_jobs beyond the cores uses the cores (not 100,000 threads).
        "import numpy as np\nfrom patronage.anomaly import ECOD\nECOD(n_jobs=10**5).fit(np.zeros((5, 1)))",
        # The conditional PMF stops once its terms no longer count.
        """
        from patronage.clv import ParetoNBD
        m = ParetoNBD.from_params({"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669})
        m.conditional_probability_of_n_purchases_up_to_time(10**6, 10, [2], [5], [10])
        """,
        # BG/BB at its limit of 1e5 opportunities.
        "from patronage.clv import BetaGeoBetaBinom\nBetaGeoBetaBinom().fit([0, 1, 3], [0, 2, 5], [10**5] * 3)",
        # Lifetime value over the longest horizon, 1,200 months (in days).
        """
        from patronage.clv import BetaGeo, GammaGamma
        bg = BetaGeo.from_params({"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426})
        gg = GammaGamma.from_params({"p": 6.25, "q": 3.74, "v": 15.44})
        gg.customer_lifetime_value(bg, [2], [30.4], [38.9], [46.0], time=1200)
        """,
    ],
    ids=["n_jobs=10**5", "conditional PMF n=10**6", "BG/BB 1e5 periods", "CLV 1200 months"],
)
def test_answers_in_time_at_the_domain_edge(code):
    assert_answers_in_time(code, PROBE_TIMEOUT)


def test_bgbb_fits_up_to_1e5_opportunities():
    """BG/BB's fit sums over the opportunities: past 1e5 they are refused."""
    refused(lambda: clv.BetaGeoBetaBinom().fit([0, 1, 3], [0, 2, 5], [10**6] * 3), ValueError, "'periods'", "1e5")


BGBB = {"alpha": 1.204, "beta": 0.75, "gamma": 0.657, "delta": 2.783}
SBG = {"alpha": 0.704, "beta": 1.182}
GG = {"p": 6.25, "q": 3.74, "v": 15.44}
ONE_DAY = pd.DataFrame({"c": [1, 1], "t": pd.to_datetime(["2020-01-01", "2020-01-02"])})
HOLDOUT = {"frequency_cal": [0.0, 1.0], "recency_cal": [0.0, 5.0], "T_cal": [10.0, 10.0], "frequency_holdout": [0.0, 1.0],
           "duration_holdout": [5.0, 5.0]}  # fmt: skip
SUMMARY = {"frequency": [0.0, 2.0], "recency": [0.0, 30.0], "T": [38.0, 38.0]}


def bg() -> clv.BetaGeo:
    return clv.BetaGeo.from_params(BG_PARAMS)


def popularity() -> recommend.Popularity:
    return recommend.Popularity().fit(pd.DataFrame({"customer_id": [1, 2], "item_id": ["a", "b"]}))


BAD_ARGUMENTS = {
    "freq_multiplier='x'": (lambda: patronage.rfm_summary(ONE_DAY, "c", "t", freq_multiplier="x"), TypeError, "freq_multiplier"),
    "freq_multiplier=1e-320": (lambda: patronage.rfm_summary(ONE_DAY, "c", "t", freq_multiplier=1e-320), ValueError, "freq_multiplier"),
    "end=pd.NaT": (
        lambda: patronage.rfm_summary(ONE_DAY, "c", "t", observation_period_end=pd.NaT), ValueError, "observation_period_end", "NaT",
    ),
    "end=np NaT": (
        lambda: patronage.rfm_summary(ONE_DAY, "c", "t", observation_period_end=np.datetime64("NaT")), ValueError,
        "observation_period_end", "NaT",
    ),
    "initial_params short": (
        lambda: clv.BetaGeo().fit({"frequency": [0, 1, 3], "recency": [0, 5, 20], "T": [10, 30, 30]}, initial_params={"r": 1.0}),
        ValueError, "initial_params",
    ),
    "survivors all 0": (lambda: clv.ShiftedBetaGeo().fit_cohort([0, 0, 0]), ValueError, "survivors"),
    "CLV time=1.5": (
        lambda: clv.GammaGamma.from_params(GG).customer_lifetime_value(bg(), [2], [30.4], [38.9], [46.0], time=1.5), TypeError, "'time'",
    ),
    "CLV time=10**5": (
        lambda: clv.GammaGamma.from_params(GG).customer_lifetime_value(bg(), [2], [30.4], [38.9], [46.0], time=10**5), ValueError,
        "'time'", "1200",
    ),
    "n_bins=nan": (lambda: clv.rfm_scores(SUMMARY, n_bins=math.nan), ValueError, "n_bins", "[2, 9]"),
    "n_bins=inf": (lambda: clv.rfm_scores(SUMMARY, n_bins=math.inf), ValueError, "n_bins", "[2, 9]"),
    "n_bins=10": (lambda: clv.rfm_scores(SUMMARY, n_bins=10), ValueError, "n_bins", "[2, 9]"),
    "max_frequency=inf": (lambda: clv.calibration_holdout_comparison(bg(), HOLDOUT, max_frequency=math.inf), ValueError, "max_frequency"),
    "max_frequency=nan": (lambda: clv.calibration_holdout_comparison(bg(), HOLDOUT, max_frequency=math.nan), ValueError, "max_frequency"),
    "max_frequency=10**12": (lambda: clv.period_transactions(bg(), SUMMARY, max_frequency=10**12), ValueError, "max_frequency", "10000"),
    "probability_alive NaN": (lambda: clv.lifecycle_stages(SUMMARY, [math.nan, 0.5]), ValueError, "probability_alive"),
    "probability_alive 5": (lambda: clv.lifecycle_stages(SUMMARY, [5.0, 0.5]), ValueError, "probability_alive"),
    "probability_alive -5": (lambda: clv.lifecycle_stages(SUMMARY, [-5.0, 0.5]), ValueError, "probability_alive"),
    "t=1e8": (lambda: bg().predict(1e8, [1.0], [5.0], [10.0]), ValueError, "'t'", "1e7"),
    "n=2**32": (lambda: bg().probability_of_n_purchases_up_to_time(1.0, 2**32), ValueError, "'n'", "2^32"),
    "BG/BB n=-1": (lambda: clv.BetaGeoBetaBinom.from_params(BGBB).expected_number_of_purchases_up_to_time(-1.0), ValueError, "'n'"),
    "BG/BB n=1e16": (
        lambda: clv.BetaGeoBetaBinom.from_params(BGBB).expected_number_of_purchases_up_to_time(1e16), ValueError, "'n'", "1e7",
    ),
    "BG/BB m=1e16": (
        lambda: clv.BetaGeoBetaBinom.from_params(BGBB).conditional_expected_number_of_purchases_up_to_time(1e16, [1], [2], [3]),
        ValueError, "m_periods_in_future", "1e7",
    ),
    "sBG survival t=1e17": (lambda: clv.ShiftedBetaGeo.from_params(SBG).survival_function([1e17]), ValueError, "'t'", "1e7"),
    "sBG retention t=0": (lambda: clv.ShiftedBetaGeo.from_params(SBG).retention_rate(0.0), ValueError, "'t'"),
    "n_items below the items seen": (
        lambda: recommend.ranking_metrics(
            pd.DataFrame({"customer_id": [1] * 5, "item_id": list("abcde"), "rank": [1, 2, 3, 4, 5]}),
            pd.DataFrame({"customer_id": [1, 2], "item_id": ["c", "x"]}), k=5, n_items=2,
        ),
        ValueError, "n_items",
    ),
    # The population's mean spend is infinite: no expected spend (not a negative one).
    "Gamma-Gamma q=0.5": (
        lambda: clv.GammaGamma.from_params({"p": 6.25, "q": 0.5, "v": 15.44}).conditional_expected_average_profit([0.0], [0.0]),
        ValueError, "q = 0.5",
    ),
    "users=2**70": (lambda: popularity().recommend(2**70, n=1, unknown_users="popular"), TypeError, "users"),
    "n=2**64": (lambda: popularity().recommend([1], n=2**64), TypeError, "'n'"),
}


@pytest.mark.parametrize("case", BAD_ARGUMENTS)
def test_bad_arguments_are_refused_naming_them(case):
    call, error, *names = BAD_ARGUMENTS[case]
    refused(call, error, *names)


DATES = np.array(["2020-01-01", "2020-02-01"], dtype="datetime64[us]")
DATED = pd.DataFrame({"frequency": [0.0, 1.0], "recency": [0.0, 5.0], "T": DATES})
NEGATIVE_T = {"frequency": [0.0, 1.0], "recency": [0.0, 5.0], "T": [-1.0, 10.0]}
EMPTY = {name: pa.array([], pa.float64()) for name in ("frequency", "recency", "T")}


def with_value(table: dict[str, list], column: str, value: Any) -> dict[str, list]:
    return {**table, column: [table[column][0], value]}


BAD_SUMMARIES = {
    # Dates and durations are not numbers.
    "datetime arrays": (lambda: clv.ShiftedBetaGeo().fit(DATES, np.array([1.0, 0.0])), TypeError, "duration"),
    "datetime rfm_scores": (lambda: clv.rfm_scores(DATED), TypeError, "'T'"),
    "datetime period_transactions": (lambda: clv.period_transactions(bg(), DATED), TypeError, "'T'"),
    "datetime lifecycle_stages": (lambda: clv.lifecycle_stages(DATED, [0.5, 0.5]), TypeError, "'T'"),
    # Counts, durations and spend are finite and >= 0.
    "negative rfm_scores": (lambda: clv.rfm_scores(NEGATIVE_T), ValueError, "'T'", "negative"),
    "negative lifecycle_stages": (lambda: clv.lifecycle_stages(NEGATIVE_T, [0.5, 0.5]), ValueError, "'T'", "negative"),
    "negative period_transactions": (
        lambda: clv.period_transactions(bg(), {**NEGATIVE_T, "frequency": [-1.0, 1.0], "T": [10.0, 10.0]}), ValueError,
        "'frequency'", "negative",
    ),
    "inf period_transactions": (
        lambda: clv.period_transactions(bg(), {**NEGATIVE_T, "frequency": [math.inf, 1.0], "T": [1.0, 10.0]}), ValueError,
        "'frequency'", "infinite",
    ),
    "NaN lifecycle_stages (polars)": (
        lambda: clv.lifecycle_stages(pl.DataFrame({**NEGATIVE_T, "T": [math.nan, 10.0]}), [0.5, 0.5]), ValueError, "'T'", "NaN",
    ),
    **{
        f"negative {column}": (
            lambda column=column: clv.calibration_holdout_comparison(bg(), {**HOLDOUT, column: [-1.0, HOLDOUT[column][1]]}),
            ValueError, f"'{column}'", "negative",
        )
        for column in ("frequency_cal", "frequency_holdout", "duration_holdout")
    },
    **{
        f"Gamma-Gamma frequency {value}": (
            lambda value=value: clv.GammaGamma().fit(pa.table({"frequency": [value, 1.0], "monetary_value": [0.0, 5.0]})),
            ValueError, "'frequency'",
        )
        for value in (-1.0, math.nan, math.inf)
    },
    "Gamma-Gamma without spend": (
        lambda: clv.GammaGamma().fit(pa.table({"frequency": [1.0], "monetary_value": [0.0]})), ValueError,
        "no customer to fit", "monetary_value",
    ),
    # Repeat purchases need a recency > 0, in every purchase model.
    **{
        f"{model_type.__name__} recency 0": (
            lambda model_type=model_type: model_type.from_params(PURCHASE_MODELS[model_type]).predict(1.0, [3.0], [0.0], [10.0]),
            ValueError, "'recency'",
        )
        for model_type in (clv.BetaGeo, clv.ModifiedBetaGeo, clv.ParetoNBD)
    },
    "BG/BB fractional periods": (lambda: clv.BetaGeoBetaBinom().fit([0, 1, 3], [0, 2, 5], [6.5, 6, 6]), ValueError, "'periods'"),
    # Beyond the domain: 1e7 periods, 1e15 of mean spend.
    "BG/NBD frequency 1e300": (lambda: bg().predict(1.0, [1e300], [1e300], [1e300]), ValueError, "'frequency'", "1e7"),
    "MBG/NBD frequency 1e300": (
        lambda: clv.ModifiedBetaGeo.from_params(BG_PARAMS).predict(1.0, [1e300], [29.0], [30.0]), ValueError, "'frequency'", "1e7",
    ),
    "BG/NBD T 2e7": (lambda: bg().predict(1.0, [1.0], [5.0], [2e7]), ValueError, "'T'", "1e7"),
    "Gamma-Gamma spend 1e16": (
        lambda: clv.GammaGamma.from_params(GG).conditional_expected_average_profit([1.0], [1e16]), ValueError, "'monetary_value'", "1e15",
    ),
    # All-null polars columns (dtype Null).
    "all-null polars rfm_summary": (
        lambda: patronage.rfm_summary(pl.DataFrame({"c": [None], "t": [dt.datetime(2020, 1, 1)]}), "c", "t"), ValueError, "'c'",
    ),
    "all-null polars Interactions": (
        lambda: recommend.Interactions(pl.DataFrame({"customer_id": [None], "item_id": ["a"]})), ValueError, "'customer_id'",
    ),
    "all-null polars ShiftedBetaGeo.fit": (
        lambda: clv.ShiftedBetaGeo().fit(pl.DataFrame({"duration": [1.0], "churned": [None]})), ValueError, "'churned'",
    ),
    # Nothing to summarise.
    "empty rfm_scores": (lambda: clv.rfm_scores(EMPTY), ValueError, "empty"),
    "empty period_transactions": (lambda: clv.period_transactions(bg(), EMPTY), ValueError, "rows"),
    "empty calibration_holdout_comparison": (
        lambda: clv.calibration_holdout_comparison(bg(), {name: pa.array([], pa.float64()) for name in HOLDOUT_NAMES}),
        ValueError, "rows",
    ),
}


@pytest.mark.parametrize("case", BAD_SUMMARIES)
def test_bad_summary_columns_are_refused_naming_them(case):
    call, error, *names = BAD_SUMMARIES[case]
    refused(call, error, *names)


OVERFLOWING = pd.DataFrame(
    {"c": [1] * 4, "t": pd.to_datetime(["2020-01-01"] * 2 + ["2020-01-03"] * 2), "m": [1e308, 1e308, -1e308, -1e308]}
)
HUGE_WEIGHTS = pd.DataFrame({"customer_id": [1, 1, 2, 2, 3], "item_id": ["a", "b", "a", "c", "b"], "w": [1e300] * 5})
BAD_LOGS = {
    # Times beyond +-146,000 years of 1970 (past int64 microseconds' reach).
    "date32": (
        lambda: patronage.rfm_summary(pa.table({"c": [1, 1], "t": pa.array([0, 107_000_000], pa.date32())}), "c", "t"), "'t'",
    ),
    "timestamp[s]": (
        lambda: patronage.rfm_summary(pa.table({"c": [1, 1], "t": pa.array([0, 300_000 * 365 * 86_400], pa.timestamp("s"))}), "c", "t"),
        "'t'",
    ),
    "risk scorer": (
        lambda: anomaly.TransactionRiskScorer().fit(
            pa.table({"customer_id": [1, 1], "timestamp": pa.array([-(2**62), 2**62], pa.timestamp("s")), "amount": [1.0, 2.0]})
        ),
        "'timestamp'",
    ),
    # Finite amounts whose sums overflow.
    "rfm_summary amounts": (lambda: patronage.rfm_summary(OVERFLOWING, "c", "t", "m", include_first_transaction=True), "'m'", "overflow"),
    "rfm_calibration_holdout amounts": (
        lambda: patronage.rfm_calibration_holdout(OVERFLOWING, "c", "t", "2020-01-02", monetary_value_col="m"), "'m'", "overflow",
    ),
    # Weights beyond float32, which they are kept in.
    "weight column": (lambda: recommend.ItemKNN(k=3).fit(HUGE_WEIGHTS, weight_col="w"), "'w'", "float32"),
    "scipy matrix": (lambda: recommend.Interactions(sp.csr_matrix(np.array([[1e300, 0.0], [0.0, 2.0]]))), "'X'", "float32"),
}


@pytest.mark.parametrize("case", BAD_LOGS)
def test_bad_logs_are_refused_naming_the_column(case):
    call, *names = BAD_LOGS[case]
    refused(call, ValueError, *names)


def test_parameters_at_the_edge_give_a_probability_or_say_why():
    """Where a fit on 4 customers ends (a tiny alpha): a probability, or an
    error saying the parameters are outside the formulas' accurate range; never NaN."""
    params = {"r": 0.040864991687273464, "alpha": 3.569163600413547e-08, "s": 0.3780543136586128, "beta": 1.701417226460681}
    model = clv.ParetoNBD.from_params(params)
    alive = outcome(CANNOT_COMPUTE, lambda: model.conditional_probability_alive([0.0], [0.0], [11046.0]))
    if alive is not None:
        assert_probability(alive, "probability alive")


def bgbb_probability_alive_after_a_fit() -> np.ndarray:
    model = clv.BetaGeoBetaBinom().fit([21.0], [21.0], [21.0])
    return model.conditional_probability_alive(0.0, [21.0], [21.0], [21.0])


IN_RANGE = {
    "BG/NBD P(X(0) = 0)": (lambda: bg().probability_of_n_purchases_up_to_time(0.0, 0), "probability"),
    "BG/BB P(alive) after a fit": (bgbb_probability_alive_after_a_fit, "probability"),
    "BG/BB tiny horizon": (
        lambda: clv.BetaGeoBetaBinom.from_params(BGBB).conditional_expected_number_of_purchases_up_to_time(4.5e-14, [0.0], [0.0], [2.0]),
        "count",
    ),
    "BG/BB large parameters": (
        lambda: clv.BetaGeoBetaBinom.from_params({"alpha": 2e4, "beta": 1e4, "gamma": 1e4, "delta": 2e4})
        .conditional_expected_number_of_purchases_up_to_time(1.0, [1.0], [1.0], [2.0]),
        "count",
    ),
    "BG/BB up to 1e7 periods": (
        lambda: clv.BetaGeoBetaBinom.from_params(BGBB).expected_number_of_purchases_up_to_time(np.geomspace(1, MAX_PERIODS, 15)),
        "increasing",
    ),
    "sBG survival up to 1e7 periods": (
        lambda: clv.ShiftedBetaGeo.from_params(SBG).survival_function(np.geomspace(1, MAX_PERIODS, 15)), "survival",
    ),
    "sBG survival, large parameters": (
        lambda: clv.ShiftedBetaGeo.from_params({"alpha": 4.5e12, "beta": 2.1e14}).survival_function(np.geomspace(1, MAX_PERIODS, 15)),
        "survival",
    ),
    "HBOS constant feature 1e16": (lambda: anomaly.HBOS().fit(np.array([[1e16], [1e16]])).decision_scores_, "finite"),
    "HBOS subnormal range": (
        lambda: anomaly.HBOS().fit(np.array([[0.0], [5e-324], [1e-323]])).decision_function(np.array([[5e-324]])), "finite",
    ),
}


@pytest.mark.parametrize("case", IN_RANGE)
def test_results_at_extremes_stay_in_range(case):
    call, kind = IN_RANGE[case]
    values = np.atleast_1d(np.asarray(call(), dtype=np.float64))
    if kind in ("probability", "survival"):
        assert_probability(values, case)
    else:
        assert_finite(values, case)
    if kind in ("count", "increasing"):
        assert np.all(values >= 0), values
    if kind == "increasing":
        assert np.all(np.diff(values) > 0), values
    if kind == "survival":
        assert np.all(np.diff(values) <= 0), values


AUC_CASES = {
    "one-item catalogue": lambda: recommend.ranking_metrics(
        pd.DataFrame({"customer_id": [1], "item_id": ["a"], "rank": [1]}), pd.DataFrame({"customer_id": [1, 2], "item_id": ["a", "a"]}),
        k=1, n_items=1,
    ),
    "every item relevant": lambda: recommend.ranking_metrics(
        pd.DataFrame({"customer_id": [0], "item_id": [0], "rank": [1]}), pd.DataFrame({"customer_id": [0, 0], "item_id": [0, 1]}),
        k=1, n_items=2,
    ),
    "no recommendations": lambda: recommend.ranking_metrics(
        pd.DataFrame({"customer_id": [], "item_id": [], "rank": []}, dtype=np.int64), pd.DataFrame({"customer_id": [0], "item_id": [0]}),
        k=2, n_items=2,
    ),
    "evaluate, one item": lambda: recommend.evaluate(
        recommend.Popularity().fit(pd.DataFrame({"customer_id": [1], "item_id": ["a"]})),
        pd.DataFrame({"customer_id": [2], "item_id": ["a"]}), k=1, unknown_users="popular",
    ),
    "evaluate, all seen": lambda: recommend.evaluate(
        recommend.Popularity().fit(pd.DataFrame({"customer_id": [0, 0], "item_id": ["a", "b"]})),
        pd.DataFrame({"customer_id": [0], "item_id": ["a"]}), k=2,
    ),
    "evaluate, unknown item": lambda: recommend.evaluate(
        popularity(), pd.DataFrame({"customer_id": [1], "item_id": ["c"]}), k=2,
    ),
    "evaluate, no recommendations": lambda: recommend.evaluate(
        recommend.ItemKNN(k=3).fit(pd.DataFrame({"customer_id": [1, 2], "item_id": ["a", "b"]})),
        pd.DataFrame({"customer_id": [1], "item_id": ["b"]}), k=2,
    ),
}


@pytest.mark.parametrize("case", AUC_CASES)
def test_metrics_stay_within_unit_interval(case):
    """AUC included: without an unseen item, a full list or any recommendation."""
    check_metrics(AUC_CASES[case]())


def test_recommend_for_every_user_gives_zero_weight_users_popular_items():
    log = pd.DataFrame({"customer_id": [1, 1, 2], "item_id": ["a", "b", "a"], "w": [1.0, 1.0, 0.0]})
    model = recommend.Popularity().fit(log, weight_col="w")
    top = model.recommend(None, n=2)
    assert top["customer_id"].tolist() == [2, 2] and set(top["item_id"]) == {"a", "b"}
    # Named by the caller, such a user is unknown unless unknown_users="popular".
    refused(lambda: model.recommend([2], n=2), ValueError, "'users'", "unknown_users='popular'")
    assert len(model.recommend([2], n=2, unknown_users="popular")) == 2


@pytest.mark.parametrize("user", [1.0, np.float64(1.0), np.float32(1.0)], ids=["float", "float64", "float32"])
def test_scalar_whole_float_ids_are_matched(user):
    top = popularity().recommend(user, n=1)
    assert top["item_id"].tolist() == ["b"]


# -- known bugs (minimal repros; each xfail is strict, so a fix shows up) ------


@known_bug(
    "BG/NBD and MBG/NBD expectations go wrong over long horizons (within the 1e7 periods allowed): conditional "
    "expected purchases turn negative (t=1e6 for 10 purchases in one period: -32), and a new customer's "
    "expected purchases fall from 64.4 at t=4e6 to 60.2 at t=1e7"
)
@pytest.mark.parametrize("model_type", [clv.BetaGeo, clv.ModifiedBetaGeo], ids=["BG/NBD", "MBG/NBD"])
@pytest.mark.parametrize("who", ["conditional", "new customer"])
def test_known_bug_bg_nbd_expectations_wrong_for_long_horizons(model_type, who):
    model = model_type.from_params(BG_PARAMS)
    if who == "conditional":
        assert model.predict(1e6, [10.0], [1.0], [1.0])[0] >= 0
    else:
        assert model.expected_number_of_purchases_up_to_time(1e7) >= model.expected_number_of_purchases_up_to_time(4e6)


@known_bug(
    "calibration_holdout_comparison and period_transactions name the model's columns and arguments ('recency', "
    "'T', 't') for their own ('recency_cal', 'T_cal', 'duration_holdout', 'T')"
)
@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: clv.calibration_holdout_comparison(bg(), with_value(HOLDOUT, "recency_cal", 20.0)), "'recency_cal'"),
        (lambda: clv.calibration_holdout_comparison(bg(), with_value(HOLDOUT, "T_cal", 2e7)), "'T_cal'"),
        (lambda: clv.calibration_holdout_comparison(bg(), with_value(HOLDOUT, "duration_holdout", 2e7)), "'duration_holdout'"),
        (lambda: clv.period_transactions(bg(), with_value(SUMMARY, "T", 2e7)), "'T'"),
    ],
    ids=["recency_cal > T_cal", "T_cal 2e7", "duration_holdout 2e7", "period_transactions T 2e7"],
)
def test_known_bug_summary_checks_name_the_model_columns(call, name):
    refused(call, ValueError, name)


@known_bug("P(X(t) = n) at the domain's edge (t = 1e7, n = 1e8) takes about 10 s per customer for Pareto/NBD (2-4 s for BG/NBD)")
def test_known_bug_purchase_pmf_slow_at_the_domain_edge():
    code = """
from patronage.clv import ParetoNBD
m = ParetoNBD.from_params({"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669})
m.probability_of_n_purchases_up_to_time(1e7, 10**8)
"""
    assert_answers_in_time(code, 5)


@known_bug("customer_lifetime_value at the 1,200-month limit takes 15-30 s for one customer (freq='h', continuous, 12 steps a month)")
def test_known_bug_clv_slow_at_the_horizon_limit():
    code = """
from patronage.clv import BetaGeo, GammaGamma
bg = BetaGeo.from_params({"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426})
gg = GammaGamma.from_params({"p": 6.25, "q": 3.74, "v": 15.44})
gg.customer_lifetime_value(bg, [2], [30.4], [38.9], [46.0], time=1200, freq="h", continuous=True, steps_per_month=12)
"""
    assert_answers_in_time(code, 5)


@known_bug(
    "period_transactions with max_frequency=10,000 (the limit) takes minutes for a customer with T=1e5 "
    "(1,500 takes 17 s): BG/NBD's P(X(T) = n) costs tens of ms per n past about 1,000"
)
def test_known_bug_period_transactions_slow_for_large_max_frequency():
    code = """
from patronage.clv import BetaGeo, period_transactions
bg = BetaGeo.from_params({"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426})
period_transactions(bg, {"frequency": [0.0, 1.0], "recency": [0.0, 5.0], "T": [10.0, 1e5]}, max_frequency=10_000)
"""
    assert_answers_in_time(code, 5)


@known_bug("HBOS scores -inf for a constant feature at the float maximum (1.7976931348623157e308; 1e16 and 1.79e308 are fine)")
def test_known_bug_hbos_infinite_score_at_float_max():
    hbos = anomaly.HBOS().fit(np.array([[np.finfo(np.float64).max]]))
    assert_finite(hbos.decision_scores_, "HBOS training scores")


@known_bug(
    "Popularity.similar_items computes cosines in float32: weights past about 1e19 give 0.0 and, near float32's "
    "maximum (which weights may reach), NaN, where ItemKNN gives 1.0"
)
@pytest.mark.parametrize("weights", [[1.0, 2e19], [100.0, 3.4e36]])
def test_known_bug_popularity_similar_items_overflow_float32(weights):
    log = pd.DataFrame({"customer_id": ["u", "u"], "item_id": ["a", "b"], "w": weights})
    similar = recommend.Popularity().fit(log, weight_col="w").similar_items(["a", "b"], n=1)
    assert similar["score"].tolist() == pytest.approx([1.0, 1.0])
