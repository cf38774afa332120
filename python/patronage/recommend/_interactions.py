"""The user × item interaction matrix, built once and shared by models."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import _core
from .._frames import FrameKind, arrow_stream, resolve_kind
from ._inputs import csr_matrix, is_sparse_matrix, to_numpy


class Interactions:
    """A user × item interaction matrix with the ids of its rows and columns.

    ``fit`` builds one from its input each time it is called, and the fitted
    model keeps it (to leave out seen items and to score users). Build it
    once yourself to fit several models on the same data: they then share
    one copy of the matrix instead of holding one each, and ids are encoded
    once.

    Args:
        X: a transaction log or interactions table (pandas, polars,
            pyarrow; one row per event) or a scipy.sparse user × item matrix
            (row and column numbers are the ids).
        user_col, item_col: the id columns of a table (ids of any type).
        weight_col: optional weights (e.g. quantities); each event counts 1
            without it.

    Repeated (user, item) rows are **summed**; weights must be finite and
    >= 0, and entries summing to 0 are dropped. Pickles (the matrix and its
    ids are written out).

    Example:
        >>> from patronage.datasets import simulate_transactions
        >>> from patronage.recommend import ALS, Interactions, ItemKNN
        >>> log, _ = simulate_transactions(300, seed=1)
        >>> data = Interactions(log, user_col="customer_id", item_col="item_id")
        >>> data.n_users
        300
        >>> knn = ItemKNN(k=30).fit(data)
        >>> als = ALS(factors=8, iterations=5, random_state=0).fit(data)
        >>> knn.recommend([1], n=2)["customer_id"].tolist()
        [1, 1]
    """

    def __init__(
        self,
        X: Any,
        user_col: str = "customer_id",
        item_col: str = "item_id",
        weight_col: str | None = None,
    ) -> None:
        self._output: FrameKind = "pandas" if is_sparse_matrix(X) else resolve_kind(None, X)
        self._native = _native(X, user_col, item_col, weight_col)

    @property
    def shape(self) -> tuple[int, int]:
        """(number of users, number of items)."""
        return tuple(self._native.shape)  # type: ignore[return-value]

    @property
    def n_users(self) -> int:
        return int(self._native.shape[0])

    @property
    def n_items(self) -> int:
        return int(self._native.shape[1])

    @property
    def nnz(self) -> int:
        """Number of distinct (user, item) pairs."""
        return int(self._native.nnz)

    @property
    def user_col(self) -> str:
        """Name of the user column in outputs (``"user"`` for scipy input)."""
        return str(self._native.user_col)

    @property
    def item_col(self) -> str:
        """Name of the item column in outputs (``"item"`` for scipy input)."""
        return str(self._native.item_col)

    @property
    def user_ids(self) -> np.ndarray:
        """User ids in the order of the matrix rows."""
        return to_numpy(self._native.user_ids())

    @property
    def item_ids(self) -> np.ndarray:
        """Item ids in the order of the matrix columns."""
        return to_numpy(self._native.item_ids())

    def to_scipy(self) -> Any:
        """The matrix as a scipy.sparse CSR matrix (summed weights)."""
        return csr_matrix(self._native.csr())

    def __repr__(self) -> str:
        users, items = self.shape
        return f"Interactions({users:,} users × {items:,} items, {self.nnz:,} interactions)"

    def __getstate__(self) -> dict[str, Any]:
        return {"native": bytes(self._native.to_bytes()), "output": self._output}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._native = _core.Interactions.from_bytes(state["native"])
        self._output = state["output"]


def _native(X: Any, user_col: str, item_col: str, weight_col: str | None) -> Any:
    """The core's interactions from a frame or a scipy.sparse user × item matrix."""
    if is_sparse_matrix(X):
        csr = X.tocsr()
        if csr.shape[1] >= 2**31:
            raise ValueError(f"X has {csr.shape[1]} columns; at most 2**31 - 1 are supported")
        if csr.data.dtype.kind not in "fiub":
            raise TypeError(f"X must hold numbers, not {csr.data.dtype}")
        return _core.Interactions.from_csr(
            (int(csr.shape[0]), int(csr.shape[1])),
            np.ascontiguousarray(csr.indptr, dtype=np.int64),
            np.ascontiguousarray(csr.indices, dtype=np.int32),
            np.ascontiguousarray(csr.data, dtype=np.float64),
        )
    for name, value in {"user_col": user_col, "item_col": item_col}.items():
        if not isinstance(value, str):
            raise TypeError(f"{name} must be a column name (str), got {type(value).__name__}")
    stream = arrow_stream(X, [user_col, item_col, weight_col], argument="X")
    return _core.Interactions.from_table(stream, user_col, item_col, weight_col)
