"""The main job, customer_table, against the same pipeline written the usual way.

The usual way: lifetimes (summary, BG/NBD, Gamma-Gamma, 12-month CLV),
implicit (item-kNN, top 5 new items for every customer), pandas (items bought
again) and scikit-learn (IsolationForest on per-purchase features: amount,
amount over the customer's running mean, hours since their previous purchase).
It does less than customer_table (one purchase model, no holdout comparison,
no reasons), so the ratio understates the difference.

Each run is a fresh worker process reading the same Parquet file; prints the
seconds per stage, the total, the ratio and peak memory.

    python benchmarks/customer_table.py                  # Ta-Feng, 1M and 10M transactions
    python benchmarks/customer_table.py --rows 1e6 --no-tafeng
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import warnings

from _common import fmt_mb, report, run_worker, start_measuring

TAFENG = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "tafeng", "ta_feng.parquet")
SIMULATED = ("customer_id", "timestamp", "amount", "item_id")
TAFENG_COLUMNS = ("CUSTOMER_ID", "TRANSACTION_DT", "SALES_PRICE", "PRODUCT_ID")
TX_PER_CUSTOMER = 7.3  # the simulator's mean log length per customer


def ours(log, customer, time_col, amount, item, freq):
    import patronage

    result = patronage.customer_table(log, customer, time_col, amount, item, freq=freq)
    return len(result.table), result.timings


def usual(log, customer, time_col, amount, item, freq):
    import numpy as np
    import pandas as pd
    import scipy.sparse as sp
    from implicit.nearest_neighbours import CosineRecommender
    from lifetimes import BetaGeoFitter, GammaGammaFitter
    from lifetimes.utils import summary_data_from_transaction_data
    from sklearn.ensemble import IsolationForest

    timings = {}

    def timed(name, step):
        start = time.perf_counter()
        out = step()
        timings[name] = time.perf_counter() - start
        return out

    summary = timed("summary", lambda: summary_data_from_transaction_data(log, customer, time_col, amount, freq=freq))
    f, r, T, m = (summary[c] for c in ("frequency", "recency", "T", "monetary_value"))
    bgf = timed("purchase model", lambda: BetaGeoFitter().fit(f, r, T))

    def value():
        alive = bgf.conditional_probability_alive(f, r, T)
        expected = bgf.conditional_expected_number_of_purchases_up_to_time(12 * 4.345, f, r, T)
        repeat = f > 0
        ggf = GammaGammaFitter().fit(f[repeat], m[repeat])
        return alive, expected, ggf.customer_lifetime_value(bgf, f, r, T, m, time=12, discount_rate=0.01, freq=freq)

    alive, expected, clv = timed("value", value)
    timed("segments", lambda: pd.qcut(clv.rank(method="first"), [0, 0.5, 0.8, 0.95, 1.0]))

    def next_items():
        users, user_ids = pd.factorize(log[customer])
        items, _ = pd.factorize(log[item])
        matrix = sp.csr_matrix((np.ones(len(log), np.float32), (users, items)))
        matrix.sum_duplicates()
        model = CosineRecommender(K=20)
        model.fit(matrix, show_progress=False)
        new = model.recommend(np.arange(matrix.shape[0]), matrix, N=5, filter_already_liked_items=True)
        bought = log.groupby([customer, item])[time_col].agg(["count", "max"])
        again = bought[bought["count"] >= 2].sort_values(["count", "max"], ascending=False)
        return new, again.groupby(level=0).head(5)

    timed("next items", next_items)

    def risk():
        purchases = log.groupby([customer, time_col], as_index=False)[amount].sum().sort_values([customer, time_col])
        by_customer = purchases.groupby(customer)
        earlier = by_customer.cumcount()
        running_mean = (by_customer[amount].cumsum() - purchases[amount]) / earlier.where(earlier > 0)
        hours = by_customer[time_col].diff().dt.total_seconds() / 3600
        features = np.column_stack([purchases[amount], purchases[amount] / running_mean, hours])
        features = np.nan_to_num(features, nan=-1.0, posinf=-1.0)
        return IsolationForest(n_estimators=100, random_state=0).fit(features).score_samples(features)

    timed("risk", risk)
    return len(summary), timings


def worker(library: str, path: str, dataset: str) -> None:
    import pandas as pd

    log = pd.read_parquet(path)
    columns = TAFENG_COLUMNS if dataset == "tafeng" else SIMULATED
    freq = "D" if dataset == "tafeng" else "W"
    warnings.simplefilter("ignore")
    if library == "patronage":
        import patronage  # noqa: F401
    else:
        import implicit, lifetimes, sklearn  # noqa: F401,E401
    base = start_measuring()
    start = time.perf_counter()
    customers, timings = (ours if library == "patronage" else usual)(log, *columns, freq)
    report(base, seconds=time.perf_counter() - start, customers=customers, rows=len(log), stages=timings)


def line(name: str, result: dict, reference: dict | None) -> str:
    stages = ", ".join(f"{k} {v:.2f}" for k, v in result["stages"].items())
    ratio = f" ({reference['seconds'] / result['seconds']:.1f}x faster)" if reference else ""
    return f"  {name:<10} {result['seconds']:8.2f} s{ratio}, peak {fmt_mb(result)} MB; {stages}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=float, nargs="*", default=[1e6, 1e7])
    parser.add_argument("--reference-max", type=float, default=1e6, help="largest log the usual way runs on")
    parser.add_argument("--no-tafeng", action="store_true")
    parser.add_argument("--worker", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(*args.worker)
        return

    import pyarrow.parquet as pq
    from patronage.datasets import simulate_transactions

    print(f"customer_table vs lifetimes + implicit + scikit-learn; {os.cpu_count()} cores")
    runs = [] if args.no_tafeng or not os.path.exists(TAFENG) else [("Ta-Feng", TAFENG, "tafeng", True)]
    with tempfile.TemporaryDirectory() as tmp:
        for rows in args.rows:
            path = os.path.join(tmp, f"log{int(rows)}.parquet")
            log, _ = simulate_transactions(max(1, int(rows / TX_PER_CUSTOMER)), seed=0, output="pyarrow")
            pq.write_table(log, path)
            runs.append((f"simulated {log.num_rows:,} rows", path, "simulated", rows <= args.reference_max))
            del log
        for name, path, dataset, with_reference in runs:
            theirs = run_worker(__file__, ["usual", path, dataset]) if with_reference else None
            mine = run_worker(__file__, ["patronage", path, dataset])
            print(f"{name}: {mine['rows']:,} transactions, {mine['customers']:,} customers", flush=True)
            print(line("patronage", mine, theirs))
            if theirs:
                print(line("usual way", theirs, None), flush=True)


if __name__ == "__main__":
    main()
