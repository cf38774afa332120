"""Anomaly scoring: unsupervised detectors and per-customer transaction risk.

* :class:`IsolationForest` — scikit-learn's isolation forest, in Rust
  (same path-length normalisation, ``score_samples`` sign, ``offset_``).
* :class:`HBOS`, :class:`ECOD` — PyOD's histogram and empirical-CDF detectors
  (``decision_scores_``, ``threshold_``, ``labels_``; higher = more abnormal).
* :class:`TransactionRiskScorer` — each card transaction against its
  customer's own past (amount, timing, rolling windows, first-time place,
  card testing), a risk score with reasons in plain words, batch or streaming.

Every estimator follows scikit-learn's conventions (``fit`` returns self,
``get_params``/``set_params``, ``sklearn.base.clone``, ``Pipeline``) and
pickles or ``save``/``load``\\ s exactly.
"""

from ._detectors import ECOD, HBOS, IsolationForest
from ._transactions import TransactionRiskScorer

__all__ = ["ECOD", "HBOS", "IsolationForest", "TransactionRiskScorer"]
