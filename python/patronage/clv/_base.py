"""What every lifetime-value estimator shares: fitting through the native
core, fitted attributes, the summary table, and reading customer columns from
frames or arrays (lifetimes' calling style)."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import pyarrow as pa

from .. import _core
from .._base import Estimator
from .._frames import arrow_stream, build_frame, resolve_kind


class ConvergenceWarning(UserWarning):
    """The optimiser stopped before the gradient vanished (see ``converged_``)."""


def _is_table(data: Any) -> bool:
    return (
        hasattr(data, "__arrow_c_stream__")
        or hasattr(data, "__arrow_c_array__")
        or isinstance(data, Mapping)
        or (hasattr(data, "columns") and hasattr(data, "shape"))
    )


def _values(values: Any, name: str) -> np.ndarray:
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be numeric, got {type(values).__name__}") from None
    if array.ndim != 1:
        array = np.atleast_1d(array)
        if array.ndim != 1:
            raise ValueError(f"{name} must be one-dimensional, got shape {array.shape}")
    return array


def _numeric_columns(data: Any, names: list[str], argument: str = "data") -> dict[str, np.ndarray]:
    """Named columns of a table as float arrays (nulls and non-numbers rejected)."""
    table = pa.table(arrow_stream(data, names, argument=argument))
    out = {}
    for name in names:
        column = table.column(name)
        if column.null_count:
            raise ValueError(f"column {name!r} of {argument} contains nulls")
        try:
            out[name] = column.to_numpy().astype(np.float64)
        except (TypeError, ValueError, pa.ArrowInvalid):
            raise TypeError(f"column {name!r} of {argument} must be numeric, got {column.type}") from None
    return out


class _Columns:
    """Customer columns taken either from a table (by name) or from arrays.

    ``like`` keeps the input so predictions come back as the same kind:
    a pandas Series with the input's index, a polars Series, or numpy.
    """

    def __init__(self, names: tuple[str, ...], data: Any, arrays: tuple[Any, ...], argument: str = "data"):
        if data is None:
            raise TypeError(f"{argument} is required: a summary table or the {names[0]} values")
        if _is_table(data) and not any(a is not None for a in arrays):
            self.stream = arrow_stream(data, list(names), argument=argument)
            self.like = data
            self.names = names
            self.n = int(pa.table(self.stream).num_rows) if not hasattr(data, "shape") else int(data.shape[0])
            return
        values = (data, *arrays)
        missing = [n for n, v in zip(names, values) if v is None]
        if missing:
            raise TypeError(f"missing {', '.join(missing)}: pass a summary table or every column as an array")
        columns = {n: _values(v, n) for n, v in zip(names, values)}
        lengths = {len(v) for v in columns.values()}
        if len(lengths) != 1:
            raise ValueError(f"{', '.join(names)} must have the same length, got {sorted(lengths)}")
        self.stream = pa.table(columns)
        self.like = data
        self.names = names
        self.n = lengths.pop()

    def padded(self) -> list[str]:
        return [*self.names, *[""] * (3 - len(self.names))]

    def wrap(self, values: np.ndarray, name: str) -> Any:
        module = type(self.like).__module__.split(".", 1)[0]
        if module == "pandas":
            import pandas as pd

            return pd.Series(values, index=self.like.index, name=name)
        if module == "polars":
            import polars as pl

            return pl.Series(name, values)
        return values


def _broadcast(t: Any, n: int, name: str = "t") -> np.ndarray:
    array = np.asarray(t, dtype=np.float64)
    if array.ndim == 0:
        return np.full(n, float(array))
    if array.shape != (n,):
        raise ValueError(f"{name} must be a number or have one value per customer ({n}), got shape {array.shape}")
    return np.ascontiguousarray(array)


class ClvEstimator(Estimator):
    """Base of the maximum-likelihood lifetime-value models."""

    _native_type: ClassVar[Any] = _core.ClvModel
    _model_name: ClassVar[str]
    _model_params: ClassVar[tuple[str, ...]]

    def __init__(self, penalizer_coef: float = 0.0, max_iter: int = 500, tol: float = 1e-8):
        self.penalizer_coef = penalizer_coef
        self.max_iter = max_iter
        self.tol = tol

    def _fit(self, columns: _Columns, weights: Any, initial_params: Any) -> Any:
        if isinstance(weights, str):
            weights = pa.table(arrow_stream(columns.like, [weights], argument="data")).column(0).to_numpy()
        if weights is not None:
            weights = np.ascontiguousarray(_values(weights, "weights"))
        if initial_params is not None:
            if isinstance(initial_params, Mapping):
                initial_params = [initial_params[n] for n in self._model_params]
            initial_params = [float(v) for v in initial_params]
        self._model = _core.ClvModel.fit(
            self._model_name,
            columns.stream,
            columns.padded(),
            weights=weights,
            penalizer=float(self.penalizer_coef),
            initial_params=initial_params,
            max_iter=int(self.max_iter),
            tol=float(self.tol),
        )
        if not self._model.converged:
            warnings.warn(
                f"{type(self).__name__} did not converge to a proper maximum after {self._model.iterations} "
                f"iterations (parameters {self.params_}): the likelihood may be maximal at the edge of the "
                "parameter space, so standard errors are undefined. Try penalizer_coef > 0.",
                ConvergenceWarning,
                stacklevel=3,
            )
        return self

    @classmethod
    def from_params(cls, params: Mapping[str, float], **kwargs: Any) -> Any:
        """A model with given parameters, e.g. published estimates, without fitting.

        Example:
            >>> from patronage.clv import BetaGeo
            >>> m = BetaGeo.from_params({"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426})
            >>> round(float(m.expected_number_of_purchases_up_to_time(39)), 3)
            1.197
        """
        obj = cls(**kwargs)
        names = list(cls._model_params)
        unknown = set(params) - set(names)
        if unknown or len(params) != len(names):
            raise ValueError(f"{cls.__name__} needs parameters {names}, got {sorted(params)}")
        obj._model = _core.ClvModel.from_params(cls._model_name, [float(params[n]) for n in names])
        return obj

    # -- fitted attributes ---------------------------------------------------
    @property
    def params_(self) -> dict[str, float]:
        """Fitted parameters by name."""
        model = self._check_fitted()
        return dict(zip(model.param_names, model.params))

    @property
    def standard_errors_(self) -> dict[str, float]:
        """Standard errors from the observed information (inverse Hessian)."""
        model = self._check_fitted()
        return dict(zip(model.param_names, model.std_errors))

    @property
    def covariance_(self) -> np.ndarray:
        """Covariance matrix of the estimates, in ``params_`` order."""
        return self._check_fitted().covariance

    @property
    def confidence_intervals_(self) -> dict[str, tuple[float, float]]:
        """95% Wald intervals, ``estimate ± 1.96 × standard error``."""
        return {
            name: (value - 1.959963984540054 * se, value + 1.959963984540054 * se)
            for (name, value), se in zip(self.params_.items(), self.standard_errors_.values())
        }

    @property
    def log_likelihood_(self) -> float:
        """Log-likelihood of the (weighted) data at the estimates."""
        return self._check_fitted().log_likelihood

    @property
    def aic_(self) -> float:
        return self._check_fitted().aic

    @property
    def bic_(self) -> float:
        return self._check_fitted().bic

    @property
    def n_samples_(self) -> float:
        """Customers fitted on (sum of weights)."""
        return self._check_fitted().n_samples

    @property
    def n_iter_(self) -> int:
        """BFGS iterations on all customers (large tables first fit a sample
        of 10,000 distinct histories, so few are needed)."""
        return self._check_fitted().iterations

    @property
    def converged_(self) -> bool:
        return self._check_fitted().converged

    def summary(self, output: str | None = None) -> Any:
        """Estimates, standard errors and 95% intervals, one row per parameter.

        Example:
            >>> from patronage.clv import BetaGeo
            >>> from patronage.datasets import load_cdnow_summary
            >>> model = BetaGeo().fit(load_cdnow_summary())
            >>> list(model.summary().columns)
            ['coef', 'se(coef)', 'lower 95% bound', 'upper 95% bound']
        """
        intervals = self.confidence_intervals_
        columns = {
            "parameter": np.array(list(self.params_)),
            "coef": np.array(list(self.params_.values())),
            "se(coef)": np.array(list(self.standard_errors_.values())),
            "lower 95% bound": np.array([lo for lo, _ in intervals.values()]),
            "upper 95% bound": np.array([hi for _, hi in intervals.values()]),
        }
        return build_frame(columns, resolve_kind(output), index="parameter")

    def __repr__(self) -> str:
        base = super().__repr__()
        if self._model is None:
            return base
        shown = ", ".join(f"{k}: {v:.3g}" for k, v in self.params_.items())
        return f"<{base} fitted with {self.n_samples_:g} customers, {shown}>"
