"""matplotlib plots of the model checks (matplotlib is optional)."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = [
    "plot_calibration_purchases_vs_holdout_purchases",
    "plot_period_transactions",
    "plot_frequency_recency_matrix",
    "plot_probability_alive_matrix",
]


def _axes(ax: Any) -> Any:
    if ax is not None:
        return ax
    try:
        import matplotlib.pyplot as plt
    except ImportError:  # pragma: no cover - exercised only without matplotlib
        raise ImportError("plots need matplotlib: pip install 'patronage[plot]'") from None
    return plt.subplots()[1]


def _column(table: Any, name: str) -> np.ndarray:
    import pyarrow as pa

    from .._frames import arrow_stream

    return pa.table(arrow_stream(table, [name])).column(name).to_numpy()


def plot_calibration_purchases_vs_holdout_purchases(comparison: Any, ax: Any = None) -> Any:
    """Mean holdout purchases, actual and predicted, by calibration frequency.

    Example:
        >>> check.plot()  # doctest: +SKIP
    """
    ax = _axes(ax)
    table = comparison.by_frequency
    x = _column(table, "frequency_cal")
    ax.plot(x, _column(table, "actual"), "o-", label="actual")
    ax.plot(x, _column(table, "predicted"), "s--", label="model")
    ax.set_xlabel("purchases in calibration period (last point: this many or more)")
    ax.set_ylabel("mean purchases in holdout period")
    ax.set_title(f"Calibration vs holdout (MAE per customer {comparison.mae:.3f})")
    ax.legend()
    return ax


def plot_period_transactions(table: Any, ax: Any = None) -> Any:
    """Bar chart of :func:`period_transactions`: customers by repeat purchases.

    Example:
        >>> plot_period_transactions(period_transactions(model, summary))  # doctest: +SKIP
    """
    ax = _axes(ax)
    x = _column(table, "frequency")
    width = 0.4
    ax.bar(x - width / 2, _column(table, "actual"), width, label="actual")
    ax.bar(x + width / 2, _column(table, "model"), width, label="model")
    ax.set_xlabel("repeat purchases (last bar: this many or more)")
    ax.set_ylabel("customers")
    ax.set_title("Frequency of repeat purchases")
    ax.legend()
    return ax


def _plot_matrix(grid: np.ndarray, title: str, label: str, ax: Any) -> Any:
    ax = _axes(ax)
    image = ax.imshow(grid, origin="lower", aspect="auto", interpolation="none")
    ax.figure.colorbar(image, ax=ax, label=label)
    ax.set_xlabel("recency (periods from first to last purchase)")
    ax.set_ylabel("frequency (repeat purchases)")
    ax.set_title(title)
    return ax


def plot_frequency_recency_matrix(model: Any, T: float, t: float = 1.0, ax: Any = None, **kwargs: Any) -> Any:
    """Heat map of expected purchases in the next ``t`` periods by frequency and recency.

    Example:
        >>> plot_frequency_recency_matrix(model, T=39)  # doctest: +SKIP
    """
    from ._checks import frequency_recency_matrix

    grid = frequency_recency_matrix(model, T, t=t, what="expected_purchases", **kwargs)
    return _plot_matrix(grid, f"Expected purchases in the next {t:g} periods (T = {T:g})", "expected purchases", ax)


def plot_probability_alive_matrix(model: Any, T: float, ax: Any = None, **kwargs: Any) -> Any:
    """Heat map of the probability of being alive by frequency and recency.

    Example:
        >>> plot_probability_alive_matrix(model, T=39)  # doctest: +SKIP
    """
    from ._checks import frequency_recency_matrix

    grid = frequency_recency_matrix(model, T, what="probability_alive", **kwargs)
    return _plot_matrix(grid, f"Probability alive (T = {T:g})", "P(alive)", ax)
