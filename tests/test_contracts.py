"""The boundary between Python and the core: every estimator's parameters are
its contract in the core (names, order, defaults), the core checks them and
names the parameter at fault, and scikit-learn's estimator checks pass."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

import patronage
from patronage import _core
from patronage._base import Estimator, contract
from patronage.anomaly import ECOD, HBOS, IsolationForest, TransactionRiskScorer
from patronage.clv import BetaGeo, BetaGeoBetaBinom, GammaGamma, ModifiedBetaGeo, ParetoNBD, ShiftedBetaGeo
from patronage.recommend import ALS, BPR, EASE, ItemKNN, Popularity, RepeatAware, RP3Beta

ESTIMATORS = [
    BetaGeo, ModifiedBetaGeo, ParetoNBD, BetaGeoBetaBinom, ShiftedBetaGeo, GammaGamma,
    Popularity, ItemKNN, RP3Beta, ALS, BPR, EASE, RepeatAware,
    IsolationForest, HBOS, ECOD, TransactionRiskScorer,
]  # fmt: skip


def _subclasses(cls: type) -> set[type]:
    out = set()
    for sub in cls.__subclasses__():
        out |= {sub} | _subclasses(sub)
    return out


def test_every_public_estimator_is_listed_and_has_a_contract():
    public = {c for c in _subclasses(Estimator) if not c.__name__.startswith("_") and c.__module__.startswith("patronage")}
    public = {c for c in public if c.__name__ not in ("Recommender", "ClvEstimator")}  # shared bases
    assert public == set(ESTIMATORS)
    functions = {"simulate_transactions", "clv_intervals"}
    assert {c.__name__ for c in ESTIMATORS} | functions == set(_core.contract_names())


@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda c: c.__name__)
def test_signatures_are_the_contracts(cls):
    spec = contract(cls.__name__)
    assert cls._contract is spec
    parameters = list(inspect.signature(cls.__init__).parameters.values())[1:]
    assert [p.name for p in parameters] == list(spec.params)
    for p in parameters:
        assert p.default == spec.default(p.name), p.name
    # The defaults are accepted by the core as they are.
    assert cls().get_params() == {name: spec.default(name) for name in spec.params}


def test_interval_defaults_are_their_contract():
    spec = contract("clv_intervals")
    for method in (BetaGeo.conditional_expected_number_of_purchases_up_to_time, GammaGamma.customer_lifetime_value):
        signature = inspect.signature(method).parameters
        assert signature["draws"].default == spec.default("draws")
        assert signature["random_state"].default == spec.default("random_state")
    assert inspect.signature(BetaGeo.predict_interval).parameters["interval"].default == spec.default("interval")


def test_simulator_signature_is_its_contract():
    spec = contract("simulate_transactions")
    signature = inspect.signature(patronage.datasets.simulate_transactions).parameters
    for name in spec.params:
        assert signature[name].default == spec.default(name), name


@pytest.mark.parametrize(
    "make, fit, name, kind",
    [
        (lambda: IsolationForest(n_estimators=0), "matrix", "n_estimators", ValueError),
        (lambda: IsolationForest(n_estimators=2.5), "matrix", "n_estimators", TypeError),
        (lambda: IsolationForest(contamination="most"), "matrix", "contamination", ValueError),
        (lambda: HBOS(n_bins=True), "matrix", "n_bins", TypeError),
        (lambda: ECOD(n_jobs=0), "matrix", "n_jobs", ValueError),
        (lambda: ALS(factors=-1), "log", "factors", ValueError),
        (lambda: ItemKNN(weighting="jaccard"), "log", "weighting", ValueError),
        (lambda: EASE(regularization=np.inf), "log", "regularization", ValueError),
        (lambda: BPR(random_state=-3), "log", "random_state", ValueError),
        (lambda: TransactionRiskScorer(alert_rate=1.5), "log", "alert_rate", ValueError),
        (lambda: TransactionRiskScorer(long_window_hours=0.5), "log", "long_window_hours", ValueError),
        (lambda: TransactionRiskScorer(refunds=1), "log", "refunds", TypeError),
        (lambda: BetaGeo(penalizer_coef=-1), "summary", "penalizer_coef", ValueError),
        (lambda: GammaGamma(max_iter="many"), "summary", "max_iter", TypeError),
    ],
)
def test_the_core_names_the_parameter_at_fault(make, fit, name, kind):
    from patronage.datasets import load_cdnow_summary, simulate_transactions

    data = {
        "matrix": lambda: np.random.default_rng(0).normal(size=(40, 3)),
        "log": lambda: simulate_transactions(50, seed=0)[0],
        "summary": lambda: load_cdnow_summary(with_monetary_value=True),
    }[fit]()
    estimator = make()
    with pytest.raises(kind, match=f"{type(estimator).__name__} parameter '{name}'"):
        estimator.fit(data)
    assert estimator._model is None  # nothing half-fitted


def test_unfitted_errors_are_scikit_learns_when_it_is_loaded():
    from sklearn.exceptions import NotFittedError as SklearnNotFitted

    with pytest.raises(SklearnNotFitted):
        IsolationForest().predict(np.zeros((2, 2)))
    with pytest.raises(patronage.NotFittedError):
        BetaGeo().params_


@pytest.mark.parametrize("make", [IsolationForest, HBOS, ECOD], ids=lambda c: c.__name__)
def test_detectors_pass_scikit_learns_estimator_checks(make):
    from sklearn.utils.estimator_checks import check_estimator

    results = check_estimator(make(), on_fail=None)
    failed = {r["check_name"]: str(r["exception"]).splitlines()[:1] for r in results if r["status"] == "failed"}
    assert not failed, failed
    assert len(results) >= 40


def test_isolation_forest_reads_sparse_input_as_dense():
    import scipy.sparse as sp

    X = np.random.default_rng(1).normal(size=(200, 4))
    X[X < 0.5] = 0.0
    dense = IsolationForest(random_state=3).fit(X)
    sparse = IsolationForest(random_state=3).fit(sp.csr_matrix(X))
    np.testing.assert_array_equal(dense.score_samples(X), sparse.score_samples(sp.csc_matrix(X)))
