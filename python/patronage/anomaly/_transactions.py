"""Per-customer transaction risk with reasons, batch or streaming."""

from __future__ import annotations

import numbers
from typing import Any

from .. import _core
from .._base import Estimator
from .._frames import FrameKind, arrow_stream, build_frame, frame_kind, resolve_kind

__all__ = ["TransactionRiskScorer"]


class TransactionRiskScorer(Estimator):
    """Risk of each card transaction against its customer's own past, with reasons.

    For every transaction, features are computed from the same customer's
    earlier transactions only (no look-ahead):

    * ``amount_ratio`` (amount / the customer's mean so far) and
      ``amount_zscore`` (against the customer's mean and standard deviation);
    * ``hours_since_previous`` purchase;
    * ``count_short_window`` / ``count_long_window``: the customer's purchases
      in the previous ``short_window_hours`` / ``long_window_hours``, and
      ``amount_long_window``, their sum plus this amount;
    * ``new_merchant`` / ``new_category`` / ``new_place``: 1 for a first time
      (when those columns are given);
    * ``card_testing``: the small-then-large sequence of a thief testing a
      stolen card: a purchase of at least ``large_multiple`` times the
      customer's mean within ``long_window_hours`` of one of at most
      ``small_share`` of the mean (value: the amount ratio, else 0).

    Features that need history are undefined (NaN) for a customer's first
    purchase. Each suspicious direction of a feature is a *term* (large
    amount, small amount, quick succession, burst, new merchant/category/place,
    card testing). A term's risk is ``max(0, -ln(2p))`` where ``p`` is the
    share of the training transactions at least as extreme (``(count + 1) /
    (n + 1)`` over the training log, or an even sample of 131,072 of its
    transactions when it is longer), so typical values add nothing;
    ``risk_score`` is the sum of the terms (higher = riskier). Transactions
    above ``threshold_`` (the ``1 - alert_rate`` percentile of the training
    scores) are alerts; their ``reasons`` are the largest terms (those with a
    risk of at least 1) in plain words.

    The scorer keeps each customer's state at the end of the data it has seen
    (``fit``, then ``score_new``/``update``), so new transactions are scored as
    they arrive with exactly the scores ``score`` gives on the whole log.

    Input handling: the log need not be sorted (each customer's transactions
    are taken in time order, ties in row order). Negative amounts are refunds:
    with ``refunds='ignore'`` they score 0 and stay out of the history, with
    ``'error'`` they raise ``ValueError``. Nulls, NaN or infinite amounts raise
    ``ValueError`` naming the column. In streaming, a transaction earlier than
    one already seen for its customer raises ``ValueError`` (and the batch is
    not applied).

    Args:
        customer_col, time_col, amount_col: column names (ids of any kind,
            datetimes of any unit or zone, numeric amounts).
        merchant_col, category_col, place_col: optional column names.
        short_window_hours, long_window_hours: rolling windows.
        small_share, large_multiple: the card-testing pattern's "small" and "large".
        alert_rate: share of the training transactions to alert on.
        n_reasons: reasons quoted per alert.
        refunds: ``'ignore'`` or ``'error'``.

    Example:
        >>> from patronage.anomaly import TransactionRiskScorer
        >>> from patronage.datasets import simulate_transactions
        >>> log, truth = simulate_transactions(2000, seed=3)
        >>> scorer = TransactionRiskScorer(place_col="place", category_col="category")
        >>> scored = scorer.fit(log).score(log)
        >>> list(scored.columns)
        ['risk_score', 'alert', 'reasons']
        >>> top = scored["risk_score"].nlargest(20).index
        >>> bool(truth.is_fraud[top].mean() > 0.5)
        True
        >>> print(scored.loc[top[0], "reasons"])  # doctest: +ELLIPSIS
        large purchase ... after a small one of ... (card-testing pattern); ...
    """

    _native_type = _core.TransactionRiskModel

    def __init__(
        self,
        customer_col: str = "customer_id",
        time_col: str = "timestamp",
        amount_col: str = "amount",
        merchant_col: str | None = None,
        category_col: str | None = None,
        place_col: str | None = None,
        short_window_hours: float = 1.0,
        long_window_hours: float = 24.0,
        small_share: float = 0.2,
        large_multiple: float = 3.0,
        alert_rate: float = 0.005,
        n_reasons: int = 3,
        refunds: str = "ignore",
    ) -> None:
        self.customer_col = customer_col
        self.time_col = time_col
        self.amount_col = amount_col
        self.merchant_col = merchant_col
        self.category_col = category_col
        self.place_col = place_col
        self.short_window_hours = short_window_hours
        self.long_window_hours = long_window_hours
        self.small_share = small_share
        self.large_multiple = large_multiple
        self.alert_rate = alert_rate
        self.n_reasons = n_reasons
        self.refunds = refunds

    def _columns(self) -> tuple[str, str, str, str | None, str | None, str | None]:
        for name in ("customer_col", "time_col", "amount_col"):
            if not isinstance(getattr(self, name), str):
                raise TypeError(f"{name} must be a column name (str), got {getattr(self, name)!r}")
        for name in ("merchant_col", "category_col", "place_col"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                raise TypeError(f"{name} must be a column name (str) or None, got {value!r}")
        return (self.customer_col, self.time_col, self.amount_col, self.merchant_col, self.category_col,
                self.place_col)  # fmt: skip

    def _stream(self, log: Any, argument: str) -> tuple[Any, tuple]:
        columns = self._columns()
        return arrow_stream(log, list(columns), argument=argument), columns

    def fit(self, log: Any, y: Any = None) -> TransactionRiskScorer:
        """Calibrate the risk terms on ``log`` and keep each customer's state
        at its end; returns self (``y`` is ignored)."""
        for name in ("short_window_hours", "long_window_hours", "small_share", "large_multiple", "alert_rate"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                raise TypeError(f"{name} must be a number, got {value!r}")
        if isinstance(self.n_reasons, bool) or not isinstance(self.n_reasons, numbers.Integral) or self.n_reasons < 0:
            raise ValueError(f"n_reasons must be a non-negative integer, got {self.n_reasons!r}")
        stream, columns = self._stream(log, "log")
        self._model = _core.TransactionRiskModel.fit(
            stream, columns, float(self.short_window_hours) * 3600.0, float(self.long_window_hours) * 3600.0,
            float(self.small_share), float(self.large_multiple), float(self.alert_rate), int(self.n_reasons),
            str(self.refunds),
        )  # fmt: skip
        return self

    def _frame(self, columns: dict[str, Any], like: Any, output: FrameKind | None) -> Any:
        kind = resolve_kind(output, like)
        frame = build_frame(columns, kind)
        if kind == "pandas" and frame_kind(like) == "pandas" and len(frame) == len(like):
            frame.index = like.index  # align with the log, to join or filter it
        return frame

    def score(self, log: Any, features: bool = False, output: FrameKind | None = None) -> Any:
        """Score every transaction of ``log`` from scratch (each customer's
        history starts empty), in ``log``'s row order.

        Returns a frame of the log's kind (pandas keeps the log's index) with
        ``risk_score``, ``alert`` and ``reasons`` (text for alerts, else null);
        with ``features=True`` also every feature and each term's risk
        (``risk_<term>``). The fitted customer states are not changed.
        """
        model = self._check_fitted()
        stream, columns = self._stream(log, "log")
        return self._frame(model.score(stream, columns, bool(features)), log, output)

    def score_new(self, transactions: Any, features: bool = False, output: FrameKind | None = None) -> Any:
        """Score transactions that arrive after those already seen, then add
        them to their customers' histories. Same columns as :meth:`score`, and
        the same values as scoring the whole log at once."""
        model = self._check_fitted()
        stream, columns = self._stream(transactions, "transactions")
        return self._frame(model.score_new(stream, columns, bool(features)), transactions, output)

    def update(self, transactions: Any) -> TransactionRiskScorer:
        """Add transactions to their customers' histories without scoring
        them; returns self."""
        model = self._check_fitted()
        stream, columns = self._stream(transactions, "transactions")
        model.update(stream, columns)
        return self

    @property
    def threshold_(self) -> float:
        """Alert threshold on ``risk_score`` (alerts are strictly above it)."""
        return float(self._check_fitted().threshold)

    @property
    def n_customers_(self) -> int:
        """Customers with a kept state."""
        return int(self._check_fitted().n_customers)

    @property
    def feature_names_(self) -> list[str]:
        """Names of the per-transaction features."""
        return list(_core.TransactionRiskModel.feature_names())

    @property
    def term_names_(self) -> list[str]:
        """Names of the risk terms (``risk_<term>`` columns)."""
        return list(_core.TransactionRiskModel.term_names())
