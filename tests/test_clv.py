"""Lifetime-value models: published estimates, lifetimes side by side,
simulated truth, serialisation and bad input."""

from __future__ import annotations

import pickle
import re
import warnings

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

import patronage
from patronage.clv import (
    BetaGeo,
    BetaGeoBetaBinom,
    ConvergenceWarning,
    GammaGamma,
    ModifiedBetaGeo,
    ParetoNBD,
    ShiftedBetaGeo,
)
from patronage.datasets import load_cdnow_summary, load_donations, simulate_transactions

lifetimes = pytest.importorskip("lifetimes")


def rel_diff(ours, theirs) -> float:
    a, b = np.asarray(ours, dtype=float), np.asarray(theirs, dtype=float)
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-300)))


@pytest.fixture(scope="module")
def cdnow() -> pd.DataFrame:
    return load_cdnow_summary(with_monetary_value=True)


def _published(shared_cdnow) -> str:
    return (shared_cdnow / "README.md").read_text()


# -- published estimates (Fader, Hardie & Lee; Fader & Hardie) ---------------

PUBLISHED = {
    BetaGeo: ({"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}, -9582.4),
    ParetoNBD: ({"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669}, -9595.0),
    ModifiedBetaGeo: ({"r": 0.525, "alpha": 6.183, "a": 0.891, "b": 1.614}, -9582.1),
}


@pytest.mark.parametrize("model", list(PUBLISHED))
def test_cdnow_fits_reproduce_published_estimates(model, cdnow, shared_cdnow):
    params, log_likelihood = PUBLISHED[model]
    text = _published(shared_cdnow)
    for value in params.values():  # the figures are the shared README's
        assert str(value) in text
    fitted = model().fit(cdnow)
    assert fitted.converged_
    for name, value in params.items():
        # Published to three decimals; Pareto/NBD's beta is flat (se ≈ 6), so
        # allow one unit in the third decimal there.
        assert fitted.params_[name] == pytest.approx(value, abs=2e-3), name
    assert fitted.log_likelihood_ == pytest.approx(log_likelihood, abs=0.05)


def test_gamma_gamma_reproduces_published_estimates(cdnow):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gg = GammaGamma().fit(cdnow)
    assert gg.n_excluded_ == int((cdnow["frequency"] == 0).sum())
    assert gg.n_samples_ == 946
    assert gg.params_["p"] == pytest.approx(6.25, abs=5e-3)
    assert gg.params_["q"] == pytest.approx(3.74, abs=5e-3)
    assert gg.params_["v"] == pytest.approx(15.44, abs=1e-2)


def test_bg_bb_reproduces_published_donation_estimates():
    d = load_donations()
    model = BetaGeoBetaBinom().fit(d, weights="weights")
    expected = {"alpha": 1.204, "beta": 0.750, "gamma": 0.657, "delta": 2.783}
    for name, value in expected.items():
        assert model.params_[name] == pytest.approx(value, abs=1e-3)
    assert model.log_likelihood_ == pytest.approx(-33225.6, abs=0.05)
    assert model.n_samples_ == 11104


@pytest.mark.parametrize(
    "survivors, alpha, beta",
    [
        ([1000, 631, 468, 382, 326, 289, 262, 241], 0.704, 1.182),
        ([1000, 869, 743, 653, 593, 551, 517, 491], 0.668, 3.806),
    ],
)
def test_shifted_beta_geometric_reproduces_fader_hardie_2007(survivors, alpha, beta):
    model = ShiftedBetaGeo().fit_cohort(survivors)
    assert model.params_["alpha"] == pytest.approx(alpha, abs=1e-3)
    assert model.params_["beta"] == pytest.approx(beta, abs=1e-3)
    surv = model.survival_function(np.arange(8))
    assert surv[0] == 1.0 and np.all(np.diff(surv) < 0)
    assert np.allclose(surv[1:] / surv[:-1], model.retention_rate(np.arange(1, 8)))


# -- side by side with lifetimes -------------------------------------------

LIFETIMES = {
    BetaGeo: lifetimes.BetaGeoFitter,
    ModifiedBetaGeo: lifetimes.ModifiedBetaGeoFitter,
    ParetoNBD: lifetimes.ParetoNBDFitter,
}


def _lifetimes_with_our_params(model, cdnow):
    theirs = LIFETIMES[type(model)]().fit(cdnow["frequency"], cdnow["recency"], cdnow["T"])
    theirs.params_ = pd.Series(model.params_)
    return theirs


@pytest.mark.parametrize("model_type", list(LIFETIMES))
def test_fit_is_at_least_as_good_as_lifetimes(model_type, cdnow):
    ours = model_type().fit(cdnow)
    theirs = LIFETIMES[model_type]().fit(cdnow["frequency"], cdnow["recency"], cdnow["T"])
    their_ll = float(model_type.from_params(dict(theirs.params_)).log_likelihood(cdnow).sum())
    assert ours.log_likelihood_ >= their_ll - 1e-6
    for name, value in theirs.params_.items():
        assert ours.params_[name] == pytest.approx(value, rel=2e-3)


@pytest.mark.parametrize("model_type", list(LIFETIMES))
def test_predictions_equal_lifetimes(model_type, cdnow):
    ours = model_type().fit(cdnow)
    theirs = _lifetimes_with_our_params(ours, cdnow)
    f, r, T = cdnow["frequency"], cdnow["recency"], cdnow["T"]
    for t in (1.0, 10.0, 52.0):
        assert rel_diff(
            ours.conditional_expected_number_of_purchases_up_to_time(t, cdnow),
            theirs.conditional_expected_number_of_purchases_up_to_time(t, f, r, T),
        ) < 1e-6
    assert rel_diff(ours.conditional_probability_alive(cdnow), theirs.conditional_probability_alive(f, r, T)) < 1e-6
    times = np.array([0.5, 10.0, 39.0, 78.0])
    assert rel_diff(ours.expected_number_of_purchases_up_to_time(times), theirs.expected_number_of_purchases_up_to_time(times)) < 1e-6
    if model_type is ParetoNBD:  # lifetimes has the conditional PMF only
        sample = slice(None, None, 50)
        for n in (0, 1, 3, 8):
            expected = [
                theirs.conditional_probability_of_n_purchases_up_to_time(n, 39.0, *history)
                for history in zip(f[sample], r[sample], T[sample])
            ]
            ours_n = ours.conditional_probability_of_n_purchases_up_to_time(n, 39.0, cdnow)
            assert rel_diff(np.asarray(ours_n)[sample], np.array(expected)) < 1e-6
    else:
        for n in range(6):
            assert rel_diff(
                ours.probability_of_n_purchases_up_to_time(39.0, n),
                theirs.probability_of_n_purchases_up_to_time(39.0, n),
            ) < 1e-6


@pytest.mark.parametrize("model_type", [BetaGeo, ModifiedBetaGeo, ParetoNBD])
def test_purchase_count_distributions_are_proper(model_type, cdnow):
    model = model_type().fit(cdnow)
    counts = np.arange(400)
    pmf = np.array([model.probability_of_n_purchases_up_to_time(39.0, n) for n in counts])
    assert (pmf >= 0).all() and abs(pmf.sum() - 1) < 1e-9
    assert abs(counts @ pmf - model.expected_number_of_purchases_up_to_time(39.0)) < 1e-6
    if model_type is ParetoNBD:
        heavy = {"frequency": [0.0, 3.0, 40.0], "recency": [0.0, 20.0, 38.0], "T": [39.0, 39.0, 39.0]}
        conditional = np.array(
            [model.conditional_probability_of_n_purchases_up_to_time(n, 39.0, heavy) for n in counts]
        )
        np.testing.assert_allclose(conditional.sum(axis=0), 1.0, atol=1e-9)
        np.testing.assert_allclose(
            counts @ conditional, model.conditional_expected_number_of_purchases_up_to_time(39.0, heavy), rtol=1e-6
        )
        with pytest.raises(ValueError, match="'n' must be"):
            model.conditional_probability_of_n_purchases_up_to_time(-1, 39.0, heavy)


@pytest.mark.parametrize("model_type", [BetaGeo, ParetoNBD])
@pytest.mark.parametrize("freq", ["W", "D"])
def test_customer_lifetime_value_equals_lifetimes(model_type, freq, cdnow):
    gg = GammaGamma().fit(cdnow)
    their_gg = lifetimes.GammaGammaFitter()
    their_gg.params_ = pd.Series(gg.params_)
    ours = model_type().fit(cdnow)
    theirs = _lifetimes_with_our_params(ours, cdnow)
    assert rel_diff(
        gg.conditional_expected_average_profit(cdnow),
        their_gg.conditional_expected_average_profit(cdnow["frequency"], cdnow["monetary_value"]),
    ) < 1e-12
    clv = gg.customer_lifetime_value(ours, cdnow, time=12, discount_rate=0.01, freq=freq)
    expected = their_gg.customer_lifetime_value(
        theirs, cdnow["frequency"], cdnow["recency"], cdnow["T"], cdnow["monetary_value"],
        time=12, discount_rate=0.01, freq=freq,
    )
    assert rel_diff(clv, expected) < 1e-6
    assert clv.index.equals(cdnow.index)
    # Continuous discounting at the equivalent rate is close to monthly.
    continuous = gg.customer_lifetime_value(ours, cdnow, discount_rate=np.log(1.01), freq=freq, continuous=True)
    assert np.allclose(continuous, clv, rtol=0.02)


def test_bg_bb_predictions_equal_lifetimes():
    d = load_donations()
    ours = BetaGeoBetaBinom().fit(d, weights="weights")
    theirs = lifetimes.BetaGeoBetaBinomFitter().fit(d["frequency"], d["recency"], d["periods"], d["weights"])
    theirs.params_ = pd.Series(ours.params_)
    args = (d["frequency"], d["recency"], d["periods"])
    for m in (1, 5):
        assert rel_diff(
            ours.conditional_expected_number_of_purchases_up_to_time(m, d),
            theirs.conditional_expected_number_of_purchases_up_to_time(m, *args),
        ) < 1e-6
        assert rel_diff(ours.conditional_probability_alive(m, d), theirs.conditional_probability_alive(m, *args)) < 1e-6
    # E[X(n)] from the count distribution lifetimes tabulates.
    table = theirs.expected_number_of_transactions_in_first_n_periods(6)["model"]
    mean = float((table.index * table).sum() / table.sum())
    assert ours.expected_number_of_purchases_up_to_time(6) == pytest.approx(mean, rel=1e-9)


# -- simulated truth -----------------------------------------------------------


def test_bg_nbd_recovers_simulated_parameters():
    truth_params = {"r": 0.75, "alpha": 20.0, "a": 0.8, "b": 2.5}
    log, truth = simulate_transactions(30_000, seed=7, fraud_rate=0.0, **truth_params)
    # Hourly resolution in units of days: daily periods would merge same-day
    # purchases and bias the rates, which the model does not describe.
    summary = patronage.rfm_summary(log, "customer_id", "timestamp", freq="h", freq_multiplier=24)
    model = BetaGeo().fit(summary)
    assert model.converged_
    for name, value in truth_params.items():
        lo, hi = model.confidence_intervals_[name]
        # 95% intervals; widened to 3 standard errors so the test is not a coin flip.
        se = model.standard_errors_[name]
        assert lo - se <= value <= hi + se, (name, value, model.params_[name], se)


def test_extreme_customers_give_finite_predictions():
    data = {"frequency": [5000.0, 0.0, 300.0, 1e5], "recency": [2999.0, 0.0, 1.0, 1e6], "T": [3000.0, 1e6, 1e5, 1e6 + 1]}
    for model in (
        BetaGeo.from_params({"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}),
        ModifiedBetaGeo.from_params({"r": 0.525, "alpha": 6.183, "a": 0.891, "b": 1.614}),
        ParetoNBD.from_params({"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669}),
    ):
        expected = model.predict(52, data)
        alive = model.conditional_probability_alive(data)
        assert np.all(np.isfinite(expected)) and np.all(expected >= 0)
        assert np.all((alive >= 0) & (alive <= 1))
        assert np.all(np.isfinite(model.log_likelihood(data)))


# -- API, input kinds, serialisation ------------------------------------------


def test_estimator_conventions(cdnow):
    from sklearn.base import clone

    model = BetaGeo(penalizer_coef=0.01)
    assert model.fit(cdnow) is model
    assert clone(model).get_params() == {"penalizer_coef": 0.01, "max_iter": 500, "tol": 1e-8}
    assert "fitted with 2357 customers" in repr(model)
    summary = model.summary()
    assert list(summary.index) == ["r", "alpha", "a", "b"]
    assert model.aic_ == pytest.approx(8 - 2 * model.log_likelihood_)
    assert model.bic_ == pytest.approx(4 * np.log(2357) - 2 * model.log_likelihood_)
    with pytest.raises(patronage.NotFittedError):
        _ = BetaGeo().params_


def test_all_input_kinds_agree(cdnow):
    model = BetaGeo().fit(cdnow)
    columns = cdnow[["frequency", "recency", "T"]]
    expected = model.predict(10, columns).to_numpy()
    polars_out = model.predict(10, pl.from_pandas(columns))
    assert isinstance(polars_out, pl.Series)
    assert np.array_equal(polars_out.to_numpy(), expected)
    assert np.array_equal(model.predict(10, pa.Table.from_pandas(columns)), expected)
    arrays = [columns[c].to_numpy() for c in columns]
    assert np.array_equal(model.predict(10, *arrays), expected)
    assert np.array_equal(model.predict(10, columns.to_dict("list")), expected)
    assert BetaGeo().fit(pl.from_pandas(columns)).params_ == model.params_
    integers = {"frequency": [0, 2, 1], "recency": [0, 5, 3], "T": [9, 9, 9]}
    floats = {k: [float(v) for v in vs] for k, vs in integers.items()}
    assert np.array_equal(model.predict(10, integers), model.predict(10, floats))
    per_customer_t = model.predict(np.full(len(columns), 10.0), columns)
    assert np.array_equal(per_customer_t, expected)


def test_identical_rows_collapse_to_the_same_fit(cdnow):
    columns = cdnow[["frequency", "recency", "T"]]
    grouped = columns.groupby(["frequency", "recency", "T"], as_index=False).size()
    weighted = BetaGeo().fit(grouped, weights="size")
    plain = BetaGeo().fit(columns)
    for name in plain.params_:
        assert weighted.params_[name] == pytest.approx(plain.params_[name], rel=1e-7)
    assert weighted.n_samples_ == 2357


@pytest.mark.parametrize("model_type", [BetaGeo, ParetoNBD, GammaGamma])
def test_pickle_and_save_round_trip_exactly(model_type, cdnow, tmp_path):
    model = model_type(penalizer_coef=0.001).fit(cdnow)
    for copy in (pickle.loads(pickle.dumps(model)), model_type.load(_saved(model, tmp_path))):
        assert copy.params_ == model.params_
        assert copy.standard_errors_ == model.standard_errors_
        assert copy.get_params() == model.get_params()
        assert copy.log_likelihood_ == model.log_likelihood_


def _saved(model, tmp_path):
    path = tmp_path / "model.patronage"
    model.save(path)
    return path


def test_fits_are_deterministic(cdnow):
    assert ParetoNBD().fit(cdnow).params_ == ParetoNBD().fit(cdnow).params_


# -- bad input -----------------------------------------------------------------


@pytest.mark.parametrize(
    "data, column, message",
    [
        ({"frequency": [1.0, 2.0], "recency": [5.0, 12.0], "T": [10.0, 11.0]}, "recency", "greater than T"),
        ({"frequency": [1.0, -2.0], "recency": [5.0, 6.0], "T": [10.0, 11.0]}, "frequency", "negative"),
        ({"frequency": [1.0, 2.0], "recency": [5.0, float("nan")], "T": [10.0, 11.0]}, "recency", "NaN"),
        ({"frequency": [1.0, 2.0], "recency": [5.0, 0.0], "T": [10.0, 11.0]}, "recency", "frequency > 0"),
        ({"frequency": [0.0, 0.0], "recency": [0.0, 0.0], "T": [10.0, 11.0]}, "frequency", "every customer"),
    ],
)
def test_bad_summaries_raise_value_errors_naming_the_column(data, column, message):
    with pytest.raises(ValueError, match=re.escape(column)) as info:
        BetaGeo().fit(data)
    assert message in str(info.value)


def test_other_bad_input():
    good = {"frequency": [1.0, 2.0, 0.0], "recency": [5.0, 6.0, 0.0], "T": [10.0, 11.0, 12.0]}
    with pytest.raises(ValueError, match="'T' not found"):
        BetaGeo().fit({"frequency": [1.0], "recency": [1.0]})
    with pytest.raises(ValueError, match="weights"):
        BetaGeo().fit(good, weights=[1.0, -1.0, 1.0])
    with pytest.raises(ValueError, match="weights"):
        BetaGeo().fit(good, weights=[1.0])
    with pytest.raises(ValueError, match="penalizer"):
        BetaGeo(penalizer_coef=-1).fit(good)
    with pytest.raises(TypeError, match="recency"):
        BetaGeo().fit(np.array([1.0, 2.0]))
    with pytest.raises(ValueError, match="no rows"):
        BetaGeo().fit({"frequency": [], "recency": [], "T": []})
    with pytest.raises(ValueError, match="same length"):
        BetaGeo().fit([1.0, 2.0], [1.0], [3.0, 4.0])
    with pytest.raises(ValueError, match="monetary_value"):
        GammaGamma().fit({"frequency": [1.0, 2.0], "monetary_value": [5.0, -1.0]})
    with pytest.warns(UserWarning, match="1 customers with repeat purchases but monetary_value 0"):
        gg = GammaGamma().fit({"frequency": [1.0, 2.0, 3.0, 0.0], "monetary_value": [5.0, 0.0, 7.0, 0.0]})
    assert gg.n_excluded_ == 2 and gg.n_samples_ == 2
    with pytest.raises(ValueError, match="no customer to fit.* 2 customers have frequency 0"):
        GammaGamma().fit({"frequency": [0.0, 0.0], "monetary_value": [0.0, 0.0]})
    with pytest.raises(ValueError, match="'t' must"):
        BetaGeo.from_params({"r": 1, "alpha": 1, "a": 1, "b": 1}).predict([1.0, 2.0], good)
    with pytest.raises(ValueError, match="needs parameters"):
        BetaGeo.from_params({"r": 1, "alpha": 1})
    with pytest.raises(TypeError, match="transaction_model"):
        GammaGamma.from_params({"p": 6, "q": 3, "v": 15}).customer_lifetime_value(
            GammaGamma(), {"frequency": [1.0], "recency": [1.0], "T": [2.0], "monetary_value": [3.0]}
        )


def test_non_convergence_warns():
    # Every customer keeps buying until the end: drop-out is never observed,
    # so the BG/NBD maximum lies at a, b → ∞.
    rng = np.random.default_rng(0)
    T = rng.uniform(20, 40, 5000)
    x = rng.integers(1, 8, 5000).astype(float)
    with pytest.warns(ConvergenceWarning, match="penalizer"):
        BetaGeo(max_iter=50).fit(x, T, T)


def _purchases(rate, T, dropout, rng):
    """Repeat purchases and the last one's time (as benchmarks/clv.py simulates them)."""
    x, last, now, active = np.zeros(len(T)), np.zeros(len(T)), np.zeros(len(T)), np.arange(len(T))
    while active.size:
        now[active] += rng.exponential(1.0 / rate[active])
        buyers = active[now[active] <= T[active]]
        x[buyers] += 1
        last[buyers] = now[buyers]
        active = buyers if dropout is None else buyers[rng.random(buyers.size) >= dropout[buyers]]
    return x, last


@pytest.mark.parametrize("model_type", list(LIFETIMES))
def test_continuous_times_fit_equals_lifetimes(model_type):
    # Fractional weeks: every row distinct, so no time is shared between rows.
    rng = np.random.default_rng(3)
    n = 3000
    rate, dropout = rng.gamma(0.75, 1 / 20.0, n), rng.beta(0.8, 2.5, n)
    T = rng.uniform(1, 730, n)
    x, last = _purchases(rate, T, dropout, rng)
    data = pd.DataFrame({"frequency": x, "recency": last / 7, "T": T / 7})
    assert not data.duplicated().any()
    ours = model_type().fit(data)
    theirs = LIFETIMES[model_type]().fit(data["frequency"], data["recency"], data["T"])
    their_ll = float(model_type.from_params(dict(theirs.params_)).log_likelihood(data).sum())
    assert ours.converged_
    assert ours.log_likelihood_ >= their_ll - 1e-6
    assert ours.log_likelihood_ == pytest.approx(float(ours.log_likelihood(data).sum()), rel=1e-12)
    for name, value in theirs.params_.items():
        assert ours.params_[name] == pytest.approx(value, rel=2e-3)


def _nbd_maximum(data):
    """(r, alpha) of the NBD (purchases without drop-out) by scipy."""
    from scipy.optimize import minimize
    from scipy.special import gammaln

    x, T = data["frequency"].to_numpy(), data["T"].to_numpy()

    def negative_ll(theta):
        r, alpha = np.exp(theta)
        return -np.sum(gammaln(r + x) - gammaln(r) + r * np.log(alpha) - (r + x) * np.log(alpha + T))

    found = minimize(negative_ll, [0.0, np.log(T.max() / 10)], method="Nelder-Mead", options={"xatol": 1e-9, "fatol": 1e-9})
    return np.exp(found.x), -found.fun


def test_no_dropout_log_stops_at_the_nbd_boundary():
    # Poisson-gamma purchases that never stop (benchmarks/clv.py's log without drop-out).
    rng = np.random.default_rng(1)
    n = 3000
    rate, T = rng.gamma(0.7, 1 / 65.0, n), rng.integers(30, 371, n).astype(float)
    x, last = _purchases(rate, T, None, rng)
    data = pd.DataFrame({"frequency": x, "recency": np.where(x > 0, np.minimum(np.ceil(last), T), 0.0), "T": T})
    (r, alpha), nbd_ll = _nbd_maximum(data)
    with pytest.warns(ConvergenceWarning, match="drop-out is not identified"):
        model = ParetoNBD().fit(data)
    assert not model.converged_
    se = model.standard_errors_
    assert np.isfinite(se["r"]) and np.isfinite(se["alpha"]) and se["r"] > 0 and se["alpha"] > 0
    assert np.isnan(se["s"]) and np.isnan(se["beta"])
    assert model.params_["r"] == pytest.approx(r, rel=1e-4)
    assert model.params_["alpha"] == pytest.approx(alpha, rel=1e-4)
    assert model.log_likelihood_ == pytest.approx(nbd_ll, abs=1e-6)
    # Predictions are the NBD's: nobody has dropped out.
    assert np.all(model.conditional_probability_alive(data) > 0.999)
    # The BG/NBD family runs to the same boundary (a → 0) through the same
    # code, or converges next to it: never better than the NBD.
    for model_type in (BetaGeo, ModifiedBetaGeo):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            fitted = model_type().fit(data)
        assert fitted.log_likelihood_ <= nbd_ll + 1e-6
        assert fitted.params_["a"] / (fitted.params_["a"] + fitted.params_["b"]) < 1e-2
        if caught:
            assert "drop-out is not identified" in str(caught[0].message)
            assert fitted.params_["r"] == pytest.approx(r, rel=1e-4)
            assert np.isfinite(fitted.standard_errors_["alpha"])
        else:
            assert fitted.converged_


# -- model checks and segmentation ----------------------------------------------


@pytest.fixture(scope="module")
def cdnow_holdout() -> pd.DataFrame:
    from patronage.datasets import load_cdnow

    return patronage.rfm_calibration_holdout(
        load_cdnow(), "customer_id", "date", calibration_period_end="1997-09-30", freq="W"
    )


def test_calibration_holdout_comparison_groups_like_pandas(cdnow_holdout):
    from patronage.clv import calibration_holdout_comparison

    cal = cdnow_holdout.rename(columns={"frequency_cal": "frequency", "recency_cal": "recency", "T_cal": "T"})
    model = BetaGeo().fit(cal)
    check = calibration_holdout_comparison(model, cdnow_holdout, max_frequency=5)
    predicted = model.predict(cdnow_holdout["duration_holdout"].to_numpy(), cal)
    assert np.allclose(check.predicted, predicted)
    groups = cdnow_holdout.assign(pred=predicted.to_numpy(), g=cdnow_holdout["frequency_cal"].clip(upper=5)).groupby("g")
    assert np.allclose(check.by_frequency["actual"], groups["frequency_holdout"].mean())
    assert np.allclose(check.by_frequency["predicted"], groups["pred"].mean())
    assert check.mae == pytest.approx(np.mean(np.abs(predicted - cdnow_holdout["frequency_holdout"])))
    assert check.mae_by_frequency < 0.3


def test_calibration_holdout_comparison_on_counted_rows_equals_one_row_per_customer(cdnow_holdout):
    from patronage.clv import calibration_holdout_comparison

    cal = cdnow_holdout.rename(columns={"frequency_cal": "frequency", "recency_cal": "recency", "T_cal": "T"})
    model = BetaGeo().fit(cal)
    columns = ["frequency_cal", "recency_cal", "T_cal", "frequency_holdout", "duration_holdout"]
    counted = cdnow_holdout.groupby(columns).size().rename("n").reset_index()
    assert len(counted) < len(cdnow_holdout) / 2
    each = calibration_holdout_comparison(model, cdnow_holdout)
    collapsed = calibration_holdout_comparison(model, counted, weights="n")
    assert collapsed.mae == pytest.approx(each.mae, rel=1e-12)
    assert collapsed.mae_by_frequency == pytest.approx(each.mae_by_frequency, rel=1e-12)
    pd.testing.assert_frame_equal(collapsed.by_frequency, each.by_frequency, check_exact=False, rtol=1e-12)


@pytest.mark.parametrize("model_type", [BetaGeo, ModifiedBetaGeo, ParetoNBD])
def test_period_transactions_account_for_every_customer(model_type, cdnow):
    from patronage.clv import period_transactions

    table = period_transactions(model_type().fit(cdnow), cdnow)
    assert table["model"].sum() == pytest.approx(len(cdnow), rel=1e-9)
    assert table["actual"].sum() == len(cdnow)
    # A good model: every bar within 15% of the actual count.
    assert np.all(np.abs(table["model"] - table["actual"]) <= 0.15 * table["actual"] + 10)


def test_matrices_and_plots(cdnow, cdnow_holdout):
    import matplotlib

    matplotlib.use("Agg")
    from patronage import clv

    model = BetaGeo().fit(cdnow)
    grid = clv.frequency_recency_matrix(model, T=39, max_frequency=10)
    assert grid.shape == (11, 40) and np.isnan(grid[0, 5]) and np.isnan(grid[3, 0])
    alive = clv.frequency_recency_matrix(model, T=39, what="probability_alive")
    assert np.nanmax(alive) <= 1 and alive[0, 0] == 1
    assert np.all(np.diff(alive[5, 1:]) > 0)  # more recent buyers are more likely alive
    for ax in (
        clv.plot_frequency_recency_matrix(model, T=39),
        clv.plot_probability_alive_matrix(model, T=39),
        clv.plot_period_transactions(clv.period_transactions(model, cdnow)),
    ):
        assert ax.get_title()
    with pytest.raises(ValueError, match="what"):
        clv.frequency_recency_matrix(model, T=39, what="clv")


def test_segmentation(cdnow):
    from patronage.clv import lifecycle_stages, rfm_scores, value_tiers

    scores = rfm_scores(cdnow, customer_col="customer_id")
    assert scores.index.name == "customer_id" and len(scores) == len(cdnow)
    assert set(scores["frequency_score"]) <= set(range(1, 6))
    best = cdnow["frequency"].idxmax()
    assert scores["frequency_score"].iloc[best] == 5
    # Ties share a score: every customer without repeats scores the same.
    assert scores.loc[cdnow["frequency"].to_numpy() == 0, "frequency_score"].nunique() == 1
    polars_scores = rfm_scores(pl.from_pandas(cdnow))
    assert isinstance(polars_scores, pl.DataFrame)
    assert polars_scores["rfm_segment"].to_list() == scores["rfm_segment"].tolist()

    gg = GammaGamma().fit(cdnow)
    clv = gg.customer_lifetime_value(BetaGeo().fit(cdnow), cdnow, freq="W")
    tiers = value_tiers(clv)
    assert list(tiers.cat.categories) == ["low", "medium", "high", "top"]
    assert tiers.value_counts()["top"] == pytest.approx(0.05 * len(cdnow), abs=2)
    assert clv[tiers == "top"].min() >= clv[tiers == "high"].max()

    alive = BetaGeo().fit(cdnow).conditional_probability_alive(cdnow)
    stages = lifecycle_stages(cdnow, alive, at_risk_below=0.5, lapsed_below=0.2)
    assert set(stages.unique()) <= {"new", "active", "at risk", "lapsed"}
    assert (stages[alive < 0.2] == "lapsed").all()
    assert (stages[(alive >= 0.5) & (cdnow["frequency"] > 0)] == "active").all()

    with pytest.raises(ValueError, match="thresholds"):
        lifecycle_stages(cdnow, alive, at_risk_below=0.1, lapsed_below=0.2)
    with pytest.raises(ValueError, match="probability_alive"):
        lifecycle_stages(cdnow, alive[:5])
    with pytest.raises(ValueError, match="labels"):
        value_tiers(clv, quantiles=(0.5,), labels=("a", "b", "c"))
    with pytest.raises(ValueError, match="n_bins"):
        rfm_scores(cdnow, n_bins=1)
    with pytest.raises(ValueError, match="'recency' not found"):
        rfm_scores({"frequency": [1], "T": [2]})
