"""IsolationForest, HBOS and ECOD side by side with scikit-learn and PyOD."""

import pickle
import warnings

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
from sklearn.base import clone
from sklearn.ensemble import IsolationForest as SkIsolationForest
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from pyod.models.ecod import ECOD as PyodECOD
from pyod.models.hbos import HBOS as PyodHBOS

from patronage import NotFittedError
from patronage.anomaly import ECOD, HBOS, IsolationForest


def labelled(seed: int, n: int = 2000, n_out: int = 60, d: int = 6):
    """Gaussian inliers with correlated features, scattered and clustered outliers."""
    rng = np.random.default_rng(seed)
    cov = 0.5 * np.eye(d) + 0.5
    inliers = rng.multivariate_normal(np.zeros(d), cov, size=n)
    scattered = rng.uniform(-5, 5, size=(n_out // 2, d))
    cluster = rng.normal(2.5, 0.3, size=(n_out - n_out // 2, d))
    X = np.vstack([inliers, scattered, cluster])
    y = np.r_[np.zeros(n), np.ones(n_out)]
    return X, y


# -- isolation forest vs scikit-learn ----------------------------------------


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"max_samples": 64},
        {"max_samples": 0.5, "max_features": 0.5},
        {"n_estimators": 50, "max_features": 2, "bootstrap": True},
    ],
)
def test_isolation_forest_auroc_equals_sklearn(params):
    ours, theirs = [], []
    for seed in range(8):
        X, y = labelled(seed)
        ours.append(roc_auc_score(y, -IsolationForest(random_state=seed, **params).fit(X).score_samples(X)))
        theirs.append(roc_auc_score(y, -SkIsolationForest(random_state=seed, **params).fit(X).score_samples(X)))
    assert abs(np.mean(ours) - np.mean(theirs)) < 0.01, (np.mean(ours), np.mean(theirs))


def test_isolation_forest_scores_match_sklearn_in_distribution():
    X, _ = labelled(0)
    ours = np.mean([IsolationForest(random_state=s).fit(X).score_samples(X) for s in range(5)], axis=0)
    theirs = np.mean([SkIsolationForest(random_state=s).fit(X).score_samples(X) for s in range(5)], axis=0)
    # Same scale (the c(n) normalisation) and the same ordering of rows.
    assert abs(ours.mean() - theirs.mean()) < 0.01
    assert np.corrcoef(ours, theirs)[0, 1] > 0.97
    assert ((ours >= -1) & (ours <= 0)).all()


@pytest.mark.parametrize("contamination", ["auto", 0.03, 0.1])
def test_isolation_forest_offset_and_predict_follow_sklearn(contamination):
    X, _ = labelled(1)
    ours = IsolationForest(contamination=contamination, random_state=0).fit(X)
    theirs = SkIsolationForest(contamination=contamination, random_state=0).fit(X)
    if contamination == "auto":
        assert ours.offset_ == theirs.offset_ == -0.5
    else:
        assert ours.offset_ == pytest.approx(np.percentile(ours.score_samples(X), 100 * contamination), abs=0)
        assert (ours.predict(X) == -1).mean() == pytest.approx((theirs.predict(X) == -1).mean(), abs=0.002)
    np.testing.assert_allclose(ours.decision_function(X), ours.score_samples(X) - ours.offset_)
    assert set(np.unique(ours.predict(X))) <= {-1, 1}
    np.testing.assert_array_equal(ours.fit_predict(X), ours.predict(X))


def test_isolation_forest_is_deterministic_across_threads():
    X, _ = labelled(2)
    a = IsolationForest(random_state=7, n_jobs=1).fit(X).score_samples(X)
    b = IsolationForest(random_state=7, n_jobs=2).fit(X).score_samples(X)
    c = IsolationForest(random_state=7).fit(X).score_samples(X)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, c)
    d = IsolationForest(random_state=8).fit(X).score_samples(X)
    assert not np.array_equal(a, d)
    rs = np.random.RandomState(3)
    assert IsolationForest(random_state=rs).fit(X).max_samples_ == 256


def test_max_samples_above_n_rows_warns_and_uses_all_rows():
    X, _ = labelled(0, n=100, n_out=10)
    with pytest.warns(UserWarning, match="max_samples \\(500\\) is greater"):
        forest = IsolationForest(max_samples=500, random_state=0).fit(X)
    assert forest.max_samples_ == 110
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = SkIsolationForest(max_samples=500, random_state=0).fit(X)
    assert theirs.max_samples_ == forest.max_samples_
    assert IsolationForest(random_state=0).fit(X[:5]).max_samples_ == 5


# -- ECOD and HBOS vs PyOD ---------------------------------------------------


@pytest.mark.parametrize("seed", range(3))
def test_ecod_training_scores_equal_pyod(seed):
    X, _ = labelled(seed)
    X[:, 2] = np.round(X[:, 2], 1)  # ties
    X[:, 3] = np.exp(X[:, 3])  # skewed right
    X[:, 4] = -np.exp(X[:, 4])  # skewed left
    ours = ECOD(contamination=0.05).fit(X)
    theirs = PyodECOD(contamination=0.05).fit(X)
    np.testing.assert_allclose(ours.decision_scores_, theirs.decision_scores_, rtol=0, atol=1e-9)
    assert ours.threshold_ == pytest.approx(theirs.threshold_, abs=1e-9)
    np.testing.assert_array_equal(ours.labels_, theirs.labels_)


def test_ecod_new_rows_score_as_pyod_scores_them_one_at_a_time():
    X, _ = labelled(4)
    ours = ECOD().fit(X)
    theirs = PyodECOD().fit(X)
    new = np.random.default_rng(9).normal(0, 2, size=(20, X.shape[1]))
    expected = [theirs.decision_function(new[i : i + 1])[0] for i in range(len(new))]
    np.testing.assert_allclose(ours.decision_function(new), expected, rtol=0, atol=1e-9)
    np.testing.assert_array_equal(ours.predict(new), (np.array(expected) > theirs.threshold_).astype(int))


@pytest.mark.parametrize("params", [{}, {"n_bins": 25, "alpha": 0.05, "tol": 0.2}, {"n_bins": 3}])
def test_hbos_equals_pyod(params):
    X, _ = labelled(5)
    X[:, 0] = 1.0  # a constant feature
    X[:, 1] = np.round(X[:, 1])
    ours = HBOS(contamination=0.05, **params).fit(X)
    theirs = PyodHBOS(contamination=0.05, **params).fit(X)
    np.testing.assert_allclose(ours.decision_scores_, theirs.decision_scores_, rtol=0, atol=1e-9)
    np.testing.assert_array_equal(ours.labels_, theirs.labels_)
    new = np.random.default_rng(1).normal(0, 3, size=(200, X.shape[1]))  # some outside the range
    np.testing.assert_allclose(ours.decision_function(new), theirs.decision_function(new), rtol=0, atol=1e-9)
    np.testing.assert_array_equal(ours.predict(new), theirs.predict(new))
    np.testing.assert_array_equal(ours.score_samples(new), -ours.decision_function(new))


def test_detectors_find_outliers_as_well_as_the_references():
    X, y = labelled(6)
    for ours, theirs in [(ECOD(), PyodECOD()), (HBOS(), PyodHBOS())]:
        a = roc_auc_score(y, ours.fit(X).decision_scores_)
        b = roc_auc_score(y, theirs.fit(X).decision_scores_)
        assert a == pytest.approx(b, abs=1e-12)


# -- scikit-learn protocol -----------------------------------------------------


@pytest.mark.parametrize(
    "estimator",
    [IsolationForest(n_estimators=30, random_state=0), HBOS(n_bins=12), ECOD(contamination=0.02)],
)
def test_clone_pipeline_and_params(estimator):
    X, _ = labelled(7, n=500, n_out=20)
    copy = clone(estimator)
    assert copy.get_params() == estimator.get_params()
    assert copy is not estimator
    pipe = Pipeline([("scale", StandardScaler()), ("detect", estimator)]).fit(X)
    direct = clone(estimator).fit(StandardScaler().fit_transform(X))
    np.testing.assert_allclose(pipe.decision_function(X), direct.decision_function(StandardScaler().fit(X).transform(X)))
    np.testing.assert_array_equal(pipe.predict(X), direct.predict(StandardScaler().fit(X).transform(X)))
    np.testing.assert_allclose(pipe.score_samples(X), direct.score_samples(StandardScaler().fit(X).transform(X)))
    est = clone(estimator)
    assert est.set_params(contamination=0.1) is est and est.contamination == 0.1
    with pytest.raises(ValueError, match="invalid parameter"):
        est.set_params(nope=1)
    with pytest.raises(NotFittedError):
        clone(estimator).decision_function(X)
    assert "contamination" in repr(ECOD(contamination=0.02))


@pytest.mark.parametrize("estimator", [IsolationForest(random_state=3, contamination=0.05), HBOS(), ECOD()])
def test_pickle_and_save_load_round_trip_exactly(estimator, tmp_path):
    X, _ = labelled(8, n=800, n_out=20)
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    fitted = estimator.fit(frame)
    again = pickle.loads(pickle.dumps(fitted))
    path = tmp_path / "model.patronage"
    fitted.save(path)
    loaded = type(fitted).load(path)
    for other in (again, loaded):
        np.testing.assert_array_equal(other.decision_function(frame), fitted.decision_function(frame))
        assert other.get_params() == fitted.get_params()
        assert list(other.feature_names_in_) == list(frame.columns)
        assert bytes(other._model.to_bytes()) == bytes(fitted._model.to_bytes())
    if hasattr(fitted, "decision_scores_"):
        np.testing.assert_array_equal(loaded.decision_scores_, fitted.decision_scores_)
        assert loaded.threshold_ == fitted.threshold_


def test_frames_of_every_kind_give_the_same_scores():
    X, _ = labelled(9, n=300, n_out=10)
    names = [f"f{i}" for i in range(X.shape[1])]
    frames = [
        X,
        X.tolist(),
        np.ascontiguousarray(X, dtype=np.float32),
        pd.DataFrame(X, columns=names),
        pl.DataFrame(X, schema=names),
        pa.table({n: X[:, i] for i, n in enumerate(names)}),
    ]
    for detector in (IsolationForest(random_state=1), HBOS(), ECOD()):
        expected = detector.fit(X).decision_function(X)
        for frame in frames:
            got = detector.fit(frame).decision_function(frame)
            tol = 1e-6 if getattr(frame, "dtype", None) == np.float32 else 0
            np.testing.assert_allclose(got, expected, atol=tol)


# -- bad input ---------------------------------------------------------------


@pytest.mark.parametrize("make", [IsolationForest, HBOS, ECOD])
def test_corrupt_saved_models_are_rejected(make, tmp_path):
    X, _ = labelled(0, n=100, n_out=4)
    fitted = make().fit(X)
    blob = bytearray(fitted._model.to_bytes())
    for cut in (blob[: len(blob) // 2], blob[:3]):
        with pytest.raises(ValueError, match="could not load the saved model"):
            type(fitted._model).from_bytes(bytes(cut))
    path = tmp_path / "not_a_model"
    path.write_bytes(b"hello")
    with pytest.raises(ValueError, match="do not start with a patronage header"):
        make.load(path)


@pytest.mark.parametrize("make", [IsolationForest, HBOS, ECOD])
def test_nan_and_inf_are_named(make):
    X, _ = labelled(0, n=100, n_out=4)
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    frame.loc[3, "f2"] = np.nan
    with pytest.raises(ValueError, match="'f2' contains 1 NaN or infinite"):
        make().fit(frame)
    bad = X.copy()
    bad[5, 4] = np.inf
    with pytest.raises(ValueError, match="'x4'.*NaN or infinite"):
        make().fit(bad)
    fitted = make().fit(X)
    with pytest.raises(ValueError, match="NaN or infinite"):
        fitted.decision_function(bad)


@pytest.mark.parametrize("make", [IsolationForest, HBOS, ECOD])
def test_shapes_types_and_parameters(make):
    X, _ = labelled(0, n=100, n_out=4)
    fitted = make().fit(X)
    with pytest.raises(ValueError, match=r"has 3 features, but \w+ is expecting 6 features"):
        fitted.decision_function(X[:, :3])
    with pytest.raises(ValueError, match="2-D"):
        make().fit(X[:, 0])
    with pytest.raises(ValueError, match=r"0 sample\(s\)"):
        make().fit(np.empty((0, 3)))
    with pytest.raises(TypeError, match="column 'name'.*numeric"):
        make().fit(pd.DataFrame({"a": [1.0, 2.0], "name": ["x", "y"]}))
    with pytest.raises(TypeError, match="dtype"):
        make().fit(np.array([["a", "b"], ["c", "d"]]))
    with pytest.raises(ValueError, match="contamination"):
        make(contamination=0.7).fit(X)
    with pytest.raises(ValueError, match="feature names"):
        make().fit(pd.DataFrame(X, columns=list("abcdef"))).decision_function(pd.DataFrame(X, columns=list("uvwxyz")))


def test_constant_columns_and_tiny_inputs():
    X = np.column_stack([np.ones(50), np.arange(50.0)])
    X[-1, 1] = 500.0
    for det in (IsolationForest(random_state=0), HBOS(), ECOD()):
        fitted = det.fit(X)
        scores = fitted.decision_function(X)
        assert np.isfinite(scores).all()
    # All-constant data: every row is alike.
    same = np.ones((20, 3))
    for det in (IsolationForest(random_state=0), HBOS(), ECOD()):
        s = det.fit(same).decision_function(same)
        assert np.all(s == s[0])
    np.testing.assert_allclose(ECOD().fit(same).decision_scores_, PyodECOD().fit(same).decision_scores_)
    # A single row.
    one = np.array([[1.0, 2.0]])
    assert IsolationForest(random_state=0).fit(one).score_samples(one)[0] == -0.5
    assert ECOD().fit(one).decision_scores_.shape == (1,)


def test_isolation_forest_parameter_errors():
    X, _ = labelled(0, n=100, n_out=4)
    for params, match in [
        ({"max_samples": "all"}, "max_samples"),
        ({"max_samples": 0}, "max_samples"),
        ({"max_samples": 1.5}, "max_samples"),
        ({"max_features": 7}, "max_features"),
        ({"max_features": 0.0}, "max_features"),
        ({"n_estimators": 0}, "n_estimators"),
        ({"random_state": "x"}, "random_state"),
        ({"n_jobs": 0}, "n_jobs"),
    ]:
        # A value of the wrong kind is a TypeError, one out of range a ValueError.
        with pytest.raises((ValueError, TypeError), match=match):
            IsolationForest(**params).fit(X)
    with pytest.raises(ValueError, match="n_bins"):
        HBOS(n_bins=1).fit(X)
    with pytest.raises(ValueError, match="alpha"):
        HBOS(alpha=2.0).fit(X)
