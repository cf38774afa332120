"""Static covariates in the lifetime-value models (issue 14, item 1).

* With every coefficient at 0 the likelihood and every prediction are the
  model's without covariates (a covariate column of zeros keeps them at 0).
* On customers simulated with known coefficients, each true value lies in
  its 95% interval.
* Bad input names the column or argument.
"""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from patronage.clv import (
    BetaGeo,
    BetaGeoBetaBinom,
    ConvergenceWarning,
    GammaGamma,
    ModifiedBetaGeo,
    ParetoNBD,
    ShiftedBetaGeo,
)
from patronage.datasets import load_cdnow_summary, load_donations

Z95 = 1.959963984540054


def _quiet(fit):
    with warnings.catch_warnings():
        # A column of zeros has no evidence: its coefficient has no standard error.
        warnings.simplefilter("ignore", ConvergenceWarning)
        return fit()


def _close(a, b):
    np.testing.assert_allclose(np.asarray(a, dtype=float), np.asarray(b, dtype=float), rtol=1e-10, atol=1e-12)


@pytest.fixture(scope="module")
def cdnow():
    s = load_cdnow_summary(with_monetary_value=True)
    s["zero"] = 0.0
    return s


@pytest.mark.parametrize("cls", [BetaGeo, ModifiedBetaGeo, ParetoNBD])
def test_zero_coefficients_give_the_purchase_model_without_covariates(cls, cdnow):
    plain = cls().fit(cdnow)
    with_z = _quiet(lambda: cls().fit(cdnow, covariates=["zero"]))
    assert all(v == 0.0 for v in with_z.coefficients_.values())
    _close(list(with_z.params_.values()), list(plain.params_.values()))
    _close(with_z.log_likelihood_, plain.log_likelihood_)
    _close(with_z.likelihood_ratio_test_["statistic"], 0.0)
    for method, args in [
        ("conditional_expected_number_of_purchases_up_to_time", (10,)),
        ("conditional_probability_alive", ()),
        ("log_likelihood", ()),
    ]:
        _close(getattr(with_z, method)(*args, cdnow), getattr(plain, method)(*args, cdnow))
    _close(
        with_z.conditional_probability_of_n_purchases_up_to_time(1, 10, cdnow),
        plain.conditional_probability_of_n_purchases_up_to_time(1, 10, cdnow),
    )
    _close(with_z.predict_interval(10, cdnow), plain.predict_interval(10, cdnow))
    spend = GammaGamma().fit(cdnow)
    _close(
        spend.customer_lifetime_value(with_z, cdnow, freq="W"),
        spend.customer_lifetime_value(plain, cdnow, freq="W"),
    )


def test_zero_coefficients_give_the_spend_model_without_covariates(cdnow):
    plain = GammaGamma().fit(cdnow)
    with_z = _quiet(lambda: GammaGamma().fit(cdnow, covariates=["zero"]))
    _close(list(with_z.params_.values()), list(plain.params_.values()))
    _close(with_z.log_likelihood_, plain.log_likelihood_)
    _close(with_z.conditional_expected_average_profit(cdnow), plain.conditional_expected_average_profit(cdnow))
    bg = BetaGeo().fit(cdnow)
    _close(with_z.customer_lifetime_value(bg, cdnow, freq="W"), plain.customer_lifetime_value(bg, cdnow, freq="W"))


def test_zero_coefficients_give_bgbb_and_sbg_without_covariates():
    d = load_donations()
    d["zero"] = 0
    plain = BetaGeoBetaBinom().fit(d, weights="weights")
    with_z = _quiet(lambda: BetaGeoBetaBinom().fit(d, weights="weights", covariates=["zero"]))
    _close(list(with_z.params_.values()), list(plain.params_.values()))
    _close(with_z.log_likelihood_, plain.log_likelihood_)
    _close(
        with_z.conditional_expected_number_of_purchases_up_to_time(5, d),
        plain.conditional_expected_number_of_purchases_up_to_time(5, d),
    )
    _close(with_z.conditional_probability_alive(2, d), plain.conditional_probability_alive(2, d))

    survivors = np.array([1000, 631, 468, 382, 326, 289, 262, 241], dtype=float)
    cohort = pd.DataFrame(
        {
            "duration": [*range(1, 8), 7],
            "churned": [1] * 7 + [0],
            "n": [*-np.diff(survivors), survivors[-1]],
            "zero": 0.0,
        }
    )
    plain = ShiftedBetaGeo().fit(cohort, weights="n")
    with_z = _quiet(lambda: ShiftedBetaGeo().fit(cohort, weights="n", covariates=["zero"]))
    _close(list(with_z.params_.values()), list(plain.params_.values()))
    _close(with_z.log_likelihood_, plain.log_likelihood_)
    _close(with_z.survival_function([1, 5, 12]), plain.survival_function([1, 5, 12]))


# -- recovery of known coefficients ------------------------------------------------


def _attributes(rng, n):
    segment = np.where(rng.random(n) < 0.35, "b", "a")  # "a", the most frequent, is the reference
    score = rng.normal(size=n)
    return segment, score, np.column_stack([(segment == "b").astype(float), score])


def _simulate_bg_nbd(n, seed, r, alpha, a, b, gammas):
    """BG/NBD customers: alpha_i = alpha e^(−γ_alpha'z), a_i = a e^(γ_a'z), b_i = b e^(γ_b'z)."""
    rng = np.random.default_rng(seed)
    segment, score, z = _attributes(rng, n)
    alpha_i = alpha * np.exp(-z @ gammas["alpha"])
    a_i, b_i = a * np.exp(z @ gammas["a"]), b * np.exp(z @ gammas["b"])
    lam = rng.gamma(r, 1.0 / alpha_i)
    p = rng.beta(a_i, b_i)
    T = rng.uniform(20, 60, n)
    k = rng.geometric(p)  # the repeat purchase at which the customer drops out
    arrivals = rng.poisson(lam * T)  # purchases by T had they stayed
    x = np.minimum(arrivals, k)
    # Given n arrivals in (0, T], the x-th is T times the x-th of n uniform order statistics.
    tx = np.where(x > 0, T * rng.beta(np.maximum(x, 1), np.maximum(arrivals - x + 1, 1)), 0.0)
    return pd.DataFrame({"frequency": x, "recency": tx, "T": T, "segment": segment, "score": score})


def _simulate_pareto_nbd(n, seed, r, alpha, s, beta, gammas):
    """Pareto/NBD customers: alpha_i = alpha e^(−γ_alpha'z), beta_i = beta e^(−γ_beta'z)."""
    rng = np.random.default_rng(seed)
    segment, score, z = _attributes(rng, n)
    lam = rng.gamma(r, 1.0 / (alpha * np.exp(-z @ gammas["alpha"])))
    mu = rng.gamma(s, 1.0 / (beta * np.exp(-z @ gammas["beta"])))
    T = rng.uniform(20, 60, n)
    alive_for = np.minimum(rng.exponential(1.0 / mu), T)
    x = rng.poisson(lam * alive_for)
    tx = np.where(x > 0, alive_for * rng.random(n) ** (1.0 / np.maximum(x, 1)), 0.0)
    return pd.DataFrame({"frequency": x, "recency": tx, "T": T, "segment": segment, "score": score})


def _simulate_gamma_gamma(n, seed, p, q, v, gammas):
    """Gamma-Gamma spend: v_i = v e^(γ_v'z), so each customer's mean spend scales by e^(γ_v'z)."""
    rng = np.random.default_rng(seed)
    segment, score, z = _attributes(rng, n)
    nu = rng.gamma(q, 1.0 / (v * np.exp(z @ gammas["v"])))
    x = 1 + rng.poisson(3, n)
    m = rng.gamma(p * x, 1.0 / (nu * x))  # the mean of x Gamma(p, ν) spends
    return pd.DataFrame({"frequency": x, "monetary_value": m, "segment": segment, "score": score})


def _assert_within_intervals(model, truth):
    table = model.summary()
    for name, value in truth.items():
        lo, hi = table.loc[name, "lower 95% bound"], table.loc[name, "upper 95% bound"]
        assert lo <= value <= hi, f"{name}: true {value} outside [{lo:.4f}, {hi:.4f}]\n{table}"


def _truth(gammas):
    return {f"{p}:{term}": g for p, values in gammas.items() for term, g in zip(["segment[b]", "score"], values)}


def test_bg_nbd_recovers_known_coefficients_within_95_percent_intervals():
    gammas = {"alpha": np.array([0.6, -0.3]), "a": np.array([0.5, 0.0]), "b": np.array([-0.4, 0.25])}
    data = _simulate_bg_nbd(40_000, 3, r=0.8, alpha=5.0, a=0.8, b=2.5, gammas=gammas)
    model = BetaGeo().fit(data, covariates=["segment", "score"])
    assert model.converged_
    _assert_within_intervals(model, {"r": 0.8, "alpha": 5.0, "a": 0.8, "b": 2.5, **_truth(gammas)})
    test = model.likelihood_ratio_test_
    assert test["df"] == 6 and test["p_value"] < 1e-10
    assert test["p_value"] == pytest.approx(stats.chi2.sf(test["statistic"], 6), rel=1e-9, abs=1e-300)


def test_pareto_nbd_recovers_known_coefficients_within_95_percent_intervals():
    gammas = {"alpha": np.array([0.5, 0.3]), "beta": np.array([-0.6, 0.2])}
    data = _simulate_pareto_nbd(30_000, 5, r=0.9, alpha=8.0, s=0.7, beta=12.0, gammas=gammas)
    model = ParetoNBD().fit(data, covariates=["segment", "score"])
    assert model.converged_
    _assert_within_intervals(model, {"r": 0.9, "alpha": 8.0, "s": 0.7, "beta": 12.0, **_truth(gammas)})


def test_gamma_gamma_recovers_known_coefficients_within_95_percent_intervals():
    gammas = {"v": np.array([0.4, -0.2])}
    data = _simulate_gamma_gamma(20_000, 7, p=6.0, q=4.0, v=15.0, gammas=gammas)
    model = GammaGamma().fit(data, covariates=["segment", "score"])
    assert model.converged_
    _assert_within_intervals(model, {"p": 6.0, "q": 4.0, "v": 15.0, **_truth(gammas)})
    # Each customer's expected spend uses their own v.
    spend = model.conditional_expected_average_profit(data.iloc[:3])
    p, q, v = model.params_.values()
    z = np.column_stack([(data["segment"].iloc[:3] == "b"), data["score"].iloc[:3]])
    v_i = v * np.exp(z @ np.array(list(model.coefficients_.values())))
    x, m = data["frequency"].iloc[:3].to_numpy(), data["monetary_value"].iloc[:3].to_numpy()
    weight = p * x / (p * x + q - 1)
    _close(spend, (1 - weight) * v_i * p / (q - 1) + weight * m)


# -- persistence ------------------------------------------------------------------


def test_pickle_and_save_keep_the_design(tmp_path):
    data = _simulate_bg_nbd(3_000, 1, r=0.8, alpha=5.0, a=0.8, b=2.5, gammas={
        "alpha": np.array([0.6, -0.3]), "a": np.zeros(2), "b": np.zeros(2)})  # fmt: skip
    model = BetaGeo().fit(data, covariates=["segment", "score"])
    expected = model.conditional_probability_alive(data)
    again = pickle.loads(pickle.dumps(model))
    assert again.coefficients_ == model.coefficients_ and again.covariates_ == ["segment", "score"]
    _close(again.conditional_probability_alive(data), expected)
    model.save(tmp_path / "bg.patronage")
    loaded = BetaGeo.load(tmp_path / "bg.patronage")
    _close(loaded.conditional_probability_alive(data), expected)
    assert loaded.likelihood_ratio_test_ == model.likelihood_ratio_test_


# -- bad input ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def fitted():
    data = _simulate_bg_nbd(3_000, 2, r=0.8, alpha=5.0, a=0.8, b=2.5, gammas={
        "alpha": np.array([0.6, -0.3]), "a": np.zeros(2), "b": np.zeros(2)})  # fmt: skip
    return BetaGeo().fit(data, covariates=["segment", "score"]), data


def test_a_missing_covariate_column_is_named(fitted):
    model, data = fitted
    with pytest.raises((ValueError, KeyError), match="region"):
        BetaGeo().fit(data, covariates=["region"])
    with pytest.raises((ValueError, KeyError), match="score"):
        model.conditional_probability_alive(data.drop(columns="score"))


def test_nan_in_a_covariate_is_named(fitted):
    model, data = fitted
    bad = data.copy()
    bad.loc[5, "score"] = np.nan
    with pytest.raises(ValueError, match="score"):
        BetaGeo().fit(bad, covariates=["score"])
    with pytest.raises(ValueError, match="score"):
        model.conditional_expected_number_of_purchases_up_to_time(5, bad)


def test_an_unknown_level_at_prediction_is_named(fitted):
    model, data = fitted
    bad = data.iloc[:10].copy()
    bad.loc[bad.index[3], "segment"] = "c"
    with pytest.raises(ValueError, match=r"segment.*'c'|segment.*\"c\""):
        model.conditional_probability_alive(bad)


def test_covariates_argument_is_checked(fitted):
    _, data = fitted
    with pytest.raises(TypeError, match="covariates"):
        BetaGeo().fit(data, covariates="segment")
    with pytest.raises(ValueError, match="covariates"):
        BetaGeo().fit(data, covariates=["frequency"])
    with pytest.raises(ValueError, match="covariates"):
        BetaGeo().fit(data, covariates=[])
    with pytest.raises(ValueError, match="segment"):
        BetaGeo().fit(data.assign(segment="a"), covariates=["segment"])


def test_arrays_cannot_carry_covariates(fitted):
    model, data = fitted
    with pytest.raises(TypeError, match="covariates"):
        model.conditional_probability_alive(data["frequency"].to_numpy(), data["recency"], data["T"])
    spend = GammaGamma.from_params({"p": 6.25, "q": 3.74, "v": 15.44})
    with pytest.raises(TypeError, match="covariates"):
        spend.customer_lifetime_value(model, [1], [2.0], [5.0], [10.0])


def test_covariates_can_move_some_parameters_only():
    gammas = {"alpha": np.array([0.6, -0.3]), "a": np.zeros(2), "b": np.zeros(2)}
    data = _simulate_bg_nbd(20_000, 4, r=0.8, alpha=5.0, a=0.8, b=2.5, gammas=gammas)
    model = BetaGeo().fit(data, covariates={"alpha": ["segment", "score"]})
    assert list(model.coefficients_) == ["alpha:segment[b]", "alpha:score"]
    assert model.likelihood_ratio_test_["df"] == 2
    _assert_within_intervals(model, {"r": 0.8, "alpha": 5.0, "a": 0.8, "b": 2.5, "alpha:segment[b]": 0.6, "alpha:score": -0.3})
    assert model.covariance_.shape == (6, 6)
    with pytest.raises(ValueError, match="covariates"):
        BetaGeo().fit(data, covariates={"r": ["score"]})
    with pytest.raises(TypeError, match="covariates"):
        BetaGeo().fit(data, covariates={"alpha": "score"})


# -- each customer's own parameters, side by side with lifetimes ------------------


@pytest.mark.parametrize("cls", [BetaGeo, ParetoNBD])
def test_each_customers_predictions_equal_lifetimes_at_their_own_parameters(cls):
    """The class docstring's table, applied by hand: lifetimes (and our model
    without covariates) at customer i's parameters give customer i's predictions."""
    lifetimes = pytest.importorskip("lifetimes")
    their_type = {BetaGeo: lifetimes.BetaGeoFitter, ParetoNBD: lifetimes.ParetoNBDFitter}[cls]
    moved = {BetaGeo: {"alpha": -1, "a": 1, "b": 1}, ParetoNBD: {"alpha": -1, "beta": -1}}[cls]
    gammas = {"alpha": np.array([0.6, -0.3]), "a": np.array([0.3, 0.1]), "b": np.array([-0.2, 0.2])}
    data = _simulate_bg_nbd(5_000, 9, r=0.8, alpha=5.0, a=0.8, b=2.5, gammas=gammas)
    model = cls().fit(data, covariates=["segment", "score"])
    sample = data.iloc[::500]
    ours_alive = model.conditional_probability_alive(sample).to_numpy()
    ours_expected = model.conditional_expected_number_of_purchases_up_to_time(20, sample).to_numpy()
    ours_ll = model.log_likelihood(sample).to_numpy()
    coefficients = model.coefficients_
    for i, (_, customer) in enumerate(sample.iterrows()):
        z = {"segment[b]": float(customer["segment"] == "b"), "score": customer["score"]}
        params = dict(model.params_)
        for p, sign in moved.items():
            params[p] *= np.exp(sign * sum(coefficients[f"{p}:{term}"] * v for term, v in z.items()))
        theirs = their_type()
        theirs.params_ = pd.Series(params)
        f, r, T = (np.array([customer[c]], dtype=float) for c in ("frequency", "recency", "T"))
        np.testing.assert_allclose(ours_alive[i], theirs.conditional_probability_alive(f, r, T)[0], rtol=1e-6)
        np.testing.assert_allclose(
            ours_expected[i], theirs.conditional_expected_number_of_purchases_up_to_time(20, f, r, T)[0], rtol=1e-6
        )
        own = cls.from_params(params).log_likelihood(f, r, T)[0]
        np.testing.assert_allclose(ours_ll[i], own, rtol=1e-10)


@pytest.mark.parametrize("cls", [BetaGeo, ParetoNBD])
def test_count_intervals_use_each_customers_own_parameters(cls, fitted):
    """The predictive interval of a customer's purchases under covariates is
    the model without covariates' at that customer's parameters."""
    _, data = fitted
    model = _quiet(lambda: cls().fit(data, covariates={"alpha": ["segment", "score"]}))
    sample = data.iloc[::300]
    ours = model.predict_interval(30, sample)
    for i, (_, customer) in enumerate(sample.iterrows()):
        z = {"segment[b]": float(customer["segment"] == "b"), "score": customer["score"]}
        params = dict(model.params_)
        params["alpha"] *= np.exp(-sum(model.coefficients_[f"alpha:{term}"] * v for term, v in z.items()))
        own = cls.from_params(params).predict_interval(30, sample.iloc[[i]])
        _close(ours.iloc[i].to_numpy(), own.iloc[0].to_numpy())
