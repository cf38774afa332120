# Type stubs of the private native module. The public, documented API is in
# the Python package; these describe what it calls.
from typing import Any

import numpy as np

__version__: str

def rfm_summary(
    data: Any,
    customer_col: str,
    datetime_col: str,
    monetary_value_col: str | None = None,
    observation_period_end: tuple[int, bool] | None = None,
    freq: str = "D",
    freq_multiplier: float = 1.0,
    include_first_transaction: bool = False,
) -> dict[str, Any]: ...
def rfm_calibration_holdout(
    data: Any,
    customer_col: str,
    datetime_col: str,
    calibration_period_end: tuple[int, bool],
    monetary_value_col: str | None = None,
    observation_period_end: tuple[int, bool] | None = None,
    freq: str = "D",
    freq_multiplier: float = 1.0,
    include_first_transaction: bool = False,
) -> dict[str, Any]: ...
def simulate_transactions(
    n_customers: int,
    seed: int,
    start_micros: int,
    acquisition_days: float,
    horizon_days: float,
    r: float,
    alpha: float,
    a: float,
    b: float,
    p: float,
    q: float,
    gamma: float,
    n_items: int,
    n_clusters: int,
    zipf_exponent: float,
    taste_strength: float,
    n_places: int,
    travel_rate: float,
    fraud_rate: float,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]: ...
def __getattr__(name: str) -> Any: ...
