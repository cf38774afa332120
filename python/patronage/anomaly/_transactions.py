"""Per-customer transaction risk with reasons, batch or streaming."""

from __future__ import annotations

from typing import Any

from .. import _core
from .._base import Estimator, contract
from .._frames import FrameKind, arrow_stream, frame_kind, from_arrow, resolve_kind

__all__ = ["TransactionRiskScorer"]

_RISK = contract("TransactionRiskScorer")


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

    _contract = _RISK
    _native_type = _core.TransactionRiskModel

    def __init__(
        self,
        customer_col: str = _RISK.default("customer_col"),
        time_col: str = _RISK.default("time_col"),
        amount_col: str = _RISK.default("amount_col"),
        merchant_col: str | None = _RISK.default("merchant_col"),
        category_col: str | None = _RISK.default("category_col"),
        place_col: str | None = _RISK.default("place_col"),
        short_window_hours: float = _RISK.default("short_window_hours"),
        long_window_hours: float = _RISK.default("long_window_hours"),
        small_share: float = _RISK.default("small_share"),
        large_multiple: float = _RISK.default("large_multiple"),
        alert_rate: float = _RISK.default("alert_rate"),
        n_reasons: int = _RISK.default("n_reasons"),
        refunds: str = _RISK.default("refunds"),
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

    def _stream(self, log: Any, argument: str, model: Any = None) -> Any:
        """The log's columns the scorer reads (those it was fitted with, once fitted)."""
        names = self.get_params() if model is None else model.columns()
        columns = [names[c] for c in ("customer_col", "time_col", "amount_col", "merchant_col", "category_col",
                                      "place_col")]  # fmt: skip
        return arrow_stream(log, columns, argument=argument)

    def fit(self, log: Any, y: Any = None) -> TransactionRiskScorer:
        """Calibrate the risk terms on ``log`` and keep each customer's state
        at its end; returns self (``y`` is ignored)."""
        self._model = _core.TransactionRiskModel.fit(self._stream(log, "log"), self._native_params())
        return self

    def _frame(self, batch: Any, like: Any, output: FrameKind | None) -> Any:
        kind = resolve_kind(output, like)
        frame = from_arrow(batch, kind)
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
        return self._frame(model.score(self._stream(log, "log", model), features), log, output)

    def score_new(self, transactions: Any, features: bool = False, output: FrameKind | None = None) -> Any:
        """Score transactions that arrive after those already seen, then add
        them to their customers' histories. Same columns as :meth:`score`, and
        the same values as scoring the whole log at once.

        Safe to call from several threads at once: batches are applied one
        at a time, and a batch that raises (or is interrupted) changes nothing.
        """
        model = self._check_fitted()
        batch = model.score_new(self._stream(transactions, "transactions", model), features)
        return self._frame(batch, transactions, output)

    def update(self, transactions: Any) -> TransactionRiskScorer:
        """Add transactions to their customers' histories without scoring
        them; returns self."""
        model = self._check_fitted()
        model.update(self._stream(transactions, "transactions", model))
        return self

    def without_history(self) -> TransactionRiskScorer:
        """A copy with the same calibration and threshold and no customer
        histories: :meth:`score` gives the same results, :meth:`score_new`
        treats every customer as new. Small enough to ship to every worker
        of a cluster (the histories grow with the customers).

        Example:
            >>> from patronage.anomaly import TransactionRiskScorer
            >>> from patronage.datasets import simulate_transactions
            >>> log, _ = simulate_transactions(300, seed=1)
            >>> scorer = TransactionRiskScorer().fit(log)
            >>> light = scorer.without_history()
            >>> light.n_customers_, light.score(log).equals(scorer.score(log))
            (0, True)
        """
        light = type(self)(**self.get_params())
        light._model = self._check_fitted().without_history()
        return light

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
