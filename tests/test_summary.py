"""rfm_summary / rfm_calibration_holdout: lifetimes semantics on real and random logs."""

import datetime as dt
import decimal

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

import patronage
from patronage.datasets import load_cdnow

lifetimes_utils = pytest.importorskip("lifetimes.utils")

COLS = ["frequency", "recency", "T", "monetary_value"]


def assert_same(ours: pd.DataFrame, theirs: pd.DataFrame) -> None:
    assert list(ours.index) == list(theirs.index)
    assert list(ours.columns) == list(theirs.columns)
    np.testing.assert_allclose(ours.to_numpy(), theirs.to_numpy(dtype=float), rtol=1e-12, atol=1e-9)


# -- equality with lifetimes on CDNOW ---------------------------------------


@pytest.mark.parametrize("freq", ["D", "W"])
@pytest.mark.parametrize("end", [None, "1997-09-30"])
def test_cdnow_master_equals_lifetimes(freq, end):
    log = load_cdnow("master")
    ours = patronage.rfm_summary(log, "customer_id", "date", "dollar_value", observation_period_end=end, freq=freq)
    theirs = lifetimes_utils.summary_data_from_transaction_data(
        log, "customer_id", "date", "dollar_value", observation_period_end=end, freq=freq
    )
    assert_same(ours, theirs)


def test_cdnow_calibration_holdout_equals_lifetimes():
    log = load_cdnow("master")
    kw = dict(calibration_period_end="1997-09-30", observation_period_end="1998-06-30", freq="W")
    ours = patronage.rfm_calibration_holdout(log, "customer_id", "date", monetary_value_col="dollar_value", **kw)
    theirs = lifetimes_utils.calibration_and_holdout_data(
        log, "customer_id", "date", monetary_value_col="dollar_value", **kw
    )
    assert_same(ours, theirs[list(ours.columns)])


def test_cdnow_sample_reproduces_the_published_summary(shared_cdnow):
    """The papers' 39-week summary: days / 7, two decimals."""
    published = pd.read_csv(shared_cdnow / "cdnow_customers_summary_with_transactions.csv")
    log = load_cdnow("sample")
    ours = patronage.rfm_summary(
        log, "customer_id", "date", "dollar_value", observation_period_end="1997-09-30", freq="D", freq_multiplier=7
    )
    assert len(ours) == len(published) == 2357
    np.testing.assert_array_equal(ours["frequency"], published["x"])
    np.testing.assert_allclose(ours["recency"], published["t_x"], atol=0.0051)
    np.testing.assert_allclose(ours["T"], published["T"], atol=0.0051)
    np.testing.assert_allclose(ours["monetary_value"], published["zbar"], atol=0.0051)


# -- random logs: an independent reference and lifetimes ---------------------


def random_log(seed: int, n: int = 3000) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    start = np.datetime64("2021-03-01T00:00:00", "us")
    offsets = rng.integers(0, 400 * 86_400_000_000, n).astype("timedelta64[us]")
    return pd.DataFrame(
        {
            "cust": rng.integers(0, 300, n) * 7 + 11,  # sparse-ish ids
            "when": start + offsets,
            "spent": rng.gamma(2.0, 20.0, n).round(2),
        }
    ).sample(frac=1.0, random_state=seed)


def naive_summary(log: pd.DataFrame, end: pd.Timestamp, freq_days: int) -> pd.DataFrame:
    """Plain-Python reference: bucket days, merge same-period purchases."""
    epoch = pd.Timestamp("1970-01-01")
    offset = 3 if freq_days == 7 else 0  # W-SUN weeks start on Monday
    period = lambda t: ((t - epoch).days + offset) // freq_days  # noqa: E731
    end_p = period(end)
    rows = {}
    for cust, when, spent in log.itertuples(index=False):
        p = period(when)
        if p <= end_p:
            rows.setdefault(cust, {}).setdefault(p, 0.0)
            rows[cust][p] += spent
    out = {}
    for cust, periods in sorted(rows.items()):
        ps = sorted(periods)
        repeat = [periods[p] for p in ps[1:]]
        out[cust] = [len(ps) - 1, ps[-1] - ps[0], end_p - ps[0], np.mean(repeat) if repeat else 0.0]
    return pd.DataFrame.from_dict(out, orient="index", columns=COLS)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("freq,days", [("D", 1), ("W", 7)])
def test_random_logs_match_reference_and_lifetimes(seed, freq, days):
    log = random_log(seed)
    end = pd.Timestamp("2021-12-31")
    ours = patronage.rfm_summary(log, "cust", "when", "spent", observation_period_end=end, freq=freq)
    expected = naive_summary(log, end, days)
    np.testing.assert_array_equal(ours.index, expected.index)
    np.testing.assert_allclose(ours.to_numpy(), expected.to_numpy(), rtol=1e-12)
    theirs = lifetimes_utils.summary_data_from_transaction_data(
        log, "cust", "when", "spent", observation_period_end=end, freq=freq
    )
    assert_same(ours, theirs)


@pytest.mark.parametrize("seed", range(3))
def test_random_calibration_holdout_matches_lifetimes(seed):
    log = random_log(seed)
    kw = dict(calibration_period_end="2021-09-01", observation_period_end="2022-02-01", freq="D", freq_multiplier=7)
    ours = patronage.rfm_calibration_holdout(log, "cust", "when", monetary_value_col="spent", **kw)
    theirs = lifetimes_utils.calibration_and_holdout_data(log, "cust", "when", monetary_value_col="spent", **kw)
    assert_same(ours, theirs[list(ours.columns)])


def test_hourly_and_include_first_transaction_match_lifetimes():
    log = random_log(9, n=2000)
    for kw in (dict(freq="h"), dict(freq="D", include_first_transaction=True)):
        ours = patronage.rfm_summary(log, "cust", "when", "spent", **kw)
        theirs = lifetimes_utils.summary_data_from_transaction_data(log, "cust", "when", "spent", **kw)
        assert_same(ours, theirs)


# -- every kind of input column, every kind of frame -------------------------


@pytest.fixture(scope="module")
def small_log() -> pd.DataFrame:
    return random_log(1, n=500)


@pytest.fixture(scope="module")
def expected(small_log) -> pd.DataFrame:
    return patronage.rfm_summary(small_log, "cust", "when", "spent")


def _values(frame) -> np.ndarray:
    if isinstance(frame, pd.DataFrame):
        return frame[COLS].to_numpy()
    if isinstance(frame, pl.DataFrame):
        return frame.select(COLS).to_numpy()
    return np.column_stack([frame.column(c).to_numpy() for c in COLS])


@pytest.mark.parametrize(
    "convert,kind",
    [
        (lambda df: pl.from_pandas(df), pl.DataFrame),
        (lambda df: pa.Table.from_pandas(df, preserve_index=False), pa.Table),
        (lambda df: pa.RecordBatch.from_pandas(df, preserve_index=False), pa.Table),
    ],
)
def test_frames_come_back_as_their_own_kind(small_log, expected, convert, kind):
    out = patronage.rfm_summary(convert(small_log), "cust", "when", "spent")
    assert isinstance(out, kind)
    np.testing.assert_array_equal(_values(out), expected[COLS].to_numpy())
    ids = out["cust"].to_numpy() if kind is pl.DataFrame else out.column("cust").to_numpy()
    np.testing.assert_array_equal(ids, expected.index)


def test_any_arrow_capsule_object_is_accepted(small_log, expected):
    class Stream:  # a minimal producer of the Arrow PyCapsule stream interface
        def __init__(self, table):
            self.table = table

        def __arrow_c_stream__(self, requested_schema=None):
            return self.table.__arrow_c_stream__(requested_schema)

    table = pa.Table.from_pandas(small_log, preserve_index=False)
    chunked = pa.concat_tables([table.slice(0, 100), table.slice(100)])  # several chunks
    out = patronage.rfm_summary(Stream(chunked), "cust", "when", "spent")
    assert isinstance(out, pa.Table)
    np.testing.assert_array_equal(_values(out), expected[COLS].to_numpy())


@pytest.mark.parametrize(
    "ids",
    [
        lambda c: c.astype("int32"),
        lambda c: c.astype("uint64"),
        lambda c: ("c" + c.astype(str)),
        lambda c: ("c" + c.astype(str)).astype("category"),
    ],
)
def test_id_kinds(small_log, ids):
    log = small_log.assign(cust=ids(small_log["cust"]))
    ours = patronage.rfm_summary(log, "cust", "when", "spent")
    theirs = lifetimes_utils.summary_data_from_transaction_data(log, "cust", "when", "spent")
    np.testing.assert_allclose(ours.to_numpy(), theirs.loc[ours.index].to_numpy(), rtol=1e-12)
    assert sorted(map(str, ours.index)) == sorted(map(str, theirs.index))


def test_polars_string_and_categorical_ids(small_log, expected):
    for dtype in (pl.String, pl.Categorical):
        frame = pl.from_pandas(small_log).with_columns(pl.col("cust").cast(pl.String).cast(dtype))
        out = patronage.rfm_summary(frame, "cust", "when", "spent")
        by_id = dict(zip(out["cust"].cast(pl.String).to_list(), out["frequency"].to_list()))
        assert by_id == {str(k): v for k, v in expected["frequency"].items()}


@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
def test_time_units(small_log, expected, unit):
    log = small_log.assign(when=small_log["when"].astype(f"datetime64[{unit}]"))
    out = patronage.rfm_summary(log, "cust", "when", "spent")
    np.testing.assert_array_equal(out.to_numpy(), expected.to_numpy())


def test_dates_and_time_zones(small_log):
    dates = pa.table(
        {
            "cust": small_log["cust"].to_numpy(),
            "when": pa.array(small_log["when"].dt.date.to_numpy(), pa.date32()),
            "spent": small_log["spent"].to_numpy(),
        }
    )
    by_day = patronage.rfm_summary(dates, "cust", "when", "spent").to_pandas().set_index("cust")
    expected = patronage.rfm_summary(small_log, "cust", "when", "spent")
    np.testing.assert_array_equal(by_day.to_numpy(), expected.to_numpy())

    # A zoned column is bucketed in its own wall-clock time, as pandas does.
    zoned = small_log.assign(when=small_log["when"].dt.tz_localize("UTC").dt.tz_convert("Asia/Tokyo"))
    ours = patronage.rfm_summary(zoned, "cust", "when", "spent")
    theirs = lifetimes_utils.summary_data_from_transaction_data(
        zoned.assign(when=zoned["when"].dt.tz_localize(None)), "cust", "when", "spent"
    )
    assert_same(ours, theirs)


def test_amount_kinds(small_log, expected):
    cents = small_log.assign(spent=(small_log["spent"] * 100).round().astype("int64"))
    out = patronage.rfm_summary(cents, "cust", "when", "spent")
    np.testing.assert_allclose(out["monetary_value"], expected["monetary_value"] * 100, rtol=1e-12)
    table = pa.Table.from_pandas(small_log, preserve_index=False)
    decimals = pa.array([decimal.Decimal(str(v)) for v in small_log["spent"]], pa.decimal128(12, 2))
    table = table.set_column(2, "spent", decimals)
    out = patronage.rfm_summary(table, "cust", "when", "spent")
    np.testing.assert_allclose(out.column("monetary_value").to_numpy(), expected["monetary_value"], rtol=1e-12)


def test_without_monetary_value(small_log, expected):
    out = patronage.rfm_summary(small_log, "cust", "when")
    assert list(out.columns) == ["frequency", "recency", "T"]
    np.testing.assert_array_equal(out.to_numpy(), expected[["frequency", "recency", "T"]].to_numpy())


def test_observation_end_accepts_common_scalars(small_log):
    ends = ["2021-12-31", dt.date(2021, 12, 31), dt.datetime(2021, 12, 31), pd.Timestamp("2021-12-31"),
            np.datetime64("2021-12-31")]
    results = [patronage.rfm_summary(small_log, "cust", "when", observation_period_end=e) for e in ends]
    for r in results[1:]:
        pd.testing.assert_frame_equal(r, results[0])


# -- bad input: clear Python errors naming the problem -----------------------


def test_missing_column_is_named(small_log):
    with pytest.raises(ValueError, match="'customer'"):
        patronage.rfm_summary(small_log, "customer", "when")
    with pytest.raises(ValueError, match="'amount'"):
        patronage.rfm_summary(pl.from_pandas(small_log), "cust", "when", "amount")
    with pytest.raises(ValueError, match="'amount'"):
        patronage.rfm_summary(pa.Table.from_pandas(small_log), "cust", "when", "amount")


def test_wrong_types_are_type_errors(small_log):
    with pytest.raises(TypeError, match="'spent'.*date or datetime"):
        patronage.rfm_summary(small_log, "cust", "spent")
    with pytest.raises(TypeError, match="'when'.*ids"):
        patronage.rfm_summary(small_log, "when", "when")
    with pytest.raises(TypeError, match="'cust'.*numeric"):
        patronage.rfm_summary(small_log.assign(cust=small_log["cust"].astype(str)), "cust", "when", "cust")
    with pytest.raises(TypeError, match="transactions must be"):
        patronage.rfm_summary([1, 2, 3], "cust", "when")
    with pytest.raises(TypeError, match="freq"):
        patronage.rfm_summary(small_log, "cust", "when", freq=7)


def test_nulls_and_nan_are_named(small_log):
    log = small_log.copy()
    log.loc[log.index[3], "when"] = pd.NaT
    with pytest.raises(ValueError, match="'when' contains 1 null"):
        patronage.rfm_summary(log, "cust", "when")
    log = small_log.assign(cust=small_log["cust"].astype("Int64"))
    log.loc[log.index[0], "cust"] = pd.NA
    with pytest.raises(ValueError, match="'cust' contains 1 null"):
        patronage.rfm_summary(log, "cust", "when")
    log = small_log.copy()
    log.loc[log.index[0], "spent"] = np.nan
    with pytest.raises(ValueError, match="'spent'"):
        patronage.rfm_summary(log, "cust", "when", "spent")


def test_bad_periods_and_empty_tables(small_log):
    with pytest.raises(ValueError, match="observation_period_end.*before the first transaction"):
        patronage.rfm_summary(small_log, "cust", "when", observation_period_end="1990-01-01")
    with pytest.raises(ValueError, match="no rows"):
        patronage.rfm_summary(small_log.iloc[:0], "cust", "when")
    with pytest.raises(ValueError, match="freq"):
        patronage.rfm_summary(small_log, "cust", "when", freq="M")
    with pytest.raises(ValueError, match="freq_multiplier"):
        patronage.rfm_summary(small_log, "cust", "when", freq_multiplier=0)
    with pytest.raises(ValueError, match="observation_period_end"):
        patronage.rfm_summary(small_log, "cust", "when", observation_period_end="not a date")
    with pytest.raises(ValueError, match="no transactions between"):
        patronage.rfm_calibration_holdout(small_log, "cust", "when", "2022-06-01", "2022-07-01")
    with pytest.raises(ValueError, match="must be after calibration_period_end"):
        patronage.rfm_calibration_holdout(small_log, "cust", "when", "2021-09-01", "2021-08-01")


def test_no_panic_reaches_python_on_odd_input():
    """Odd but legal tables and garbage must give results or clear errors only."""
    odd = [
        pa.table({"c": pa.array([], pa.int64()), "t": pa.array([], pa.timestamp("us"))}),
        pa.table({"c": [1], "t": pa.array([0], pa.timestamp("us"))}),
        pa.table({"c": [2**62, -(2**62)], "t": pa.array([0, 10**15], pa.timestamp("us"))}),
        pa.table({"c": ["é", "日本"], "t": pa.array([-(10**15), 0], pa.timestamp("s"))}),
        pa.table({"c": pa.array([1, 2]).dictionary_encode(), "t": pa.array([1, 2], pa.date64())}),
        pa.table({"c": pa.array([1.5, 2.5]), "t": pa.array([1, 2], pa.date32())}),
        pa.table({"c": pa.array([None, None], pa.int64()), "t": pa.array([1, 2], pa.date32())}),
    ]
    for table in odd:
        try:
            patronage.rfm_summary(table, "c", "t")
        except (ValueError, TypeError):
            pass
