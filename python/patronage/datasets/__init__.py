"""Data sets: the CDNOW research data (shipped, compressed) and a transaction simulator.

* :func:`load_cdnow` — the CDNOW purchase logs of Fader & Hardie (the standard
  test data of "buy till you die" models).
* :func:`load_cdnow_summary` — the papers' 39-week calibration summary of the
  CDNOW sample (frequency, recency, T in weeks, optionally mean spend).
* :func:`load_donations` — the BG/BB donation data (11,104 donors, 6 yearly
  opportunities), as counts of identical (frequency, recency) patterns.
* :func:`simulate_transactions` — realistic logs with ground truth (BG/NBD
  timing, Gamma-Gamma spend, taste clusters over a long-tailed catalogue,
  labelled fraud episodes), millions of rows per second.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Literal

import numpy as np
import pyarrow as pa

from .. import _core
from .._base import contract
from .._frames import FrameKind, build_frame, from_arrow, resolve_kind, to_utc_micros

__all__ = [
    "SimulationTruth",
    "load_cdnow",
    "load_cdnow_summary",
    "load_donations",
    "simulate_transactions",
]


def _open(name: str) -> Any:
    return gzip.open(resources.files(__package__).joinpath("data", name + ".gz").open("rb"), "rt")


def _yyyymmdd_to_datetime(values: np.ndarray) -> np.ndarray:
    values = values.astype(np.int64)
    years = (values // 10000 - 1970).astype("datetime64[Y]")
    months = (values // 100 % 100 - 1).astype("timedelta64[M]")
    days = (values % 100 - 1).astype("timedelta64[D]")
    return (years.astype("datetime64[M]") + months).astype("datetime64[D]") + days


def load_cdnow(kind: Literal["master", "sample"] = "master", output: FrameKind | None = None) -> Any:
    """The CDNOW purchase log.

    ``kind="master"``: every purchase of the 23,570 customers who first bought
    at CDNOW in the first quarter of 1997, to the end of June 1998 (69,659
    rows). ``kind="sample"``: the 1/10 sample (2,357 customers, 6,919 rows)
    used in the papers.

    Columns: ``customer_id`` (int64), ``date`` (datetime64[us]),
    ``number_of_cds`` (int64), ``dollar_value`` (float64); the sample also has
    ``master_id``, the customer's id in the master file.

    Example:
        >>> from patronage.datasets import load_cdnow
        >>> log = load_cdnow("sample")
        >>> len(log), log["customer_id"].nunique()
        (6919, 2357)
    """
    if kind == "master":
        with _open("CDNOW_master.txt") as f:
            raw = np.loadtxt(f, skiprows=1, dtype=np.float64)
        columns = {"customer_id": raw[:, 0], "date": raw[:, 1], "number_of_cds": raw[:, 2], "dollar_value": raw[:, 3]}
    elif kind == "sample":
        with _open("CDNOW_sample.txt") as f:
            raw = np.loadtxt(f, dtype=np.float64)
        columns = {
            "customer_id": raw[:, 1],
            "master_id": raw[:, 0],
            "date": raw[:, 2],
            "number_of_cds": raw[:, 3],
            "dollar_value": raw[:, 4],
        }
    else:
        raise ValueError(f"kind must be 'master' or 'sample', got {kind!r}")
    out = {
        name: (
            _yyyymmdd_to_datetime(values).astype("datetime64[us]")
            if name == "date"
            else values.astype(np.int64)
            if name != "dollar_value"
            else values
        )
        for name, values in columns.items()
    }
    return build_frame(out, resolve_kind(output))


def _read_csv(name: str) -> tuple[list[str], np.ndarray]:
    with _open(name) as f:
        header = f.readline().strip().split(",")
        data = np.loadtxt(f, delimiter=",", dtype=np.float64, ndmin=2)
    return header, data


def load_cdnow_summary(with_monetary_value: bool = False, output: FrameKind | None = None) -> Any:
    """The published 39-week calibration summary of the CDNOW sample (2,357 customers).

    Columns ``customer_id``, ``frequency`` (repeat purchases), ``recency`` and
    ``T`` in weeks; with ``with_monetary_value=True`` also
    ``monetary_value`` (mean repeat spend, 0 without repeats). This is the
    data behind the published BG/NBD, Pareto/NBD and Gamma-Gamma estimates.

    Example:
        >>> from patronage.datasets import load_cdnow_summary
        >>> summary = load_cdnow_summary()
        >>> len(summary), int(summary["frequency"].sum())
        (2357, 2457)
    """
    if with_monetary_value:
        _, data = _read_csv("cdnow_customers_summary_with_transactions.csv")
        names = ["customer_id", "frequency", "recency", "T", "monetary_value"]
    else:
        _, data = _read_csv("cdnow_customers_summary.csv")
        names = ["customer_id", "frequency", "recency", "T"]
    columns = {name: data[:, i] for i, name in enumerate(names)}
    columns["customer_id"] = columns["customer_id"].astype(np.int64)
    return build_frame(columns, resolve_kind(output))


def load_donations(output: FrameKind | None = None) -> Any:
    """BG/BB donation data: 11,104 donors over 6 yearly opportunities.

    One row per (frequency, recency) pattern with its count in ``weights``;
    ``periods`` is the number of opportunities (6).

    Example:
        >>> from patronage.datasets import load_donations
        >>> int(load_donations()["weights"].sum())
        11104
    """
    header, data = _read_csv("donations.csv")
    columns = {name: data[:, i].astype(np.int64) for i, name in enumerate(header)}
    return build_frame(columns, resolve_kind(output))


@dataclass
class SimulationTruth:
    """Ground truth of :func:`simulate_transactions`.

    Attributes:
        params: the population parameters (BG/NBD ``r, alpha, a, b`` with rates
            per day; Gamma-Gamma ``p, q, gamma``).
        customers: one row per customer (``customer_id``, ``lambda`` purchase
            rate per day, ``p`` dropout probability, ``first_day``,
            ``dropout_day`` (inf if alive at the end), ``alive`` at the end,
            ``nu`` and ``mean_spend`` = p/nu, taste ``cluster``, ``home_place``,
            ``fraud_victim``).
        is_fraud: boolean array aligned with the log's rows.
        clusters: the taste cluster of each item (index = item id).
    """

    params: dict[str, float]
    customers: Any
    is_fraud: np.ndarray
    clusters: np.ndarray = field(repr=False)


_SIM = contract("simulate_transactions")


def simulate_transactions(
    n_customers: int = _SIM.default("n_customers"),
    *,
    seed: int = _SIM.default("seed"),
    start: Any = "2024-01-01",
    acquisition_days: float = _SIM.default("acquisition_days"),
    horizon_days: float = _SIM.default("horizon_days"),
    r: float = _SIM.default("r"),
    alpha: float = _SIM.default("alpha"),
    a: float = _SIM.default("a"),
    b: float = _SIM.default("b"),
    p: float = _SIM.default("p"),
    q: float = _SIM.default("q"),
    gamma: float = _SIM.default("gamma"),
    n_items: int = _SIM.default("n_items"),
    n_clusters: int = _SIM.default("n_clusters"),
    zipf_exponent: float = _SIM.default("zipf_exponent"),
    taste_strength: float = _SIM.default("taste_strength"),
    n_places: int = _SIM.default("n_places"),
    travel_rate: float = _SIM.default("travel_rate"),
    fraud_rate: float = _SIM.default("fraud_rate"),
    output: FrameKind | None = None,
) -> tuple[Any, SimulationTruth]:
    """Simulate a transaction log with known ground truth.

    * **Timing** (BG/NBD): customer ``i`` buys at rate
      ``lambda_i ~ Gamma(r, alpha)`` per day from a first purchase uniform in
      the first ``acquisition_days``; after each repeat purchase it drops out
      with probability ``p_i ~ Beta(a, b)``. The log covers ``horizon_days``.
    * **Spend** (Gamma-Gamma): amounts ``~ Gamma(p, nu_i)`` with
      ``nu_i ~ Gamma(q, gamma)``, rounded to cents.
    * **Items**: a Zipf-popular catalogue of ``n_items`` split into
      ``n_clusters`` taste clusters; a customer buys from their own cluster
      with probability ``taste_strength``, else from the whole catalogue.
      ``category`` is the item's cluster.
    * **Places**: a home place per customer, a few travel places
      (``travel_rate``).
    * **Fraud**: a share ``fraud_rate`` of customers has one episode: one or two
      purchases of $0.50–$5 minutes apart in a new place (card testing), then
      one to three purchases of 5–30× the customer's mean spend (at least $200)
      within hours. These rows are labelled in ``truth.is_fraud``.

    The log is sorted by time, with columns ``customer_id`` (1..n),
    ``timestamp`` (datetime64[us]), ``amount``, ``item_id``, ``category``,
    ``place``. It is the same for a seed whatever the number of threads, and
    ten million rows take a few seconds.

    Returns:
        ``(log, truth)``: the log as a frame of kind ``output`` (pandas by
        default) and a :class:`SimulationTruth`.

    Example:
        >>> from patronage.datasets import simulate_transactions
        >>> log, truth = simulate_transactions(500, seed=1)
        >>> list(log.columns)
        ['customer_id', 'timestamp', 'amount', 'item_id', 'category', 'place']
        >>> bool(truth.is_fraud.any())
        True
    """
    params = {name: value for name, value in locals().items() if name in _SIM.params}
    start_micros, _ = to_utc_micros(start, "start")
    log, customers, clusters = _core.simulate_transactions(params, start_micros)
    kind = resolve_kind(output)
    log = pa.Table.from_batches([pa.record_batch(log)])
    is_fraud = log.column("is_fraud").to_numpy()
    truth = SimulationTruth(
        params={"r": r, "alpha": alpha, "a": a, "b": b, "p": p, "q": q, "gamma": gamma},
        customers=from_arrow(customers, kind),
        is_fraud=is_fraud,
        clusters=clusters,
    )
    return from_arrow(log.drop_columns(["is_fraud"]), kind), truth
