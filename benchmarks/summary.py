"""rfm_summary vs lifetimes' summary_data_from_transaction_data on the same simulated logs.

Each library runs in its own subprocess on the same Parquet file (written once
from patronage's simulator), so the peak memory of one does not leak into the
other. Prints seconds, the speed ratio, and peak RSS (total, and above the RSS
right after loading the data).

    python benchmarks/summary.py                 # 1M and 10M rows
    python benchmarks/summary.py --rows 1e8 --no-reference   # patronage alone
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import warnings

from _common import fmt_mb, report, run_worker, start_measuring

TX_PER_CUSTOMER = 7.3  # the simulator's default mean log length per customer


def worker(library: str, path: str) -> None:
    import pandas as pd

    log = pd.read_parquet(path)
    if library == "patronage":
        import patronage
    elif library == "lifetimes":
        warnings.simplefilter("ignore")
        from lifetimes.utils import summary_data_from_transaction_data
    base = start_measuring()
    start = time.perf_counter()  # imports above are not timed
    if library == "patronage":
        out = patronage.rfm_summary(log, "customer_id", "timestamp", "amount", freq="D")
    elif library == "lifetimes":
        out = summary_data_from_transaction_data(log, "customer_id", "timestamp", "amount", freq="D")
    else:  # plain pandas, when lifetimes is not installed: count days per customer only
        days = log.assign(day=log["timestamp"].dt.floor("D")).groupby(["customer_id", "day"])["amount"].sum()
        out = days.groupby(level=0).agg(["count", "mean"])
    report(base, seconds=time.perf_counter() - start, customers=len(out))


def run(library: str, path: str) -> dict:
    return run_worker(__file__, [library, path])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=float, nargs="+", default=[1e6, 1e7])
    parser.add_argument("--no-reference", action="store_true", help="run patronage only")
    parser.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(*args.worker)
        return

    import pyarrow.parquet as pq
    from patronage.datasets import simulate_transactions

    try:
        import lifetimes  # noqa: F401

        reference = "lifetimes"
    except ImportError:
        reference = "pandas"
    print(f"patronage.rfm_summary vs {reference}, freq='D', with monetary value; {os.cpu_count()} cores")
    print(f"{'rows':>12} {'customers':>10} {'patronage s':>12} {reference + ' s':>12} {'ratio':>7} "
          f"{'patronage peak MB':>18} {reference + ' peak MB':>18}")
    with tempfile.TemporaryDirectory() as tmp:
        for rows in args.rows:
            n_customers = max(1, int(rows / TX_PER_CUSTOMER))
            log, _ = simulate_transactions(n_customers, seed=0, output="pyarrow")
            path = os.path.join(tmp, "log.parquet")
            pq.write_table(log, path)
            n_rows = log.num_rows
            del log
            ours = run("patronage", path)
            theirs = None if args.no_reference else run(reference, path)

            print(
                f"{n_rows:>12,} {ours['customers']:>10,} {ours['seconds']:>12.3f} "
                + (f"{theirs['seconds']:>12.2f} {theirs['seconds'] / ours['seconds']:>6.1f}x " if theirs else f"{'-':>12} {'-':>7} ")
                + f"{fmt_mb(ours):>18} " + (f"{fmt_mb(theirs):>18}" if theirs else f"{'-':>18}"),
                flush=True,
            )


if __name__ == "__main__":
    main()
