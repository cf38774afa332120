"""Customer lifetime value: buy-till-you-die models, CLV and segmentation.

Models (maximum likelihood, exact gradients, Rust core), with lifetimes'
method names:

* :class:`BetaGeo` (BG/NBD), :class:`ModifiedBetaGeo` (MBG/NBD),
  :class:`ParetoNBD` — purchases in continuous time;
* :class:`BetaGeoBetaBinom` (BG/BB) — discrete purchase opportunities;
* :class:`ShiftedBetaGeo` — contractual churn;
* :class:`GammaGamma` — spend per purchase, and discounted CLV.

Checks: :func:`calibration_holdout_comparison`, :func:`period_transactions`,
:func:`frequency_recency_matrix` and their ``plot_*`` functions (matplotlib).
Segmentation: :func:`rfm_scores`, :func:`value_tiers`, :func:`lifecycle_stages`.
"""

from ._base import ConvergenceWarning
from ._checks import HoldoutComparison, calibration_holdout_comparison, frequency_recency_matrix, period_transactions
from ._models import BetaGeo, BetaGeoBetaBinom, GammaGamma, ModifiedBetaGeo, ParetoNBD, ShiftedBetaGeo
from ._plots import (
    plot_calibration_purchases_vs_holdout_purchases,
    plot_frequency_recency_matrix,
    plot_period_transactions,
    plot_probability_alive_matrix,
)
from ._segments import lifecycle_stages, rfm_scores, value_tiers

__all__ = [
    "BetaGeo",
    "BetaGeoBetaBinom",
    "ConvergenceWarning",
    "GammaGamma",
    "HoldoutComparison",
    "ModifiedBetaGeo",
    "ParetoNBD",
    "ShiftedBetaGeo",
    "calibration_holdout_comparison",
    "frequency_recency_matrix",
    "lifecycle_stages",
    "period_transactions",
    "plot_calibration_purchases_vs_holdout_purchases",
    "plot_frequency_recency_matrix",
    "plot_period_transactions",
    "plot_probability_alive_matrix",
    "rfm_scores",
    "value_tiers",
]
