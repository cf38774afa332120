"""The estimator base class: scikit-learn conventions, pickling and save/load.

Every estimator keeps its fitted state in one native (Rust) object in
``self._model``; that object serialises itself with serde (``to_bytes`` /
``from_bytes``), so pickle and ``save``/``load`` share one format and round-trip
exactly.  Fitted attributes ending in ``_`` are properties reading the native
object.
"""

from __future__ import annotations

import inspect
import json
import os
import sys
from typing import Any, ClassVar, TypeVar

_MAGIC = b"PATRONAGE\n"
# 2: recommenders remember the Arrow type of their ids.
_FORMAT_VERSION = 2

E = TypeVar("E", bound="Estimator")


class NotFittedError(ValueError, AttributeError):
    """Raised when a model is used before ``fit`` (like scikit-learn's)."""


class Estimator:
    """Base class of patronage's estimators.

    Subclasses set ``_native_type`` to their ``_core`` class and store only
    parameters in ``__init__``; ``fit`` sets ``self._model`` and returns self.

    scikit-learn's estimator protocol (parameters, tags, fitted check, HTML
    repr) is implemented here rather than inherited, so importing patronage
    does not import scikit-learn (about 1.5 s and 120 MB): ``clone``,
    ``Pipeline`` and ``check_is_fitted`` work all the same.
    """

    _native_type: ClassVar[Any] = None
    # scikit-learn's kind of estimator ("outlier_detector" for detectors).
    _estimator_type: ClassVar[str | None] = None
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
            >>> from patronage.clv import BetaGeo  # doctest: +SKIP
            >>> BetaGeo(penalizer_coef=0.1).get_params()["penalizer_coef"]  # doctest: +SKIP
            0.1
        """
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self: E, **params: Any) -> E:
        """Set parameters (as scikit-learn does); returns self.

        Example:
            >>> model.set_params(penalizer_coef=0.0)  # doctest: +SKIP
        """
        valid = set(self._param_names())
        for name, value in params.items():
            if name not in valid:
                raise ValueError(
                    f"invalid parameter {name!r} for {type(self).__name__}; valid parameters: {sorted(valid)}"
                )
            setattr(self, name, value)
        return self

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
        from sklearn.utils import Tags, TargetTags

        return Tags(
            estimator_type=self._estimator_type,
            target_tags=TargetTags(required=False),
            transformer_tags=None,
            regressor_tags=None,
            classifier_tags=None,
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
            raise NotFittedError(
                f"this {type(self).__name__} is not fitted yet; call fit before using it"
            )
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
            state["_model"] = type(self)._native_type.from_bytes(bytes(model))
        self.__dict__.update(state)

    # -- save / load -----------------------------------------------------
    def save(self, path: str | os.PathLike[str]) -> None:
        """Save the estimator (parameters and fitted state) to ``path``.

        The file holds a small JSON header (class, format version, parameters)
        and the model's serde bytes; no pickle.

        Example:
            >>> model.save("model.patronage")  # doctest: +SKIP
            >>> same = type(model).load("model.patronage")  # doctest: +SKIP
        """
        header = {
            "class": f"{type(self).__module__}.{type(self).__qualname__}",
            "format_version": _FORMAT_VERSION,
            "params": _jsonable(self.get_params()),
        }
        head = json.dumps(header).encode()
        body = b"" if self._model is None else bytes(self._model.to_bytes())
        with open(path, "wb") as f:
            f.write(_MAGIC)
            f.write(len(head).to_bytes(8, "little"))
            f.write(head)
            f.write(body)

    @classmethod
    def load(cls: type[E], path: str | os.PathLike[str]) -> E:
        """Load an estimator written by :meth:`save`.

        Example:
            >>> model = BetaGeo.load("model.patronage")  # doctest: +SKIP
        """
        with open(path, "rb") as f:
            data = f.read()
        if not data.startswith(_MAGIC):
            raise ValueError(f"{os.fspath(path)!r} is not a file written by patronage's save()")
        n = int.from_bytes(data[len(_MAGIC) : len(_MAGIC) + 8], "little")
        start = len(_MAGIC) + 8
        header = json.loads(data[start : start + n])
        if header.get("format_version") != _FORMAT_VERSION:
            raise ValueError(
                f"{os.fspath(path)!r} has format version {header.get('format_version')}; "
                f"this patronage reads version {_FORMAT_VERSION}"
            )
        expected = f"{cls.__module__}.{cls.__qualname__}"
        if header["class"] != expected:
            raise ValueError(f"{os.fspath(path)!r} holds a {header['class']}, not a {expected}")
        obj = cls(**header["params"])
        body = data[start + n :]
        if body:
            obj._model = cls._native_type.from_bytes(body)
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
