"""patronage.recommend vs implicit (CPU) on the same simulated purchase log.

The log is simulated once and written as a scipy .npz user × item matrix; each
(library, task) pair then runs in its own subprocess, so peak memory is
measured per task. Both libraries get the same matrix, hyper-parameters and
thread count (implicit's num_threads; patronage's RAYON_NUM_THREADS; BLAS is
held to one thread so implicit does not oversubscribe). Tasks:

* ``als``: implicit ALS, 64 factors, conjugate gradient (and patronage's
  iALS++ block solver with ``--solver cg block``), seconds per iteration, and
  nDCG@10 of one interaction held out for each of 10,000 users (removed from
  the matrix both libraries' ALS are fitted on), scored the same way for both
  from the factors, so speed is not bought with quality.
* ``knn``: item-kNN fit (cosine, K=50).
* ``recommend``: top-10 for every user, from the fitted item-kNN and ALS
  (patronage's two models share one ``Interactions``; implicit's take the
  matrix at each call).

Then EASE against numpy's closed form. Ranking quality of every model (ours
and implicit's, on Ta-Feng and the simulator) is ``recommend_quality.py``.

    python benchmarks/recommend.py                       # ~1.0M distinct (user, item) interactions, 2 threads, best of 3
    python benchmarks/recommend.py --customers 300000 --threads 2
    python benchmarks/recommend.py --only als --factors 64 512 --iterations 3
    python benchmarks/recommend.py --only als --factors 64 512 1024 --solver cg block
    python benchmarks/recommend.py --only ease     # simulated 3,613 items and Ta-Feng's 8,000 most bought
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import warnings

from _common import best, fmt_mb, report, run_worker, start_measuring, status_mb

TAFENG = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "tafeng", "ta_feng.parquet")


def worker(library: str, task: str, path: str, threads: int, iterations: int) -> None:
    import numpy as np
    import scipy.sparse as sp

    warnings.simplefilter("ignore")
    X = sp.load_npz(path).tocsr().astype(np.float32)
    if library == "patronage":
        import patronage.recommend  # noqa: F401
    else:
        import implicit.als  # noqa: F401
        import implicit.nearest_neighbours  # noqa: F401
    base = start_measuring()
    out: dict[str, float] = {}
    if library == "patronage":
        from patronage.recommend import ALS, Interactions, ItemKNN

        if task.startswith("als-"):
            _, factors, solver, block = task.split("-")
            options = {"solver": solver} | ({"block_size": int(block)} if block != "default" else {})
            model = ALS(factors=int(factors), iterations=iterations, regularization=0.05, alpha=10.0, random_state=0,
                        **options)  # fmt: skip
            start = time.perf_counter()
            model.fit(X)
            out["seconds"] = (time.perf_counter() - start) / iterations
            out["peak_mb"] = status_mb("VmHWM")  # the fit's, before scoring the held-out items
            user = np.zeros((X.shape[0], model.user_factors_.shape[1]), dtype=np.float32)
            item = np.zeros((X.shape[1], user.shape[1]), dtype=np.float32)
            user[model.user_ids_] = model.user_factors_
            item[model.item_ids_] = model.item_factors_
            out["ndcg"] = held_out_ndcg(user, item, X, path)
        elif task == "knn":
            start = time.perf_counter()
            ItemKNN(k=50).fit(X)
            out["seconds"] = time.perf_counter() - start
        else:
            data = Interactions(X)  # one matrix shared by both models
            knn = ItemKNN(k=50).fit(data)
            als = ALS(factors=64, iterations=1, random_state=0).fit(data)
            start = time.perf_counter()
            knn.recommend(n=10, output="pyarrow")  # users=None: every training user
            out["knn_seconds"] = time.perf_counter() - start
            start = time.perf_counter()
            als.recommend(n=10, output="pyarrow")
            out["als_seconds"] = time.perf_counter() - start
    else:
        from implicit.als import AlternatingLeastSquares
        from implicit.nearest_neighbours import CosineRecommender

        if task.startswith("als-"):
            model = AlternatingLeastSquares(
                factors=int(task.split("-")[1]), iterations=iterations, regularization=0.05, alpha=10.0,
                random_state=0, num_threads=threads,
            )  # fmt: skip
            start = time.perf_counter()
            model.fit(X, show_progress=False)
            out["seconds"] = (time.perf_counter() - start) / iterations
            out["peak_mb"] = status_mb("VmHWM")
            out["ndcg"] = held_out_ndcg(model.user_factors, model.item_factors, X, path)
        elif task == "knn":
            start = time.perf_counter()
            CosineRecommender(K=50, num_threads=threads).fit(X, show_progress=False)
            out["seconds"] = time.perf_counter() - start
        else:
            knn = CosineRecommender(K=50, num_threads=threads)
            knn.fit(X, show_progress=False)
            als = AlternatingLeastSquares(factors=64, iterations=1, random_state=0, num_threads=threads)
            als.fit(X, show_progress=False)
            start = time.perf_counter()
            users = np.arange(X.shape[0])
            knn.recommend(users, X, N=10)
            out["knn_seconds"] = time.perf_counter() - start
            start = time.perf_counter()
            als.recommend(users, X, N=10)
            out["als_seconds"] = time.perf_counter() - start
    report(base, **out)


def held_out_ndcg(user, item, X, path: str, k: int = 10) -> float:
    """nDCG@k of the held-out item of each test user (one relevant item:
    1/log2(rank + 1) when ranked in the top k), training items excluded."""
    import numpy as np

    held = np.load(path.replace(".npz", ".holdout.npy"))
    total = 0.0
    for lo in range(0, len(held), 2000):
        users, items = held[lo : lo + 2000, 0], held[lo : lo + 2000, 1]
        scores = user[users] @ item.T
        rows = X[users]
        scores[np.repeat(np.arange(len(users)), np.diff(rows.indptr)), rows.indices] = -np.inf
        target = scores[np.arange(len(users)), items]
        rank = (scores > target[:, None]).sum(axis=1)
        total += (1.0 / np.log2(rank[rank < k] + 2.0)).sum()
    return total / len(held)


def holdout(X, path: str, n_users: int = 10_000, seed: int = 0) -> None:
    """Write X less one random interaction of each of ``n_users`` users with
    at least two to ``path``, and the (user, item) pairs held out beside it."""
    import numpy as np
    import scipy.sparse as sp

    rng = np.random.default_rng(seed)
    X = X.tocsr().astype(np.float32)
    counts = np.diff(X.indptr)
    users = np.sort(rng.choice(np.flatnonzero(counts >= 2), size=n_users, replace=False))
    picks = X.indptr[users] + rng.integers(0, counts[users])
    np.save(path.replace(".npz", ".holdout.npy"), np.column_stack([users, X.indices[picks]]))
    X.data[picks] = 0.0
    X.eliminate_zeros()
    sp.save_npz(path, X)


def run(library: str, task: str, path: str, threads: int, iterations: int) -> dict:
    env = dict(os.environ, RAYON_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1",
               OMP_NUM_THREADS=str(threads))  # fmt: skip
    return run_worker(__file__, [library, task, path, str(threads), str(iterations)], env=env)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=170_000)
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--iterations", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=3, help="runs per task; the fastest is kept (the machine is shared)")
    parser.add_argument("--only", choices=["implicit", "als", "ease"], help="run one part only")
    parser.add_argument("--factors", type=int, nargs="+", default=[64], help="ALS factors (one row each)")
    parser.add_argument("--solver", nargs="+", choices=["cg", "block"], default=["cg"],
                        help="patronage's ALS solvers (one row each)")  # fmt: skip
    parser.add_argument("--block-size", type=int, help="block_size of --solver block (default: the ALS default)")
    parser.add_argument("--worker", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        library, task, path, threads, iterations = args.worker
        worker(library, task, path, int(threads), int(iterations))
        return
    if args.only in (None, "implicit", "als"):
        implicit_comparison(args, als_only=args.only == "als")
    if args.only in (None, "ease"):
        ease_against_numpy(args.repeat)


def ease_against_numpy(repeat: int, n_items: int = 3613, tafeng_items: int = 8000) -> None:
    """EASE's closed form: patronage (faer's blocked Cholesky and inverse) in
    float64 and float32 against numpy's (LAPACK through numpy.linalg.inv) on
    the same Gram matrix in the same precision, best of ``repeat``, in this
    process; peak memory above the start of each fit (VmHWM reset before it).
    On a simulated catalogue, then on Ta-Feng's ``tafeng_items`` most bought
    products (all customers' purchases of them) where the file is there."""
    import numpy as np

    from patronage.datasets import simulate_transactions
    from patronage.recommend import EASE, Interactions, Popularity

    def numpy_ease(X, dtype):
        gram = (X.T @ X).toarray().astype(dtype)
        gram[np.diag_indices_from(gram)] += 500.0
        inverse = np.linalg.inv(gram)
        del gram
        weights = inverse / -np.diag(inverse)
        weights[np.diag_indices_from(weights)] = 0.0
        return weights

    def timed(fit):
        seconds, peak = float("inf"), 0.0
        for _ in range(repeat):
            base = start_measuring()
            start = time.perf_counter()
            result = fit()
            seconds = min(seconds, time.perf_counter() - start)
            peak = max(peak, status_mb("VmHWM") - base)
            del result
        return seconds, peak

    catalogues = [("simulated", Interactions(simulate_transactions(30_000, n_items=n_items, seed=0)[0]))]
    if os.path.exists(TAFENG):
        import pandas as pd

        log = pd.read_parquet(TAFENG, columns=["CUSTOMER_ID", "PRODUCT_ID"])
        top = log["PRODUCT_ID"].value_counts().index[:tafeng_items]
        log = log[log["PRODUCT_ID"].isin(top)]
        catalogues.append((f"Ta-Feng top {tafeng_items:,} products", Interactions(log, "CUSTOMER_ID", "PRODUCT_ID")))
    print(f"\n{'EASE (λ = 500)':<44} {'patronage s':>11} {'numpy s':>8} {'speed-up':>9} {'patronage MB':>13} {'numpy MB':>9}")
    for name, data in catalogues:
        X = Popularity().fit(data).user_items_()
        for dtype in ("float64", "float32"):
            ours, our_mb = timed(lambda: EASE(regularization=500.0, dtype=dtype, max_items=10**9).fit(data))
            theirs, their_mb = timed(lambda: numpy_ease(X, np.dtype(dtype)))
            label = f"{name}, {X.shape[1]:,} items, {dtype}"
            print(f"{label:<44} {ours:>11.2f} {theirs:>8.2f} {theirs / ours:>8.2f}x {our_mb:>13.0f} {their_mb:>9.0f}",
                  flush=True)  # fmt: skip


def implicit_comparison(args: argparse.Namespace, als_only: bool = False) -> None:
    import scipy.sparse as sp
    from patronage.datasets import simulate_transactions
    from patronage.recommend import Popularity

    log, _ = simulate_transactions(args.customers, seed=0, n_items=args.items, output="pyarrow")
    X = Popularity().fit(log).user_items_()
    n_rows = log.num_rows
    del log
    print(
        f"patronage.recommend vs implicit: {n_rows:,} purchases -> {X.shape[0]:,} users x {X.shape[1]:,} items, "
        f"{X.nnz:,} interactions; {args.threads} threads; {os.cpu_count()} cores"
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "X.npz")
        sp.save_npz(path, X)
        als_path = os.path.join(tmp, "X_als.npz")
        holdout(X, als_path)
        print(f"{'task':<32} {'patronage s':>12} {'implicit s':>11} {'speed-up':>9} {'patronage MB':>14} "
              f"{'implicit MB':>12} {'nDCG@10 ours/implicit':>22}")  # fmt: skip
        block = "default" if args.block_size is None else str(args.block_size)
        tasks = [f"als-{f}-{solver}-{block}" for f in args.factors for solver in args.solver]
        tasks += [] if als_only else ["knn", "recommend"]
        implicit_cache: dict[str, dict] = {}
        for task in tasks:
            runs = {"patronage": [], "implicit": []}
            task_path = als_path if task.startswith("als-") else path
            # implicit has one solver: run it once per factor count.
            their_key = task.rsplit("-", 2)[0] if task.startswith("als-") else task
            for _ in range(args.repeat):  # alternate, so both see the same load on average
                for library in runs:
                    if library == "implicit" and their_key in implicit_cache:
                        continue
                    runs[library].append(run(library, task, task_path, args.threads, args.iterations))
            ours = best(runs["patronage"])
            theirs = implicit_cache.setdefault(their_key, best(runs["implicit"]) if runs["implicit"] else {})

            rows = {
                "knn": [("item-kNN cosine K=50, fit", "seconds")],
                "recommend": [("top-10 all users, item-kNN", "knn_seconds"), ("top-10 all users, ALS", "als_seconds")],
            }.get(task, [(f"ALS {task.split('-')[1]} factors {task.split('-')[2]}, per it.", "seconds")])
            quality = f"{ours['ndcg']:.4f}/{theirs['ndcg']:.4f}" if "ndcg" in ours else ""
            for label, key in rows:
                print(
                    f"{label:<32} {ours[key]:>12.3f} {theirs[key]:>11.3f} {theirs[key] / ours[key]:>8.2f}x "
                    f"{fmt_mb(ours):>14} {fmt_mb(theirs):>12} {quality:>22}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
