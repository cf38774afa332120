"""Per-customer intervals of the lifetime-value models: predictive intervals
of purchase counts cover what simulated customers then buy, parameter
intervals shrink like 1/sqrt(customers) and hold the estimate, results do
not depend on the thread count, and bad arguments or undefined covariances
are clear errors."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

import patronage
from patronage.clv import BetaGeo, BetaGeoBetaBinom, GammaGamma, ModifiedBetaGeo, ParetoNBD
from patronage.datasets import load_cdnow_summary, load_donations, simulate_transactions

HOLDOUT = 52.0


def simulate(model: str, params: tuple[float, ...], n: int, seed: int) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Customers of known BG/NBD or Pareto/NBD parameters (rates per week),
    observed for 26-78 weeks (the calibration summary) and then for
    ``HOLDOUT`` more weeks (their purchases there)."""
    rng = np.random.default_rng(seed)
    T = rng.uniform(26, 78, n)
    end = T + HOLDOUT
    r, alpha, third, fourth = params
    rate = rng.gamma(r, 1 / alpha, n)
    if model == "BetaGeo":  # drop out after a purchase with probability p
        p, death = rng.beta(third, fourth, n), np.full(n, np.inf)
    else:  # exponential lifetimes
        p, death = np.zeros(n), rng.exponential(1 / rng.gamma(third, 1 / fourth, n))
    x, tx, holdout, now = np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n)
    active = np.arange(n)
    while active.size:
        now[active] += rng.exponential(1 / rate[active])
        buyers = active[(now[active] <= end[active]) & (now[active] <= death[active])]
        calibration = now[buyers] <= T[buyers]
        x[buyers[calibration]] += 1
        tx[buyers[calibration]] = now[buyers[calibration]]
        holdout[buyers[~calibration]] += 1
        active = buyers[rng.random(buyers.size) >= p[buyers]]
    return {"frequency": x, "recency": tx, "T": T}, holdout


def covered(frame, holdout: np.ndarray) -> np.ndarray:
    return (holdout >= frame["lower"].to_numpy()) & (holdout <= frame["upper"].to_numpy())


@pytest.fixture(scope="module")
def cdnow():
    return load_cdnow_summary(with_monetary_value=True)


@pytest.fixture(scope="module")
def bg(cdnow):
    return BetaGeo().fit(cdnow)


@pytest.fixture(scope="module")
def gg(cdnow):
    return GammaGamma().fit(cdnow)


# -- predictive intervals of purchase counts -------------------------------------


@pytest.mark.parametrize(
    "cls, params, n, seed",
    [
        # Active buyers (80 and 190 holdout purchases on average, 5-15% buy
        # nothing): counts spread widely enough that a discrete interval's
        # excess over its level is small (about 1.5 and 0.7 points).
        (BetaGeo, (6.0, 3.0, 0.5, 300.0), 20000, 1),
        (ParetoNBD, (8.0, 2.0, 1.0, 1000.0), 10000, 1),
    ],
    ids=["BetaGeo", "ParetoNBD"],
)
def test_90_percent_predictive_intervals_cover_90_percent_of_holdout_purchases(cls, params, n, seed):
    summary, holdout = simulate(cls.__name__, params, n, seed)
    model = cls().fit(summary)
    assert model.converged_
    frame = model.predict_interval(HOLDOUT, summary, interval=0.9)
    assert 0.88 <= covered(frame, holdout).mean() <= 0.92
    # (The expectation may lie above the upper bound: 96% at 0 and a long tail.)
    assert (frame["lower"] <= frame["upper"]).all()


@pytest.mark.parametrize("cls", [BetaGeo, ParetoNBD])
def test_many_zero_counts_make_the_intervals_cover_more_as_the_model_says(cls):
    # CDNOW-like customers: most buy nothing in the holdout.  A customer whose
    # P(X = 0) is above 95% gets [0, 0], covering all of that mass, so the
    # intervals cover more than 90% -- exactly as much more as the model
    # computes (the mean over customers of P(lower <= X <= upper)).
    params = (0.75, 4.0, 0.8, 2.5) if cls is BetaGeo else (0.55, 10.6, 0.6, 11.7)
    summary, holdout = simulate(cls.__name__, params, 4000, 2)
    model = cls().fit(summary)
    frame = model.predict_interval(HOLDOUT, summary, interval=0.9)
    lower, upper = frame["lower"].to_numpy(), frame["upper"].to_numpy()
    expected = np.zeros(len(holdout))
    for n in range(int(upper.max()) + 1):
        p = np.asarray(model.conditional_probability_of_n_purchases_up_to_time(n, HOLDOUT, summary))
        expected += np.where((lower <= n) & (n <= upper), p, 0.0)
    observed = covered(frame, holdout)
    assert expected.min() >= 0.9 - 1e-9
    standard_error = np.sqrt(np.sum(expected * (1 - expected))) / len(holdout)
    assert abs(observed.mean() - expected.mean()) < 3 * standard_error
    assert observed.mean() > 0.93


def test_predictive_intervals_need_no_covariance():
    m = BetaGeo.from_params({"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426})
    frame = m.predict_interval(39, [0, 2, 10], [0, 30.43, 38], [38.86, 38.86, 38.86], interval=0.8)
    assert list(frame.columns) == ["estimate", "lower", "upper"]
    assert frame["upper"].is_monotonic_increasing and (frame["lower"] <= frame["upper"]).all()
    assert frame["estimate"].to_numpy() == pytest.approx(m.predict(39, [0, 2, 10], [0, 30.43, 38], [38.86] * 3))
    # No time, no purchases.
    assert m.predict_interval(0, [3], [10], [30])[["lower", "upper"]].to_numpy().tolist() == [[0.0, 0.0]]


# -- intervals from parameter uncertainty ----------------------------------------


def test_parameter_intervals_shrink_like_one_over_root_n_and_hold_the_estimate():
    customers = {"frequency": np.array([0.0, 2, 8]), "recency": np.array([0.0, 30, 50]), "T": np.array([52.0] * 3)}
    widths = {}
    for n in (2000, 32000):
        summary, _ = simulate("BetaGeo", (0.75, 4.0, 0.8, 2.5), n, 3)
        model = BetaGeo().fit(summary)
        for name, frame in (
            ("purchases", model.conditional_expected_number_of_purchases_up_to_time(
                52, customers, interval=0.9, random_state=1)),
            ("alive", model.conditional_probability_alive(customers, interval=0.9, random_state=1)),
        ):  # fmt: skip
            assert (frame["lower"] <= frame["estimate"]).all() and (frame["estimate"] <= frame["upper"]).all()
            widths[name, n] = (frame["upper"] - frame["lower"]).to_numpy()
    ratio = widths["purchases", 2000] / widths["purchases", 32000]
    assert np.all((ratio > 3.0) & (ratio < 5.3)), ratio  # sqrt(16) = 4
    ratio = widths["alive", 2000][1:] / widths["alive", 32000][1:]  # P(alive) = 1 without purchases
    assert np.all((ratio > 3.0) & (ratio < 5.3)), ratio


def test_intervals_follow_the_delta_method_for_a_log_linear_prediction(cdnow):
    # Gamma-Gamma's population mean spend v p / (q - 1) under the draws: its
    # interval matches the delta method's on the log scale (the draws reproduce
    # the covariance; the Rust tests check that directly).
    gg = GammaGamma().fit(cdnow)
    frame = gg.conditional_expected_average_profit([0], [0.0], interval=0.9, draws=20000, random_state=0)
    p, q, v = gg.params_.values()
    gradient = np.array([1 / p, 1 / (q - 1), 1 / v])  # of ln(v p / (q - 1)), up to sign
    gradient[1] *= -1
    sd = np.sqrt(gradient @ gg.covariance_ @ gradient)
    lower, upper = np.log(frame.loc[0, ["lower", "upper"]].to_numpy(dtype=float) / frame.loc[0, "estimate"])
    # ln(q - 1) is not linear in ln q, so the two sides differ a little; their mean does not.
    assert (upper - lower) / 2 == pytest.approx(1.6449 * sd, rel=0.02)
    assert lower < 0 < upper


def test_every_model_gives_intervals_around_its_estimates(cdnow, bg, gg):
    checks = [
        bg.conditional_expected_number_of_purchases_up_to_time(39, cdnow, interval=0.9, random_state=0),
        ParetoNBD().fit(cdnow).conditional_probability_alive(cdnow, interval=0.9, random_state=0),
        ModifiedBetaGeo().fit(cdnow).conditional_expected_number_of_purchases_up_to_time(
            39, cdnow, interval=0.9, draws=100, random_state=0),
        gg.conditional_expected_average_profit(cdnow, interval=0.9, random_state=0),
        gg.customer_lifetime_value(bg, cdnow.iloc[:2000], freq="W", interval=0.9, draws=200, random_state=0),
    ]  # fmt: skip
    donations = load_donations()
    bgbb = BetaGeoBetaBinom().fit(donations, weights="weights")
    checks += [
        bgbb.conditional_expected_number_of_purchases_up_to_time(5, donations, interval=0.9, random_state=0),
        bgbb.conditional_probability_alive(1, donations, interval=0.9, random_state=0),
    ]
    for frame in checks:
        assert list(frame.columns) == ["estimate", "lower", "upper"]
        assert np.all(np.isfinite(frame.to_numpy()))
        slack = 1e-9 * frame["estimate"].abs()
        assert (frame["lower"] <= frame["estimate"] + slack).all() and (frame["estimate"] <= frame["upper"] + slack).all()
        assert (frame["lower"] < frame["upper"]).mean() > 0.9
    # The estimates are the point predictions.
    np.testing.assert_allclose(
        checks[0]["estimate"], bg.conditional_expected_number_of_purchases_up_to_time(39, cdnow), rtol=1e-12
    )
    np.testing.assert_allclose(
        checks[4]["estimate"], gg.customer_lifetime_value(bg, cdnow.iloc[:2000], freq="W"), rtol=1e-12
    )


def test_wider_levels_and_more_draws(bg, cdnow):
    args = (39, cdnow.iloc[:50])
    narrow = bg.conditional_expected_number_of_purchases_up_to_time(*args, interval=0.5, random_state=0)
    wide = bg.conditional_expected_number_of_purchases_up_to_time(*args, interval=0.99, random_state=0)
    assert (wide["lower"] <= narrow["lower"]).all() and (wide["upper"] >= narrow["upper"]).all()
    one = bg.conditional_expected_number_of_purchases_up_to_time(*args, interval=0.9, draws=1, random_state=0)
    assert (one["lower"] == one["upper"]).all()


# -- reproducibility ---------------------------------------------------------------


def test_the_seed_fixes_the_draws(bg, cdnow):
    run = lambda seed: bg.conditional_probability_alive(cdnow, interval=0.9, random_state=seed)  # noqa: E731
    pd.testing.assert_frame_equal(run(3), run(3))
    assert not run(3).equals(run(4))
    generator = np.random.default_rng(5)
    assert not run(generator).equals(run(generator))  # a generator advances


def test_results_do_not_depend_on_the_thread_count(tmp_path):
    script = textwrap.dedent(
        """
        import sys
        import numpy as np
        from patronage.clv import BetaGeo, GammaGamma
        from patronage.datasets import load_cdnow_summary
        s = load_cdnow_summary(with_monetary_value=True)
        bg, gg = BetaGeo().fit(s), GammaGamma().fit(s)
        frames = [
            bg.conditional_expected_number_of_purchases_up_to_time(39, s, interval=0.9, draws=200, random_state=7),
            bg.predict_interval(39, s),
            gg.customer_lifetime_value(bg, s.iloc[:3000], freq="W", interval=0.8, draws=100, random_state=7),
        ]
        np.save(sys.argv[1], np.concatenate([f.to_numpy().ravel() for f in frames]))
        """
    )
    outputs = []
    for threads in ("1", "2"):
        path = tmp_path / f"out{threads}.npy"
        env = {**os.environ, "RAYON_NUM_THREADS": threads}
        subprocess.run([sys.executable, "-c", script, str(path)], check=True, env=env, timeout=300)
        outputs.append(np.load(path))
    np.testing.assert_array_equal(outputs[0], outputs[1])


# -- frames ---------------------------------------------------------------------------


def test_frames_follow_the_input(bg, cdnow):
    part = cdnow.iloc[10:20]
    frame = bg.conditional_probability_alive(part, interval=0.9, random_state=0)
    assert isinstance(frame, pd.DataFrame) and frame.index.equals(part.index)
    polars = bg.conditional_probability_alive(pl.from_pandas(part), interval=0.9, random_state=0)
    assert isinstance(polars, pl.DataFrame) and polars.columns == ["estimate", "lower", "upper"]
    arrow = bg.predict_interval(10, pa.Table.from_pandas(part))
    assert isinstance(arrow, pa.Table) and arrow.column_names == ["estimate", "lower", "upper"]
    arrays = bg.conditional_probability_alive(part["frequency"].to_numpy(), part["recency"], part["T"], interval=0.9)
    assert isinstance(arrays, pd.DataFrame) and len(arrays) == 10
    np.testing.assert_array_equal(polars["upper"].to_numpy(), frame["upper"].to_numpy())


# -- errors ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, name, error",
    [
        ({"interval": 0}, "interval", ValueError),
        ({"interval": 1.0}, "interval", ValueError),
        ({"interval": -0.5}, "interval", ValueError),
        ({"interval": float("nan")}, "interval", ValueError),
        ({"interval": "90%"}, "interval", TypeError),
        ({"interval": 0.9, "draws": 0}, "draws", ValueError),
        ({"interval": 0.9, "draws": 10**6}, "draws", ValueError),
        ({"interval": 0.9, "draws": 2.5}, "draws", TypeError),
        ({"interval": 0.9, "random_state": -1}, "random_state", ValueError),
    ],
)
def test_bad_arguments_name_the_argument(bg, kwargs, name, error):
    with pytest.raises(error, match=f"'{name}'"):
        bg.conditional_expected_number_of_purchases_up_to_time(10, [1], [5], [20], **kwargs)


def test_bad_horizons_and_levels_of_predictive_intervals(bg):
    with pytest.raises(ValueError, match="'t'"):
        bg.conditional_expected_number_of_purchases_up_to_time(-1, [1], [5], [20], interval=0.9)
    with pytest.raises(ValueError, match="'t'"):
        bg.predict_interval(np.nan, [1], [5], [20])
    with pytest.raises(ValueError, match="'interval'"):
        bg.predict_interval(10, [1], [5], [20], interval=1)
    with pytest.raises(ValueError, match="'m_periods_in_future'"):
        BetaGeoBetaBinom().fit(load_donations(), weights="weights").conditional_probability_alive(
            -1, [1], [2], [3], interval=0.9
        )
    with pytest.raises(ValueError, match="'time'"):
        gg = GammaGamma.from_params({"p": 6.25, "q": 3.74, "v": 15.44})
        gg.customer_lifetime_value(bg, [1], [5], [20], [10.0], time=10**6, interval=0.9)


def test_models_without_a_covariance_refuse_parameter_intervals():
    given = BetaGeo.from_params({"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426})
    with pytest.raises(ValueError, match="given parameters"):
        given.conditional_probability_alive([1], [5], [20], interval=0.9)
    fitted = BetaGeo().fit(load_cdnow_summary())
    with pytest.raises(ValueError, match="given parameters"):
        GammaGamma.from_params({"p": 6.25, "q": 3.74, "v": 15.44}).customer_lifetime_value(
            fitted, [1], [5], [20], [10.0], interval=0.9
        )


def test_boundary_fits_refuse_parameter_intervals_but_give_predictive_ones():
    # Poisson-gamma purchases without drop-out: the fit runs to the NBD boundary.
    rng = np.random.default_rng(0)
    n = 3000
    T = rng.integers(20, 60, n).astype(float)
    rate = rng.gamma(0.7, 1 / 5.0, n)
    x = rng.poisson(rate * T).astype(float)
    recency = np.where(x > 0, T * (1 - rng.beta(1, np.maximum(x, 1))), 0.0)
    with pytest.warns(patronage.clv.ConvergenceWarning, match="drop-out is not identified"):
        model = BetaGeo().fit(x, recency, T)
    with pytest.raises(ValueError, match="boundary where drop-out vanishes.*penalizer_coef"):
        model.conditional_expected_number_of_purchases_up_to_time(10, x[:5], recency[:5], T[:5], interval=0.9)
    frame = model.predict_interval(10, x[:5], recency[:5], T[:5])
    assert np.all(np.isfinite(frame.to_numpy()))


# -- the customer table ----------------------------------------------------------------


def test_the_customer_table_carries_bounds_when_asked():
    log = simulate_transactions(800, seed=3)[0]
    columns = ("customer_id", "timestamp", "amount")
    plain = patronage.customer_table(log, *columns, risk=False, holdout=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the bounds are defined for this fit
        bounded = patronage.customer_table(log, *columns, risk=False, holdout=0, interval=0.8)
    names = list(bounded.table.columns)
    assert names == [
        "frequency", "recency", "T", "monetary_value", "probability_alive", "expected_purchases",
        "expected_purchases_lower", "expected_purchases_upper", "clv", "clv_lower", "clv_upper",
        "value_tier", "lifecycle_stage",
    ]  # fmt: skip
    assert [c for c in names if not c.endswith(("_lower", "_upper"))] == list(plain.table.columns)
    table = bounded.table
    pd.testing.assert_frame_equal(table[list(plain.table.columns)], plain.table)
    for name in ("expected_purchases", "clv"):
        assert (table[f"{name}_lower"] <= table[name] + 1e-9).all() and (table[name] <= table[f"{name}_upper"] + 1e-9).all()
    assert bounded.settings["interval"] == 0.8 and plain.settings["interval"] is None
    with pytest.raises(ValueError, match="'interval'"):
        patronage.customer_table(log, *columns, risk=False, holdout=0, interval=2)


def test_models_with_covariates_draw_their_coefficients_too():
    """Every customer at their own parameters under each draw of (parameters,
    coefficients): the bounds equal a numpy Monte Carlo of the same normal
    (log-parameters, coefficients as they are) to its sampling error."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent))
    from test_clv_covariates import _simulate_bg_nbd

    gammas = {"alpha": np.array([0.6, -0.3]), "a": np.zeros(2), "b": np.zeros(2)}
    data = _simulate_bg_nbd(3_000, 2, r=0.8, alpha=5.0, a=0.8, b=2.5, gammas=gammas)
    model = BetaGeo().fit(data, covariates={"alpha": ["segment", "score"]})
    sample = data.iloc[::600]
    ours = model.conditional_probability_alive(sample, interval=0.9, draws=4000, random_state=1)
    np.testing.assert_allclose(ours["estimate"], model.conditional_probability_alive(sample), rtol=1e-12)
    base = np.array(list(model.params_.values()))
    centre = np.concatenate([np.log(base), list(model.coefficients_.values())])
    scale = np.concatenate([base, np.ones(len(model.coefficients_))])
    theta = np.random.default_rng(0).multivariate_normal(centre, model.covariance_ / np.outer(scale, scale), 4000)
    z = np.column_stack([(sample["segment"] == "b").astype(float), sample["score"]])
    histories = sample[["frequency", "recency", "T"]].to_numpy()
    values = []
    for draw in theta:
        r, alpha, a, b = np.exp(draw[:4])
        alphas = alpha * np.exp(-(z @ draw[4:]))
        values.append([BetaGeo.from_params({"r": r, "alpha": al, "a": a, "b": b}).conditional_probability_alive(
            [f], [rec], [T])[0] for al, (f, rec, T) in zip(alphas, histories)])  # fmt: skip
    lower, upper = np.quantile(np.array(values), [0.05, 0.95], axis=0)
    tolerance = 0.1 * (upper - lower).max()
    np.testing.assert_allclose(ours["lower"], lower, atol=tolerance)
    np.testing.assert_allclose(ours["upper"], upper, atol=tolerance)
    spends = data.assign(monetary_value=np.random.default_rng(3).gamma(4.0, 5.0, len(data)))
    spend = GammaGamma().fit(spends.query("frequency > 0"))
    value = spend.customer_lifetime_value(model, spends.iloc[::600], freq="D", interval=0.9, random_state=0)
    assert (value["lower"] <= value["estimate"]).all() and (value["estimate"] <= value["upper"]).all()

