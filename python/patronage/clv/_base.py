"""What every lifetime-value estimator shares: fitting through the native
core, fitted attributes, the summary table, and reading customer columns from
frames or arrays (lifetimes' calling style).  A model's name, parameter
names and summary columns are its contract in the core."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import pyarrow as pa

from .._base import Estimator, contract, resolve_random_state
from .._frames import arrow_stream, build_frame, frame_kind, resolve_kind


# Every model's fitting options are the same (the core's contracts share them).
_FIT = contract("BetaGeo")
# The arguments of every interval (level, draws, random_state), checked by the core.
_INTERVALS = contract("clv_intervals")
DRAWS = _INTERVALS.default("draws")
LEVEL = _INTERVALS.default("interval")


def _interval_args(interval: Any, draws: Any, random_state: Any) -> dict[str, Any]:
    """The interval's arguments as the core checks them (``random_state`` as a seed)."""
    return {"interval": interval, "draws": draws, "random_state": resolve_random_state(random_state)}


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
    """One numeric value per customer, as a 1-D float64 array (dates and
    durations are not numbers here)."""
    raw = np.asarray(values)
    if raw.dtype.kind in "mMc":
        raise TypeError(f"{name} must be numeric, got values of dtype {raw.dtype}")
    try:
        array = np.asarray(raw, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be numeric, got {type(values).__name__}") from None
    return np.ascontiguousarray(np.atleast_1d(array).reshape(-1))


def _numeric_columns(data: Any, names: list[str], argument: str = "data") -> dict[str, np.ndarray]:
    """Summary columns of a table as float arrays: numbers, finite and >= 0
    (counts, durations, spend); anything else is named."""
    table = pa.table(arrow_stream(data, names, argument=argument))
    out = {}
    for name in names:
        column = table.column(name)
        if column.null_count:
            raise ValueError(f"column {name!r} of {argument} contains nulls")
        kind = column.type
        if not (pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind)
                or pa.types.is_boolean(kind)):  # fmt: skip
            raise TypeError(f"column {name!r} of {argument} must be numeric, got {kind}")
        values = column.to_numpy().astype(np.float64)
        if not np.all(np.isfinite(values)):
            raise ValueError(f"column {name!r} of {argument} contains NaN or infinite values")
        if np.any(values < 0):
            raise ValueError(f"column {name!r} of {argument} contains negative values")
        out[name] = values
    return out


def _covariate_names(covariates: Any) -> tuple[list[str], Any]:
    """``fit``'s ``covariates`` (a list of column names, or a dict of
    parameter name to a list of column names): the columns, and the
    argument for the core."""
    if covariates is None:
        return [], None
    problem = f"covariates must be a list of column names or a dict of parameter name to such a list, got {covariates!r}"

    def names(value: Any) -> list[str]:
        if isinstance(value, str) or not isinstance(value, (list, tuple)):
            raise TypeError(problem)
        if not all(isinstance(c, str) for c in value):
            raise TypeError(problem)
        return list(value)

    if isinstance(covariates, Mapping):
        if not all(isinstance(p, str) for p in covariates):
            raise TypeError(problem)
        by_param = {p: names(v) for p, v in covariates.items()}
        columns = list(dict.fromkeys(c for v in by_param.values() for c in v))
    else:
        columns = names(covariates)
        by_param = None
    if not columns:
        raise ValueError("covariates is empty: name at least one column, or leave it out")
    return columns, (columns if by_param is None else by_param)


def _count(value: Any, name: str, minimum: int, maximum: int) -> int:
    """A whole-number argument within ``[minimum, maximum]``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer, float, np.floating)):
        raise TypeError(f"{name} must be a whole number, got {value!r}")
    if not (np.isfinite(value) and float(value).is_integer() and minimum <= value <= maximum):
        raise ValueError(f"{name} must be a whole number in [{minimum}, {maximum}], got {value!r}")
    return int(value)


def _number(value: Any, name: str, minimum: float = 0.0) -> float:
    """A finite number argument of at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer, float, np.floating)):
        raise TypeError(f"{name} must be a number, got {value!r}")
    if not (np.isfinite(value) and value >= minimum):
        raise ValueError(f"{name} must be a finite number >= {minimum}, got {value!r}")
    return float(value)


class _Columns:
    """Customer columns taken either from a table (by name) or from arrays.

    ``like`` keeps the input so predictions come back as the same kind:
    a pandas Series with the input's index, a polars Series, or numpy.
    """

    def __init__(
        self,
        names: tuple[str, ...],
        data: Any,
        arrays: tuple[Any, ...],
        argument: str = "data",
        extra: tuple[str, ...] = (),
    ):
        if data is None:
            raise TypeError(f"{argument} is required: a summary table or the {names[0]} values")
        if _is_table(data) and not any(a is not None for a in arrays):
            self.stream = arrow_stream(data, [*names, *extra], argument=argument)
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

    def frame(self, values: tuple[np.ndarray, np.ndarray, np.ndarray]) -> Any:
        """``estimate``, ``lower`` and ``upper`` columns as a frame of the
        input's kind (pandas with the input's index; lists and arrays give
        pandas when it is installed, else pyarrow)."""
        columns = dict(zip(("estimate", "lower", "upper"), values))
        module = type(self.like).__module__.split(".", 1)[0]
        kind = frame_kind(self.like) if module in ("pandas", "polars", "pyarrow") else resolve_kind(None)
        frame = build_frame(columns, kind)
        if kind == "pandas" and module == "pandas":
            frame.index = self.like.index
        return frame

    def wrap(self, values: np.ndarray, name: str) -> Any:
        module = type(self.like).__module__.split(".", 1)[0]
        if module == "pandas":
            import pandas as pd

            return pd.Series(values, index=self.like.index, name=name)
        if module == "polars":
            import polars as pl

            return pl.Series(name, values)
        return values


def _times(t: Any, name: str = "t") -> np.ndarray:
    """``t`` (a number, or one per customer or per time) as a float64 array."""
    return _values(t, name)


def _scalar_or_array(t: Any, values: np.ndarray) -> Any:
    """The first value for a scalar ``t``, else all of them."""
    return values[0] if np.ndim(t) == 0 else values


class ClvEstimator(Estimator):
    """Base of the maximum-likelihood lifetime-value models.

    Subclasses set ``_contract`` (the core's contract of the model: its
    parameters, its summary columns and the names of its fitted parameters)
    and ``_native_type`` (the core's class of its family of models)."""

    _contract: ClassVar[Any]

    def __init__(
        self,
        penalizer_coef: float = _FIT.default("penalizer_coef"),
        max_iter: int = _FIT.default("max_iter"),
        tol: float = _FIT.default("tol"),
    ):
        self.penalizer_coef = penalizer_coef
        self.max_iter = max_iter
        self.tol = tol

    @property
    def _names(self) -> tuple[str, ...]:
        return self._contract.columns

    def _fit(self, columns: _Columns, weights: Any, initial_params: Any, covariates: Any = None) -> Any:
        if weights is not None and not isinstance(weights, str):
            weights = _values(weights, "weights")
        if isinstance(initial_params, Mapping):
            missing = [n for n in self._contract.fitted if n not in initial_params]
            if missing or len(initial_params) != len(self._contract.fitted):
                raise ValueError(
                    f"initial_params must give {list(self._contract.fitted)}, got {sorted(initial_params)}"
                )
            initial_params = [initial_params[n] for n in self._contract.fitted]
        if initial_params is not None:
            initial_params = [float(v) for v in initial_params]
        self._model = self._native_type.fit(
            self._contract.name,
            columns.stream,
            self._native_params(),
            weights=weights,
            initial_params=initial_params,
            covariates=covariates,
        )
        evidence = self._model.evidence()
        if evidence["dropout_at_boundary"]:
            warnings.warn(
                f"{type(self).__name__}: drop-out is not identified: the likelihood rises as drop-out vanishes "
                "(nobody in the data is seen to drop out), so the fit stopped at that boundary, the NBD model of "
                f"purchases without drop-out (parameters {self.params_}). The purchase parameters r and alpha and "
                "their standard errors are the NBD's; the drop-out parameters have none. Try penalizer_coef > 0 "
                "for finite drop-out estimates.",
                ConvergenceWarning,
                stacklevel=3,
            )
        elif not evidence["converged"]:
            warnings.warn(
                f"{type(self).__name__} did not converge to a proper maximum after {evidence['iterations']} "
                f"iterations (parameters {self.params_}): the likelihood may be maximal at the edge of the "
                "parameter space, so standard errors are undefined. Try penalizer_coef > 0.",
                ConvergenceWarning,
                stacklevel=3,
            )
        return self

    def _columns(
        self, data: Any, *arrays: Any, extra: tuple[str, ...] = (), covariates: list[str] | None = None
    ) -> _Columns:
        """The model's columns of ``data``, with the covariate columns: those
        given (fitting) or, by default, those the model was fitted with."""
        if covariates is None:
            covariates = self._fitted_covariates()
        if covariates and (not _is_table(data) or any(a is not None for a in arrays)):
            raise TypeError(
                f"{type(self).__name__} uses covariates {covariates}: pass data as a table with those "
                "columns, not as arrays"
            )
        return _Columns(self._names, data, arrays, extra=(*extra, *covariates))

    def _fitted_covariates(self) -> list[str]:
        if self._model is None:
            return []
        design = self._model.evidence()["covariates"]
        return [] if design is None else list(design["columns"])

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
        names = list(cls._contract.fitted)
        unknown = set(params) - set(names)
        if unknown or len(params) != len(names):
            raise ValueError(f"{cls.__name__} needs parameters {names}, got {sorted(params)}")
        obj._model = cls._native_type.from_params(cls._contract.name, [float(params[n]) for n in names])
        return obj

    def _evidence(self) -> dict[str, Any]:
        return self._check_fitted().evidence()

    # -- fitted attributes ---------------------------------------------------
    @property
    def params_(self) -> dict[str, float]:
        """Fitted parameters by name."""
        e = self._evidence()
        return dict(zip(e["param_names"], e["params"]))

    @property
    def standard_errors_(self) -> dict[str, float]:
        """Standard errors from the observed information (inverse Hessian)."""
        e = self._evidence()
        return dict(zip(e["param_names"], e["std_errors"]))

    @property
    def covariance_(self) -> np.ndarray:
        """Covariance matrix of the estimates, in ``params_`` order (then
        ``coefficients_`` order, for a model fitted with covariates)."""
        e = self._evidence()
        return e["covariance"] if e["covariates"] is None else e["covariates"]["covariance"]

    # -- static covariates ---------------------------------------------------
    @property
    def covariates_(self) -> list[str]:
        """The covariate columns the model was fitted with (``[]`` without).

        Example:
            >>> import numpy as np
            >>> from patronage.clv import BetaGeo
            >>> from patronage.datasets import load_cdnow_summary
            >>> s = load_cdnow_summary()
            >>> s["cohort"] = np.where(np.arange(len(s)) % 3 == 0, "early", "late")
            >>> m = BetaGeo().fit(s, covariates=["cohort"])
            >>> m.covariates_
            ['cohort']
        """
        self._check_fitted()
        return self._fitted_covariates()

    @property
    def coefficients_(self) -> dict[str, float]:
        """Covariate coefficients by name, ``parameter:column`` for a number or
        ``parameter:column[level]`` for a level (its indicator; the most frequent
        level is the reference); ``{}`` without covariates.  A customer's
        parameter is ``params_[p] * exp(±Σ coefficient · z)``, with the sign the
        class docstring gives.

        Example:
            >>> import numpy as np
            >>> from patronage.clv import BetaGeo
            >>> from patronage.datasets import load_cdnow_summary
            >>> s = load_cdnow_summary()
            >>> s["cohort"] = np.where(np.arange(len(s)) % 3 == 0, "early", "late")
            >>> list(BetaGeo().fit(s, covariates=["cohort"]).coefficients_)
            ['alpha:cohort[early]', 'a:cohort[early]', 'b:cohort[early]']
        """
        c = self._evidence()["covariates"]
        return {} if c is None else dict(zip(c["names"], c["coefficients"]))

    @property
    def likelihood_ratio_test_(self) -> dict[str, float] | None:
        """The likelihood-ratio test of the covariates (``None`` without):
        the model without them, fitted on the same customers, against the
        model with them: ``statistic`` ``2(ℓ₁ − ℓ₀)``, ``df`` (coefficients),
        ``p_value`` (chi-squared), ``log_likelihood_without`` (ℓ₀).

        Example:
            >>> import numpy as np
            >>> from patronage.clv import BetaGeo
            >>> from patronage.datasets import load_cdnow_summary
            >>> s = load_cdnow_summary()
            >>> s["cohort"] = np.where(np.arange(len(s)) % 3 == 0, "early", "late")
            >>> test = BetaGeo().fit(s, covariates=["cohort"]).likelihood_ratio_test_
            >>> test["df"], bool(test["p_value"] > 0.01)
            (3, True)
        """
        c = self._evidence()["covariates"]
        return None if c is None else dict(c["likelihood_ratio_test"])

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
        return float(self._evidence()["log_likelihood"])

    @property
    def aic_(self) -> float:
        return float(self._evidence()["aic"])

    @property
    def bic_(self) -> float:
        return float(self._evidence()["bic"])

    @property
    def n_samples_(self) -> float:
        """Customers fitted on (sum of weights)."""
        return float(self._evidence()["n_samples"])

    @property
    def n_iter_(self) -> int:
        """BFGS iterations on all customers (large tables first fit a sample
        of 10,000 distinct histories, so few are needed)."""
        return int(self._evidence()["iterations"])

    @property
    def converged_(self) -> bool:
        return bool(self._evidence()["converged"])

    def summary(self, output: str | None = None) -> Any:
        """Estimates, standard errors and 95% intervals, one row per parameter
        (then one per covariate coefficient, named as in ``coefficients_``).

        Example:
            >>> from patronage.clv import BetaGeo
            >>> from patronage.datasets import load_cdnow_summary
            >>> model = BetaGeo().fit(load_cdnow_summary())
            >>> list(model.summary().columns)
            ['coef', 'se(coef)', 'lower 95% bound', 'upper 95% bound']
        """
        names = [*self.params_, *self.coefficients_]
        coef = np.array([*self.params_.values(), *self.coefficients_.values()], dtype=np.float64)
        c = self._evidence()["covariates"]
        se = np.array([*self.standard_errors_.values(), *([] if c is None else c["std_errors"])], dtype=np.float64)
        z = 1.959963984540054
        columns = {
            "parameter": np.array(names),
            "coef": coef,
            "se(coef)": se,
            "lower 95% bound": coef - z * se,
            "upper 95% bound": coef + z * se,
        }
        return build_frame(columns, resolve_kind(output), index="parameter")

    def __repr__(self) -> str:
        base = super().__repr__()
        if self._model is None:
            return base
        shown = ", ".join(f"{k}: {v:.3g}" for k, v in self.params_.items())
        return f"<{base} fitted with {self.n_samples_:g} customers, {shown}>"
