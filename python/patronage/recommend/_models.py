"""Recommender estimators: fit on a log or a sparse matrix, serve frames."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import _core
from .._base import Estimator, contract
from .._frames import FrameKind, arrow_stream, from_arrow, resolve_kind
from ._inputs import csr_matrix, id_array, is_sparse_matrix, to_numpy
from ._interactions import Interactions

__all__ = ["ALS", "BPR", "EASE", "ItemKNN", "Popularity", "RP3Beta", "Recommender", "RepeatAware"]

_KNN = contract("ItemKNN")
_RP3 = contract("RP3Beta")
_ALS = contract("ALS")
_BPR = contract("BPR")
_EASE = contract("EASE")
_REPEAT = contract("RepeatAware")


def _progress(show: bool, description: str) -> Any:
    """A ``callback(done, total)`` drawing a progress bar, or None."""
    if not show:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:  # pragma: no cover - tqdm comes with most notebook setups
        tqdm = None
    bar: dict[str, Any] = {}

    def callback(done: int, total: int) -> None:
        if tqdm is None:
            print(f"\r{description}: {done}/{total}", end="\n" if done >= total else "", flush=True)
            return
        if "bar" not in bar:
            bar["bar"] = tqdm(total=total, desc=description)
        b = bar["bar"]
        b.update(done - b.n)
        if done >= total:
            b.close()

    return callback


class Recommender(Estimator):
    """Shared fitting and serving of every recommender.

    ``fit(X)`` takes a transaction log or interactions table (pandas, polars,
    pyarrow; one row per event, ``user_col``/``item_col`` ids of any type,
    optional ``weight_col``), a scipy.sparse user × item matrix (row and
    column numbers are the ids) or an :class:`Interactions` built from either
    (models fitted on the same one share its matrix). Repeated (user, item) rows are **summed**
    (so a log gives purchase counts); weights must be finite and >= 0, and
    entries summing to 0 are dropped.

    Outputs are frames of the kind fitted on (pandas for scipy input), with
    ids in the type they were given: integers at their width (int32 row and
    column numbers for scipy input), strings, categoricals as categoricals;
    the queried ids keep the type of the query. ``rank`` is int32.

    **Unknown users.** ``recommend`` raises ``ValueError`` for users not seen in
    training or without interactions there, unless
    ``unknown_users="popular"``: then they get the most popular items. Users
    known only by their items are served by :meth:`recommend_new`.
    """

    _native_type = _core.Recommender

    def fit(
        self,
        X: Any,
        user_col: str = "customer_id",
        item_col: str = "item_id",
        weight_col: str | None = None,
    ) -> Recommender:
        """Fit on a log/interactions frame, a scipy.sparse user × item matrix
        or :class:`Interactions` (whose columns then apply); returns self."""
        data = X if isinstance(X, Interactions) else Interactions(X, user_col, item_col, weight_col)
        progress = _progress(getattr(self, "show_progress", False), type(self).__name__)
        self._model = _core.Recommender.fit(data._native, self._contract.name, self._native_params(), progress)
        self._output = data._output
        return self

    # -- fitted attributes -------------------------------------------------
    @property
    def user_ids_(self) -> np.ndarray:
        """Training user ids, in the order of rows of factors and matrices."""
        return to_numpy(self._check_fitted().user_ids())

    @property
    def item_ids_(self) -> np.ndarray:
        """Training item ids, in the order of item rows of factors and matrices."""
        return to_numpy(self._check_fitted().item_ids())

    @property
    def n_users_(self) -> int:
        return int(self._check_fitted().shape[0])

    @property
    def n_items_(self) -> int:
        return int(self._check_fitted().shape[1])

    @property
    def popularity_(self) -> np.ndarray:
        """Number of training users who have each item (order of ``item_ids_``)."""
        return self._check_fitted().popularity()

    def user_items_(self) -> Any:
        """The training matrix as a scipy.sparse CSR matrix (summed weights)."""
        return csr_matrix(self._check_fitted().train_csr())

    # -- serving -----------------------------------------------------------
    def _kind(self, output: str | None) -> FrameKind:
        return resolve_kind(output if output is not None else getattr(self, "_output", None))

    def recommend(
        self,
        users: Any = None,
        n: int = 10,
        exclude_seen: bool = True,
        items: Any = None,
        unknown_users: str = "error",
        reasons: bool = False,
        output: FrameKind | None = None,
    ) -> Any:
        """Top ``n`` items for each user: a frame (user, item, score, rank).

        Args:
            users: one id or many (list, array, Series); ``None`` for every
                training user (those whose interactions all weigh 0 get the
                popular items). Users are scored in parallel.
            n: items per user. With fewer candidate items than ``n`` (a
                small catalogue, ``exclude_seen``, ``items``), fewer rows are
                returned; ItemKNN and RP3Beta return only items linked to the user's
                items by a neighbour.
            exclude_seen: leave out items the user has in training.
            items: restrict recommendations to these item ids.
            unknown_users: ``"error"`` (default) or ``"popular"`` for users not
                seen in training or with no interactions (see the class doc).
            reasons: (ItemKNN, RP3Beta, EASE, ALS) also ``because``, the
                user's item that adds most to the score, and ``because_share``,
                the share of the score it adds (null for lists of popular
                items); see :meth:`explain`.
            output: ``'pandas'``, ``'polars'`` or ``'pyarrow'``; defaults to the
                kind fitted on.

        Example:
            >>> import pandas as pd
            >>> from patronage.recommend import ItemKNN
            >>> log = pd.DataFrame({"customer_id": [1, 1, 2, 2, 3],
            ...                     "item_id": ["tea", "milk", "tea", "milk", "tea"]})
            >>> ItemKNN(k=5).fit(log).recommend(users=[3], n=1, reasons=True)[
            ...     ["customer_id", "item_id", "because", "because_share"]]
               customer_id item_id because  because_share
            0            3    milk     tea            1.0
        """
        model = self._check_fitted()
        top = model.recommend(
            None if users is None else id_array(users, "users"),
            n,
            exclude_seen,
            None if items is None else id_array(items, "items"),
            unknown_users,
            reasons,
        )
        return from_arrow(top, self._kind(output))

    def explain(self, user: Any, item: Any, n: int | None = None, output: FrameKind | None = None) -> Any:
        """Why ``user`` gets its score for ``item``: what each source adds, largest first.

        ItemKNN, RP3Beta and EASE score an item by adding a term per item of
        the user (``weight × similarity``); ALS does too once the user's
        factor is written as its least-squares solution (as implicit's
        ``explain``). The frame has the user's items (item column),
        ``contribution`` and ``share`` (of the score); the contributions sum
        to the score ``recommend`` gives (ALS: to the score of the user's
        factor solved exactly, which the served one approaches as the fit
        converges). :class:`RepeatAware` names customers instead (user
        column: the user's own history, then each neighbour's) with each
        one's ``reason`` ("bought n times, last on ..."). ``n`` keeps the
        largest contributions only. Popularity and BPR have no such split
        (ValueError).

        Example:
            >>> import pandas as pd
            >>> from patronage.recommend import ItemKNN
            >>> log = pd.DataFrame({"customer_id": [1, 1, 2, 2, 3, 3],
            ...                     "item_id": ["tea", "milk", "tea", "milk", "tea", "jam"]})
            >>> ItemKNN(k=5).fit(log).explain(3, "milk")
              item_id  contribution  share
            0     tea      0.816497    1.0
        """
        model = self._check_fitted()
        top = model.explain(id_array(user, "user"), id_array(item, "item"), n)
        return from_arrow(top, self._kind(output))

    def recommend_new(
        self,
        X: Any,
        n: int = 10,
        exclude_seen: bool = True,
        items: Any = None,
        user_col: str | None = None,
        item_col: str | None = None,
        weight_col: str | None = None,
        output: FrameKind | None = None,
    ) -> Any:
        """Recommendations for users not in training, from their items (fold-in).

        ``X`` is a log of the new users (columns named as in ``fit`` unless
        given). ALS and BPR solve each user's factor by least squares against
        the item factors; ItemKNN, EASE and Popularity score the items
        directly. Items unknown to the model are ignored; a user left with no
        known item gets the most popular items.
        """
        model = self._check_fitted()
        user_col = user_col or model.user_col
        item_col = item_col or model.item_col
        stream = arrow_stream(X, [user_col, item_col, weight_col], argument="X")
        top = model.recommend_new(
            stream, user_col, item_col, weight_col, n, exclude_seen, None if items is None else id_array(items, "items")
        )
        return from_arrow(top, resolve_kind(output, X))

    def similar_items(
        self, items: Any, n: int = 10, candidates: Any = None, output: FrameKind | None = None
    ) -> Any:
        """The ``n`` most similar items to each given item (the item itself excluded).

        A frame (item, similar_item, score, rank). ItemKNN: neighbour
        similarities; ALS/BPR: cosine of item factors; EASE: the item's
        weights; Popularity: cosine of the items' columns of the training
        matrix (customers who bought one also bought the other).
        ``candidates`` restricts the answers to these items.
        """
        model = self._check_fitted()
        top = model.similar_items(
            id_array(items, "items"), n, None if candidates is None else id_array(candidates, "candidates")
        )
        return from_arrow(top, self._kind(output))

    def similar_users(self, users: Any, n: int = 10, output: FrameKind | None = None) -> Any:
        """The ``n`` most similar users to each given user (the user excluded).

        A frame (user, similar_user, score, rank). ALS/BPR: cosine of user
        factors; other models: cosine of the users' training rows.
        """
        model = self._check_fitted()
        top = model.similar_users(id_array(users, "users"), n)
        return from_arrow(top, self._kind(output))


class Popularity(Recommender):
    """The baseline: the items most users have, the same for everyone.

    Example:
        >>> from patronage.datasets import simulate_transactions
        >>> from patronage.recommend import Popularity
        >>> log, _ = simulate_transactions(300, seed=1)
        >>> recs = Popularity().fit(log).recommend([1, 2], n=3)
        >>> list(recs.columns), len(recs)
        (['customer_id', 'item_id', 'score', 'rank'], 6)
    """

    _contract = contract("Popularity")

    def __init__(self) -> None:
        pass


class ItemKNN(Recommender):
    """Item-based nearest neighbours (implicit's Cosine/TFIDF/BM25 recommenders).

    Items are compared by their vectors over users, weighted by
    ``weighting``: ``"cosine"`` (normalised counts), ``"tfidf"``
    (``sqrt(count)·idf``, normalised) or ``"bm25"`` (Okapi BM25 with ``k1``,
    ``b``). Each item keeps its ``k`` most similar items (itself included, as
    in implicit); a user's score for an item is the sum over their items of
    weight × similarity. ``shrinkage > 0`` multiplies each similarity by
    ``n/(n + shrinkage)``, ``n`` being the number of users the two items share.

    Example:
        >>> from patronage.datasets import simulate_transactions
        >>> from patronage.recommend import ItemKNN
        >>> log, _ = simulate_transactions(300, seed=1)
        >>> model = ItemKNN(k=50, weighting="bm25").fit(log)
        >>> recs = model.recommend(1, n=5)
        >>> recs["rank"].tolist()
        [1, 2, 3, 4, 5]
        >>> model.similarity_().shape
        (653, 653)
    """

    _contract = _KNN

    def __init__(
        self,
        k: int = _KNN.default("k"),
        weighting: str = _KNN.default("weighting"),
        shrinkage: float = _KNN.default("shrinkage"),
        k1: float = _KNN.default("k1"),
        b: float = _KNN.default("b"),
        show_progress: bool = _KNN.default("show_progress"),
    ) -> None:
        self.k = k
        self.weighting = weighting
        self.shrinkage = shrinkage
        self.k1 = k1
        self.b = b
        self.show_progress = show_progress

    def similarity_(self) -> Any:
        """The item × item similarity (row i: the neighbours of item i), scipy CSR."""
        return csr_matrix(self._check_fitted().similarity())


class RP3Beta(Recommender):
    """RP³β: item-to-item random walks with a popularity penalty (Paudel et al. 2017).

    From an item, a walk goes to one of its users (uniformly) and on to one of
    that user's items (in proportion to their weights); with both steps'
    probabilities raised to ``alpha``, ``W[i, j]`` sums the walks from ``i``
    to ``j``, divided by ``users(j) ** beta`` so that popular items do not win
    every walk. Each item keeps its ``k`` largest, scaled to sum 1 (as
    Ferrari Dacrema et al.'s reference code does); a user's score for an item
    is the sum over their items of weight × ``W``, served as :class:`ItemKNN`
    (``reasons=True`` names the item that adds most).

    Example:
        >>> from patronage.datasets import simulate_transactions
        >>> from patronage.recommend import RP3Beta
        >>> log, _ = simulate_transactions(300, seed=1)
        >>> model = RP3Beta(k=50).fit(log)
        >>> model.recommend(1, n=3, reasons=True).columns.tolist()
        ['customer_id', 'item_id', 'score', 'rank', 'because', 'because_share']
        >>> bool(abs(model.similarity_().sum(axis=1) - 1).max() < 1e-5)
        True
    """

    _contract = _RP3

    def __init__(
        self,
        k: int = _RP3.default("k"),
        alpha: float = _RP3.default("alpha"),
        beta: float = _RP3.default("beta"),
        show_progress: bool = _RP3.default("show_progress"),
    ) -> None:
        self.k = k
        self.alpha = alpha
        self.beta = beta
        self.show_progress = show_progress

    def similarity_(self) -> Any:
        """The item × item walk matrix ``W`` (row i: item i's ``k`` largest), scipy CSR."""
        return csr_matrix(self._check_fitted().similarity())


class _FactorModel(Recommender):
    @property
    def user_factors_(self) -> np.ndarray:
        """User factors (rows in the order of ``user_ids_``)."""
        return self._check_fitted().user_factors()

    @property
    def item_factors_(self) -> np.ndarray:
        """Item factors (rows in the order of ``item_ids_``)."""
        return self._check_fitted().item_factors()


class ALS(_FactorModel):
    """Implicit-feedback ALS (Hu, Koren & Volinsky 2008) with a conjugate-gradient solver.

    The weight ``r`` of a (user, item) pair becomes confidence ``alpha · r``;
    unobserved pairs have confidence 1 and preference 0 — exactly implicit's
    ``AlternatingLeastSquares`` (same update, ``cg_steps`` CG steps per
    solve, uniform [0, 0.01) start). Factors are float32; users are solved in
    parallel and the fit is identical for a seed whatever the thread count.

    Rendle et al.'s revisited iALS (2021) adds two knobs, which leave the
    model above unchanged at their defaults: ``unobserved_weight`` (α₀) weighs
    every unobserved pair, and ``frequency_scaling`` (ν) gives a user with
    ``n`` of ``m`` items the penalty ``regularization · (n + α₀ m)^ν`` (items
    likewise), so heavy users and popular items are held back more and the
    best ``regularization`` no longer grows with the data (ν = 1 is close to
    Spark MLlib's scaled penalty).

    ``solver="block"`` is Rendle et al.'s iALS++ (2021): each half-iteration
    minimises every user's loss exactly over ``block_size`` factors at a time,
    one sweep over the blocks (``block_size=factors`` is exact ALS). It
    reaches the loss and ranking quality of CG; whether it is faster depends
    on the data and the number of factors (on short purchase histories CG
    is faster up to 512 factors: see benchmarks/README.md). ``cg_steps`` only
    applies to ``solver="cg"`` (the default, implicit's results).

    Example:
        >>> from patronage.datasets import simulate_transactions
        >>> from patronage.recommend import ALS
        >>> log, _ = simulate_transactions(300, seed=1)
        >>> model = ALS(factors=16, iterations=5, random_state=0).fit(log)
        >>> model.user_factors_.shape
        (300, 16)
        >>> len(model.recommend([1, 2, 3], n=4))
        12
    """

    _contract = _ALS

    def __init__(
        self,
        factors: int = _ALS.default("factors"),
        regularization: float = _ALS.default("regularization"),
        alpha: float = _ALS.default("alpha"),
        unobserved_weight: float = _ALS.default("unobserved_weight"),
        frequency_scaling: float = _ALS.default("frequency_scaling"),
        iterations: int = _ALS.default("iterations"),
        cg_steps: int = _ALS.default("cg_steps"),
        solver: str = _ALS.default("solver"),
        block_size: int = _ALS.default("block_size"),
        random_state: int | None = _ALS.default("random_state"),
        show_progress: bool = _ALS.default("show_progress"),
    ) -> None:
        self.factors = factors
        self.regularization = regularization
        self.alpha = alpha
        self.unobserved_weight = unobserved_weight
        self.frequency_scaling = frequency_scaling
        self.iterations = iterations
        self.cg_steps = cg_steps
        self.solver = solver
        self.block_size = block_size
        self.random_state = random_state
        self.show_progress = show_progress


class BPR(_FactorModel):
    """Bayesian Personalised Ranking by parallel SGD, with item biases.

    Users and items are split into as many blocks as threads and trained
    stratum by stratum, so the fit is deterministic for a seed and thread
    count. The factor matrices have ``factors + 1`` columns: the last is the
    item bias (1 for users). New users are folded in by least squares.

    Example:
        >>> from patronage.datasets import simulate_transactions
        >>> from patronage.recommend import BPR
        >>> log, _ = simulate_transactions(300, seed=1)
        >>> model = BPR(factors=16, iterations=20, random_state=0).fit(log)
        >>> model.item_factors_.shape
        (653, 17)
    """

    _contract = _BPR

    def __init__(
        self,
        factors: int = _BPR.default("factors"),
        learning_rate: float = _BPR.default("learning_rate"),
        regularization: float = _BPR.default("regularization"),
        iterations: int = _BPR.default("iterations"),
        random_state: int | None = _BPR.default("random_state"),
        show_progress: bool = _BPR.default("show_progress"),
    ) -> None:
        self.factors = factors
        self.learning_rate = learning_rate
        self.regularization = regularization
        self.iterations = iterations
        self.random_state = random_state
        self.show_progress = show_progress


class EASE(Recommender):
    """EASE (Steck 2019): the closed-form item-item model ``B = I − P/diag(P)``, ``P = (XᵀX + λI)⁻¹``.

    ``B`` is dense (``n_items²`` values) and fitting holds three such matrices
    at its peak, so ``fit`` raises ``ValueError`` (naming ``max_items`` and the
    memory needed) when the catalogue is larger than ``max_items``: by default
    the most items whose matrices fit in half of the memory available now
    (explicit ``max_items`` overrides it). ``dtype="float32"`` fits and stores
    ``B`` in single precision: half the memory, about half the time, and the
    same recommendations but for near-ties.

    Example:
        >>> from patronage.datasets import simulate_transactions
        >>> from patronage.recommend import EASE
        >>> log, _ = simulate_transactions(300, seed=1)
        >>> model = EASE(regularization=50.0).fit(log)
        >>> float(abs(model.weights_.diagonal()).max())
        0.0
        >>> EASE(regularization=50.0, dtype="float32").fit(log).weights_.dtype
        dtype('float32')
    """

    _contract = _EASE

    def __init__(
        self,
        regularization: float = _EASE.default("regularization"),
        max_items: int | None = _EASE.default("max_items"),
        dtype: str = _EASE.default("dtype"),
    ) -> None:
        self.regularization = regularization
        self.max_items = max_items
        self.dtype = dtype

    @property
    def weights_(self) -> np.ndarray:
        """The item × item weight matrix ``B`` (zero diagonal), float64 or float32 as ``dtype``."""
        return self._check_fitted().ease_weights()


class RepeatAware(Recommender):
    """Next purchases for customers who buy the same things again: TIFU-KNN
    (Hu, He, Gao & Zhang, SIGIR 2020).

    Fitted on a transaction log with a time column: a customer's baskets (rows
    at the same customer and time, each item counted once) are taken in time
    order and split into groups of ``group_size`` counted back from the
    latest. A basket ``j`` places before its group's latest weighs
    ``within_decay**j``, a group ``g`` places before the latest
    ``group_decay**g``, and the customer's vector is the weighted mean, so
    items bought often and lately weigh most. An item's score is ``alpha``
    times the customer's vector plus ``1 - alpha`` times the mean vector of
    the ``k`` customers nearest by cosine (``k=0``: the customer's own items
    only). The defaults (the paper's for Ta-Feng grocery data, with less
    decay) give nDCG@10 0.141 on Ta-Feng's next month, against 0.111 for
    item-kNN and 0.125 for each customer's most-bought items (see
    ``benchmarks/README.md``). Where tastes do not drift and customers have
    few baskets (the simulator's log), scores from neighbours alone
    (``alpha=0``), many of them on a large log (``k=1000``), do better:
    :func:`tune` finds such settings. :meth:`explain` splits a
    score by customer (the customer's own history, then each neighbour's).

    ``recommend(mode=...)`` chooses what to do with items the customer bought
    before: ``"replenish"`` ranks them with the rest (the best guess of the
    next basket), ``"discover"`` leaves them out, ``"mix"`` gives half the
    list (rounded up) to the best of them and the rest to the best new
    items. Every row says whether it is a ``"repeat"`` or a ``"new"`` item
    (``kind``), and with ``reasons=True`` why, for repeats (``reason``:
    "bought 3 times, last on 2024-01-08").

    The interactions it keeps (``user_items_()``) count the baskets holding
    each item. Customers not in the log are served by refitting (or, with
    ``unknown_users="popular"``, popular items): ``recommend_new`` raises.

    Example:
        >>> import pandas as pd
        >>> from patronage.recommend import RepeatAware
        >>> log = pd.DataFrame({
        ...     "customer_id": [1, 1, 1, 1, 2, 2, 2, 3],
        ...     "item_id": ["milk", "tea", "milk", "bread", "milk", "jam", "tea", "jam"],
        ...     "timestamp": pd.to_datetime(["2024-01-01", "2024-01-01", "2024-01-08", "2024-01-08",
        ...                                  "2024-01-02", "2024-01-02", "2024-01-09", "2024-01-03"])})
        >>> model = RepeatAware(k=2).fit(log)

        Tea, bought once, comes before bread because customer 2, the
        nearest, buys it too:

        >>> model.recommend(1, n=4, reasons=True)[["item_id", "kind", "reason"]]
          item_id    kind                              reason
        0    milk  repeat  bought 2 times, last on 2024-01-08
        1     tea  repeat          bought once, on 2024-01-01
        2   bread  repeat          bought once, on 2024-01-08
        3     jam     new                                 NaN
        >>> model.recommend(1, n=2, mode="discover")["item_id"].tolist()
        ['jam']
    """

    _contract = _REPEAT

    def __init__(
        self,
        group_size: int = _REPEAT.default("group_size"),
        within_decay: float = _REPEAT.default("within_decay"),
        group_decay: float = _REPEAT.default("group_decay"),
        k: int = _REPEAT.default("k"),
        alpha: float = _REPEAT.default("alpha"),
    ) -> None:
        self.group_size = group_size
        self.within_decay = within_decay
        self.group_decay = group_decay
        self.k = k
        self.alpha = alpha

    def fit(  # type: ignore[override]
        self,
        X: Any,
        user_col: str = "customer_id",
        item_col: str = "item_id",
        time_col: str = "timestamp",
    ) -> RepeatAware:
        """Fit on a transaction log (pandas, polars, pyarrow) with customer,
        item and time (date or datetime) columns; returns self."""
        if isinstance(X, Interactions) or is_sparse_matrix(X):
            raise TypeError(
                f"RepeatAware needs purchase times: X must be a transaction log with a time column, "
                f"not {type(X).__name__}"
            )
        for name, value in {"user_col": user_col, "item_col": item_col, "time_col": time_col}.items():
            if not isinstance(value, str):
                raise TypeError(f"{name} must be a column name (str), got {type(value).__name__}")
        stream = arrow_stream(X, [user_col, item_col, time_col], argument="X")
        self._model = _core.Recommender.fit_repeat_aware(stream, user_col, item_col, time_col, self._native_params())
        self._output = resolve_kind(None, X)
        return self

    def recommend(  # type: ignore[override]
        self,
        users: Any = None,
        n: int = 10,
        mode: str = "replenish",
        items: Any = None,
        unknown_users: str = "error",
        reasons: bool = False,
        output: FrameKind | None = None,
    ) -> Any:
        """Top ``n`` items for each customer: a frame (user, item, score,
        rank, kind[, reason]).

        Args:
            users: one id or many; ``None`` for every customer of the log.
            n: items per customer (fewer when there are fewer candidates: the
                customer's items and their neighbours').
            mode: ``"replenish"`` (items bought before allowed), ``"discover"``
                (left out) or ``"mix"`` (half the list, rounded up, for items
                bought before, the rest for new ones; a side short of
                candidates leaves its places to the other).
            items: restrict recommendations to these item ids.
            unknown_users: ``"error"`` or ``"popular"`` for customers not in
                the log.
            reasons: also ``reason``: "bought n times, last on YYYY-MM-DD" for
                repeats (times: baskets holding the item), null for new items.
            output: ``'pandas'``, ``'polars'`` or ``'pyarrow'``; defaults to the
                kind fitted on.
        """
        model = self._check_fitted()
        top = model.recommend(
            None if users is None else id_array(users, "users"),
            n,
            False,
            None if items is None else id_array(items, "items"),
            unknown_users,
            reasons,
            mode,
        )
        return from_arrow(top, self._kind(output))

    def history_(self) -> Any:
        """Each customer's decayed item vector (rows: ``user_ids_``, columns:
        ``item_ids_``), scipy CSR."""
        return csr_matrix(self._check_fitted().repeat_aware_parts()[0])

    def neighbours_(self) -> Any:
        """Each customer's ``k`` nearest customers by cosine of their vectors
        (user × user, values: cosine), scipy CSR."""
        return csr_matrix(self._check_fitted().repeat_aware_parts()[1])
