"""Segmentation: RFM scores, value tiers and lifecycle stages."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from .._frames import arrow_stream, build_frame, resolve_kind
from ._base import _count, _numeric_columns, _values

__all__ = ["rfm_scores", "value_tiers", "lifecycle_stages"]


def _quantile_scores(values: np.ndarray, n_bins: int) -> np.ndarray:
    """Scores 1..n_bins by rank (ties share the average rank, so equal values score equally)."""
    order = np.argsort(values, kind="stable")
    ranks = np.empty(len(values))
    ranks[order] = np.arange(1, len(values) + 1)
    sorted_values = values[order]
    starts = np.flatnonzero(np.r_[True, sorted_values[1:] != sorted_values[:-1]])
    ends = np.r_[starts[1:], len(values)]
    mean_rank = (starts + ends + 1) / 2.0  # average of ranks starts+1 .. ends
    ranks[order] = np.repeat(mean_rank, ends - starts)
    return np.clip(np.ceil(ranks / len(values) * n_bins), 1, n_bins).astype(np.int64)


def _column_names(table: Any) -> list[str]:
    if isinstance(table, Mapping):
        return list(table)
    if isinstance(table, (pa.Table, pa.RecordBatch)):
        return table.schema.names
    if hasattr(table, "columns"):  # pandas, polars
        return [str(c) for c in table.columns]
    return pa.table(arrow_stream(table, None, argument="summary")).column_names


def rfm_scores(summary: Any, n_bins: int = 5, *, customer_col: str | None = None, output: str | None = None) -> Any:
    """RFM scores: quantile bins ``1..n_bins`` of recency, frequency and spend.

    ``summary`` has ``frequency``, ``recency`` and ``T`` (and optionally
    ``monetary_value``), e.g. from :func:`patronage.rfm_summary`.  The recency
    score rewards a recent last purchase (small ``T - recency``), the others
    larger values; 5 is best with the default bins.  ``rfm_segment`` joins the
    three digits (``"545"``; so ``n_bins`` is at most 9), ``rfm_score`` sums
    them.

    Example:
        >>> from patronage.clv import rfm_scores
        >>> s = {"frequency": [0, 3, 8, 1], "recency": [0, 20, 38, 5], "T": [39, 39, 39, 39],
        ...      "monetary_value": [0.0, 20.0, 35.0, 12.0]}
        >>> rfm_scores(s, n_bins=4, output="pandas")["rfm_segment"].tolist()
        ['111', '333', '444', '222']
    """
    n_bins = _count(n_bins, "n_bins", 2, 9)
    names = ["frequency", "recency", "T"]
    if customer_col is not None and getattr(getattr(summary, "index", None), "name", None) == customer_col:
        summary = summary.reset_index()  # pandas summaries keep the customer id as their index
    has_money = "monetary_value" in _column_names(summary)
    cols = _numeric_columns(summary, names + (["monetary_value"] if has_money else []), "summary")
    if len(cols["frequency"]) == 0:
        raise ValueError("summary is empty")
    out: dict[str, Any] = {}
    if customer_col:
        ids = pa.table(arrow_stream(summary, [customer_col], argument="summary")).column(customer_col)
        out[customer_col] = ids.combine_chunks()
    scores = {
        "recency_score": _quantile_scores(-(cols["T"] - cols["recency"]), int(n_bins)),
        "frequency_score": _quantile_scores(cols["frequency"], int(n_bins)),
    }
    if has_money:
        scores["monetary_score"] = _quantile_scores(cols["monetary_value"], int(n_bins))
    out.update(scores)
    out["rfm_score"] = sum(scores.values())
    segment = np.char.add(scores["recency_score"].astype(str), scores["frequency_score"].astype(str))
    if has_money:
        segment = np.char.add(segment, scores["monetary_score"].astype(str))
    out["rfm_segment"] = pa.array(segment.tolist(), pa.string())
    return build_frame(out, resolve_kind(output, summary), index=customer_col)


def _wrap_like(like: Any, labels: np.ndarray, categories: Sequence[str], name: str) -> Any:
    module = type(like).__module__.split(".", 1)[0]
    if module == "pandas":
        import pandas as pd

        return pd.Series(pd.Categorical(labels, categories=list(categories), ordered=True), index=getattr(like, "index", None), name=name)
    if module == "polars":
        import polars as pl

        return pl.Series(name, labels, dtype=pl.Enum(list(categories)))
    return labels


#: :func:`value_tiers`' default cuts and names.
TIER_QUANTILES = (0.5, 0.8, 0.95)
TIER_LABELS = ("low", "medium", "high", "top")


def value_tiers(
    values: Any,
    quantiles: Sequence[float] = TIER_QUANTILES,
    labels: Sequence[str] = TIER_LABELS,
) -> Any:
    """Value tiers from customer values (e.g. CLV) cut at ``quantiles``.

    With the defaults: the bottom half is ``"low"``, the next 30%
    ``"medium"``, the next 15% ``"high"`` and the top 5% ``"top"``.  Returns an
    ordered categorical pandas Series for pandas input, a polars Enum Series
    for polars input, otherwise a numpy array of labels.

    Example:
        >>> from patronage.clv import value_tiers
        >>> value_tiers([1.0, 5.0, 2.0, 100.0, 3.0], quantiles=(0.5, 0.9), labels=("low", "mid", "top")).tolist()
        ['low', 'mid', 'low', 'top', 'mid']
    """
    array = _values(values, "values")
    cuts = tier_cuts(array, quantiles, labels)
    return _wrap_like(values, tiers_at(array, cuts, labels), labels, "value_tier")


def tier_cuts(values: np.ndarray, quantiles: Sequence[float], labels: Sequence[str]) -> np.ndarray:
    """The values at ``quantiles`` of all ``values``: where tiers change
    (computed once over every customer, then applied part by part)."""
    q = np.asarray(quantiles, dtype=np.float64)
    if len(labels) != len(q) + 1:
        raise ValueError(f"labels needs {len(q) + 1} names for {len(q)} quantiles, got {len(labels)}")
    if np.any((q <= 0) | (q >= 1)) or np.any(np.diff(q) <= 0):
        raise ValueError(f"quantiles must increase strictly within (0, 1), got {list(quantiles)}")
    if not np.all(np.isfinite(values)):
        raise ValueError("values contains NaN or infinite values")
    return np.quantile(values, q) if len(values) else q


def tiers_at(values: np.ndarray, cuts: np.ndarray, labels: Sequence[str]) -> np.ndarray:
    """The label of each value's tier given the ``cuts`` of :func:`tier_cuts`."""
    return np.asarray(labels, dtype=object)[np.searchsorted(cuts, values, side="right")]


_STAGES = ("new", "active", "at risk", "lapsed")


def lifecycle_stages(
    summary: Any,
    probability_alive: Any,
    *,
    new_within: float | None = None,
    at_risk_below: float = 0.5,
    lapsed_below: float = 0.2,
) -> Any:
    """Lifecycle stage of each customer: ``new``, ``active``, ``at risk`` or ``lapsed``.

    * ``new``: no repeat purchase yet and first purchase within ``new_within``
      periods of the end of observation (default: the mean time between
      purchases of repeat customers, i.e. too early to expect a repeat);
    * ``lapsed``: probability alive below ``lapsed_below``;
    * ``at risk``: probability alive below ``at_risk_below``;
    * ``active``: everyone else.

    ``probability_alive`` comes from a fitted model's
    ``conditional_probability_alive``.

    Example:
        >>> from patronage.clv import BetaGeo, lifecycle_stages
        >>> m = BetaGeo.from_params({"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426})
        >>> s = {"frequency": [0, 0, 4, 4, 2], "recency": [0, 0, 37, 10, 30], "T": [2, 38, 38, 38, 38]}
        >>> lifecycle_stages(s, m.conditional_probability_alive(s), new_within=4).tolist()
        ['new', 'active', 'active', 'lapsed', 'active']
    """
    if not (0 <= lapsed_below <= at_risk_below <= 1):
        raise ValueError("thresholds must satisfy 0 <= lapsed_below <= at_risk_below <= 1")
    cols = _numeric_columns(summary, ["frequency", "recency", "T"], "summary")
    f, r, T = cols["frequency"], cols["recency"], cols["T"]
    alive = _values(probability_alive, "probability_alive")
    if len(alive) != len(f):
        raise ValueError(f"probability_alive has {len(alive)} values for {len(f)} customers")
    if not np.all((alive >= 0) & (alive <= 1)):
        raise ValueError("probability_alive must hold probabilities in [0, 1] (no NaN)")
    if new_within is None:
        new_within = mean_time_between_purchases(f, r)
    stage = np.where(alive < lapsed_below, 3, np.where(alive < at_risk_below, 2, 1))
    stage = np.where((f == 0) & (T <= new_within), 0, stage)
    return _wrap_like(summary, np.asarray(_STAGES, dtype=object)[stage], _STAGES, "lifecycle_stage")


def mean_time_between_purchases(frequency: np.ndarray, recency: np.ndarray, weights: Any = None) -> float:
    """Mean of recency / frequency over repeat customers (0 without any):
    :func:`lifecycle_stages`' default ``new_within``; ``weights`` counts
    customers per row of a collapsed summary."""
    repeat = frequency > 0
    if not repeat.any():
        return 0.0
    w = None if weights is None else np.asarray(weights, dtype=np.float64)[repeat]
    return float(np.average(recency[repeat] / frequency[repeat], weights=w))
