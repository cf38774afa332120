"""The main job: from a transaction log to one row per customer.

:func:`customer_table` runs every core on the user's own log: the RFM
summary, a purchase model chosen on a holdout period, Gamma-Gamma spend and
discounted value, segments, next items (again and new, with reasons) and
transaction risk (alerts, with reasons).
"""

from __future__ import annotations

import time as _time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from . import _core, clv
from ._clean import Cleaning, clean_log, read_log
from ._frames import FrameKind, from_arrow, resolve_kind
from ._next_items import buy_again, joined_per_customer, try_next
from .anomaly import TransactionRiskScorer
from .summary import rfm_calibration_holdout, rfm_summary

#: The purchase models ``model="auto"`` compares on the holdout period.
PURCHASE_MODELS = (clv.BetaGeo, clv.ModifiedBetaGeo, clv.ParetoNBD)


@dataclass
class CustomerTable:
    """Result of :func:`customer_table`.

    Attributes:
        table: one row per customer (pandas: indexed by customer id).
        next_items: with an item column, one row per (customer, item)
            suggested: ``rank``, ``kind`` (``"again"`` or ``"new"``),
            ``score`` and ``reason``; else None.
        alerts: with ``risk=True``, the alerted transactions, riskiest
            first, with ``risk_score`` and ``reasons``; else None.
        holdout: per purchase model compared, its
            :class:`~patronage.clv.HoldoutComparison` on the holdout period.
        model_choice: which purchase model was used and why.
        purchase_model, spend_model, recommender, risk_scorer: the fitted
            models (refitted on the whole log), for reuse.
        cleaning: what cleaning the log dropped (:class:`Cleaning`).
        settings: horizon, discount rate and period used.
        timings: seconds per stage.
    """

    table: Any
    next_items: Any
    alerts: Any
    holdout: dict[str, clv.HoldoutComparison]
    model_choice: str
    purchase_model: Any
    spend_model: Any
    recommender: Any
    risk_scorer: Any
    cleaning: Cleaning
    settings: dict[str, Any]
    timings: dict[str, float] = field(default_factory=dict)
    _customers: pa.Table | None = field(default=None, repr=False)
    _alerts: pa.Table | None = field(default=None, repr=False)
    _next_items: pa.Table | None = field(default=None, repr=False)

    def summary(self, top: int = 5) -> str:
        """A short text summary: customers, share active, predicted value,
        the most valuable customers, alerts with reasons, and cleaning."""
        from ._report import text_summary

        return text_summary(self, top=top)

    def to_html(self, path: Any = None) -> str:
        """A self-contained HTML report (plots embedded; needs matplotlib);
        written to ``path`` when given (whole or not at all)."""
        from ._report import html_report

        return html_report(self, path)

    def _repr_html_(self) -> str:
        import html

        return f"<pre>{html.escape(self.summary())}</pre>"

    def __repr__(self) -> str:
        return f"CustomerTable({self.cleaning.kept:,} transactions, {len(self.table):,} customers)"


class _Stages:
    """Times each stage and advances a progress bar (tqdm, terminal or notebook)."""

    def __init__(self, names: list[str], show: bool) -> None:
        self.timings: dict[str, float] = {}
        self.bar = None
        if show:  # tqdm.auto warns on import where notebook widgets are missing
            from tqdm.auto import tqdm

            self.bar = tqdm(total=len(names), unit="step", leave=False, delay=1.0)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        if self.bar is not None:
            self.bar.set_description(name, refresh=False)
        start = _time.perf_counter()
        try:
            yield
        finally:
            self.timings[name] = _time.perf_counter() - start
            if self.bar is not None:
                self.bar.update()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _purchase_model(model: Any) -> list[Any]:
    """The candidate purchase models for ``model`` ("auto", a class name or an estimator)."""
    if isinstance(model, str):
        if model == "auto":
            return [m() for m in PURCHASE_MODELS]
        by_name = {m.__name__: m for m in PURCHASE_MODELS}
        if model not in by_name:
            raise ValueError(f"model must be 'auto' or one of {sorted(by_name)}, got {model!r}")
        return [by_name[model]()]
    if isinstance(model, PURCHASE_MODELS):
        return [model.__class__(**model.get_params())]  # the caller's estimator stays unfitted
    raise TypeError(f"model must be 'auto', a model name or a BetaGeo/ModifiedBetaGeo/ParetoNBD, got {model!r}")


def _calibration_end(times: pa.ChunkedArray, holdout: float) -> Any:
    first, last = pc.min(times).as_py(), pc.max(times).as_py()
    return first + (last - first) * (1.0 - holdout)


def _compare_on_holdout(
    candidates: list[Any], log: pa.Table, customer: str, time: str, freq: str, holdout: float
) -> tuple[dict[str, clv.HoldoutComparison], dict[str, str]]:
    """Fit each candidate on the calibration period and compare its holdout
    predictions with the purchases made; failures are kept as messages."""
    try:
        split = rfm_calibration_holdout(
            log, customer, time, _calibration_end(log[time], holdout), freq=freq, output="pyarrow"
        )
    except ValueError as error:  # e.g. a log shorter than a few periods
        return {}, {"the holdout split": str(error)}
    calibration = split.rename_columns(
        [{"frequency_cal": "frequency", "recency_cal": "recency", "T_cal": "T"}.get(n, n) for n in split.column_names]
    )
    comparisons, failures = {}, {}
    for candidate in candidates:
        name = type(candidate).__name__
        try:
            fitted = candidate.__class__(**candidate.get_params()).fit(calibration)
            comparisons[name] = clv.calibration_holdout_comparison(fitted, split)
        except ValueError as error:
            failures[name] = str(error)
    return comparisons, failures


def customer_table(
    log: Any,
    customer_col: str,
    datetime_col: str,
    monetary_value_col: str,
    item_col: str | None = None,
    *,
    freq: str = "W",
    horizon: int = 12,
    discount_rate: float = 0.01,
    model: Any = "auto",
    holdout: float = 0.25,
    n_items: int = 5,
    risk: bool = True,
    merchant_col: str | None = None,
    category_col: str | None = None,
    place_col: str | None = None,
    alert_rate: float | None = None,
    drop_duplicates: bool = True,
    show_progress: bool = False,
    output: FrameKind | None = None,
) -> CustomerTable:
    """One row per customer from a transaction log: value, churn risk, next items and alerts.

    Steps (each on the cleaned log, see :class:`~patronage._clean.Cleaning`
    for the rows dropped: missing ids, times or amounts, returns, zero
    amounts and exact duplicates):

    1. RFM summary in periods of ``freq`` (:func:`patronage.rfm_summary`).
    2. Purchase model: with ``model="auto"``, BG/NBD, MBG/NBD and Pareto/NBD
       are fitted on the first ``1 - holdout`` of the log's time span and the
       one whose predicted holdout purchases have the smallest mean absolute
       error per customer is refitted on the whole log (``holdout=0`` skips the
       comparison and uses BG/NBD). A model name or estimator is used as given
       (still compared on the holdout when ``holdout > 0``).
    3. Gamma-Gamma spend and discounted CLV over ``horizon`` months at
       ``discount_rate`` per month; expected purchases over the same horizon.
    4. Segments: :func:`~patronage.clv.value_tiers` on CLV and
       :func:`~patronage.clv.lifecycle_stages` on P(alive).
    5. With ``item_col``: up to ``n_items`` items to buy again (bought at
       least twice; most often, then most recently) and up to ``n_items`` new
       items (item-kNN, with the customer's item that adds most to the score).
    6. With ``risk=True``: :class:`~patronage.anomaly.TransactionRiskScorer`
       on every transaction (``merchant_col``/``category_col``/``place_col``
       enrich it; ``alert_rate`` overrides its default share of alerts).

    Columns of ``table``: ``frequency``, ``recency``, ``T``,
    ``monetary_value``, ``probability_alive``, ``expected_purchases``,
    ``clv``, ``value_tier``, ``lifecycle_stage``; with items ``buy_again``
    and ``try_next`` (items joined by ", "); with risk ``n_alerts``,
    ``max_risk_score`` and ``risk_reasons`` (of the customer's riskiest
    alert).

    Args:
        log: the transactions (pandas, polars, pyarrow or Arrow PyCapsule).
        customer_col, datetime_col, monetary_value_col, item_col: column names.
            Times may be dates, datetimes or ISO 8601 text.
        output: kind of the frames returned; defaults to the kind of ``log``.

    Returns:
        A :class:`CustomerTable`; ``print(result.summary())`` for the gist,
        ``result.to_html("report.html")`` for the report.

    Raises:
        ValueError: a column is missing, no rows are left after cleaning, or
            an argument is out of range.
        TypeError: a column has the wrong type.

    Example:
        >>> import patronage
        >>> from patronage.datasets import simulate_transactions
        >>> log, _ = simulate_transactions(2000, seed=1)
        >>> result = patronage.customer_table(log, "customer_id", "timestamp", "amount", "item_id")
        >>> list(result.table.columns[:4])
        ['frequency', 'recency', 'T', 'monetary_value']
        >>> result.table["lifecycle_stage"].isin(["new", "active", "at risk", "lapsed"]).all()
        np.True_
    """
    if not 0 <= holdout < 1:
        raise ValueError(f"holdout must be a share of the time span in [0, 1), got {holdout!r}")
    if isinstance(n_items, bool) or not isinstance(n_items, int) or n_items < 1:
        raise ValueError(f"n_items must be a whole number >= 1, got {n_items!r}")
    candidates = _purchase_model(model)
    kind = resolve_kind(output, log)
    months_to_periods = _core.periods_per_month(freq)
    extra = [merchant_col, category_col, place_col] if risk else []
    names = ["read and clean", "summary", "purchase model", "value", "segments"]
    names += ["next items"] * (item_col is not None) + ["risk"] * risk
    stages = _Stages(names, show_progress)
    try:
        with stages.stage("read and clean"):
            raw = read_log(log, [customer_col, datetime_col, monetary_value_col, item_col, *extra])
            clean, cleaning = clean_log(
                raw, customer_col, datetime_col, monetary_value_col, item_col, drop_duplicates=drop_duplicates
            )
            del raw
            if clean.num_rows == 0:
                dropped = ", ".join(f"{k.replace('_', ' ')} {n:,}" for k, n in cleaning.dropped().items())
                raise ValueError(f"no transactions left after cleaning (dropped: {dropped})")
        with stages.stage("summary"):
            summary = rfm_summary(clean, customer_col, datetime_col, monetary_value_col, freq=freq, output="pyarrow")
        with stages.stage("purchase model"):
            comparisons, failures = (
                _compare_on_holdout(candidates, clean, customer_col, datetime_col, freq, holdout)
                if holdout > 0
                else ({}, {})
            )
            chosen, choice = _choose(candidates, comparisons, failures)
            purchases = chosen.fit(summary)
        with stages.stage("value"):
            alive = np.asarray(purchases.conditional_probability_alive(summary))
            expected = np.asarray(purchases.predict(horizon * months_to_periods, summary))
            spend = clv.GammaGamma().fit(summary)
            value = np.asarray(
                spend.customer_lifetime_value(
                    purchases, summary, time=horizon, discount_rate=discount_rate, freq=freq
                )
            )
        with stages.stage("segments"):
            tiers = clv.value_tiers(value)
            stage = clv.lifecycle_stages(summary, alive)
        customers = summary.append_column("probability_alive", pa.array(alive))
        customers = customers.append_column("expected_purchases", pa.array(expected))
        customers = customers.append_column("clv", pa.array(value))
        customers = customers.append_column("value_tier", pa.array(tiers, pa.string()))
        customers = customers.append_column("lifecycle_stage", pa.array(stage, pa.string()))

        next_items = recommender = None
        if item_col is not None:
            with stages.stage("next items"):
                again = buy_again(clean, customer_col, datetime_col, item_col, n_items)
                new, recommender = try_next(clean, customer_col, item_col, n_items)
                for name, items in (("buy_again", again), ("try_next", new)):
                    joined = joined_per_customer(items, customer_col, item_col)
                    customers = _attach(customers, joined, customer_col, {item_col: name})
                next_items = pa.concat_tables([again, new.cast(again.schema)]).sort_by(
                    [(customer_col, "ascending"), ("kind", "ascending"), ("rank", "ascending")]
                )

        alerts = scorer = purchases_scored = None
        if risk:
            with stages.stage("risk"):
                scorer, alerts, per_customer, purchases_scored = _risk(
                    clean, customer_col, datetime_col, monetary_value_col, merchant_col, category_col, place_col,
                    alert_rate,
                )  # fmt: skip
                customers = _attach(customers, per_customer, customer_col)
                n_alerts = pc.cast(pc.fill_null(customers["n_alerts"], 0), pa.int64())
                customers = customers.set_column(customers.schema.get_field_index("n_alerts"), "n_alerts", n_alerts)
    finally:
        stages.close()

    return CustomerTable(
        table=from_arrow(customers, kind, index=customer_col),
        next_items=None if next_items is None else from_arrow(next_items, kind),
        alerts=None if alerts is None else from_arrow(alerts, kind),
        holdout=comparisons,
        model_choice=choice,
        purchase_model=purchases,
        spend_model=spend,
        recommender=recommender,
        risk_scorer=scorer,
        cleaning=cleaning,
        settings={"freq": freq, "horizon_months": horizon, "discount_rate": discount_rate, "holdout": holdout,
                  "customer_col": customer_col, "datetime_col": datetime_col,
                  "monetary_value_col": monetary_value_col, "item_col": item_col,
                  "purchases_scored": purchases_scored,
                  "first": _day(pc.min(clean[datetime_col])), "last": _day(pc.max(clean[datetime_col]))},  # fmt: skip
        timings=stages.timings,
        _customers=customers,
        _alerts=alerts,
        _next_items=next_items,
    )


def _day(scalar: pa.Scalar) -> str:
    return str(scalar.as_py())[:10]


def _choose(
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


def _attach(customers: pa.Table, per_customer: pa.Table, key: str, rename: dict[str, str] | None = None) -> pa.Table:
    """Add the columns of ``per_customer`` (one row per some customers; names
    changed by ``rename``) to ``customers`` in its row order, null where a
    customer has no row."""
    rows = pc.index_in(customers[key], value_set=per_customer[key].combine_chunks())
    for name in per_customer.column_names:
        if name != key:
            column = per_customer[name].combine_chunks().take(rows)
            customers = customers.append_column((rename or {}).get(name, name), column)
    return customers


def _baskets(log: pa.Table, customer: str, time: str, amount: str, others: list[str]) -> pa.Table:
    """One row per (customer, time): the lines of one purchase summed (a
    grocery export has a row per product), other columns from its first line."""
    grouped = log.group_by([customer, time], use_threads=False).aggregate(
        [(amount, "sum"), *[(c, "first") for c in others]]
    )
    return grouped.rename_columns([customer, time, amount, *others])


def _risk(
    log: pa.Table,
    customer: str,
    time: str,
    amount: str,
    merchant: str | None,
    category: str | None,
    place: str | None,
    alert_rate: float | None,
) -> tuple[TransactionRiskScorer, pa.Table, pa.Table, int]:
    """Fit and score the transaction risk model on purchases (lines at the
    same customer and time summed); the alerts, riskiest first, and per
    customer: alerts, highest score and the reasons of the riskiest alert."""
    params: dict[str, Any] = dict(customer_col=customer, time_col=time, amount_col=amount, merchant_col=merchant,
                                  category_col=category, place_col=place)  # fmt: skip
    if alert_rate is not None:
        params["alert_rate"] = alert_rate
    baskets = _baskets(log, customer, time, amount, [c for c in (merchant, category, place) if c is not None])
    scorer = TransactionRiskScorer(**params).fit(baskets)
    scored = scorer.score(baskets, output="pyarrow")
    scored = baskets.append_column("risk_score", scored["risk_score"]).append_column(
        "alert", scored["alert"]
    ).append_column("reasons", scored["reasons"])
    alerts = scored.filter(scored["alert"]).drop_columns(["alert"]).sort_by([("risk_score", "descending")])
    per_customer = scored.group_by(customer).aggregate([("alert", "sum"), ("risk_score", "max")])
    top_reasons = alerts.group_by(customer, use_threads=False).aggregate([("reasons", "first")])
    per_customer = _attach(
        per_customer.rename_columns([customer, "n_alerts", "max_risk_score"]),
        top_reasons,
        customer,
        {"reasons_first": "risk_reasons"},
    )
    return scorer, alerts, per_customer, baskets.num_rows
