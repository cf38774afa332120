"""EASE in float32 against float64 (same recommendations, half the memory)
and the memory-derived ``max_items``."""

import os
import subprocess
import sys

import numpy as np
import pytest
import scipy.sparse as sp

from patronage.datasets import simulate_transactions
from patronage.recommend import EASE, Interactions


# Each fit in a fresh process: freed matrices stay in this one's heap and
# would hide the next fit's peak.
PEAK_SCRIPT = """
import sys
from patronage.datasets import simulate_transactions
from patronage.recommend import EASE, Interactions

def kb(field):
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(field + ":"))

data = Interactions(simulate_transactions(20_000, n_items=3000, seed=0)[0])
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")  # reset the high-water mark to the current size
start = kb("VmRSS")
model = EASE(dtype=sys.argv[1]).fit(data)
print(model.n_items_, (kb("VmHWM") - start) * 1024)
"""


def fit_peak(dtype):
    """Items and peak resident bytes above the start of an EASE fit (Linux)."""
    out = subprocess.run([sys.executable, "-c", PEAK_SCRIPT, dtype], check=True, capture_output=True, text=True)
    n, peak = out.stdout.split()
    return int(n), int(peak)


def test_float32_gives_the_float64_recommendations():
    log, _ = simulate_transactions(3000, seed=0)
    data = Interactions(log)
    double = EASE(regularization=200.0).fit(data)
    single = EASE(regularization=200.0, dtype="float32").fit(data)
    assert double.weights_.dtype == np.float64 and single.weights_.dtype == np.float32
    np.testing.assert_allclose(single.weights_, double.weights_, atol=2e-5)
    users = double.user_ids_
    a, b = double.recommend(users, n=10), single.recommend(users, n=10)
    same = (a.groupby("customer_id")["item_id"].apply(tuple) == b.groupby("customer_id")["item_id"].apply(tuple))
    assert same.mean() > 0.99, same.mean()
    # The rest differ by near-ties only: the same items, in order of score.
    assert (a["item_id"].to_numpy() == b["item_id"].to_numpy()).mean() > 0.995


@pytest.mark.skipif(not os.path.exists("/proc/self/clear_refs"), reason="needs Linux /proc")
def test_float32_halves_the_memory_and_the_rule_counts_three_matrices():
    n, peak64 = fit_peak("float64")
    _, peak32 = fit_peak("float32")
    matrix = n * n * 8
    # At most three n x n matrices at the peak (ease.rs: G/L, P, faer's scratch
    # for L^-1, of which only the lower triangle is written), as max_items assumes.
    assert 2.2 * matrix < peak64 < 3.3 * matrix, peak64 / matrix
    assert 0.4 < peak32 / peak64 < 0.6, (peak32, peak64)


def test_catalogues_above_the_memory_limit_are_refused_naming_max_items():
    X = sp.csr_matrix((np.ones(2), ([0, 1], [5, 999_999])), shape=(2, 1_000_000))
    with pytest.raises(ValueError, match=r"max_items.*available.*24000\.00 GB.*max_items=1000000"):
        EASE().fit(X)
    with pytest.raises(ValueError, match=r"max_items.*is 100 .*float32.*GB"):
        EASE(max_items=100, dtype="float32").fit(X[:, :1000])
    with pytest.raises(ValueError, match="dtype"):
        EASE(dtype="float16").fit(X)
    # An explicit max_items overrides the memory rule either way.
    log, _ = simulate_transactions(300, seed=1)
    assert EASE(max_items=10**9).fit(log).weights_.shape[0] <= 10**9
