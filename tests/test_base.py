"""The shared estimator base: scikit-learn parameter protocol, pickle and save/load."""

import pickle
import subprocess
import sys

import pytest

from patronage import NotFittedError
from patronage._base import Estimator


class FakeNative:
    """Stands in for a _core model: state that serialises to bytes."""

    def __init__(self, state: bytes):
        self.state = state

    def to_bytes(self) -> bytes:
        return self.state

    @staticmethod
    def from_bytes(data: bytes) -> "FakeNative":
        return FakeNative(data)


class Model(Estimator):
    _native_type = FakeNative

    def __init__(self, alpha: float = 1.0, name: str = "x"):
        self.alpha = alpha
        self.name = name

    def fit(self):
        self._model = FakeNative(f"{self.alpha}:{self.name}".encode())
        return self

    @property
    def state_(self) -> bytes:
        return self._check_fitted().state


def test_params_and_repr():
    m = Model(alpha=2.0)
    assert m.get_params() == {"alpha": 2.0, "name": "x"}
    assert repr(m) == "Model(alpha=2.0)"
    assert m.set_params(name="y") is m and m.name == "y"
    with pytest.raises(ValueError, match="invalid parameter 'beta'"):
        m.set_params(beta=1)


def test_not_fitted_error_is_value_and_attribute_error():
    with pytest.raises(NotFittedError, match="not fitted"):
        Model().state_
    assert issubclass(NotFittedError, ValueError) and issubclass(NotFittedError, AttributeError)
    assert not Model().__sklearn_is_fitted__() and Model().fit().__sklearn_is_fitted__()


def test_sklearn_clone_and_check_is_fitted():
    sklearn_base = pytest.importorskip("sklearn.base")
    from sklearn.utils.validation import check_is_fitted

    m = Model(alpha=3.0).fit()
    c = sklearn_base.clone(m)
    assert c.get_params() == m.get_params() and c._model is None
    check_is_fitted(m)
    with pytest.raises(Exception):
        check_is_fitted(c)


def test_sklearn_tags_and_html_repr():
    pytest.importorskip("sklearn", minversion="1.6")
    from sklearn.base import is_outlier_detector
    from sklearn.utils import get_tags

    from patronage.anomaly import IsolationForest

    assert get_tags(Model()).estimator_type is None
    assert is_outlier_detector(IsolationForest()) and not is_outlier_detector(Model())
    assert "Model" in Model(alpha=2.0)._repr_html_()


def test_import_needs_neither_sklearn_nor_pandas():
    # scikit-learn is optional and slow to import; patronage works without it,
    # and Arrow in, Arrow out never loads pandas.
    script = """
import sys
sys.modules["sklearn"] = None  # as if not installed
import numpy as np, patronage
from patronage.anomaly import IsolationForest
X = np.random.default_rng(0).normal(size=(64, 2))
assert IsolationForest(random_state=0).fit(X).predict(X).shape == (64,)
assert IsolationForest()._repr_html_() is None
import pyarrow as pa
from patronage.recommend import ItemKNN
def column(values):  # pa.array itself would import pandas
    values = np.asarray(values, dtype=np.int64)
    return pa.Array.from_buffers(pa.int64(), len(values), [None, pa.py_buffer(values)])
log = pa.table({"customer_id": column([1, 1, 2, 2, 3]), "item_id": column([1, 2, 2, 3, 1])})
users = column([1, 2])
assert isinstance(ItemKNN(k=2).fit(log).recommend(users, n=1), pa.Table)
assert not any(m in sys.modules for m in ("pandas", "polars", "scipy"))
"""
    subprocess.run([sys.executable, "-c", script], check=True)


def test_pickle_and_save_load_round_trip(tmp_path):
    m = Model(alpha=0.5, name="z").fit()
    back = pickle.loads(pickle.dumps(m))
    assert back.get_params() == m.get_params() and back.state_ == m.state_
    path = tmp_path / "m.patronage"
    m.save(path)
    loaded = Model.load(path)
    assert loaded.get_params() == m.get_params() and loaded.state_ == m.state_
    Model().save(tmp_path / "unfitted")
    assert Model.load(tmp_path / "unfitted")._model is None


def test_load_rejects_other_files(tmp_path):
    (tmp_path / "junk").write_bytes(b"hello")
    with pytest.raises(ValueError, match="do not start with a patronage header"):
        Model.load(tmp_path / "junk")

    class Other(Model):
        pass

    Model().fit().save(tmp_path / "m")
    with pytest.raises(ValueError, match="holds a"):
        Other.load(tmp_path / "m")
