"""`python -m patronage`: the main job on bundled data.

Summarises the CDNOW purchase log (the standard test data of customer-lifetime
models) and a simulated log, and prints what a data scientist would look at
first.
"""

from __future__ import annotations

import time

import patronage
from patronage.datasets import load_cdnow, simulate_transactions


def main() -> None:
    log = load_cdnow("master")
    start = time.perf_counter()
    summary = patronage.rfm_summary(
        log, "customer_id", "date", "dollar_value", observation_period_end="1997-09-30", freq="W"
    )
    seconds = time.perf_counter() - start
    print(f"CDNOW: {len(log):,} purchases of {len(summary):,} customers, summarised in {seconds * 1000:.1f} ms")
    print(summary.describe().round(2).to_string())

    start = time.perf_counter()
    sim, truth = simulate_transactions(100_000, seed=0)
    seconds = time.perf_counter() - start
    print(
        f"\nSimulated {len(sim):,} transactions of 100,000 customers in {seconds:.2f} s "
        f"({int(truth.is_fraud.sum())} labelled fraud rows)"
    )


if __name__ == "__main__":
    main()
