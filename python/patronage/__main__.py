"""`python -m patronage`: the main job on bundled data.

Summarises the CDNOW purchase log (the standard test data of customer-lifetime
models), fits BG/NBD and Gamma-Gamma to it, then on a simulated log
recommends items (checked against each customer's held-out purchases) and
scores transactions for fraud (checked against the simulator's labels):
what a data scientist would look at first, with the time each step took.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

import patronage
from patronage import clv
from patronage.anomaly import TransactionRiskScorer
from patronage.datasets import load_cdnow, load_cdnow_summary, simulate_transactions
from patronage.recommend import ALS, Interactions, Popularity, evaluate, train_test_split


def timed(step: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    result = step()
    return result, time.perf_counter() - start


def main() -> None:
    log = load_cdnow("master")
    summary, seconds = timed(
        lambda: patronage.rfm_summary(
            log, "customer_id", "date", "dollar_value", observation_period_end="1997-09-30", freq="W"
        )
    )
    print(f"CDNOW: {len(log):,} purchases of {len(summary):,} customers, summarised in {seconds * 1000:.1f} ms")
    print(summary.describe().round(2).to_string())

    weekly = load_cdnow_summary(with_monetary_value=True)
    (bgf, ggf), seconds = timed(lambda: (clv.BetaGeo().fit(weekly), clv.GammaGamma().fit(weekly)))
    value = ggf.customer_lifetime_value(bgf, weekly, time=12, discount_rate=0.01, freq="W")
    params = ", ".join(f"{k}={v:.3f}" for k, v in bgf.params_.items())
    print(f"\nBG/NBD on CDNOW ({params}) and Gamma-Gamma fitted in {seconds * 1000:.1f} ms")
    print(f"12-month CLV: mean {value.mean():.2f}, top 1% of customers hold {_top_share(value, 0.01):.0%} of it")

    sim, truth = simulate_transactions(20_000, seed=0)
    train, test = train_test_split(sim, "last", k=2)
    data = Interactions(train)
    als, seconds = timed(lambda: ALS(factors=32, iterations=15, alpha=10.0, random_state=0).fit(data))
    ours, baseline = evaluate(als, test, k=10), evaluate(Popularity().fit(data), test, k=10)
    print(
        f"\nRecommendations: ALS on {data.nnz:,} (customer, item) pairs fitted in {seconds:.2f} s; "
        f"nDCG@10 on held-out purchases {ours['ndcg']:.3f} vs {baseline['ndcg']:.3f} for popularity"
    )

    scorer, fit_seconds = timed(lambda: TransactionRiskScorer(place_col="place", category_col="category").fit(sim))
    scored, score_seconds = timed(lambda: scorer.score(sim))
    top = np.argsort(-scored["risk_score"].to_numpy())[:100]
    print(
        f"\nFraud: {len(sim):,} transactions scored in {fit_seconds + score_seconds:.2f} s; "
        f"{int(np.asarray(truth.is_fraud)[top].sum())} of the 100 riskiest are labelled fraud "
        f"({int(truth.is_fraud.sum())} fraud rows in all). The riskiest, and why:"
    )
    print(f"  {scored['reasons'].iloc[top[0]]}")


def _top_share(value: Any, fraction: float) -> float:
    ordered = np.sort(np.asarray(value, dtype=float))[::-1]
    return float(ordered[: max(1, int(len(ordered) * fraction))].sum() / ordered.sum())


if __name__ == "__main__":
    main()
