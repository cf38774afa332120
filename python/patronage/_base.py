"""The estimator base class: scikit-learn conventions, the core's contract,
pickling and save/load.

Every estimator keeps its fitted state in one native (Rust) object in
``self._model``; that object serialises itself into a checked envelope
(``to_bytes`` / ``from_bytes``: magic, format version, model kind, length,
checksum, then every invariant validated on the way in), so pickle and
``save``/``load`` share one format, round-trip exactly, and refuse damaged
bytes with a ``ValueError``.  Fitted attributes ending in ``_`` are properties
reading the native object.

Parameters, their defaults and what each accepts live in the core (one
contract per estimator, :func:`contract`); ``fit`` hands ``get_params()`` to
the core, which checks them and names the parameter at fault.
"""

from __future__ import annotations

import functools
import inspect
import json
import os
import sys
from typing import Any, ClassVar, TypeVar

import numpy as np

from . import _core
from ._files import write_bytes

E = TypeVar("E", bound="Estimator")


class NotFittedError(ValueError, AttributeError):
    """Raised when a model is used before ``fit`` (like scikit-learn's)."""


@functools.cache
def _not_fitted_with(sklearn_error: type) -> type:
    # One class that is both patronage's and scikit-learn's NotFittedError.
    return type("NotFittedError", (NotFittedError, sklearn_error), {"__module__": __name__})


def _not_fitted(message: str) -> NotFittedError:
    exceptions = sys.modules.get("sklearn.exceptions")
    if exceptions is not None:
        return _not_fitted_with(exceptions.NotFittedError)(message)
    return NotFittedError(message)


class Contract:
    """An estimator's contract, as written in the core: its parameters
    (name, default, what it accepts, unit), the summary columns it reads
    and the names of the population parameters it fits.

    Example:
        >>> from patronage._base import contract
        >>> contract("IsolationForest").default("n_estimators")
        100
    """

    def __init__(self, name: str) -> None:
        spec = _core.contract(name)
        self.name: str = spec["name"]
        self.params: dict[str, dict[str, Any]] = {p["name"]: p for p in spec["params"]}
        self.columns: tuple[str, ...] = tuple(spec["columns"])
        self.fitted: tuple[str, ...] = tuple(spec["fitted"])

    def default(self, name: str) -> Any:
        """The default of parameter ``name``."""
        return self.params[name]["default"]

    def __repr__(self) -> str:
        return f"Contract({self.name!r}, params={list(self.params)})"


@functools.cache
def contract(name: str) -> Contract:
    """The core's contract of the estimator (or function) ``name``."""
    return Contract(name)


def resolve_random_state(random_state: Any) -> Any:
    """scikit-learn's ``random_state`` as a seed the core accepts: None draws
    from numpy's global generator, generators draw from themselves, other
    values pass through (the core checks them)."""
    if random_state is None:
        return int(np.random.randint(np.iinfo(np.int32).max))
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(np.iinfo(np.int32).max))
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(2**63 - 1))
    return random_state


class Estimator:
    """Base class of patronage's estimators.

    Subclasses set ``_contract`` (the core's contract of the estimator, whose
    parameters are ``__init__``'s) and ``_native_type`` (their ``_core``
    class), and store only parameters in ``__init__``; ``fit`` sets
    ``self._model`` and returns self.

    scikit-learn's estimator protocol (parameters, tags, fitted check, HTML
    repr) is implemented here rather than inherited, so importing patronage
    does not import scikit-learn (about 1.5 s and 120 MB): ``clone``,
    ``Pipeline`` and ``check_is_fitted`` work all the same.
    """

    _contract: ClassVar[Contract]
    _native_type: ClassVar[Any] = None
    # scikit-learn's kind of estimator ("outlier_detector" for detectors).
    _estimator_type: ClassVar[str | None] = None
    # Whether fit and predict take scipy.sparse input (scikit-learn's tag).
    _accepts_sparse: ClassVar[bool] = False
    _model: Any = None

    # -- scikit-learn parameter protocol ---------------------------------
    @classmethod
    def _param_names(cls) -> list[str]:
        signature = inspect.signature(cls.__init__)
        return [
            name
            for name, p in signature.parameters.items()
            if name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        ]

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Parameters of this estimator, as given to ``__init__``.

        Example:
            >>> from patronage.clv import BetaGeo
            >>> BetaGeo(penalizer_coef=0.1).get_params()["penalizer_coef"]
            0.1
        """
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self: E, **params: Any) -> E:
        """Set parameters (as scikit-learn does); returns self.

        Example:
            >>> from patronage.clv import BetaGeo
            >>> BetaGeo().set_params(penalizer_coef=0.01).penalizer_coef
            0.01
        """
        valid = set(self._param_names())
        for name, value in params.items():
            if name not in valid:
                raise ValueError(
                    f"invalid parameter {name!r} for {type(self).__name__}; valid parameters: {sorted(valid)}"
                )
            setattr(self, name, value)
        return self

    def _native_params(self) -> dict[str, Any]:
        """The parameters as the core takes them (``random_state`` as a seed)."""
        params = self.get_params()
        if "random_state" in params:
            params["random_state"] = resolve_random_state(params["random_state"])
        return params

    def __repr__(self) -> str:
        defaults = {
            name: p.default for name, p in inspect.signature(type(self).__init__).parameters.items()
        }
        shown = []
        for name, value in self.get_params().items():
            default = defaults.get(name, inspect.Parameter.empty)
            try:
                same = value is default or bool(value == default)
            except Exception:  # arrays and the like: always show
                same = False
            if not same:
                shown.append(f"{name}={value!r}")
        return f"{type(self).__name__}({', '.join(shown)})"

    def __sklearn_tags__(self) -> Any:
        # Called only by scikit-learn >= 1.6, which is then already imported.
        from sklearn.utils import InputTags, Tags, TargetTags

        return Tags(
            estimator_type=self._estimator_type,
            target_tags=TargetTags(required=False),
            transformer_tags=None,
            regressor_tags=None,
            classifier_tags=None,
            input_tags=InputTags(sparse=self._accepts_sparse),
        )

    def _repr_html_(self) -> str | None:
        # scikit-learn's diagram in notebooks, when the user has imported it;
        # otherwise (None) Jupyter shows the text repr.
        if sys.modules.get("sklearn") is None:
            return None
        from sklearn.utils import estimator_html_repr

        return estimator_html_repr(self)

    # -- fitted state ----------------------------------------------------
    def __sklearn_is_fitted__(self) -> bool:
        return self._model is not None

    def _check_fitted(self) -> Any:
        if self._model is None:
            raise _not_fitted(f"this {type(self).__name__} is not fitted yet; call fit before using it")
        return self._model

    # -- pickle ----------------------------------------------------------
    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        if state.get("_model") is not None:
            state["_model"] = bytes(state["_model"].to_bytes())
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        model = state.get("_model")
        if isinstance(model, (bytes, bytearray)):
            state["_model"] = type(self)._native_from_bytes(bytes(model))
        self.__dict__.update(state)

    @classmethod
    def _native_from_bytes(cls, data: bytes) -> Any:
        """The fitted model in ``data`` (checked by the core), which must be
        this estimator's: models of one family share a native class."""
        model = cls._native_type.from_bytes(data)
        contract = getattr(cls, "_contract", None)
        if contract is not None and model.model_name != contract.name:
            raise ValueError(
                f"could not load the saved model: the bytes hold a {model.model_name} model, not a {cls.__name__}"
            )
        return model

    # -- save / load -----------------------------------------------------
    @classmethod
    def _class_path(cls) -> str:
        return f"{cls.__module__}.{cls.__qualname__}"

    def save(self, path: str | os.PathLike[str]) -> None:
        """Save the estimator (parameters and fitted state) to ``path``.

        The file is the core's checked envelope around the class, its
        parameters (JSON) and the fitted model's bytes; no pickle.  It is
        written whole or not at all.

        Example:
            >>> import os, tempfile
            >>> from patronage.clv import BetaGeo
            >>> model = BetaGeo.from_params({"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426})
            >>> path = os.path.join(tempfile.mkdtemp(), "model.patronage")
            >>> model.save(path)
            >>> BetaGeo.load(path).params_ == model.params_
            True
        """
        params = json.dumps(_jsonable(self.get_params()))
        model = None if self._model is None else bytes(self._model.to_bytes())
        data = _core.save_estimator(self._class_path(), params, model)
        write_bytes(path, bytes(data))

    @classmethod
    def load(cls: type[E], path: str | os.PathLike[str]) -> E:
        """Load an estimator written by :meth:`save`.

        Raises ``ValueError`` (saying what is wrong) for files that are not a
        saved patronage model, are damaged or truncated, hold another
        estimator, or come from another format version.
        """
        with open(path, "rb") as f:
            data = f.read()
        try:
            class_path, params_json, model = _core.load_estimator(data)
        except ValueError as e:
            raise ValueError(f"{os.fspath(path)!r}: {e}") from None
        if class_path != cls._class_path():
            raise ValueError(f"{os.fspath(path)!r} holds a {class_path}, not a {cls._class_path()}")
        try:
            obj = cls(**json.loads(params_json))
        except TypeError as e:
            raise ValueError(f"{os.fspath(path)!r} holds parameters {cls.__name__} does not take: {e}") from None
        if model is not None:
            obj._model = cls._native_from_bytes(model)
        return obj


def _jsonable(params: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for name, value in params.items():
        try:
            json.dumps(value)
        except TypeError:
            raise TypeError(
                f"parameter {name}={value!r} cannot be saved; save() supports JSON-like parameters "
                "(use pickle for others)"
            ) from None
        out[name] = value
    return out
