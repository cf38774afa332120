"""ALS's iALS++ block solver (Rendle, Krichene, Zhang & Koren 2021) against
the exact least-squares solve, the training loss written out in numpy, and
the conjugate-gradient solver's loss and ranking quality."""

import pickle

import numpy as np
import pytest

from patronage.datasets import simulate_transactions
from patronage.recommend import ALS, evaluate, train_test_split

PARAMS = dict(factors=8, regularization=0.05, alpha=4.0, unobserved_weight=0.3, frequency_scaling=0.5)


@pytest.fixture(scope="module")
def log():
    return simulate_transactions(400, seed=4)[0]


def als_loss(model, alpha0, nu):
    """Σ_ui w_ui (p_ui − x_u·y_i)² + Σ_u λ_u‖x_u‖² + Σ_i λ_i‖y_i‖², dense, in float64:
    observed pairs weigh alpha·r (preference 1), the others alpha0 (preference 0)."""
    X, Y = model.user_factors_.astype(np.float64), model.item_factors_.astype(np.float64)
    R = model.user_items_().toarray()
    observed = R > 0
    C = np.where(observed, model.alpha * R, alpha0)
    loss = (C * (observed - X @ Y.T) ** 2).sum()
    lam = model.regularization
    n_users, n_items = R.shape
    user_pen = lam * (observed.sum(1) + alpha0 * n_items) ** nu
    item_pen = lam * (observed.sum(0) + alpha0 * n_users) ** nu
    return loss + (user_pen * (X**2).sum(1)).sum() + (item_pen * (Y**2).sum(1)).sum()


def test_one_block_of_every_factor_solves_the_normal_equations_exactly(log):
    # The last half-iteration solved each item given the users.
    model = ALS(**PARAMS, iterations=3, solver="block", block_size=8, random_state=0).fit(log)
    X, Y = model.user_factors_.astype(np.float64), model.item_factors_.astype(np.float64)
    C = (model.user_items_() * PARAMS["alpha"]).tocsc()
    for i in range(0, Y.shape[0], 5):
        users, c = C.indices[C.indptr[i] : C.indptr[i + 1]], C.data[C.indptr[i] : C.indptr[i + 1]]
        penalty = PARAMS["regularization"] * (len(users) + 0.3 * X.shape[0]) ** 0.5
        A = 0.3 * X.T @ X + penalty * np.eye(8) + (X[users].T * (c - 0.3)) @ X[users]
        np.testing.assert_allclose(Y[i], np.linalg.solve(A, X[users].T @ c), rtol=1e-3, atol=1e-5)


def test_the_loss_falls_every_epoch_and_reaches_the_cg_loss(log):
    def loss(iterations, **solver):
        return als_loss(ALS(**PARAMS, iterations=iterations, random_state=0, **solver).fit(log), 0.3, 0.5)

    losses = [loss(t, solver="block", block_size=3) for t in range(1, 9)]
    assert all(b <= a * (1 + 1e-6) for a, b in zip(losses, losses[1:])), losses
    cg, block = loss(60, cg_steps=8), loss(60, solver="block", block_size=3)
    assert block == pytest.approx(cg, rel=5e-3)


def test_ranking_quality_equals_cg_within_seed_noise():
    log, _ = simulate_transactions(3000, seed=0)
    train, test = train_test_split(log, "last", k=2)
    params = dict(factors=32, iterations=15, regularization=0.05, alpha=10.0)
    ndcg = {}
    for solver in ("cg", "block"):
        runs = [evaluate(ALS(**params, solver=solver, random_state=s).fit(train), test, 10)["ndcg"] for s in range(3)]
        ndcg[solver] = np.mean(runs)
    assert ndcg["block"] == pytest.approx(ndcg["cg"], rel=0.03), ndcg


def test_block_fits_are_seeded_and_round_trip(log, tmp_path):
    make = lambda: ALS(**PARAMS, iterations=3, solver="block", random_state=7)  # noqa: E731
    a, b = make().fit(log), make().fit(log)
    np.testing.assert_array_equal(a.user_factors_, b.user_factors_)
    assert not np.array_equal(a.user_factors_, ALS(**PARAMS, iterations=3, random_state=7).fit(log).user_factors_)
    path = tmp_path / "als.ptrn"
    a.save(path)
    for loaded in (ALS.load(path), pickle.loads(pickle.dumps(a))):
        assert loaded.get_params() == a.get_params()
        np.testing.assert_array_equal(loaded.item_factors_, a.item_factors_)
        assert loaded.recommend([1, 2], n=3).equals(a.recommend([1, 2], n=3))


@pytest.mark.parametrize("bad, error", [({"solver": "exact"}, ValueError), ({"block_size": 0}, ValueError),
                                        ({"block_size": 2.5}, TypeError)])  # fmt: skip
def test_bad_solver_settings_name_the_argument(log, bad, error):
    name = next(iter(bad))
    with pytest.raises(error, match=name):
        ALS(**bad).fit(log)
