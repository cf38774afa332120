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
class ClvModel:
    """A fitted lifetime-value model (see patronage.clv)."""

    @staticmethod
    def fit(
        model: str,
        data: Any,
        columns: list[str],
        weights: np.ndarray | None = None,
        penalizer: float = 0.0,
        initial_params: list[float] | None = None,
        max_iter: int = 500,
        tol: float = 1e-8,
    ) -> ClvModel: ...
    @staticmethod
    def from_params(model: str, params: list[float]) -> ClvModel: ...
    @staticmethod
    def from_bytes(data: bytes) -> ClvModel: ...
    def to_bytes(self) -> bytes: ...
    @property
    def model(self) -> str: ...
    @property
    def param_names(self) -> list[str]: ...
    @property
    def params(self) -> list[float]: ...
    @property
    def std_errors(self) -> list[float]: ...
    @property
    def covariance(self) -> np.ndarray: ...
    @property
    def log_likelihood(self) -> float: ...
    @property
    def aic(self) -> float: ...
    @property
    def bic(self) -> float: ...
    @property
    def n_samples(self) -> float: ...
    @property
    def n_distinct_rows(self) -> int: ...
    @property
    def n_excluded(self) -> int: ...
    @property
    def iterations(self) -> int: ...
    @property
    def converged(self) -> bool: ...
    def row_log_likelihood(self, data: Any, columns: list[str]) -> np.ndarray: ...
    def conditional_expected_purchases(self, data: Any, columns: list[str], t: np.ndarray) -> np.ndarray: ...
    def probability_alive(self, data: Any, columns: list[str], t: np.ndarray) -> np.ndarray: ...
    def expected_purchases_new(self, t: np.ndarray) -> np.ndarray: ...
    def probability_of_n_purchases(self, t: np.ndarray, n: int) -> np.ndarray: ...
    def conditional_probability_of_n(
        self, data: Any, columns: list[str], t: np.ndarray, n: int
    ) -> np.ndarray: ...
    def expected_average_spend(self, data: Any, columns: list[str]) -> np.ndarray: ...
    def survival(self, t: np.ndarray) -> np.ndarray: ...
    def retention_rate(self, t: np.ndarray) -> np.ndarray: ...
    def lifetime_value(
        self,
        data: Any,
        columns: list[str],
        spend: np.ndarray,
        months: int,
        discount_rate: float,
        periods_per_month: float,
        continuous: bool = False,
        steps_per_month: int = 4,
    ) -> np.ndarray: ...

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

# -- recommend ---------------------------------------------------------------

class Interactions:
    @staticmethod
    def from_table(data: Any, user_col: str, item_col: str, weight_col: str | None = None) -> Interactions: ...
    @staticmethod
    def from_csr(
        shape: tuple[int, int], indptr: np.ndarray, indices: np.ndarray, data: np.ndarray
    ) -> Interactions: ...
    @property
    def shape(self) -> tuple[int, int]: ...
    @property
    def nnz(self) -> int: ...
    def csr(self) -> dict[str, Any]: ...
    def user_ids(self) -> Any: ...
    def item_ids(self) -> Any: ...
    @property
    def user_col(self) -> str: ...
    @property
    def item_col(self) -> str: ...
    def to_bytes(self) -> bytes: ...
    @staticmethod
    def from_bytes(data: bytes) -> Interactions: ...

class Recommender:
    @staticmethod
    def fit_popularity(data: Interactions) -> Recommender: ...
    @staticmethod
    def fit_item_knn(
        data: Interactions, weighting: str, k: int, shrinkage: float, k1: float, b: float, progress: Any = None
    ) -> Recommender: ...
    @staticmethod
    def fit_als(
        data: Interactions,
        factors: int,
        regularization: float,
        alpha: float,
        iterations: int,
        cg_steps: int,
        seed: int,
        progress: Any = None,
    ) -> Recommender: ...
    @staticmethod
    def fit_bpr(
        data: Interactions,
        factors: int,
        learning_rate: float,
        regularization: float,
        iterations: int,
        seed: int,
        progress: Any = None,
    ) -> Recommender: ...
    @staticmethod
    def fit_ease(data: Interactions, regularization: float, max_items: int) -> Recommender: ...
    @staticmethod
    def from_bytes(data: bytes) -> Recommender: ...
    def to_bytes(self) -> bytes: ...
    @property
    def model_name(self) -> str: ...
    @property
    def user_col(self) -> str: ...
    @property
    def item_col(self) -> str: ...
    @property
    def shape(self) -> tuple[int, int]: ...
    def user_ids(self) -> Any: ...
    def item_ids(self) -> Any: ...
    def train_csr(self) -> dict[str, Any]: ...
    def popularity(self) -> np.ndarray: ...
    def user_factors(self) -> np.ndarray: ...
    def item_factors(self) -> np.ndarray: ...
    def similarity(self) -> dict[str, Any]: ...
    def ease_weights(self) -> np.ndarray: ...
    def recommend(
        self, users: Any, n: int, exclude_seen: bool, items: Any = None, unknown_users: str = "error"
    ) -> dict[str, Any]: ...
    def recommend_new(
        self,
        data: Any,
        user_col: str,
        item_col: str,
        weight_col: str | None,
        n: int,
        exclude_seen: bool,
        items: Any = None,
    ) -> dict[str, Any]: ...
    def similar_items(self, items: Any, n: int, candidates: Any = None) -> dict[str, Any]: ...
    def similar_users(self, users: Any, n: int) -> dict[str, Any]: ...

def split_mask(
    data: Any,
    user_col: str,
    time_col: str | None,
    how: str,
    cutoff: tuple[int, bool] | None = None,
    k: int = 1,
    test_size: float = 0.2,
    seed: int = 0,
) -> np.ndarray: ...
def ranking_metrics(
    rec_users: Any,
    rec_items: Any,
    rec_ranks: np.ndarray,
    test_users: Any,
    test_items: Any,
    k: int,
    n_items: int,
) -> dict[str, float]: ...
