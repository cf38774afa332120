"""Unsupervised outlier detectors over numeric features: isolation forest,
HBOS and ECOD, computed in Rust (parallel over trees, features and rows).

Parameters, their defaults and ranges are the core's contracts; the classes
here turn inputs into float64 matrices and follow scikit-learn's protocol."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import _core
from .._base import Estimator, contract
from ._input import as_matrix

__all__ = ["ECOD", "HBOS", "IsolationForest"]

_IF = contract("IsolationForest")
_HBOS = contract("HBOS")
_ECOD = contract("ECOD")


class _Detector(Estimator):
    """Shared input handling: frames, arrays or scipy.sparse in, names
    remembered, fitted through the core's contract."""

    _accepts_sparse = True
    n_jobs: int | None

    def _matrix(self, X: Any) -> np.ndarray:
        values, names = as_matrix(X)
        fitted = self._check_fitted().feature_names
        if names and fitted and names != list(fitted):
            raise ValueError(
                f"X has feature names {names}, but {type(self).__name__} was fitted with {list(fitted)}"
            )
        return values

    def fit(self, X: Any, y: Any = None) -> Any:
        """Fit on ``X`` (``y`` is ignored); returns self."""
        values, names = as_matrix(X)
        self._model = self._native_type.fit(values, names, self._native_params())
        return self

    @property
    def n_features_in_(self) -> int:
        """Number of features seen in ``fit``."""
        return int(self._check_fitted().n_features)

    @property
    def feature_names_in_(self) -> np.ndarray:
        """Column names seen in ``fit`` (only when fitted on a frame)."""
        names = self._check_fitted().feature_names
        if not names:
            raise AttributeError(f"{type(self).__name__} was fitted on an array without feature names")
        return np.asarray(names, dtype=object)


class IsolationForest(_Detector):
    """Isolation forest (Liu, Ting & Zhou 2008), a drop-in for scikit-learn's.

    Each of ``n_estimators`` trees isolates a random sub-sample of
    ``max_samples`` rows by random splits (a random feature among
    ``max_features`` drawn per tree, a uniform threshold between its minimum
    and maximum in the node) up to depth ``ceil(log2(max_samples))``. Anomalies
    are isolated in few splits. The path length of a row is the depth of its
    leaf plus ``c(n)``, the average path length of ``n`` points left in the
    leaf, normalised by ``c(max_samples)`` exactly as scikit-learn does.

    **Sign convention (scikit-learn's):** ``score_samples`` is minus the
    anomaly score of the paper, in ``[-1, 0]``: *the lower, the more
    abnormal*. ``decision_function = score_samples - offset_`` is negative for
    outliers, and ``predict`` returns ``-1`` for outliers, ``1`` for inliers.
    With ``contamination='auto'``, ``offset_ = -0.5``; with a number, ``offset_``
    is that percentile of the training scores, so that share of the training
    rows is flagged.

    Args:
        n_estimators: number of trees.
        max_samples: rows per tree: ``'auto'`` (``min(256, n_samples)``), an
            int (more than ``n_samples`` warns and uses all rows, as
            scikit-learn) or a fraction in (0, 1].
        contamination: ``'auto'`` or the expected share of outliers in (0, 0.5].
        max_features: features per tree, an int or a fraction in (0, 1].
        bootstrap: draw each tree's rows with replacement.
        random_state: seed (int), numpy generator, or None for numpy's global
            state. Results are identical for a seed whatever ``n_jobs``.
        n_jobs: threads (None or -1: all cores).

    Input: numpy arrays, frames (feature names remembered) or scipy.sparse
    matrices (densified: the scores equal those of the dense array).

    Attributes:
        offset_, max_samples_, n_features_in_, feature_names_in_ (frames only).

    Differences from scikit-learn: trees are drawn from a different random
    generator (scores agree in distribution, not bit for bit: AUROC within
    0.01 over seeds, see the tests), features are kept in float64 (scikit-learn
    casts to float32), and ``sample_weight`` and ``warm_start`` are not
    supported.

    Example:
        >>> import numpy as np
        >>> from patronage.anomaly import IsolationForest
        >>> rng = np.random.default_rng(0)
        >>> X = np.vstack([rng.normal(size=(500, 2)), [[6.0, 6.0]]])
        >>> forest = IsolationForest(random_state=0).fit(X)
        >>> int(np.argmin(forest.score_samples(X)))
        500
        >>> forest.predict([[0.0, 0.0], [6.0, 6.0]]).tolist()
        [1, -1]
    """

    _contract = _IF
    _native_type = _core.IsolationForestModel
    _estimator_type = "outlier_detector"

    def __init__(
        self,
        n_estimators: int = _IF.default("n_estimators"),
        max_samples: int | float | str = _IF.default("max_samples"),
        contamination: float | str = _IF.default("contamination"),
        max_features: int | float = _IF.default("max_features"),
        bootstrap: bool = _IF.default("bootstrap"),
        random_state: Any = _IF.default("random_state"),
        n_jobs: int | None = _IF.default("n_jobs"),
    ) -> None:
        self.n_estimators = n_estimators
        self.max_samples = max_samples
        self.contamination = contamination
        self.max_features = max_features
        self.bootstrap = bootstrap
        self.random_state = random_state
        self.n_jobs = n_jobs

    def fit(self, X: Any, y: Any = None) -> IsolationForest:
        """Grow the forest on ``X`` (``y`` is ignored); returns self."""
        return super().fit(X, y)

    def score_samples(self, X: Any) -> np.ndarray:
        """Minus the anomaly score: in [-1, 0], the lower the more abnormal."""
        return self._check_fitted().score_samples(self._matrix(X), self.n_jobs)

    def decision_function(self, X: Any) -> np.ndarray:
        """``score_samples(X) - offset_``: negative for outliers."""
        return self._check_fitted().decision_function(self._matrix(X), self.n_jobs)

    def predict(self, X: Any) -> np.ndarray:
        """``-1`` for outliers, ``1`` for inliers."""
        return self._check_fitted().predict(self._matrix(X), self.n_jobs)

    def fit_predict(self, X: Any, y: Any = None) -> np.ndarray:
        """Fit on ``X`` and return its labels (-1 outlier, 1 inlier)."""
        return self.fit(X).predict(X)

    @property
    def offset_(self) -> float:
        """Threshold on ``score_samples``: ``decision_function = score_samples - offset_``."""
        return float(self._check_fitted().offset)

    @property
    def max_samples_(self) -> int:
        """The number of rows each tree was grown on."""
        return int(self._check_fitted().max_samples)


class _PyODDetector(_Detector):
    """PyOD's conventions: ``decision_scores_``, ``threshold_``, ``labels_``;
    ``decision_function`` higher = more abnormal, ``predict`` 1 for outliers.

    These are not scikit-learn's outlier-detector conventions (``predict``
    -1/1, ``decision_function`` negative for outliers), so scikit-learn does
    not count them as outlier detectors (``is_outlier_detector`` is False);
    everything else of its estimator protocol holds."""

    def fit(self, X: Any, y: Any = None) -> Any:
        """Fit on ``X`` (``y`` is ignored); sets ``decision_scores_``,
        ``threshold_`` and ``labels_``; returns self."""
        return super().fit(X, y)

    def decision_function(self, X: Any) -> np.ndarray:
        """Outlier scores (PyOD's sign): *the higher, the more abnormal*."""
        return self._check_fitted().decision_function(self._matrix(X), self.n_jobs)

    def score_samples(self, X: Any) -> np.ndarray:
        """scikit-learn's sign: ``-decision_function(X)``, the lower the more abnormal."""
        return -self.decision_function(X)

    def predict(self, X: Any) -> np.ndarray:
        """PyOD's labels: ``1`` for outliers (score above ``threshold_``), ``0`` for inliers."""
        return self._check_fitted().predict(self._matrix(X), self.n_jobs)

    def fit_predict(self, X: Any, y: Any = None) -> np.ndarray:
        """Fit on ``X`` and return ``labels_``."""
        return self.fit(X).labels_

    @property
    def decision_scores_(self) -> np.ndarray:
        """Outlier scores of the training rows (higher = more abnormal)."""
        return self._check_fitted().decision_scores

    @property
    def threshold_(self) -> float:
        """The ``1 - contamination`` percentile of ``decision_scores_``."""
        return float(self._check_fitted().threshold)

    @property
    def labels_(self) -> np.ndarray:
        """Training labels: 1 where ``decision_scores_ > threshold_``, else 0."""
        return self._check_fitted().labels()


class HBOS(_PyODDetector):
    """Histogram-based outlier score (Goldstein & Dengel 2012), as PyOD's ``HBOS``.

    Each feature gets ``n_bins`` equal-width bins over its training range; a
    row's score is ``-sum_j log2(density_j(x_j) + alpha)``. Values outside the
    training range count in the edge bin when within ``tol`` bin widths of it,
    else get the feature's lowest density. A constant feature gets one bin of
    width 1 centred on its value (as numpy).

    **Sign convention (PyOD's):** ``decision_function`` and
    ``decision_scores_``: *the higher, the more abnormal*; ``predict`` returns
    1 for outliers, 0 for inliers; ``score_samples`` is the negation
    (scikit-learn's direction).

    Args:
        n_bins: bins per feature (an int >= 2; PyOD's ``'auto'`` is not supported).
        alpha: added to densities before the log, in [0, 1].
        tol: how far outside the range (in bin widths) still counts as the edge bin.
        contamination: share of training rows above ``threshold_``, in (0, 0.5].
        n_jobs: threads (None or -1: all cores).

    Example:
        >>> import numpy as np
        >>> from patronage.anomaly import HBOS
        >>> rng = np.random.default_rng(0)
        >>> X = np.vstack([rng.normal(size=(500, 2)), [[6.0, 6.0]]])
        >>> hbos = HBOS(contamination=0.01).fit(X)
        >>> int(np.argmax(hbos.decision_scores_)), int(hbos.labels_.sum())
        (500, 5)
    """

    _contract = _HBOS
    _native_type = _core.HbosModel

    def __init__(
        self,
        n_bins: int = _HBOS.default("n_bins"),
        alpha: float = _HBOS.default("alpha"),
        tol: float = _HBOS.default("tol"),
        contamination: float = _HBOS.default("contamination"),
        n_jobs: int | None = _HBOS.default("n_jobs"),
    ) -> None:
        self.n_bins = n_bins
        self.alpha = alpha
        self.tol = tol
        self.contamination = contamination
        self.n_jobs = n_jobs


class ECOD(_PyODDetector):
    """ECOD: outlier detection with empirical CDFs (Li et al. 2022), as PyOD's ``ECOD``.

    For each feature, a value's left- and right-tail probabilities are the
    shares of training values ``<=`` and ``>=`` it; its feature score is the
    largest of ``-log`` left, ``-log`` right and the tail picked by the sign of
    the feature's skewness. A row's score is the sum over features. The
    training scores (``decision_scores_``) equal PyOD's.

    New rows are scored as PyOD scores *one* row appended to the training data
    (tail shares ``(count + 1) / (n + 1)``), so a row's score does not depend on
    the other rows of the batch; PyOD instead re-ranks the whole batch together
    with the training data. The model keeps the sorted training values
    (``8 * n_samples * n_features`` bytes) to do this.

    **Sign convention (PyOD's):** ``decision_function`` and
    ``decision_scores_``: *the higher, the more abnormal*; ``predict`` returns
    1 for outliers, 0 for inliers; ``score_samples`` is the negation
    (scikit-learn's direction).

    Args:
        contamination: share of training rows above ``threshold_``, in (0, 0.5].
        n_jobs: threads (None or -1: all cores).

    Example:
        >>> import numpy as np
        >>> from patronage.anomaly import ECOD
        >>> rng = np.random.default_rng(0)
        >>> X = np.vstack([rng.normal(size=(500, 2)), [[6.0, 6.0]]])
        >>> ecod = ECOD(contamination=0.01).fit(X)
        >>> int(np.argmax(ecod.decision_scores_))
        500
        >>> ecod.predict([[0.0, 0.0], [6.0, 6.0]]).tolist()
        [0, 1]
    """

    _contract = _ECOD
    _native_type = _core.EcodModel

    def __init__(
        self, contamination: float = _ECOD.default("contamination"), n_jobs: int | None = _ECOD.default("n_jobs")
    ) -> None:
        self.contamination = contamination
        self.n_jobs = n_jobs
