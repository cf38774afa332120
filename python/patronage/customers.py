"""The main job: from a transaction log to one row per customer.

:func:`customer_table` runs every core on the user's own log: the RFM
summary, a purchase model chosen on a holdout period, Gamma-Gamma spend and
discounted value, segments, next items (again and new, with reasons) and
transaction risk (alerts, with reasons).
"""

from __future__ import annotations

import inspect
import time as _time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from . import _job, clv
from ._clean import Cleaning
from ._engines import Local
from ._frames import FrameKind, resolve_kind
from ._job import Columns

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

    def _require_local(self, what: str) -> None:
        if self._customers is None:
            raise ValueError(
                f"{what} reads the whole table on one machine; on Dask or Spark, write result.table out "
                "(or collect a part of it) and report from there"
            )

    def summary(self, top: int = 5) -> str:
        """A short text summary: customers, share active, predicted value,
        the most valuable customers, alerts with reasons, and cleaning."""
        from ._report import text_summary

        self._require_local("summary()")
        return text_summary(self, top=top)

    def to_html(self, path: Any = None) -> str:
        """A self-contained HTML report (plots embedded; needs matplotlib);
        written to ``path`` when given (whole or not at all)."""
        from ._report import html_report

        self._require_local("to_html()")
        return html_report(self, path)

    def _repr_html_(self) -> str:
        import html

        return f"<pre>{html.escape(self.summary() if self._customers is not None else repr(self))}</pre>"

    def __repr__(self) -> str:
        customers = f", {len(self.table):,} customers" if self._customers is not None else ""
        return f"CustomerTable({self.cleaning.kept:,} transactions{customers})"


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
    interval: float | None = None,
    model: Any = "auto",
    holdout: float = 0.25,
    n_items: int = 5,
    risk: bool = True,
    merchant_col: str | None = None,
    category_col: str | None = None,
    place_col: str | None = None,
    alert_rate: float | None = None,
    drop_duplicates: bool = True,
    risk_fit_rows: int = 10_000_000,
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
       With ``interval`` (e.g. 0.9), each also gets ``_lower`` and
       ``_upper`` bounds from the uncertainty of the models' parameters
       (the default number of draws, with a fixed seed; see
       :mod:`patronage.clv`).
    4. Segments: :func:`~patronage.clv.value_tiers` on CLV and
       :func:`~patronage.clv.lifecycle_stages` on P(alive).
    5. With ``item_col``: up to ``n_items`` items to buy again (bought at
       least twice; most often, then most recently) and up to ``n_items`` new
       items (item-kNN, with the customer's item that adds most to the score).
    6. With ``risk=True``: :class:`~patronage.anomaly.TransactionRiskScorer`
       on every transaction (``merchant_col``/``category_col``/``place_col``
       enrich it; ``alert_rate`` overrides its default share of alerts),
       fitted on every purchase, or on the purchases of a random sample of
       whole customers when there are more than ``risk_fit_rows``.

    The purchase and spend models fit on the summary's distinct rows with
    their counts (the same maximum as one row per customer). The same steps
    run on Dask and Spark (:func:`patronage.dask.customer_table`,
    :func:`patronage.spark.customer_table`).

    Columns of ``table``: ``frequency``, ``recency``, ``T``,
    ``monetary_value``, ``probability_alive``, ``expected_purchases``,
    ``clv``, ``value_tier``, ``lifecycle_stage`` (with ``interval``,
    ``expected_purchases_lower``, ``expected_purchases_upper``,
    ``clv_lower`` and ``clv_upper`` after their estimates); with items ``buy_again``
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
    return _on(Local(), dict(locals()))


def _on_engine(engine: Any, log: Any, *columns: str | None, **options: Any) -> CustomerTable:
    """:func:`customer_table` with its steps run by ``engine`` (see
    :mod:`patronage._engines`; :mod:`patronage.dask` and :mod:`patronage.spark`
    pass theirs); arguments and defaults are :func:`customer_table`'s."""
    bound = inspect.signature(customer_table).bind(log, *columns, **options)
    bound.apply_defaults()
    return _on(engine, bound.arguments)


def _on(engine: Any, args: dict[str, Any]) -> CustomerTable:
    if not 0 <= args["holdout"] < 1:
        raise ValueError(f"holdout must be a share of the time span in [0, 1), got {args['holdout']!r}")
    for name in ("n_items", "risk_fit_rows"):
        value = args[name]
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a whole number >= 1, got {value!r}")
    candidates = _purchase_model(args["model"])
    cols = Columns(*(args[f"{c}_col"] for c in ("customer", "datetime", "monetary_value", "item", "merchant",
                                                 "category", "place")))  # fmt: skip
    options = {k: args[k] for k in ("freq", "horizon", "discount_rate", "interval", "holdout", "n_items", "risk",
                                     "alert_rate", "drop_duplicates", "risk_fit_rows")}  # fmt: skip
    kind = resolve_kind(args["output"], args["log"]) if isinstance(engine, Local) else None
    return _run_job(engine, args["log"], cols, candidates, args["show_progress"], kind, **options)


def _run_job(engine: Any, log: Any, cols: Columns, candidates: list[Any], show_progress: bool, kind: Any,
             **options: Any) -> CustomerTable:  # fmt: skip
    """The customer table on ``engine``, its frames as the caller gets them."""
    names = ["read and clean", "summary", "purchase model", "value", "segments"]
    names += ["next items"] * (cols.item is not None) + ["risk"] * options["risk"]
    stages = _Stages(names, show_progress)
    try:
        found = _job.run(engine, log, cols, candidates, stages, **options)
    finally:
        stages.close()
    frames = {name: found.pop(name) for name in ("customers", "next_items", "alerts")}
    local = isinstance(engine, Local)
    return CustomerTable(
        table=engine.output(frames["customers"], kind, index=cols.customer),
        next_items=None if frames["next_items"] is None else engine.output(frames["next_items"], kind),
        alerts=None if frames["alerts"] is None else engine.output(frames["alerts"], kind),
        **found,
        _customers=frames["customers"] if local else None,
        _alerts=frames["alerts"] if local else None,
        _next_items=frames["next_items"] if local else None,
    )
