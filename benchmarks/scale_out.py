"""Scale-out: patronage's Rust cores inside Spark and Dask against the usual ways, on one log.

Data: a simulated log (10M transactions by default, weekly periods), written
to Parquet once; every measurement is a fresh worker process (Spark: local[2],
driver memory 8g, UTC session; Dask: LocalCluster of 2 worker processes).

(a) CLV on Spark: the customer summary (patronage, mapInArrow) shared by both,
    then BG/NBD fit and scoring (probability alive and expected purchases in
    52 weeks for every customer). patronage fits on the distinct (frequency,
    recency, T) rows counted on the cluster and scores over Arrow batches; the
    usual way collects the summary to the driver for lifetimes' fit and scores
    with a pandas UDF calling lifetimes with the same parameters. The same
    patronage steps on Dask and on one machine (the floor).
(b) Recommendations on Spark: top 10 for every user after a time split (the
    last 20% of the time span held out). patronage's ALS fitted on the (user,
    item) pairs summed on the cluster and served over Arrow batches; Spark
    MLlib's ALS (implicitPrefs) and recommendForAllUsers; 64 factors and 10
    iterations for both, the other settings each library's best on a small
    grid on a 200k-row log (``--grid``); seen items allowed for both (MLlib
    has no exclusion). nDCG@10 and recall@10 against the items each training
    user bought after the split (items known in training), with
    patronage.recommend.ranking_metrics. One machine as the floor.

Peak memory is the whole process tree (Python driver, JVM, Python workers)
sampled every 0.2 s.

    python benchmarks/scale_out.py                # 10M transactions
    python benchmarks/scale_out.py --rows 1e6
    python benchmarks/scale_out.py --rows 2e5 --grid ours   # how the ALS settings were chosen
    python benchmarks/scale_out.py --rows 2e5 --grid mllib
    python benchmarks/scale_out.py --only als-spark als-local --regularization 1000 --frequency-scaling 0
"""

import argparse
import os
import sys
import tempfile
import threading
import time
import warnings

from _common import run_worker

TX_PER_CUSTOMER = 7.3  # the simulator's mean log length per customer
# Each library at the best of a small grid (--grid) on a 200k-row log of the
# same simulator. The two weigh interactions differently: MLlib's confidence
# is 1 + alpha r and its penalty is scaled by each user's and item's number
# of interactions, so its best setting holds as the data grow; patronage's
# (implicit's) confidence is alpha r, and its penalty is plain unless
# frequency_scaling (Rendle et al.'s nu) scales it likewise.
OURS = {"factors": 64, "iterations": 10, "regularization": 3.0, "alpha": 10.0, "frequency_scaling": 0.5}
MLLIB = {"rank": 64, "maxIter": 10, "regParam": 1.0, "alpha": 1.0}
GRIDS = {
    "ours": [{"alpha": a, "regularization": r, "frequency_scaling": nu} for nu in (0.0, 0.5) for a in (1.0, 3.0, 10.0)
             for r in (0.3, 1.0, 3.0, 10.0, 30.0, 150.0)],  # fmt: skip
    "mllib": [{"alpha": a, "regParam": r} for a in (1.0, 3.0, 10.0) for r in (0.05, 1.0, 10.0, 30.0, 150.0)],
}
HORIZON = 52


class TreePeak:
    """Peak resident memory of this process and its descendants, sampled."""

    def __init__(self) -> None:
        import psutil

        self.me, self.peak, self.running = psutil.Process(), 0.0, True
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()

    def _sample(self) -> None:
        import psutil

        while self.running:
            total = 0
            for p in [self.me, *self.me.children(recursive=True)]:
                try:
                    total += p.memory_info().rss
                except psutil.Error:
                    pass
            self.peak = max(self.peak, total / 2**20)
            time.sleep(0.2)

    def stop(self) -> float:
        self.running = False
        self.thread.join()
        return self.peak


def spark_session():
    os.environ["PYSPARK_PYTHON"] = sys.executable
    from pyspark.sql import SparkSession

    return (
        SparkSession.builder.master("local[2]")
        .config("spark.driver.memory", "8g")
        .config("spark.sql.shuffle.partitions", "8")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .getOrCreate()
    )


def run_all(frame) -> None:
    """Compute every row of a Spark DataFrame without collecting it."""
    frame.write.format("noop").mode("overwrite").save()


# -- (a) CLV -------------------------------------------------------------------


def clv_spark(path: str, reference: bool) -> dict:
    import patronage.spark as pspark
    from patronage.clv import BetaGeo

    spark = spark_session()
    log = spark.read.parquet(path)
    peak, out = TreePeak(), {}
    t = time.perf_counter()
    summary = pspark.rfm_summary(log, "customer_id", "timestamp", freq="W").cache()
    out["customers"] = summary.count()
    out["summary_seconds"] = time.perf_counter() - t
    t = time.perf_counter()
    model = pspark.fit(BetaGeo(), summary)
    out["fit_seconds"] = time.perf_counter() - t
    t = time.perf_counter()
    run_all(pspark.predict(model, pspark.predict(model, summary), "predict", HORIZON))
    out["score_seconds"] = time.perf_counter() - t
    out["params"] = model.params_
    if reference:
        out.update(lifetimes_on_spark(summary, model.params_))
    out["peak_mb"] = peak.stop()
    spark.stop()
    return out


def lifetimes_on_spark(summary, params: dict) -> dict:
    """The usual way: lifetimes' fit on the collected summary, its
    predictions in a pandas UDF (with patronage's parameters, so both score
    the same model)."""
    import pandas as pd
    from pyspark.sql import functions as F

    warnings.simplefilter("ignore")
    from lifetimes import BetaGeoFitter

    out = {}
    t = time.perf_counter()
    local = summary.select("frequency", "recency", "T").toPandas()
    fitted = BetaGeoFitter().fit(local["frequency"], local["recency"], local["T"])
    out["lifetimes_fit_seconds"] = time.perf_counter() - t
    out["lifetimes_params"] = {k: float(v) for k, v in fitted.params_.items()}
    scorer = BetaGeoFitter()
    scorer.params_ = pd.Series(params)

    @F.pandas_udf("double")
    def alive(f: pd.Series, r: pd.Series, T: pd.Series) -> pd.Series:
        return pd.Series(scorer.conditional_probability_alive(f, r, T))

    @F.pandas_udf("double")
    def expected(f: pd.Series, r: pd.Series, T: pd.Series) -> pd.Series:
        return pd.Series(scorer.conditional_expected_number_of_purchases_up_to_time(HORIZON, f, r, T))

    t = time.perf_counter()
    cols = (F.col("frequency"), F.col("recency"), F.col("T"))
    run_all(summary.withColumn("conditional_probability_alive", alive(*cols)).withColumn("predict", expected(*cols)))
    out["lifetimes_score_seconds"] = time.perf_counter() - t
    return out


def clv_dask(path: str) -> dict:
    import dask.dataframe as dd
    import distributed

    import patronage.dask as pdask
    from patronage.clv import BetaGeo

    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as c:
        with distributed.Client(c):
            peak, out = TreePeak(), {}
            log = dd.read_parquet(path, columns=["customer_id", "timestamp"])
            t = time.perf_counter()
            summary = pdask.rfm_summary(log, "customer_id", "timestamp", freq="W").persist()
            out["customers"] = len(summary)
            out["summary_seconds"] = time.perf_counter() - t
            t = time.perf_counter()
            model = pdask.fit(BetaGeo(), summary)
            out["fit_seconds"] = time.perf_counter() - t
            t = time.perf_counter()
            alive = pdask.predict(model, summary).sum()
            expected = pdask.predict(model, summary, "predict", HORIZON).sum()
            alive.compute(), expected.compute()
            out["score_seconds"] = time.perf_counter() - t
            out["peak_mb"] = peak.stop()
    return out


def clv_local(path: str) -> dict:
    import pandas as pd

    import patronage
    from patronage.clv import BetaGeo

    log = pd.read_parquet(path, columns=["customer_id", "timestamp"])
    peak, out = TreePeak(), {}
    t = time.perf_counter()
    summary = patronage.rfm_summary(log, "customer_id", "timestamp", freq="W", output="pyarrow")
    out["customers"] = summary.num_rows
    out["summary_seconds"] = time.perf_counter() - t
    t = time.perf_counter()
    model = BetaGeo().fit(summary)
    out["fit_seconds"] = time.perf_counter() - t
    t = time.perf_counter()
    model.conditional_probability_alive(summary), model.predict(HORIZON, summary)
    out["score_seconds"] = time.perf_counter() - t
    out["peak_mb"] = peak.stop()
    return out


# -- (b) recommendations -------------------------------------------------------


def quality(recs, train_path: str, test_path: str) -> dict:
    """nDCG@10 and recall@10 of ``recs`` (customer_id, item_id, rank) on the
    test items of training users, items known in training."""
    import pandas as pd

    from patronage.recommend import ranking_metrics

    train = pd.read_parquet(train_path, columns=["customer_id", "item_id"])
    test = pd.read_parquet(test_path, columns=["customer_id", "item_id"])
    test = test[test["customer_id"].isin(train["customer_id"]) & test["item_id"].isin(train["item_id"])]
    metrics = ranking_metrics(recs, test.drop_duplicates(), 10, n_items=train["item_id"].nunique())
    return {"ndcg": metrics["ndcg"], "recall": metrics["recall"], "test_users": metrics["n_users"]}


def als_spark_patronage(train_path: str, test_path: str) -> dict:
    import patronage.spark as pspark
    from patronage.recommend import ALS

    spark = spark_session()
    train = spark.read.parquet(train_path)
    peak, out = TreePeak(), {}
    t = time.perf_counter()
    model = ALS(**OURS, random_state=0).fit(pspark.interactions(train, "customer_id", "item_id"))
    out["fit_seconds"] = time.perf_counter() - t
    users = train.select("customer_id").distinct().cache()
    users.count()
    t = time.perf_counter()
    top = pspark.recommend(model, users, n=10, exclude_seen=False)
    run_all(top)
    out["serve_seconds"] = time.perf_counter() - t
    out["peak_mb"] = peak.stop()
    out.update(quality(top.toArrow(), train_path, test_path))
    spark.stop()
    return out


def mllib_fit(train, params: dict):
    from pyspark.ml.recommendation import ALS
    from pyspark.sql import functions as F

    pairs = train.groupBy("customer_id", "item_id").agg(F.count(F.lit(1)).cast("float").alias("weight"))
    als = ALS(**params, implicitPrefs=True, userCol="customer_id", itemCol="item_id", ratingCol="weight", seed=0)
    return als.fit(pairs)


def mllib_ranked(top):
    """recommendForAllUsers' lists as (customer_id, item_id, rank) rows."""
    from pyspark.sql import functions as F

    flat = top.select("customer_id", F.posexplode("recommendations").alias("pos", "rec"))
    return flat.select("customer_id", F.col("rec.item_id").alias("item_id"), (F.col("pos") + 1).alias("rank"))


def als_spark_mllib(train_path: str, test_path: str) -> dict:
    spark = spark_session()
    train = spark.read.parquet(train_path)
    peak, out = TreePeak(), {}
    t = time.perf_counter()
    model = mllib_fit(train, MLLIB)
    out["fit_seconds"] = time.perf_counter() - t
    t = time.perf_counter()
    top = model.recommendForAllUsers(10).cache()
    run_all(top)
    out["serve_seconds"] = time.perf_counter() - t
    out["peak_mb"] = peak.stop()
    out.update(quality(mllib_ranked(top).toArrow(), train_path, test_path))
    spark.stop()
    return out


def grid(which: str, train_path: str, test_path: str) -> None:
    """nDCG@10 over a library's grid (patronage on one machine: the same
    model as through Spark)."""
    import pandas as pd

    if which == "ours":
        from patronage.recommend import ALS

        train = pd.read_parquet(train_path, columns=["customer_id", "item_id"])

        def ranked(setting: dict):
            model = ALS(**{**OURS, **setting}, random_state=0).fit(train)
            return model.recommend(None, n=10, exclude_seen=False, output="pyarrow")
    else:
        spark = spark_session()
        spark_train = spark.read.parquet(train_path).cache()

        def ranked(setting: dict):
            return mllib_ranked(mllib_fit(spark_train, {**MLLIB, **setting}).recommendForAllUsers(10)).toArrow()

    for setting in GRIDS[which]:
        print(which, setting, f"nDCG@10 {quality(ranked(setting), train_path, test_path)['ndcg']:.4f}", flush=True)


def als_local(train_path: str, test_path: str) -> dict:
    import pandas as pd

    from patronage.recommend import ALS

    train = pd.read_parquet(train_path, columns=["customer_id", "item_id"])
    peak, out = TreePeak(), {}
    t = time.perf_counter()
    model = ALS(**OURS, random_state=0).fit(train)
    out["fit_seconds"] = time.perf_counter() - t
    t = time.perf_counter()
    top = model.recommend(None, n=10, exclude_seen=False, output="pyarrow")
    out["serve_seconds"] = time.perf_counter() - t
    out["peak_mb"] = peak.stop()
    out.update(quality(top, train_path, test_path))
    return out


TASKS = {
    "clv-spark": lambda a: clv_spark(a[0], reference=True),
    "clv-dask": lambda a: clv_dask(a[0]),
    "clv-local": lambda a: clv_local(a[0]),
    "als-spark": lambda a: als_spark_patronage(a[1], a[2]),
    "als-mllib": lambda a: als_spark_mllib(a[1], a[2]),
    "als-local": lambda a: als_local(a[1], a[2]),
}


def worker(task: str, paths: list[str], regularization: float, frequency_scaling: float) -> None:
    import json

    OURS.update(regularization=regularization, frequency_scaling=frequency_scaling)
    result = TASKS[task](paths)
    print(json.dumps(result))


def write_data(rows: float, directory: str) -> list[str]:
    import pandas as pd

    from patronage.datasets import simulate_transactions

    log, _ = simulate_transactions(int(rows / TX_PER_CUSTOMER), seed=0)
    log = log[["customer_id", "timestamp", "amount", "item_id"]]
    first, last = log["timestamp"].min(), log["timestamp"].max()
    cutoff = first + (last - first) * 0.8
    paths = [os.path.join(directory, n) for n in ("log.parquet", "train.parquet", "test.parquet")]
    for path, part in zip(paths, (log, log[log["timestamp"] < cutoff], log[log["timestamp"] >= cutoff])):
        pd.DataFrame(part).to_parquet(path, index=False, row_group_size=1_000_000)
    print(f"{len(log):,} transactions, {log['customer_id'].nunique():,} customers, "
          f"{log['item_id'].nunique():,} items; split at {cutoff:%Y-%m-%d}")  # fmt: skip
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=float, default=1e7)
    parser.add_argument("--grid", choices=list(GRIDS), help="print a library's ALS grid and stop")
    parser.add_argument("--regularization", type=float, default=OURS["regularization"], help="patronage ALS's")
    parser.add_argument("--frequency-scaling", type=float, default=OURS["frequency_scaling"], help="patronage ALS's")
    parser.add_argument("--only", nargs="+", choices=list(TASKS), help="run these measurements only")
    parser.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker[0], args.worker[3:], float(args.worker[1]), float(args.worker[2]))
        return
    with tempfile.TemporaryDirectory() as directory:
        paths = write_data(args.rows, directory)
        if args.grid:
            grid(args.grid, *paths[1:])
            return
        tasks = args.only or list(TASKS)
        ours = [str(args.regularization), str(args.frequency_scaling)]
        results = {task: run_worker(__file__, [task, *ours, *paths]) for task in tasks}
    report_results(results)


def report_results(results: dict) -> None:
    if {"clv-spark", "clv-dask", "clv-local"} <= results.keys():
        report_clv(results)
    if "als-spark" in results:
        report_als(results)


def report_clv(results: dict) -> None:
    spark, dask, local = results["clv-spark"], results["clv-dask"], results["clv-local"]
    print(f"\n(a) CLV, {spark['customers']:,} customers; seconds (summary / fit / score), peak MB of the process tree")
    for name, r in (("patronage on Spark", spark), ("patronage on Dask", dask), ("patronage, one machine", local)):
        print(f"  {name:24s} {r['summary_seconds']:6.2f} / {r['fit_seconds']:6.2f} / {r['score_seconds']:6.2f}"
              f"   peak {r['peak_mb']:.0f}")  # fmt: skip
    ours = spark["fit_seconds"] + spark["score_seconds"]
    theirs = spark["lifetimes_fit_seconds"] + spark["lifetimes_score_seconds"]
    print(f"  lifetimes on Spark                   {spark['lifetimes_fit_seconds']:6.2f} / "
          f"{spark['lifetimes_score_seconds']:6.2f}  (fit on the driver / pandas UDF)")  # fmt: skip
    print(f"  scoring: {spark['lifetimes_score_seconds'] / spark['score_seconds']:.1f}x faster through Arrow than "
          f"the pandas UDF; fit + score: {theirs / ours:.1f}x")  # fmt: skip
    print(f"  parameters: patronage {spark['params']}, lifetimes {spark['lifetimes_params']}")


def report_als(results: dict) -> None:
    print("\n(b) top 10 for every user; seconds (fit / serve), nDCG@10, recall@10, peak MB of the process tree")
    for name, task in (("patronage ALS on Spark", "als-spark"), ("Spark MLlib ALS", "als-mllib"),
                       ("patronage ALS, one machine", "als-local")):  # fmt: skip
        if task not in results:
            continue
        r = results[task]
        print(f"  {name:28s} {r['fit_seconds']:7.2f} / {r['serve_seconds']:7.2f}   nDCG {r['ndcg']:.4f}  "
              f"recall {r['recall']:.4f}  ({r['test_users']:,} users)  peak {r['peak_mb']:.0f}")  # fmt: skip
    if "als-mllib" in results:
        ours = results["als-spark"]["fit_seconds"] + results["als-spark"]["serve_seconds"]
        mllib = results["als-mllib"]["fit_seconds"] + results["als-mllib"]["serve_seconds"]
        print(f"  patronage on Spark is {mllib / ours:.1f}x faster than MLlib (fit + serve)")


if __name__ == "__main__":
    main()
