"""Customer lifetime value: buy-till-you-die models, CLV and segmentation.

Models (maximum likelihood, exact gradients, Rust core), with lifetimes'
method names:

* :class:`BetaGeo` (BG/NBD), :class:`ModifiedBetaGeo` (MBG/NBD),
  :class:`ParetoNBD` — purchases in continuous time;
* :class:`BetaGeoBetaBinom` (BG/BB) — discrete purchase opportunities;
* :class:`ShiftedBetaGeo` — contractual churn;
* :class:`GammaGamma` — spend per purchase, and discounted CLV.
"""

from ._base import ConvergenceWarning
from ._models import BetaGeo, BetaGeoBetaBinom, GammaGamma, ModifiedBetaGeo, ParetoNBD, ShiftedBetaGeo

__all__ = [
    "BetaGeo",
    "BetaGeoBetaBinom",
    "ConvergenceWarning",
    "GammaGamma",
    "ModifiedBetaGeo",
    "ParetoNBD",
    "ShiftedBetaGeo",
]
