"""Anomaly scoring: patronage vs scikit-learn and PyOD on the same data, one run.

* IsolationForest fit + score_samples on a dense matrix (default 1M x 16)
  vs scikit-learn's IsolationForest(n_jobs=2), same parameters.
* ECOD and HBOS fit (training scores) on the same matrix vs PyOD.
* TransactionRiskScorer fit + score on a simulated log (default 10M rows),
  with sklearn's IsolationForest on the log's raw numeric columns as the
  reference a user would otherwise run.

Each library runs in its own subprocess on the same files, so peak memory is
measured per library (peak RSS, and above the RSS right after loading). The
matrix tasks run ``--repeat`` times each and report the best time, since the
machine may be shared.

    python benchmarks/anomaly.py
    python benchmarks/anomaly.py --rows 1e5 --log-rows 1e6     # quick
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import warnings

from _common import best, fmt_mb, report, run_worker, start_measuring

TX_PER_CUSTOMER = 7.3  # the simulator's default mean log length per customer


def worker(task: str, path: str) -> None:
    import numpy as np

    warnings.simplefilter("ignore")
    if task.startswith("log-"):
        import pandas as pd

        data = pd.read_parquet(path)
    else:
        data = np.load(path)
    # Imports happen before the clock starts: only the work is timed.
    if task.endswith("-patronage"):
        from patronage.anomaly import ECOD, HBOS, IsolationForest, TransactionRiskScorer
    elif task.endswith("-sklearn"):
        from sklearn.ensemble import IsolationForest
    elif task == "ecod-pyod":
        from pyod.models.ecod import ECOD
    elif task == "hbos-pyod":
        from pyod.models.hbos import HBOS
    base = start_measuring()
    start = time.perf_counter()
    extra = {}
    if task == "iforest-patronage":
        out = IsolationForest(random_state=0).fit(data).score_samples(data)
    elif task == "iforest-sklearn":
        out = IsolationForest(random_state=0, n_jobs=2).fit(data).score_samples(data)
    elif task.startswith("ecod-"):
        out = ECOD().fit(data).decision_scores_
    elif task.startswith("hbos-"):
        out = HBOS().fit(data).decision_scores_
    elif task == "log-patronage":
        scorer = TransactionRiskScorer(place_col="place", category_col="category")
        scorer.fit(data)
        extra["fit_seconds"] = time.perf_counter() - start
        out = scorer.score(data)["risk_score"].to_numpy()
    elif task == "log-sklearn":
        raw = np.column_stack([data["amount"], data["category"], data["place"], data["timestamp"].dt.hour])
        out = -IsolationForest(random_state=0, n_jobs=2).fit(raw).score_samples(raw)
    else:
        raise ValueError(task)
    report(base, seconds=time.perf_counter() - start, rows=len(out), **extra)


def run(task: str, path: str, repeat: int = 1) -> dict:
    """Best time of ``repeat`` fresh processes (the machine may be shared), largest peak memory."""
    return best([run_worker(__file__, [task, path]) for _ in range(repeat)])


def compare(label: str, ours: dict, theirs: dict | None, reference: str) -> None:
    ratio = f"{theirs['seconds'] / ours['seconds']:6.1f}x" if theirs else f"{'-':>7}"
    their_s = f"{theirs['seconds']:10.2f}" if theirs else f"{'-':>10}"
    their_m = fmt_mb(theirs) if theirs else "-"
    print(
        f"{label:34} {ours['seconds']:10.2f} {their_s} {ratio} {fmt_mb(ours):>16} {their_m:>16}  ({reference})",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=float, default=1e6, help="rows of the dense matrix")
    parser.add_argument("--features", type=int, default=16)
    parser.add_argument("--log-rows", type=float, default=1e7, help="rows of the simulated transaction log")
    parser.add_argument("--repeat", type=int, default=3, help="runs per matrix task (best time is shown)")
    parser.add_argument("--no-reference", action="store_true", help="run patronage only")
    parser.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(*args.worker)
        return

    import numpy as np
    import pyarrow.parquet as pq
    from patronage.datasets import simulate_transactions

    print(f"{os.cpu_count()} cores; seconds (best of {args.repeat} runs for the matrix tasks, 1 for the log), "
          "speed ratio, peak RSS MB (+ above the loaded data)")
    print(f"{'task':34} {'patronage':>10} {'reference':>10} {'ratio':>7} {'patronage MB':>16} {'reference MB':>16}")
    with tempfile.TemporaryDirectory() as tmp:
        n, d = int(args.rows), args.features
        rng = np.random.default_rng(0)
        X = rng.standard_normal((n, d))
        outliers = rng.choice(n, n // 100, replace=False)
        X[outliers] *= 4
        matrix = os.path.join(tmp, "X.npy")
        np.save(matrix, X)
        del X
        shape = f"{n:,}x{d}"
        for task, reference in [("iforest", "sklearn"), ("ecod", "pyod"), ("hbos", "pyod")]:
            ours = run(f"{task}-patronage", matrix, args.repeat)
            theirs = None if args.no_reference else run(f"{task}-{reference}", matrix, args.repeat)
            name = {"iforest": "IsolationForest fit+score", "ecod": "ECOD fit", "hbos": "HBOS fit"}[task]
            ref = {"sklearn": "sklearn n_jobs=2", "pyod": "PyOD"}[reference]
            compare(f"{name} {shape}", ours, theirs, ref)

        n_customers = max(1, int(args.log_rows / TX_PER_CUSTOMER))
        log, _ = simulate_transactions(n_customers, seed=0, output="pyarrow")
        path = os.path.join(tmp, "log.parquet")
        pq.write_table(log, path)
        n_rows = log.num_rows
        del log
        ours = run("log-patronage", path)
        theirs = None if args.no_reference else run("log-sklearn", path)
        compare(f"TransactionRiskScorer {n_rows:,} tx", ours, theirs, "sklearn IsolationForest on raw columns")
        print(
            f"  transaction scorer: fit {ours['fit_seconds']:.2f} s + score {ours['seconds'] - ours['fit_seconds']:.2f} s"
            f" = {n_rows / ours['seconds'] / 1e6:.2f}M transactions/s"
        )


if __name__ == "__main__":
    main()
