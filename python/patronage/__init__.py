"""patronage: customer analytics for notebooks, with a Rust core over Arrow.

* :func:`customer_table` — the main job: one row per customer (value, churn
  risk, next items, alerts) from a transaction log; the ``patronage``
  command runs it on a file.
* :func:`rfm_summary`, :func:`rfm_calibration_holdout` — customer summaries
  from a transaction log (the input of every lifetime-value model).
* :mod:`patronage.clv` — buy-till-you-die models, CLV and segmentation.
* :mod:`patronage.recommend` — implicit-feedback recommenders and ranking metrics.
* :mod:`patronage.anomaly` — unsupervised detectors and per-customer transaction risk.
* :mod:`patronage.datasets` — CDNOW data and a transaction simulator.

Every function that takes a table accepts pandas, polars, pyarrow or any Arrow
PyCapsule object, and returns the same kind.
"""

from . import _core
from ._base import NotFittedError
from .summary import rfm_calibration_holdout, rfm_summary

from . import anomaly, clv, datasets, recommend  # noqa: E402  (subpackages use the above)
from .customers import CustomerTable, customer_table  # noqa: E402  (uses every core)

__version__: str = _core.__version__

__all__ = [
    "CustomerTable",
    "NotFittedError",
    "__version__",
    "anomaly",
    "clv",
    "customer_table",
    "datasets",
    "recommend",
    "rfm_calibration_holdout",
    "rfm_summary",
]
