"""Model checking: calibration/holdout comparison, period-transaction
histograms and frequency/recency matrices, with optional matplotlib plots."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .._frames import build_frame, resolve_kind
from ._base import ClvEstimator, _count, _number, _numeric_columns
from ._models import _PurchaseModel

__all__ = [
    "HoldoutComparison",
    "calibration_holdout_comparison",
    "period_transactions",
    "frequency_recency_matrix",
]


def _require_purchase_model(model: Any) -> _PurchaseModel:
    if not isinstance(model, _PurchaseModel):
        raise TypeError(f"model must be a fitted BetaGeo, ModifiedBetaGeo or ParetoNBD, got {type(model).__name__}")
    model._check_fitted()
    return model


def _check_max_frequency(max_frequency: int) -> int:
    # One row per frequency: beyond a few thousand the table says nothing more.
    return _count(max_frequency, "max_frequency", 1, 10_000)


@dataclass
class HoldoutComparison:
    """Result of :func:`calibration_holdout_comparison`.

    Attributes:
        by_frequency: per calibration frequency (the last row pools
            ``max_frequency`` and more): customers, mean actual and mean
            predicted holdout purchases.
        predicted, actual: per-customer holdout purchases.
        mae: mean absolute error per customer; ``mae_by_frequency``: mean absolute
            error of the group means (the figure the papers plot).
    """

    by_frequency: Any
    predicted: np.ndarray
    actual: np.ndarray
    mae: float
    mae_by_frequency: float

    def plot(self, ax: Any = None) -> Any:
        """Plot actual and predicted mean holdout purchases by calibration frequency."""
        from ._plots import plot_calibration_purchases_vs_holdout_purchases

        return plot_calibration_purchases_vs_holdout_purchases(self, ax=ax)


def calibration_holdout_comparison(
    model: ClvEstimator,
    calibration_holdout: Any,
    *,
    max_frequency: int = 7,
    weights: str | None = None,
    output: str | None = None,
) -> HoldoutComparison:
    """Compare the holdout purchases a calibrated model predicts with those made.

    ``calibration_holdout`` is :func:`patronage.rfm_calibration_holdout`'s
    table (``frequency_cal``, ``recency_cal``, ``T_cal``,
    ``frequency_holdout``, ``duration_holdout``); the model must have been
    fitted on the calibration columns. With ``weights``, the name of a
    column counting the customers each row stands for (a table collapsed to
    its distinct rows), means are over customers; ``predicted`` and
    ``actual`` are then per row.

    Example:
        >>> import patronage
        >>> from patronage.clv import BetaGeo, calibration_holdout_comparison
        >>> from patronage.datasets import load_cdnow
        >>> ch = patronage.rfm_calibration_holdout(load_cdnow(), "customer_id", "date",
        ...     calibration_period_end="1997-09-30", freq="W")
        >>> cal = ch.rename(columns={"frequency_cal": "frequency", "recency_cal": "recency", "T_cal": "T"})
        >>> check = calibration_holdout_comparison(BetaGeo().fit(cal), ch)
        >>> round(check.mae, 3) < 1.0
        True
    """
    model = _require_purchase_model(model)
    max_frequency = _check_max_frequency(max_frequency)
    names = ["frequency_cal", "recency_cal", "T_cal", "frequency_holdout", "duration_holdout"]
    cols = _numeric_columns(calibration_holdout, [*names, *([weights] if weights else [])], "calibration_holdout")
    if len(cols["frequency_cal"]) == 0:
        raise ValueError("calibration_holdout has no rows")
    w = cols[weights] if weights else np.ones(len(cols["frequency_cal"]))
    predicted = np.asarray(
        model.conditional_expected_number_of_purchases_up_to_time(
            cols["duration_holdout"], cols["frequency_cal"], cols["recency_cal"], cols["T_cal"]
        )
    )
    actual = cols["frequency_holdout"]
    group = np.minimum(cols["frequency_cal"], max_frequency).astype(np.int64)
    counts = np.bincount(group, weights=w, minlength=max_frequency + 1)
    present = counts > 0
    mean_actual = np.bincount(group, weights=w * actual, minlength=max_frequency + 1)[present] / counts[present]
    mean_predicted = np.bincount(group, weights=w * predicted, minlength=max_frequency + 1)[present] / counts[present]
    table = build_frame(
        {
            "frequency_cal": np.arange(max_frequency + 1)[present],
            "n_customers": counts[present].astype(np.int64),
            "actual": mean_actual,
            "predicted": mean_predicted,
        },
        resolve_kind(output, calibration_holdout),
    )
    return HoldoutComparison(
        by_frequency=table,
        predicted=predicted,
        actual=actual,
        mae=float(np.average(np.abs(predicted - actual), weights=w)),
        mae_by_frequency=float(np.mean(np.abs(mean_predicted - mean_actual))),
    )


def period_transactions(
    model: ClvEstimator,
    data: Any,
    *,
    max_frequency: int = 7,
    output: str | None = None,
) -> Any:
    """Customers with 0, 1, ... repeat purchases: actual against the model.

    For each customer's observation length ``T`` the model's distribution of
    repeat purchases, ``P(X(T) = n)``, is summed over customers. The last row
    pools ``max_frequency`` and more.

    Example:
        >>> from patronage.clv import BetaGeo, period_transactions
        >>> from patronage.datasets import load_cdnow_summary
        >>> s = load_cdnow_summary()
        >>> table = period_transactions(BetaGeo().fit(s), s)
        >>> list(table.columns), int(table["actual"].sum())
        (['frequency', 'actual', 'model'], 2357)
    """
    model = _require_purchase_model(model)
    max_frequency = _check_max_frequency(max_frequency)
    cols = _numeric_columns(data, ["frequency", "T"])
    if len(cols["T"]) == 0:
        raise ValueError("data has no rows")
    T = cols["T"]
    actual = np.bincount(np.minimum(cols["frequency"], max_frequency).astype(np.int64), minlength=max_frequency + 1)
    probabilities = np.array([model.probability_of_n_purchases_up_to_time(T, n).sum() for n in range(max_frequency)])
    expected = np.append(probabilities, len(T) - probabilities.sum())
    return build_frame(
        {"frequency": np.arange(max_frequency + 1), "actual": actual.astype(np.float64), "model": expected},
        resolve_kind(output, data),
    )


def frequency_recency_matrix(
    model: ClvEstimator,
    T: float,
    *,
    max_frequency: int | None = None,
    max_recency: float | None = None,
    t: float = 1.0,
    what: str = "expected_purchases",
) -> np.ndarray:
    """Grid of predictions for customers observed for ``T`` periods.

    Rows are frequencies ``0..max_frequency``, columns recencies
    ``0..max_recency`` (whole periods); ``what`` is ``"expected_purchases"``
    (in the next ``t`` periods) or ``"probability_alive"``.  Impossible cells
    (repeat purchases at recency 0) are NaN.

    Example:
        >>> from patronage.clv import BetaGeo, frequency_recency_matrix
        >>> m = BetaGeo.from_params({"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426})
        >>> frequency_recency_matrix(m, T=39, what="probability_alive").shape
        (40, 40)
    """
    model = _require_purchase_model(model)
    if what not in ("expected_purchases", "probability_alive"):
        raise ValueError(f"what must be 'expected_purchases' or 'probability_alive', got {what!r}")
    T = _number(T, "T")
    if T <= 0:
        raise ValueError(f"T must be > 0, got {T!r}")
    max_frequency = _count(int(T) if max_frequency is None else max_frequency, "max_frequency", 0, 10_000)
    max_recency = T if max_recency is None else min(_number(max_recency, "max_recency"), T)
    if (max_frequency + 1) * (int(max_recency) + 1) > 10_000_000:
        raise ValueError(
            f"the grid of {max_frequency + 1} frequencies by {int(max_recency) + 1} recencies is too large; "
            "choose max_frequency and max_recency"
        )
    freqs, recs = np.meshgrid(np.arange(max_frequency + 1, dtype=float), np.arange(int(max_recency) + 1, dtype=float), indexing="ij")
    valid = ((freqs == 0) & (recs == 0)) | ((freqs > 0) & (recs > 0))
    f, r = freqs[valid], recs[valid]
    Ts = np.full(len(f), float(T))
    if what == "expected_purchases":
        values = model.conditional_expected_number_of_purchases_up_to_time(t, f, r, Ts)
    else:
        values = model.conditional_probability_alive(f, r, Ts)
    grid = np.full(freqs.shape, np.nan)
    grid[valid] = values
    return grid
