"""The customer table as steps on partitions that hold whole customers, and
small merges on this machine, so one machine, Dask and Spark run the same
code (see :mod:`patronage._engines`).

Per-customer work (cleaning, summaries, predictions, next items, risk) runs
where the customer's rows are. What needs every customer reaches this machine
in compact form: the distinct summary rows with their counts (the purchase
and spend models fit on those exactly), every customer's CLV (8 bytes each,
for the value tiers), the (customer, item) pairs (item-kNN), and the
purchases of at most ``risk_fit_rows`` transactions of whole customers (the
risk scorer's calibration).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from functools import partial
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from . import _core, clv
from ._clean import Cleaning, clean_log, decoded
from ._engines import Engine, attach
from ._next_items import buy_again, fit_next, item_pairs, joined_per_customer, try_next
from .anomaly import TransactionRiskScorer
from .clv._segments import TIER_LABELS, TIER_QUANTILES, mean_time_between_purchases, tier_cuts, tiers_at
from .summary import PURCHASE_COLUMNS, rfm_calibration_holdout, rfm_summary

_HOLDOUT_COLUMNS = ["frequency_cal", "recency_cal", "T_cal", "frequency_holdout", "duration_holdout"]
_F64 = pa.float64()


@dataclass(frozen=True)
class Columns:
    """The log's column names the job reads."""

    customer: str
    time: str
    amount: str
    item: str | None = None
    merchant: str | None = None
    category: str | None = None
    place: str | None = None

    @property
    def risk_extras(self) -> list[str]:
        return [c for c in (self.merchant, self.category, self.place) if c is not None]

    def read(self, risk: bool) -> list[str]:
        names = [self.customer, self.time, self.amount, self.item, *(self.risk_extras if risk else [])]
        return [n for n in names if n is not None]


# -- merges on this machine ---------------------------------------------------


def counted(table: pa.Table, keys: Sequence[str], weights: str | None = None) -> pa.Table:
    """The distinct rows of the numeric columns ``keys``, in key order, with
    how many rows each stands for (``count``; the sum of ``weights`` when
    given). Sorting the float keys in numpy is several times faster here
    than Arrow's hash grouping."""
    columns = [table[k].to_numpy() for k in keys]
    order = np.lexsort(columns[::-1])
    columns = [c[order] for c in columns]
    starts = np.zeros(len(order), dtype=bool)
    starts[:1] = True
    for c in columns:
        starts[1:] |= c[1:] != c[:-1]
    first = np.flatnonzero(starts)
    per_row = np.ones(len(order), dtype=np.int64) if weights is None else table[weights].to_numpy()[order]
    counts = np.add.reduceat(per_row, first) if len(first) else per_row[:0]
    return pa.table({**{k: c[first] for k, c in zip(keys, columns)}, "count": counts})


def summed(table: pa.Table, keys: Sequence[str]) -> pa.Table:
    """:func:`counted` tables of several partitions added up, in key order
    (so a fit does not depend on how the log was split)."""
    return counted(table, keys, weights="count")


def _counts_schema(keys: Sequence[str]) -> pa.Schema:
    return pa.schema([*(pa.field(k, _F64) for k in keys), pa.field("count", pa.int64())])


_CLEANING = pa.schema([pa.field(f.name, _F64 if f.name == "returned_value" else pa.int64()) for f in fields(Cleaning)])


# -- steps (module-level, so only what each needs travels to a worker) --------


def _clean(part: pa.Table, cols: Columns, drop_duplicates: bool) -> pa.Table:
    return clean_log(decoded(part), cols.customer, cols.time, cols.amount, cols.item, drop_duplicates=drop_duplicates)[0]


def _cleaning_counts(part: pa.Table, cols: Columns) -> pa.Table:
    counts = clean_log(decoded(part), cols.customer, cols.time, cols.amount, cols.item, drop_duplicates=False)[1]
    return pa.table({k: [v] for k, v in counts.as_dict().items()})


def _bounds(part: pa.Table, time: str) -> pa.Table:
    return pa.table({"first": pa.array([pc.min(part[time])]), "last": pa.array([pc.max(part[time])]),
                     "rows": [part.num_rows]})  # fmt: skip


def _summary(part: pa.Table, cols: Columns, end: Any, freq: str) -> pa.Table:
    return rfm_summary(part, cols.customer, cols.time, cols.amount, observation_period_end=end, freq=freq,
                       output="pyarrow")  # fmt: skip


def _holdout_rows(part: pa.Table, cols: Columns, calibration_end: pa.Scalar, last: Any, freq: str,
                  duration: float) -> pa.Table:  # fmt: skip
    """The partition's calibration/holdout rows, counted. A partition may
    hold no customer before the calibration end (nothing to count) or no
    purchase after it (every holdout frequency is 0)."""
    times = part[cols.time]
    if not pc.any(pc.less_equal(times, calibration_end)).as_py():
        return _counts_schema(_HOLDOUT_COLUMNS).empty_table()
    end = calibration_end.as_py()
    if pc.any(pc.greater(times, calibration_end)).as_py():
        split = rfm_calibration_holdout(part, cols.customer, cols.time, end, observation_period_end=last, freq=freq,
                                        output="pyarrow")  # fmt: skip
    else:
        summary = rfm_summary(part, cols.customer, cols.time, observation_period_end=end, freq=freq, output="pyarrow")
        split = summary.rename_columns([f"{n}_cal" if n in PURCHASE_COLUMNS else n for n in summary.column_names])
        zeros = np.zeros(split.num_rows)
        split = split.append_column("frequency_holdout", pa.array(zeros)).append_column(
            "duration_holdout", pa.array(zeros + duration)
        )
    return counted(split, _HOLDOUT_COLUMNS)


#: Seed of the parameter draws of the table's intervals: every partition
#: (and every run) draws the same parameters.
INTERVAL_SEED = 0


def value_columns(interval: float | None) -> list[str]:
    """The customer table's value columns: with ``interval``, the lower and
    upper bounds of expected purchases and CLV from parameter uncertainty."""
    bounds = ["_lower", "_upper"] if interval is not None else []
    return ["probability_alive", *(f"expected_purchases{b}" for b in ["", *bounds]), *(f"clv{b}" for b in ["", *bounds])]


def _value(part: pa.Table, purchases: Any, spend: Any, periods: float, horizon: int, discount_rate: float,
           freq: str, interval: float | None = None) -> pa.Table:  # fmt: skip
    found = {"probability_alive": np.asarray(purchases.conditional_probability_alive(part))}
    value_args: dict[str, Any] = dict(time=horizon, discount_rate=discount_rate, freq=freq)
    if interval is None:
        found["expected_purchases"] = np.asarray(purchases.predict(periods, part))
        found["clv"] = np.asarray(spend.customer_lifetime_value(purchases, part, **value_args))
    else:
        bounds = dict(interval=interval, random_state=INTERVAL_SEED)
        for name, frame in (
            ("expected_purchases", purchases.predict(periods, part, **bounds)),
            ("clv", spend.customer_lifetime_value(purchases, part, **value_args, **bounds)),
        ):
            for column, suffix in (("estimate", ""), ("lower", "_lower"), ("upper", "_upper")):
                found[name + suffix] = frame[column].to_numpy()
    for name in value_columns(interval):
        part = part.append_column(name, pa.array(found[name]))
    return part


def _segments(part: pa.Table, cuts: np.ndarray, new_within: float) -> pa.Table:
    tiers = tiers_at(part["clv"].to_numpy(), cuts, TIER_LABELS)
    stages = clv.lifecycle_stages(part, part["probability_alive"].to_numpy(), new_within=new_within)
    part = part.append_column("value_tier", pa.array(tiers, pa.string()))
    return part.append_column("lifecycle_stage", pa.array(stages, pa.string()))


def _next_items(part: pa.Table, cols: Columns, recommender: Any, n: int) -> pa.Table:
    assert cols.item is not None
    again = buy_again(part, cols.customer, cols.time, cols.item, n)
    new = try_next(recommender, pc.unique(part[cols.customer]), cols.customer, cols.item, n)
    both = pa.concat_tables([again, new.select(again.column_names).cast(again.schema)])
    return both.sort_by([(cols.customer, "ascending"), ("kind", "ascending"), ("rank", "ascending")])


def _items_per_customer(part: pa.Table, cols: Columns) -> pa.Table:
    assert cols.item is not None
    out = pa.table({cols.customer: pc.unique(part[cols.customer])})
    for kind, name in (("again", "buy_again"), ("new", "try_next")):
        joined = joined_per_customer(part.filter(pc.equal(part["kind"], kind)), cols.customer, cols.item)
        out = attach(out, joined.rename_columns([cols.customer, name]), cols.customer)
    return out


def _baskets(part: pa.Table, cols: Columns) -> pa.Table:
    """One row per (customer, time): the lines of one purchase summed (a
    grocery export has a row per product), other columns from its first line."""
    extras = cols.risk_extras
    grouped = part.group_by([cols.customer, cols.time], use_threads=False).aggregate(
        [(cols.amount, "sum"), *[(c, "first") for c in extras]]
    )
    return grouped.rename_columns([cols.customer, cols.time, cols.amount, *extras])


def _whole_customers(part: pa.Table, customer: str, share: float) -> pa.Table:
    """Every row of a random ``share`` of the partition's customers."""
    ids = pc.unique(part[customer])
    keep = np.random.default_rng(len(ids)).random(len(ids)) < share
    return part.filter(pc.is_in(part[customer], value_set=ids.filter(pa.array(keep))))


def _scored(part: pa.Table, scorer: TransactionRiskScorer) -> pa.Table:
    scored = scorer.score(part, output="pyarrow")
    for name in ("risk_score", "alert", "reasons"):
        part = part.append_column(name, scored[name])
    return part


def _alerts(part: pa.Table) -> pa.Table:
    return part.filter(part["alert"]).drop_columns(["alert"]).sort_by([("risk_score", "descending")])


def _risk_per_customer(part: pa.Table, customer: str) -> pa.Table:
    """Alerts, highest score and the reasons of the riskiest alert."""
    per_customer = part.group_by(customer, use_threads=False).aggregate([("alert", "sum"), ("risk_score", "max")])
    per_customer = per_customer.rename_columns([customer, "n_alerts", "max_risk_score"])
    top = _alerts(part).group_by(customer, use_threads=False).aggregate([("reasons", "first")])
    return attach(per_customer, top.rename_columns([customer, "risk_reasons"]), customer)


def _no_alerts_as_zero(part: pa.Table) -> pa.Table:
    if "n_alerts" not in part.column_names:
        return part
    filled = pc.cast(pc.fill_null(part["n_alerts"], 0), pa.int64())
    return part.set_column(part.schema.get_field_index("n_alerts"), "n_alerts", filled)


def _row_count(part: pa.Table) -> pa.Table:
    return pa.table({"rows": [part.num_rows]})


# -- the job ---------------------------------------------------------------------


def run(
    engine: Engine,
    log: Any,
    cols: Columns,
    candidates: list[Any],
    stages: Any,
    *,
    freq: str,
    horizon: int,
    discount_rate: float,
    interval: float | None,
    holdout: float,
    n_items: int,
    risk: bool,
    alert_rate: float | None,
    drop_duplicates: bool,
    risk_fit_rows: int,
) -> dict[str, Any]:
    """The customer table of ``log`` on ``engine`` (see
    :func:`patronage.customer_table` for what each stage does): the fields of
    :class:`~patronage.customers.CustomerTable`, with ``customers`` for its
    table and the engine's frames."""
    key = cols.customer
    with stages.stage("read and clean"):
        raw = engine.read(log, cols.read(risk))
        clean_schema = _clean(engine.schema(raw).empty_table(), cols, drop_duplicates).schema
        counts = engine.collect(engine.apply(raw, partial(_cleaning_counts, cols=cols), _CLEANING))
        clean = engine.persist(
            engine.apply(engine.by_customer(raw, key), partial(_clean, cols=cols, drop_duplicates=drop_duplicates),
                         clean_schema)  # fmt: skip
        )
        time_type = clean_schema.field(cols.time).type
        bounds_schema = pa.schema([("first", time_type), ("last", time_type), ("rows", pa.int64())])
        bounds = engine.collect(engine.apply(clean, partial(_bounds, time=cols.time), bounds_schema))
        cleaning = _merged_cleaning(counts, kept=int(pc.sum(bounds["rows"]).as_py() or 0))
        if cleaning.kept == 0:
            dropped = ", ".join(f"{k.replace('_', ' ')} {n:,}" for k, n in cleaning.dropped().items())
            raise ValueError(f"no transactions left after cleaning (dropped: {dropped})")
        first, last = pc.min(bounds["first"]), pc.max(bounds["last"])

    customer_field = clean_schema.field(key)
    with stages.stage("summary"):
        summary_schema = pa.schema([customer_field, *(pa.field(n, _F64) for n in (*PURCHASE_COLUMNS, "monetary_value"))])
        summary = engine.persist(
            engine.apply(clean, partial(_summary, cols=cols, end=last.as_py(), freq=freq), summary_schema)
        )
    with stages.stage("purchase model"):
        comparisons, failures = (
            compare_on_holdout(engine, clean, cols, candidates, first, last, freq, holdout)
            if holdout > 0
            else ({}, {})
        )
        chosen, choice = choose(candidates, comparisons, failures)
        purchase_counts = summed(
            engine.collect(engine.apply(summary, partial(counted, keys=PURCHASE_COLUMNS),
                                        _counts_schema(PURCHASE_COLUMNS))),
            PURCHASE_COLUMNS,
        )  # fmt: skip
        purchases = chosen.fit(purchase_counts, weights="count")
    with stages.stage("value"):
        spend_keys = ["frequency", "monetary_value"]
        spend_counts = engine.collect(engine.apply(summary, partial(counted, keys=spend_keys), _counts_schema(spend_keys)))
        spend = clv.GammaGamma().fit(summed(spend_counts, spend_keys), weights="count")
        value_step = partial(_value, purchases=purchases, spend=spend, periods=horizon * _core.periods_per_month(freq),
                             horizon=horizon, discount_rate=discount_rate, freq=freq, interval=interval)  # fmt: skip
        valued_schema = summary_schema
        for name in value_columns(interval):
            valued_schema = valued_schema.append(pa.field(name, _F64))
        valued = engine.persist(engine.apply(summary, value_step, valued_schema))
    with stages.stage("segments"):
        values = engine.collect(engine.apply(valued, lambda part: part.select(["clv"]), pa.schema([("clv", _F64)])))
        cuts = tier_cuts(values["clv"].to_numpy(), TIER_QUANTILES, TIER_LABELS)
        counts_array = purchase_counts["count"].to_numpy()
        new_within = mean_time_between_purchases(
            purchase_counts["frequency"].to_numpy(), purchase_counts["recency"].to_numpy(), counts_array
        )
        segmented_schema = valued_schema.append(pa.field("value_tier", pa.string())).append(
            pa.field("lifecycle_stage", pa.string())
        )
        customers = engine.apply(valued, partial(_segments, cuts=cuts, new_within=new_within), segmented_schema)
    final_schema = segmented_schema

    next_items = recommender = None
    if cols.item is not None:
        with stages.stage("next items"):
            item_field = clean_schema.field(cols.item)
            pairs_schema = pa.schema([customer_field, item_field, pa.field("count", pa.int64())])
            pairs = engine.collect(engine.apply(clean, partial(item_pairs, customer=key, item=cols.item), pairs_schema))
            recommender = fit_next(pairs, key, cols.item)
            del pairs
            items_schema = pa.schema([customer_field, item_field, pa.field("rank", pa.int32()),
                                      pa.field("kind", pa.string()), pa.field("score", pa.float32()),
                                      pa.field("reason", pa.string())])  # fmt: skip
            next_items = engine.persist(
                engine.apply(clean, partial(_next_items, cols=cols, recommender=recommender, n=n_items), items_schema)
            )
            joined_schema = pa.schema([customer_field, pa.field("buy_again", pa.string()),
                                       pa.field("try_next", pa.string())])  # fmt: skip
            joined = engine.apply(next_items, partial(_items_per_customer, cols=cols), joined_schema)
            customers = engine.join(customers, joined, key)
            final_schema = pa.schema([*final_schema, *joined_schema.remove(0)])

    alerts = scorer = None
    n_baskets = None
    if risk:
        with stages.stage("risk"):
            scorer, alerts, per_customer, n_baskets = _risk(engine, clean, cols, clean_schema, alert_rate, risk_fit_rows)
            customers = engine.join(customers, per_customer, key)
            final_schema = pa.schema([*final_schema, *_risk_schema(customer_field).remove(0)])
    customers = engine.apply(customers, _no_alerts_as_zero, final_schema)

    return dict(
        customers=customers,
        next_items=next_items,
        alerts=alerts,
        holdout=comparisons,
        model_choice=choice,
        purchase_model=purchases,
        spend_model=spend,
        recommender=recommender,
        risk_scorer=scorer,
        cleaning=cleaning,
        settings={"freq": freq, "horizon_months": horizon, "discount_rate": discount_rate, "interval": interval,
                  "holdout": holdout,
                  "customer_col": key, "datetime_col": cols.time, "monetary_value_col": cols.amount,
                  "item_col": cols.item, "purchases_scored": n_baskets,
                  "first": str(first.as_py())[:10], "last": str(last.as_py())[:10]},  # fmt: skip
        timings=stages.timings,
    )


def _merged_cleaning(counts: pa.Table, kept: int) -> Cleaning:
    """The partitions' cleaning counts added up; duplicates are the rows the
    row rules kept that the partitions by customer then dropped."""
    total: dict[str, Any] = {name: pc.sum(counts[name]).as_py() or 0 for name in counts.column_names}
    return Cleaning(**{**total, "duplicates": total["kept"] - kept, "kept": kept})


def _risk_schema(customer: pa.Field) -> pa.Schema:
    return pa.schema([customer, pa.field("n_alerts", pa.int64()), pa.field("max_risk_score", _F64),
                      pa.field("risk_reasons", pa.string())])  # fmt: skip


def _risk(
    engine: Engine, clean: Any, cols: Columns, clean_schema: pa.Schema, alert_rate: float | None, fit_rows: int
) -> tuple[TransactionRiskScorer, Any, Any, int]:
    """Fit the transaction risk scorer on purchases (lines at the same customer
    and time summed) of whole customers, at most ``fit_rows`` of them, and
    score every purchase; the scorer, the alerts, the per-customer risk and
    the number of purchases scored."""
    key = cols.customer
    params: dict[str, Any] = dict(customer_col=key, time_col=cols.time, amount_col=cols.amount,
                                  merchant_col=cols.merchant, category_col=cols.category, place_col=cols.place)  # fmt: skip
    if alert_rate is not None:
        params["alert_rate"] = alert_rate
    extras = [clean_schema.field(c) for c in cols.risk_extras]
    baskets_schema = pa.schema([clean_schema.field(key), clean_schema.field(cols.time),
                                pa.field(cols.amount, _F64), *extras])  # fmt: skip
    baskets = engine.persist(engine.apply(clean, partial(_baskets, cols=cols), baskets_schema))
    rows = engine.collect(engine.apply(baskets, _row_count, pa.schema([("rows", pa.int64())])))
    n = int(pc.sum(rows["rows"]).as_py() or 0)
    if n > fit_rows:
        sample = engine.apply(baskets, partial(_whole_customers, customer=key, share=fit_rows / n), baskets_schema)
    else:
        sample = baskets
    scorer = TransactionRiskScorer(**params).fit(engine.collect(sample))
    scored_schema = baskets_schema.append(pa.field("risk_score", _F64)).append(pa.field("alert", pa.bool_())).append(
        pa.field("reasons", pa.string())
    )
    scored = engine.persist(engine.apply(baskets, partial(_scored, scorer=scorer.without_history()), scored_schema))
    alerts = engine.apply(scored, _alerts, scored_schema.remove(scored_schema.get_field_index("alert")))
    per_customer = engine.apply(scored, partial(_risk_per_customer, customer=key), _risk_schema(clean_schema.field(key)))
    return scorer, alerts, per_customer, n


# -- the purchase model ---------------------------------------------------------


def compare_on_holdout(
    engine: Engine, clean: Any, cols: Columns, candidates: list[Any], first: pa.Scalar, last: pa.Scalar, freq: str,
    holdout: float,
) -> tuple[dict[str, clv.HoldoutComparison], dict[str, str]]:  # fmt: skip
    """Fit each candidate on the first ``1 - holdout`` of the time span and
    compare its holdout predictions with the purchases made; failures are
    kept as messages."""
    start = first.as_py()
    calibration_end = pa.scalar(start + (last.as_py() - start) * (1.0 - holdout), type=first.type)
    try:  # the split's own checks, asked of a two-row log spanning the whole one
        span = pa.table({cols.customer: [0, 0], cols.time: pa.array([start, last.as_py()], type=first.type)})
        probe = rfm_calibration_holdout(span, cols.customer, cols.time, calibration_end.as_py(), freq=freq,
                                        output="pyarrow")  # fmt: skip
    except ValueError as error:  # e.g. a log shorter than a few periods
        return {}, {"the holdout split": str(error)}
    step = partial(_holdout_rows, cols=cols, calibration_end=calibration_end, last=last.as_py(), freq=freq,
                   duration=probe["duration_holdout"][0].as_py())  # fmt: skip
    rows = summed(engine.collect(engine.apply(clean, step, _counts_schema(_HOLDOUT_COLUMNS))), _HOLDOUT_COLUMNS)
    calibration = summed(rows.select([*_HOLDOUT_COLUMNS[:3], "count"]).rename_columns([*PURCHASE_COLUMNS, "count"]),
                         PURCHASE_COLUMNS)  # fmt: skip
    comparisons, failures = {}, {}
    for candidate in candidates:
        name = type(candidate).__name__
        try:
            fitted = candidate.__class__(**candidate.get_params()).fit(calibration, weights="count")
            comparisons[name] = clv.calibration_holdout_comparison(fitted, rows, weights="count")
        except ValueError as error:
            failures[name] = str(error)
    return comparisons, failures


def choose(
    candidates: list[Any], comparisons: dict[str, clv.HoldoutComparison], failures: dict[str, str]
) -> tuple[Any, str]:
    """The candidate to refit on the whole log, and a sentence saying why."""
    if not comparisons:
        first = candidates[0]
        why = "no holdout comparison (holdout=0)" if not failures else "no model could be compared on the holdout"
        notes = "".join(f"; {n}: {e}" for n, e in failures.items())
        return first, f"{type(first).__name__}: {why}{notes}"
    ranked = sorted(comparisons, key=lambda n: comparisons[n].mae)
    maes = ", ".join(f"{n} {comparisons[n].mae:.3f}" for n in ranked)
    reason = f"{ranked[0]}: smallest mean absolute error of holdout purchases per customer ({maes})"
    reason += "".join(f"; {n} not fitted: {e}" for n, e in failures.items())
    return next(c for c in candidates if type(c).__name__ == ranked[0]), reason
