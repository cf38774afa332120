"""What :class:`~patronage.customers.CustomerTable` says, in words and in one HTML page."""

from __future__ import annotations

import base64
import html
import io
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ._files import write_bytes

if TYPE_CHECKING:
    from .customers import CustomerTable

_STAGES = ("new", "active", "at risk", "lapsed")
_TIERS = ("low", "medium", "high", "top")


def _money(value: float) -> str:
    return f"{value:,.2f}"


def _top_share(values: np.ndarray, share: float) -> float:
    """Share of the total held by the top ``share`` of customers."""
    total = values.sum()
    if len(values) == 0 or total <= 0:
        return float("nan")
    top = np.sort(values)[::-1][: max(1, int(round(len(values) * share)))]
    return float(top.sum() / total)


def _counts(column: pa.ChunkedArray) -> dict[str, int]:
    counts = pc.value_counts(column)
    return {str(v): int(n) for v, n in zip(counts.field("values").to_pylist(), counts.field("counts").to_pylist())}


def _most_valuable(result: CustomerTable, top: int) -> pa.Table:
    customers = result._customers
    assert customers is not None
    return customers.take(pc.select_k_unstable(customers, top, [("clv", "descending")]))


def _cleaning_line(c: Any) -> str:
    dropped = c.dropped()
    if not dropped:
        return f"Cleaning: all {c.rows:,} rows used"
    parts = [
        f"{reason.replace('_', ' ')} {n:,}" + (f" (value {_money(c.returned_value)})" if reason == "returns" else "")
        for reason, n in dropped.items()
    ]
    return f"Cleaning: dropped {', '.join(parts)}; {c.kept:,} of {c.rows:,} rows used"


def text_summary(result: CustomerTable, top: int = 5) -> str:
    """The summary the command prints (see :meth:`CustomerTable.summary`)."""
    customers, alerts, settings = result._customers, result._alerts, result.settings
    assert customers is not None
    key = settings["customer_col"]
    n = customers.num_rows
    value = customers["clv"].to_numpy()
    stages = _counts(customers["lifecycle_stage"])
    share = {s: stages.get(s, 0) / n for s in _STAGES}
    c = result.cleaning
    lines = [
        f"{c.kept:,} transactions of {n:,} customers, {settings['first']} to {settings['last']}",
        _cleaning_line(result.cleaning),
        f"Purchase model: {result.model_choice}",
        f"Active: {share['new'] + share['active']:.0%} of customers are new or active, "
        f"{share['at risk']:.0%} at risk, {share['lapsed']:.0%} lapsed",
        f"Predicted value over {settings['horizon_months']} months "
        f"({settings['discount_rate']:.1%} monthly discount): {_money(float(value.sum()))}; "
        f"the top 5% of customers hold {_top_share(value, 0.05):.0%} of it",
        f"Most valuable customers (customer: value, P(alive), expected purchases, stage):",
    ]
    best = _most_valuable(result, top)
    for row in best.to_pylist():
        lines.append(
            f"  {row[key]}: {_money(row['clv'])}, {row['probability_alive']:.2f}, "
            f"{row['expected_purchases']:.2f}, {row['lifecycle_stage']}"
        )
    if alerts is not None:
        alerted = pc.count_distinct(alerts[key]).as_py() if alerts.num_rows else 0
        lines.append(
            f"Alerts: {alerts.num_rows:,} of {settings['purchases_scored']:,} purchases "
            f"({alerts.num_rows / max(settings['purchases_scored'], 1):.1%}), of {alerted:,} customers; the riskiest:"
        )
        time, amount = settings["datetime_col"], settings["monetary_value_col"]
        for row in alerts.slice(0, min(top, 3)).to_pylist():
            lines.append(f"  {row[key]} at {str(row[time])[:16]}, {_money(row[amount])}: {row['reasons']}")
    return "\n".join(lines)


# -- HTML --------------------------------------------------------------------


def _figure(draw: Any, size: tuple[float, float] = (6.0, 4.0)) -> str:
    """``draw(figure)`` onto a new matplotlib figure, as an embedded PNG."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError("the HTML report needs matplotlib: pip install 'patronage[plot]'") from None
    figure = Figure(figsize=size, layout="constrained")
    draw(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=96)
    encoded = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<img alt="" src="data:image/png;base64,{encoded}">'


def _table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    def cell(value: Any) -> str:
        if isinstance(value, float):
            return f"{value:,.3g}" if abs(value) < 1 else f"{value:,.2f}"
        return html.escape("" if value is None else str(value))

    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{cell(r.get(c))}</td>" for c in columns) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _value_plots(figure: Any, value: np.ndarray) -> None:
    spread, concentration = figure.subplots(1, 2)
    positive = value[value > 0]
    if len(positive):
        bins = np.geomspace(max(positive.min(), positive.max() * 1e-4), positive.max(), 40)
        spread.hist(positive, bins=bins)
        spread.set_xscale("log")
    spread.set_xlabel("customer value")
    spread.set_ylabel("customers")
    spread.set_title("Distribution of value")
    ordered = np.sort(value)[::-1]
    cumulative = np.cumsum(ordered) / max(ordered.sum(), 1e-300)
    concentration.plot(np.arange(1, len(ordered) + 1) / len(ordered), cumulative)
    concentration.plot([0, 1], [0, 1], ":", color="grey")
    concentration.set_xlabel("share of customers (most valuable first)")
    concentration.set_ylabel("share of value")
    concentration.set_title("Concentration of value")


def _tiers_by_stages(customers: pa.Table) -> str:
    pairs = pa.table({"tier": customers["value_tier"], "stage": customers["lifecycle_stage"]})
    counts = pairs.group_by(["tier", "stage"]).aggregate([([], "count_all")]).to_pylist()
    grid = {(r["tier"], r["stage"]): r["count_all"] for r in counts}
    rows = [{"value tier": tier, **{s: grid.get((tier, s), 0) for s in _STAGES}} for tier in _TIERS[::-1]]
    return _table(rows, ["value tier", *_STAGES])


def html_report(result: CustomerTable, path: Any = None) -> str:
    """The self-contained report (see :meth:`CustomerTable.to_html`)."""
    from .clv import plot_probability_alive_matrix

    customers, settings = result._customers, result.settings
    assert customers is not None
    key = settings["customer_col"]
    value = customers["clv"].to_numpy()
    sections = [
        ("Summary", f"<pre>{html.escape(result.summary())}</pre>"),
        ("Value", _figure(lambda f: _value_plots(f, value), (10, 4))),
        (
            "Who is still a customer",
            _figure(
                lambda f: plot_probability_alive_matrix(
                    result.purchase_model, T=float(pc.max(customers["T"]).as_py()), ax=f.subplots()
                )
            ),
        ),
        ("Value tiers by lifecycle stage (customers)", _tiers_by_stages(customers)),
    ]
    if result.holdout:
        chosen = result.holdout.get(type(result.purchase_model).__name__) or next(iter(result.holdout.values()))
        sections.append(("Model fit on the holdout period", _figure(lambda f: chosen.plot(ax=f.subplots()))))
    if result._alerts is not None:
        columns = [key, settings["datetime_col"], settings["monetary_value_col"], "risk_score", "reasons"]
        sections.append(("Riskiest transactions", _table(result._alerts.slice(0, 20).to_pylist(), columns)))
    items = result._next_items
    if items is not None:
        best = _most_valuable(result, 5)[key]
        shown = items.filter(pc.is_in(items[key], value_set=best.combine_chunks()))
        columns = [key, "kind", "rank", settings["item_col"], "reason"]
        sections.append(("Next items of the most valuable customers", _table(shown.to_pylist(), columns)))
    body = "".join(f"<h2>{html.escape(title)}</h2>{content}" for title, content in sections)
    page = (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>patronage customer report</title><style>"
        "body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}"
        "table{border-collapse:collapse;font-size:0.9em}td,th{border:1px solid #ccc;padding:3px 8px;"
        "text-align:left}th{background:#f3f3f3}pre{background:#f8f8f8;padding:1em;white-space:pre-wrap}"
        "img{max-width:100%}</style></head><body><h1>Customer report</h1>"
        f"{body}</body></html>"
    )
    if path is not None:
        write_bytes(path, page)
    return page
