"""BG/NBD and Pareto/NBD fit + predictions: patronage vs lifetimes on the same data.

Data: the CDNOW master summary (23,570 customers, weeks), BG/NBD customer
summaries simulated in whole days (100k and 1M customers by default), the same
with continuous times (300k customers in fractional weeks, every row
distinct), and 3,000 customers who never drop out (Poisson-gamma purchases in
whole days, where drop-out is not identified), and Ta-Feng's grocery log in
daily periods where ``../shared/data/tafeng`` has it (32,266 customers). Each
library runs in fresh subprocesses on the same Parquet file (the fastest of
--repeat runs is kept), so peak memory is its own. Timed work per model: fit,
then expected purchases in the next 30 periods and probability alive for every
customer. Prints seconds, the ratio, log-likelihoods (ours and lifetimes',
evaluated by patronage on the same data) and peak RSS in MB (+ above the
memory with the data loaded). Where pymc-marketing imports (this
interpreter, or ``--pymc-python``), its BG/NBD MAP fit with the same
predictions runs on the same files, in a table of its own.

    python benchmarks/clv.py                                  # CDNOW, 100k, 1M
    python benchmarks/clv.py --customers 1e7 --no-reference   # patronage alone
    python benchmarks/clv.py --only covariates                # static covariates
    python benchmarks/clv.py --pymc-python /path/to/venv/bin/python   # pymc-marketing from its own environment

``--only intervals``: per-customer 90% intervals for the simulated
customers in whole days (with Gamma-Gamma spends), 500 draws by default,
after a BG/NBD and a Gamma-Gamma fit (not timed): expected purchases in the
next 30 days and P(alive) from parameter uncertainty, the predictive interval
of purchases in the next 30 days, and 12-month CLV.  lifetimes has no
intervals; the reference is what a user would write without them: draws of
the log-parameters in numpy, patronage's point predictions at each draw, and
``np.quantile`` over the customers x draws matrix.

    python benchmarks/clv.py --only intervals --customers 1e5 1e6 --draws 500

``--only covariates``: BG/NBD and Pareto/NBD fits on 1M simulated customers
with 3 static covariates (a two-level and a three-level attribute and a
continuous score: 4 indicator/number columns per moved parameter), and the
same fit without covariates beside it (no reference library has them).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import warnings

import numpy as np
from _common import best, fmt_mb, report, run_worker, start_measuring

MODELS = {"BetaGeo": "BetaGeoFitter", "ParetoNBD": "ParetoNBDFitter"}
TAFENG = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "tafeng", "ta_feng.parquet")


def _purchases(rate: np.ndarray, T: np.ndarray, dropout: np.ndarray | None, rng) -> tuple[np.ndarray, np.ndarray]:
    """Repeat purchases and the time of the last one: Poisson purchases at
    ``rate`` until ``T``, dropping out after a purchase with probability
    ``dropout`` (never, if None)."""
    n = len(T)
    x = np.zeros(n)
    last = np.zeros(n)
    now = np.zeros(n)
    active = np.arange(n)
    while active.size:
        now[active] += rng.exponential(1.0 / rate[active])
        bought = now[active] <= T[active]
        buyers = active[bought]
        x[buyers] += 1
        last[buyers] = now[buyers]
        active = buyers if dropout is None else buyers[rng.random(buyers.size) >= dropout[buyers]]
    return x, last


def simulate_summary(n: int, seed: int = 0, horizon: int = 730, continuous: bool = False) -> dict[str, np.ndarray]:
    """BG/NBD customers (rates per day) observed for 1..horizon whole days,
    or (``continuous``) for a uniform time in weeks, with exact recency: then
    every customer's row is distinct."""
    rng = np.random.default_rng(seed)
    rate = rng.gamma(0.75, 1 / 20.0, n)
    dropout = rng.beta(0.8, 2.5, n)
    if continuous:
        T = rng.uniform(1, horizon, n)
        x, last = _purchases(rate, T, dropout, rng)
        return {"frequency": x, "recency": last / 7, "T": T / 7}
    T = rng.integers(1, horizon + 1, n).astype(np.float64)
    x, last = _purchases(rate, T, dropout, rng)
    recency = np.where(x > 0, np.minimum(np.ceil(last), T), 0.0)
    return {"frequency": x, "recency": recency, "T": T}


def simulate_no_dropout(n: int = 3000, seed: int = 1) -> dict[str, np.ndarray]:
    """Poisson-gamma purchases (r 0.7, alpha 65 days) that never drop out,
    observed for 30..370 whole days: drop-out is not identified."""
    rng = np.random.default_rng(seed)
    rate = rng.gamma(0.7, 1 / 65.0, n)
    T = rng.integers(30, 371, n).astype(np.float64)
    x, last = _purchases(rate, T, None, rng)
    recency = np.where(x > 0, np.minimum(np.ceil(last), T), 0.0)
    return {"frequency": x, "recency": recency, "T": T}


COVARIATES = ["segment", "channel", "score"]


def simulate_with_covariates(n: int, seed: int = 0, horizon: int = 730) -> dict[str, np.ndarray]:
    """:func:`simulate_summary`'s customers whose purchase rate (alpha) and
    drop-out move with three attributes: ``segment`` (a/b), ``channel``
    (web/store/phone) and a standard-normal ``score``."""
    rng = np.random.default_rng(seed)
    segment = np.where(rng.random(n) < 0.4, "b", "a")
    channel = rng.choice(["web", "store", "phone"], n, p=[0.5, 0.3, 0.2])
    score = rng.normal(size=n)
    shift = 0.5 * (segment == "b") - 0.3 * (channel == "phone") + 0.2 * score
    rate = rng.gamma(0.75, np.exp(shift) / 20.0, n)
    a, b = 0.8 * np.exp(0.3 * (channel == "store")), 2.5 * np.exp(-0.2 * score)
    dropout = rng.beta(a, b)
    T = rng.integers(1, horizon + 1, n).astype(np.float64)
    x, last = _purchases(rate, T, dropout, rng)
    recency = np.where(x > 0, np.minimum(np.ceil(last), T), 0.0)
    return {"frequency": x, "recency": recency, "T": T, "segment": segment, "channel": channel, "score": score}


def covariate_worker(model: str, path: str, mode: str) -> None:
    import pandas as pd
    from patronage import clv

    data = pd.read_parquet(path)
    base = start_measuring()
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fitted = getattr(clv, model)().fit(data, covariates=COVARIATES if mode == "covariates" else None)
    seconds = time.perf_counter() - start
    predict_start = time.perf_counter()
    fitted.conditional_probability_alive(data)
    report(
        base, seconds=seconds, predict_seconds=time.perf_counter() - predict_start,
        log_likelihood=fitted.log_likelihood_, coefficients=len(fitted.coefficients_), iterations=fitted.n_iter_,
        converged=fitted.converged_,
    )  # fmt: skip


def run_covariates(customers: float, repeat: int) -> None:
    import pandas as pd

    n = int(customers)
    data = pd.DataFrame(simulate_with_covariates(n))
    print(f"fit with {len(COVARIATES)} static covariates vs without; {n:,} customers; {os.cpu_count()} cores; best of {repeat}")
    print(
        f"{'model':>10} {'coefs':>6} {'fit s':>8} {'fit s without':>14} {'P(alive) s':>11} "
        f"{'LL with':>14} {'LL without':>14} {'peak MB':>12} {'peak MB without':>16}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "summary.parquet")
        data.to_parquet(path)
        for model in MODELS:
            runs = {
                mode: best([run_worker(__file__, ["covariates", model, path, mode]) for _ in range(repeat)])
                for mode in ("covariates", "plain")
            }
            w, wo = runs["covariates"], runs["plain"]
            print(
                f"{model:>10} {w['coefficients']:>6} {w['seconds']:>8.2f} {wo['seconds']:>14.2f} "
                f"{w['predict_seconds']:>11.2f} {w['log_likelihood']:>14.1f} {wo['log_likelihood']:>14.1f} "
                f"{fmt_mb(w):>12} {fmt_mb(wo):>16}" + ("" if w["converged"] else "  (not converged)"),
                flush=True,
            )


def worker(library: str, model: str, path: str, *mode: str) -> None:
    if library == "covariates":
        covariate_worker(model, path, *mode)
        return
    import pandas as pd

    data = pd.read_parquet(path)
    if library == "pymc":
        pymc_worker(data)
        return
    if library == "patronage":
        from patronage import clv
    else:
        warnings.simplefilter("ignore")
        import lifetimes
    base = start_measuring()
    start = time.perf_counter()  # imports above are not timed
    if library == "patronage":
        fitted = getattr(clv, model)().fit(data)
        fitted.predict(30.0, data)
        fitted.conditional_probability_alive(data)
        params = fitted.params_
    else:
        f, r, T = data["frequency"], data["recency"], data["T"]
        fitted = getattr(lifetimes, MODELS[model])().fit(f, r, T)
        fitted.conditional_expected_number_of_purchases_up_to_time(30.0, f, r, T)
        fitted.conditional_probability_alive(f, r, T)
        params = {k: float(v) for k, v in fitted.params_.items()}
    report(base, seconds=time.perf_counter() - start, params=params)


def pymc_worker(data) -> None:
    """pymc-marketing's BG/NBD: MAP fit, expected purchases in 30 periods and
    P(alive) (its compiled code is cached on disk, so repeated runs are warm)."""
    import logging

    import pandas as pd

    warnings.simplefilter("ignore")
    logging.disable(logging.WARNING)
    from pymc_marketing.clv import BetaGeoModel

    frame = pd.DataFrame({"customer_id": range(len(data)), **{c: data[c] for c in ("frequency", "recency", "T")}})
    base = start_measuring()
    start = time.perf_counter()
    model = BetaGeoModel(data=frame)
    model.fit(method="map", progressbar=False)
    model.expected_purchases(future_t=30.0)
    model.expected_probability_alive()
    fitted = model.fit_summary()
    params = {name: float(fitted[name]) for name in ("r", "alpha", "a", "b")}
    report(base, seconds=time.perf_counter() - start, params=params)


def pymc_python(given: str | None) -> str | None:
    """The interpreter with pymc-marketing: ``given``, else this one if it
    imports it (it is not a test dependency: heavy, and it compiles C)."""
    import subprocess
    import sys

    python = given or sys.executable
    found = subprocess.run([python, "-c", "import pymc_marketing"], capture_output=True).returncode == 0
    return python if found else None


def with_spend(summary: dict[str, np.ndarray], seed: int = 0) -> dict[str, np.ndarray]:
    """Gamma-Gamma mean spends (p 6.25, q 3.74, v 15.44) of the repeat purchases."""
    rng = np.random.default_rng(seed)
    x = summary["frequency"]
    nu = rng.gamma(3.74, 1 / 15.44, len(x))
    spend = np.where(x > 0, rng.gamma(np.maximum(6.25 * x, 1e-9), 1 / (nu * np.maximum(x, 1))), 0.0)
    return {**summary, "monetary_value": spend}


#: The intervals timed by ``--only intervals``: name -> call on (purchase model, spend model, data, draws).
INTERVALS = {
    "E[purchases 30d]": lambda bg, gg, d, k: bg.predict(30.0, d, interval=0.9, draws=k, random_state=0),
    "P(alive)": lambda bg, gg, d, k: bg.conditional_probability_alive(d, interval=0.9, draws=k, random_state=0),
    "purchases 30d (predictive)": lambda bg, gg, d, k: bg.predict_interval(30.0, d, interval=0.9),
    "CLV 12 months": lambda bg, gg, d, k: gg.customer_lifetime_value(
        bg, d, time=12, freq="D", interval=0.9, draws=k, random_state=0),
}  # fmt: skip


def interval_worker(what: str, path: str, draws: int) -> None:
    """Time one interval (``reference``: the per-draw loop in numpy) after fitting."""
    import pandas as pd
    from patronage import clv

    data = pd.read_parquet(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bg, gg = clv.BetaGeo().fit(data), clv.GammaGamma().fit(data)
    base = start_measuring()
    start = time.perf_counter()
    if what.startswith("reference "):
        reference_interval(what.removeprefix("reference "), bg, data, draws)
    else:
        INTERVALS[what](bg, gg, data, draws)
    report(base, seconds=time.perf_counter() - start, params=bg.params_)


def reference_interval(what: str, bg, data, draws: int) -> None:
    """Without intervals in the library: point predictions at each draw of
    the log-parameters, then quantiles over the customers x draws matrix."""
    from patronage import clv

    params = np.array(list(bg.params_.values()))
    log_cov = bg.covariance_ / np.outer(params, params)
    rng = np.random.default_rng(0)
    thetas = np.exp(rng.multivariate_normal(np.log(params), log_cov, draws))
    names = list(bg.params_)
    values = np.empty((len(data), draws))
    for k, theta in enumerate(thetas):
        model = clv.BetaGeo.from_params(dict(zip(names, theta)))
        values[:, k] = model.predict(30.0, data) if what == "E[purchases 30d]" else model.conditional_probability_alive(data)
    np.quantile(values, [0.05, 0.95], axis=1)


def intervals_main(args) -> None:
    import pandas as pd

    print(
        f"90% intervals per customer, {args.draws} draws, BG/NBD + Gamma-Gamma on simulated customers in whole "
        f"days; {os.cpu_count()} cores; best of {args.repeat}; peak MB (+ above the data and fitted models)"
    )
    print(f"{'customers':>10} {'distinct':>9} {'interval':>28} {'patronage s':>12} {'per-draw loop s':>16} {'ratio':>7} "
          f"{'peak MB ours':>13} {'peak MB loop':>13}")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.customers:
            data = pd.DataFrame(with_spend(simulate_summary(int(n))))
            distinct = len(data[["frequency", "recency", "T"]].drop_duplicates())
            path = os.path.join(tmp, "summary.parquet")
            data.to_parquet(path)
            for what in INTERVALS:
                runs = lambda w: best(  # noqa: E731
                    [run_worker(__file__, ["interval", w, path, str(args.draws)]) for _ in range(args.repeat)]
                )
                ours = runs(what)
                with_reference = (not args.no_reference and what in ("E[purchases 30d]", "P(alive)")
                                  and n <= args.reference_max)  # fmt: skip
                theirs = runs(f"reference {what}") if with_reference else None
                print(
                    f"{int(n):>10,} {distinct:>9,} {what:>28} {ours['seconds']:>12.2f} "
                    + (f"{theirs['seconds']:>16.2f} {theirs['seconds'] / ours['seconds']:>6.1f}x " if theirs
                       else f"{'-':>16} {'-':>7} ")
                    + f"{fmt_mb(ours):>13} " + (f"{fmt_mb(theirs):>13}" if theirs else f"{'-':>13}"),
                    flush=True,
                )  # fmt: skip


def run(library: str, model: str, path: str, repeat: int, python: str | None = None) -> dict:
    """Best time of ``repeat`` fresh processes (the machine may be shared)."""
    return best([run_worker(__file__, [library, model, path], python=python) for _ in range(repeat)])


def log_likelihood(model: str, params: dict, data) -> float:
    from patronage import clv

    return float(getattr(clv, model).from_params(params).log_likelihood(data).sum())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=float, nargs="+", default=[1e5, 1e6])
    parser.add_argument(
        "--continuous", type=float, nargs="*", default=[3e5],
        help="customers with continuous times (fractional weeks, every row distinct)",
    )
    parser.add_argument("--no-dropout-log", action="store_true", help="skip the 3,000-customer log without drop-out")
    parser.add_argument("--no-cdnow", action="store_true")
    parser.add_argument("--no-reference", action="store_true", help="run patronage only")
    parser.add_argument(
        "--pareto-reference-max", type=float, default=1e5,
        help="skip lifetimes' Pareto/NBD above this many customers (it takes minutes)",
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs per measure; the fastest is kept")
    parser.add_argument("--draws", type=int, default=500, help="parameter draws of --only intervals")
    parser.add_argument(
        "--reference-max", type=float, default=2e5,
        help="--only intervals: skip the per-draw loop above this many customers (its matrix is customers x draws)",
    )
    parser.add_argument(
        "--only", choices=["covariates", "intervals"],
        help="covariates: fits with 3 static covariates on --covariate-customers simulated customers; "
        "intervals: per-customer intervals (see above)",
    )  # fmt: skip
    parser.add_argument("--covariate-customers", type=float, default=1e6)
    parser.add_argument(
        "--pymc-python", help="an interpreter with pymc-marketing for its BG/NBD MAP column (default: this one, "
        "if it has it; else the column is skipped)",
    )  # fmt: skip
    parser.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        if args.worker[0] == "interval":
            interval_worker(args.worker[1], args.worker[2], int(args.worker[3]))
        else:
            worker(*args.worker)
        return
    if args.only == "intervals":
        intervals_main(args)
        return
    if args.only == "covariates":
        run_covariates(args.covariate_customers, args.repeat)
        return

    import pandas as pd
    import patronage
    from patronage.datasets import load_cdnow

    datasets = []
    if not args.no_cdnow:
        master = patronage.rfm_summary(load_cdnow("master"), "customer_id", "date", freq="W")
        datasets.append(("CDNOW master", master[["frequency", "recency", "T"]].reset_index(drop=True)))
    for n in args.customers:
        datasets.append((f"simulated {int(n):,}", pd.DataFrame(simulate_summary(int(n)))))
    for n in args.continuous:
        datasets.append((f"continuous {int(n):,}", pd.DataFrame(simulate_summary(int(n), continuous=True))))
    if not args.no_dropout_log:
        datasets.append(("no drop-out 3,000", pd.DataFrame(simulate_no_dropout())))
    if os.path.exists(TAFENG):
        log = pd.read_parquet(TAFENG, columns=["CUSTOMER_ID", "TRANSACTION_DT"])
        daily = patronage.rfm_summary(log, "CUSTOMER_ID", "TRANSACTION_DT", freq="D")
        datasets.append(("Ta-Feng daily", daily[["frequency", "recency", "T"]].reset_index(drop=True)))
    pymc = None if args.no_reference else pymc_python(args.pymc_python)

    print(
        f"fit + predict (expected purchases, P(alive)) vs lifetimes; {os.cpu_count()} cores; best of {args.repeat}"
    )
    header = f"{'data':>18} {'model':>10} {'patronage s':>12} {'lifetimes s':>12} {'ratio':>7} {'LL ours':>14} {'LL lifetimes':>14} {'peak MB ours':>13} {'peak MB lifetimes':>18}"
    print(header)
    comparisons = []  # (data, ours, pymc-marketing's) for BG/NBD
    with tempfile.TemporaryDirectory() as tmp:
        for name, data in datasets:
            path = os.path.join(tmp, "summary.parquet")
            data.to_parquet(path)
            for model in MODELS:
                ours = run("patronage", model, path, args.repeat)
                skip = args.no_reference or (model == "ParetoNBD" and len(data) > args.pareto_reference_max)
                theirs = None if skip else run("lifetimes", model, path, args.repeat)
                ll_ours = log_likelihood(model, ours["params"], data)
                ll_theirs = log_likelihood(model, theirs["params"], data) if theirs else float("nan")
                print(
                    f"{name:>18} {model:>10} {ours['seconds']:>12.3f} "
                    + (f"{theirs['seconds']:>12.2f} {theirs['seconds'] / ours['seconds']:>6.1f}x " if theirs else f"{'-':>12} {'-':>7} ")
                    + f"{ll_ours:>14.1f} {ll_theirs:>14.1f} {fmt_mb(ours):>13} "
                    + (f"{fmt_mb(theirs):>18}" if theirs else f"{'-':>18}"),
                    flush=True,
                )
                if pymc and model == "BetaGeo":
                    comparisons.append((name, ours, run("pymc", model, path, args.repeat, python=pymc), data))
    if comparisons:
        print(f"\nBG/NBD against pymc-marketing's MAP fit (warm: its compiled code cached); best of {args.repeat}")
        print(f"{'data':>18} {'patronage s':>12} {'pymc-marketing s':>17} {'ratio':>7} {'LL ours':>14} {'LL pymc':>14} "
              f"{'peak MB ours':>13} {'peak MB pymc':>14}")  # fmt: skip
        for name, ours, theirs, data in comparisons:
            print(f"{name:>18} {ours['seconds']:>12.3f} {theirs['seconds']:>17.2f} "
                  f"{theirs['seconds'] / ours['seconds']:>6.1f}x {log_likelihood('BetaGeo', ours['params'], data):>14.1f} "
                  f"{log_likelihood('BetaGeo', theirs['params'], data):>14.1f} {fmt_mb(ours):>13} {fmt_mb(theirs):>14}",
                  flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
