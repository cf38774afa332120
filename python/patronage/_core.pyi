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
# -- anomaly -----------------------------------------------------------------
_LogColumns = tuple[str, str, str, str | None, str | None, str | None]

class IsolationForestModel:
    @staticmethod
    def fit(
        x: np.ndarray,
        feature_names: list[str],
        n_estimators: int,
        max_samples: int,
        max_features: int,
        contamination: float | None,
        bootstrap: bool,
        seed: int,
        n_jobs: int | None = None,
    ) -> IsolationForestModel: ...
    def score_samples(self, x: np.ndarray, n_jobs: int | None = None) -> np.ndarray: ...
    offset: float
    n_features: int
    feature_names: list[str]
    max_samples: int
    n_estimators: int
    def to_bytes(self) -> bytes: ...
    @staticmethod
    def from_bytes(data: bytes) -> IsolationForestModel: ...

class HbosModel:
    @staticmethod
    def fit(
        x: np.ndarray,
        feature_names: list[str],
        n_bins: int,
        alpha: float,
        tol: float,
        contamination: float,
        n_jobs: int | None = None,
    ) -> HbosModel: ...
    def decision_function(self, x: np.ndarray, n_jobs: int | None = None) -> np.ndarray: ...
    decision_scores: np.ndarray
    threshold: float
    n_features: int
    feature_names: list[str]
    def to_bytes(self) -> bytes: ...
    @staticmethod
    def from_bytes(data: bytes) -> HbosModel: ...

class EcodModel:
    @staticmethod
    def fit(
        x: np.ndarray, feature_names: list[str], contamination: float, n_jobs: int | None = None
    ) -> EcodModel: ...
    def decision_function(self, x: np.ndarray, n_jobs: int | None = None) -> np.ndarray: ...
    decision_scores: np.ndarray
    threshold: float
    n_features: int
    feature_names: list[str]
    def to_bytes(self) -> bytes: ...
    @staticmethod
    def from_bytes(data: bytes) -> EcodModel: ...

class TransactionRiskModel:
    @staticmethod
    def fit(
        data: Any,
        columns: _LogColumns,
        short_window_seconds: float,
        long_window_seconds: float,
        small_share: float,
        large_multiple: float,
        alert_rate: float,
        n_reasons: int,
        refunds: str,
    ) -> TransactionRiskModel: ...
    def score(self, data: Any, columns: _LogColumns, with_features: bool = False) -> dict[str, Any]: ...
    def score_new(self, data: Any, columns: _LogColumns, with_features: bool = False) -> dict[str, Any]: ...
    def update(self, data: Any, columns: _LogColumns) -> None: ...
    threshold: float
    n_customers: int
    @staticmethod
    def feature_names() -> list[str]: ...
    @staticmethod
    def term_names() -> list[str]: ...
    def to_bytes(self) -> bytes: ...
    @staticmethod
    def from_bytes(data: bytes) -> TransactionRiskModel: ...

def __getattr__(name: str) -> Any: ...
