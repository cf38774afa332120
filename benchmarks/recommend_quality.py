"""Recommendation quality in one run: every model of patronage and implicit,
each over a small grid, on next-period splits of two logs, with seen items
allowed and excluded, fit time and peak memory.

Splits (truth: each training customer's items of the test period that exist
in training, distinct):

* ``tafeng``: the Ta-Feng grocery log (``../shared/data/tafeng``), train before
  2001-02-01, test February 2001 (13,233 customers): issue 15's table.
* ``simulator``: ``simulate_transactions(50_000, seed=0)``, train before the
  80% quantile of purchase times, test after.

Each (library, model, setting) is fitted once in its own process; that
process reports the fit's seconds and the peak memory of fitting and
serving, then serves the top 10 of every test customer twice: seen items
allowed and excluded (RepeatAware: ``mode="replenish"`` and ``"discover"``).
nDCG@10 and recall@10 are ``patronage.recommend.ranking_metrics`` (equal to
implicit's ``ranking_metrics_at_k``, tested) against the same catalogue.
Both libraries get the same interactions: the number of purchase rows of
each (customer, item); patronage fits from the log frame (its ids mapped in
the fit), implicit from that matrix built beforehand.

Grids (every combination; other parameters at their defaults):

* patronage Popularity; ItemKNN ``k`` 50, 200 × ``weighting`` cosine, bm25;
  RP3Beta ``k`` 100, 300 × ``beta`` 0.3, 0.6; ALS (64 factors) ``alpha`` 1,
  10 × ``regularization`` 0.01, 0.1; BPR (64 factors); EASE
  ``regularization`` 100, 500 (Ta-Feng: on the 5,000 items most customers
  bought, as its 23,812-item catalogue would need a 23,812² dense matrix);
  RepeatAware ``k`` 300, 1000 × ``alpha`` 0, 0.7 × ``group_decay`` 0.7, 1.
* implicit ALS (64 factors) ``alpha`` 1, 10 × ``regularization`` 0.01, 0.1;
  BPR (64 factors); CosineRecommender and BM25Recommender ``K`` 50, 200.

    python benchmarks/recommend_quality.py                  # both logs, 2 threads (~15 min)
    python benchmarks/recommend_quality.py --only simulator
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import tempfile
import time
import warnings

from _common import fmt_mb, report, run_worker, start_measuring

TAFENG = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "tafeng", "ta_feng.parquet")
K = 10
EASE_ITEMS = 5_000

GRIDS: dict[tuple[str, str], dict[str, list]] = {
    ("patronage", "Popularity"): {},
    ("patronage", "ItemKNN"): {"k": [50, 200], "weighting": ["cosine", "bm25"]},
    ("patronage", "RP3Beta"): {"k": [100, 300], "beta": [0.3, 0.6]},
    ("patronage", "ALS"): {"alpha": [1.0, 10.0], "regularization": [0.01, 0.1]},
    ("patronage", "BPR"): {},
    ("patronage", "EASE"): {"regularization": [100.0, 500.0]},
    ("patronage", "RepeatAware"): {"k": [300, 1000], "alpha": [0.0, 0.7], "group_decay": [0.7, 1.0]},
    ("implicit", "ALS"): {"alpha": [1.0, 10.0], "regularization": [0.01, 0.1]},
    ("implicit", "BPR"): {},
    ("implicit", "Cosine"): {"K": [50, 200]},
    ("implicit", "BM25"): {"K": [50, 200]},
}


def prepare(name: str, folder: str) -> str | None:
    """Write the split's train log and truth as parquet; the folder's path."""
    import pandas as pd

    if name == "tafeng":
        if not os.path.exists(TAFENG):
            return None
        log = pd.read_parquet(TAFENG, columns=["TRANSACTION_DT", "CUSTOMER_ID", "PRODUCT_ID"])
        log.columns = ["timestamp", "customer_id", "item_id"]
        cutoff, end = pd.Timestamp("2001-02-01"), pd.Timestamp("2001-03-01")
    else:
        from patronage.datasets import simulate_transactions

        log, _ = simulate_transactions(50_000, seed=0)
        log = log[["timestamp", "customer_id", "item_id"]]
        cutoff, end = log["timestamp"].quantile(0.8), log["timestamp"].max() + pd.Timedelta(1, "s")
    train = log[log["timestamp"] < cutoff]
    test = log[(log["timestamp"] >= cutoff) & (log["timestamp"] < end)]
    test = test[test["customer_id"].isin(train["customer_id"]) & test["item_id"].isin(train["item_id"])]
    path = os.path.join(folder, name)
    os.makedirs(path)
    train.to_parquet(os.path.join(path, "train.parquet"))
    test[["customer_id", "item_id"]].drop_duplicates().to_parquet(os.path.join(path, "truth.parquet"))
    return path


def worker(library: str, model_name: str, params_json: str, path: str) -> None:
    """Fit one setting on a split, serve both seen-item rules, report."""
    import numpy as np
    import pandas as pd
    from patronage import recommend

    warnings.simplefilter("ignore")
    params = json.loads(params_json)
    train = pd.read_parquet(os.path.join(path, "train.parquet"))
    truth = pd.read_parquet(os.path.join(path, "truth.parquet"))
    users = truth["customer_id"].unique()
    n_items = train["item_id"].nunique()
    if model_name == "EASE" and n_items > EASE_ITEMS:
        popular = train.groupby("item_id")["customer_id"].nunique().nlargest(EASE_ITEMS).index
        train = train[train["item_id"].isin(popular)]
    if library == "implicit":
        import implicit.als  # noqa: F401
        import implicit.bpr  # noqa: F401
        import implicit.nearest_neighbours  # noqa: F401

        matrix = recommend.Popularity().fit(train)
        X, user_ids, item_ids = matrix.user_items_().astype(np.float32), matrix.user_ids_, matrix.item_ids_
        del matrix
    base = start_measuring()
    start = time.perf_counter()
    lists: dict[str, pd.DataFrame] = {}
    if library == "patronage":
        if model_name == "RepeatAware":
            model = recommend.RepeatAware(**params).fit(train)
            rules = {"allowed": {"mode": "replenish"}, "excluded": {"mode": "discover"}}
        else:
            fixed = {"random_state": 0} if model_name in ("ALS", "BPR") else {}
            model = getattr(recommend, model_name)(**params, **fixed).fit(train)
            rules = {"allowed": {"exclude_seen": False}, "excluded": {"exclude_seen": True}}
        seconds = time.perf_counter() - start
        for rule, how in rules.items():
            lists[rule] = model.recommend(users, n=K, unknown_users="popular", **how)
    else:
        from implicit.als import AlternatingLeastSquares
        from implicit.bpr import BayesianPersonalizedRanking
        from implicit.nearest_neighbours import BM25Recommender, CosineRecommender

        make = {"ALS": lambda: AlternatingLeastSquares(factors=64, random_state=0, **params),
                "BPR": lambda: BayesianPersonalizedRanking(factors=64, random_state=0, **params),
                "Cosine": lambda: CosineRecommender(**params), "BM25": lambda: BM25Recommender(**params)}  # fmt: skip
        model = make[model_name]()
        model.fit(X, show_progress=False)
        seconds = time.perf_counter() - start
        rows = pd.Index(user_ids).get_indexer(users)
        known = rows >= 0
        for rule in ("allowed", "excluded"):
            ids, _ = model.recommend(rows[known], X[rows[known]], N=K, filter_already_liked_items=rule == "excluded")
            ranks = np.tile(np.arange(1, K + 1), known.sum())
            lists[rule] = pd.DataFrame({"customer_id": np.repeat(users[known], K), "item_id": item_ids[ids.ravel()],
                                        "rank": ranks})[ids.ravel() >= 0]  # fmt: skip
    scores = {}
    for rule, recs in lists.items():
        m = recommend.ranking_metrics(recs, truth, K, n_items=n_items)
        scores.update({f"ndcg_{rule}": m["ndcg"], f"recall_{rule}": m["recall"]})
    report(base, seconds=seconds, n_users=len(users), **scores)


def settings(grid: dict[str, list]) -> list[dict]:
    names = list(grid)
    return [dict(zip(names, values)) for values in itertools.product(*(grid[n] for n in names))]


def table(name: str, path: str, threads: int) -> None:
    env = dict(os.environ, RAYON_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1",
               OMP_NUM_THREADS=str(threads))  # fmt: skip
    rows = []
    for (library, model), grid in GRIDS.items():
        for setting in settings(grid):
            result = run_worker(__file__, [library, model, json.dumps(setting), path], env=env)
            rows.append((library, model, setting, result))
    n_users = rows[0][3]["n_users"]
    print(f"\n{name}: nDCG@10 / recall@10 over {n_users:,} test customers, seen items allowed | excluded; {threads} threads")
    print(f"{'library':<10} {'model':<12} {'setting':<34} {'nDCG':>6} {'recall':>6} | {'nDCG':>6} {'recall':>6} "
          f"{'fit s':>7} {'peak MB':>12}")  # fmt: skip
    rows.sort(key=lambda r: -r[3]["ndcg_allowed"])
    for library, model, setting, r in rows:
        text = ", ".join(f"{k}={v}" for k, v in setting.items()) or "defaults"
        print(f"{library:<10} {model:<12} {text:<34} {r['ndcg_allowed']:>6.4f} {r['recall_allowed']:>6.4f} | "
              f"{r['ndcg_excluded']:>6.4f} {r['recall_excluded']:>6.4f} {r['seconds']:>7.2f} {fmt_mb(r):>12}",
              flush=True)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--only", choices=["tafeng", "simulator"], help="one log only")
    parser.add_argument("--worker", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(*args.worker)
        return
    with tempfile.TemporaryDirectory() as folder:
        for name in ("tafeng", "simulator"):
            if args.only in (None, name):
                path = prepare(name, folder)
                if path is None:
                    print(f"\n{name}: {TAFENG} is not present; skipped")
                    continue
                table(name, path, args.threads)


if __name__ == "__main__":
    main()
