"""Train/test splits and ranking metrics (computed in Rust)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from .. import _core
from .._frames import FrameKind, arrow_stream, to_utc_micros

__all__ = ["evaluate", "ranking_metrics", "train_test_split", "tune"]


def _take(data: Any, mask: np.ndarray) -> Any:
    module = type(data).__module__.split(".", 1)[0]
    if module == "pandas":
        return data[mask]
    if module == "polars":
        import polars as pl

        if hasattr(data, "collect") and not hasattr(data, "__arrow_c_stream__"):
            data = data.collect()
        return data.filter(pl.Series(mask))
    if isinstance(data, (pa.Table, pa.RecordBatch)):
        return data.filter(pa.array(mask))
    return pa.table(data).filter(pa.array(mask))


def train_test_split(
    data: Any,
    how: str = "time",
    *,
    cutoff: Any = None,
    k: int = 1,
    test_size: float = 0.2,
    user_col: str = "customer_id",
    time_col: str | None = "timestamp",
    random_state: int = 0,
) -> tuple[Any, Any]:
    """Split an interaction log into (train, test) frames of the same kind.

    * ``how="time"``: rows before ``cutoff`` (a date/datetime/ISO string)
      train, rows at or after it test.
    * ``how="last"``: each user's ``k`` latest rows (by ``time_col``) test;
      users with ``k`` rows or fewer stay wholly in train.
    * ``how="random"``: each row is a test row with probability
      ``test_size`` (seeded by ``random_state``); no user is held out entirely.

    Example:
        >>> from patronage.datasets import simulate_transactions
        >>> from patronage.recommend import train_test_split
        >>> log, _ = simulate_transactions(300, seed=1)
        >>> train, test = train_test_split(log, "last", k=1)
        >>> len(train) + len(test) == len(log), test["customer_id"].is_unique
        (True, True)
    """
    uses_time = how in ("time", "last")
    stream = arrow_stream(data, [user_col, time_col if uses_time else None], argument="data")
    mask = _core.split_mask(
        stream,
        user_col,
        time_col if uses_time else None,
        how,
        None if cutoff is None else to_utc_micros(cutoff, "cutoff"),
        k,
        test_size,
        random_state,
    )
    return _take(data, ~mask), _take(data, mask)


def ranking_metrics(
    recommendations: Any,
    test: Any,
    k: int = 10,
    *,
    n_items: int,
    user_col: str = "customer_id",
    item_col: str = "item_id",
) -> dict[str, float]:
    """Ranking metrics of recommendation lists against held-out interactions.

    ``recommendations`` is a frame as :meth:`Recommender.recommend` returns
    (``user_col``, ``item_col``, ``rank``); ``test`` has ``user_col`` and
    ``item_col``. Users are those with test rows; a user with no
    recommendations scores zero. ``n_items`` is the catalogue size (for AUC
    and coverage).

    ``precision``, ``map``, ``ndcg`` and ``auc`` are implicit's
    ``ranking_metrics_at_k`` numbers: precision is hits over
    ``Σ min(k, |test items|)``, MAP and nDCG are normalised by the best
    achievable with ``min(k, |test items|)`` hits; AUC is kept within [0, 1]
    where a catalogue smaller than k would take implicit's estimate out of it
    (and is 1 for a user with every item relevant). Also ``recall`` (hits /
    test items, averaged over users), ``hit_rate`` (users with a hit) and
    ``coverage`` (share of the catalogue recommended). ``n_users`` counts the
    users evaluated.
    """
    return _core.ranking_metrics(
        arrow_stream(recommendations, [user_col, item_col, "rank"], argument="recommendations"),
        arrow_stream(test, [user_col, item_col], argument="test"),
        user_col,
        item_col,
        k,
        n_items,
    )


def evaluate(
    model: Any,
    test: Any,
    k: int = 10,
    *,
    exclude_seen: bool = True,
    mode: str | None = None,
    user_col: str | None = None,
    item_col: str | None = None,
    unknown_users: str = "skip",
) -> dict[str, float]:
    """Recommend ``k`` items to every test user and score them against their test items.

    The lists are what ``model.recommend`` gives: seen items left out
    (``exclude_seen``, default) or allowed, or for :class:`RepeatAware` its
    ``mode`` (``"replenish"``, ``"discover"`` or ``"mix"``). Returns
    :func:`ranking_metrics`' numbers with ``repeat_hits`` and ``new_hits``:
    how many recommended test items the user had in training, and how many
    were new to them. ``unknown_users``: test users not in training are
    ``"skip"``-ped (default) or served the most ``"popular"`` items.

    Example:
        >>> from patronage.datasets import simulate_transactions
        >>> from patronage.recommend import ALS, Popularity, evaluate, train_test_split
        >>> log, _ = simulate_transactions(1000, seed=2)
        >>> train, test = train_test_split(log, "last", k=2)
        >>> als = ALS(factors=32, iterations=10, alpha=5.0, random_state=0).fit(train)
        >>> pop = Popularity().fit(train)
        >>> bool(evaluate(als, test)["ndcg"] > evaluate(pop, test)["ndcg"])
        True
        >>> allowed = evaluate(als, test, exclude_seen=False)
        >>> allowed["repeat_hits"] + allowed["new_hits"] > 0
        True
    """
    fitted = model._check_fitted()
    user_col = user_col or fitted.user_col
    item_col = item_col or fitted.item_col
    stream = arrow_stream(test, [user_col, item_col], argument="test")
    return fitted.evaluate(stream, user_col, item_col, k, exclude_seen, mode, unknown_users)


def tune(
    estimator: Any,
    grid: Mapping[str, Sequence[Any]],
    train: Any,
    test: Any,
    k: int = 10,
    *,
    fit_params: Mapping[str, Any] | None = None,
    recommend_params: Mapping[str, Any] | None = None,
    user_col: str = "customer_id",
    item_col: str = "item_id",
    output: FrameKind | None = None,
) -> Any:
    """Fit ``estimator`` at every point of ``grid`` on ``train`` and score its
    top ``k`` for the users of ``test``: one row per setting, best nDCG first.

    ``grid`` maps parameter names to the values to try (every combination
    is fitted); ``fit_params`` go to ``fit`` (e.g. ``time_col``),
    ``recommend_params`` say how lists are made, as :func:`evaluate` takes
    them (``exclude_seen=False``, or a :class:`RepeatAware` ``mode``); test
    users not in ``train`` get popular items. Columns: the parameters, then
    :func:`evaluate`'s numbers (``repeat_hits`` and ``new_hits``: hits on
    items the user had in ``train``, and on items new to them) and
    ``fit_seconds``.

    Example:
        >>> from patronage.datasets import simulate_transactions
        >>> from patronage.recommend import ItemKNN, train_test_split, tune
        >>> log, _ = simulate_transactions(500, seed=1)
        >>> train, test = train_test_split(log, "last", k=2)
        >>> table = tune(ItemKNN(), {"k": [10, 50], "weighting": ["cosine", "bm25"]}, train, test)
        >>> len(table), list(table.columns[:3])
        (4, ['k', 'weighting', 'ndcg'])
    """
    import itertools
    import time

    from .._frames import build_frame, resolve_kind

    names = list(grid)
    for name in names:
        if name not in estimator.get_params():
            raise ValueError(f"grid names {name!r}, which is not a parameter of {type(estimator).__name__}")
    rows: list[dict[str, Any]] = []
    for values in itertools.product(*(grid[n] for n in names)):
        setting = dict(zip(names, values))
        model = type(estimator)(**{**estimator.get_params(), **setting})
        start = time.perf_counter()
        model.fit(train, **(fit_params or {}))
        seconds = time.perf_counter() - start
        scores = evaluate(model, test, k, user_col=user_col, item_col=item_col, unknown_users="popular",
                          **(recommend_params or {}))  # fmt: skip
        rows.append({**setting, "ndcg": scores.pop("ndcg"), "recall": scores.pop("recall"), **scores,
                     "fit_seconds": seconds})  # fmt: skip
    rows.sort(key=lambda r: -r["ndcg"])
    return build_frame({c: [r[c] for r in rows] for c in rows[0]}, resolve_kind(output, train))
