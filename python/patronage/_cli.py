"""The ``patronage`` command (also ``python -m patronage``).

* ``patronage report LOG --customer C --time T --amount A [--item I] --out FILE
  [--html PAGE]``: the customer table of a CSV, Parquet or Feather log.
* ``patronage demo``: the same on a simulated log shipped with the package.

Bad input ends with one line on stderr naming the problem and exit code 1
(2 for a bad command line, 130 when interrupted); output files are written
whole or not at all.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from collections.abc import Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from ._files import atomic_path
from .customers import CustomerTable, customer_table

_READERS = {".csv": "csv", ".tsv": "csv", ".txt": "csv", ".parquet": "parquet", ".pq": "parquet",
            ".feather": "feather", ".arrow": "feather", ".ipc": "feather"}  # fmt: skip
_WRITERS = {".csv": "csv", ".parquet": "parquet"}


class UserError(Exception):
    """A problem with the input that the user can fix: one line, no traceback."""


def _format(path: str, formats: dict[str, str], what: str) -> str:
    extension = os.path.splitext(path)[1].lower()
    if extension not in formats:
        raise UserError(f"{path}: cannot {what} {extension or 'files without an extension'}; "
                        f"use one of {', '.join(sorted(formats))}")  # fmt: skip
    return formats[extension]


def read_table(path: str, columns: list[str], ids: list[str], time_col: str, time_format: str | None) -> pa.Table:
    """``columns`` of the log at ``path`` (format by extension), with the time
    column parsed by ``time_format`` when given. In a CSV the ``ids`` columns
    are read as text: ids are labels, and "00123" must not become 123."""
    if not os.path.isfile(path):
        raise UserError(f"{path}: no such file")
    kind = _format(path, _READERS, "read")
    try:
        if kind == "csv":
            from pyarrow import csv

            delimiter = "\t" if path.lower().endswith(".tsv") else ","
            as_text = dict.fromkeys(ids + [time_col] * bool(time_format), pa.string())
            table = csv.read_csv(path, parse_options=csv.ParseOptions(delimiter=delimiter),
                                 convert_options=csv.ConvertOptions(column_types=as_text))  # fmt: skip
        elif kind == "parquet":
            import pyarrow.parquet as pq

            table = pq.read_table(path, columns=[c for c in columns if c in pq.read_schema(path).names])
        else:
            import pyarrow.feather as feather

            table = feather.read_table(path)
    except (pa.ArrowException, OSError) as error:
        raise UserError(f"{path}: cannot be read as {kind}: {str(error).splitlines()[0]}") from None
    missing = [c for c in columns if c not in table.column_names]
    if missing:
        raise UserError(f"{path}: column {missing[0]!r} not found; the file has columns {table.column_names}")
    table = table.select(columns)
    if time_format:
        try:
            parsed = pc.strptime(table[time_col], format=time_format, unit="us", error_is_null=False)
        except pa.ArrowInvalid as error:
            raise UserError(f"{path}: column {time_col!r} does not match --time-format {time_format!r}: {error}")
        table = table.set_column(table.schema.get_field_index(time_col), time_col, parsed)
    return table


def write_table(table: pa.Table, path: str) -> None:
    """Write ``table`` as CSV or Parquet (by extension), whole or not at all."""
    kind = _format(path, _WRITERS, "write")
    with atomic_path(path) as partial:
        if kind == "csv":
            from pyarrow import csv

            csv.write_csv(table, partial)
        else:
            import pyarrow.parquet as pq

            pq.write_table(table, partial)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="patronage", description="Customer analytics from a transaction log.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="{report,demo}")

    def outputs(command: argparse.ArgumentParser) -> None:
        command.add_argument("--out", help="customer table to write (.parquet or .csv)")
        command.add_argument("--html", help="self-contained HTML report to write (needs matplotlib)")
        command.add_argument("--quiet", action="store_true", help="no progress bars and no summary")
        command.add_argument("--freq", default="W", help="period of the purchase models: W (default), D or h")
        command.add_argument("--horizon", type=int, default=12, help="months of predicted value (default 12)")
        command.add_argument("--no-risk", action="store_true", help="skip transaction risk scoring")

    report = commands.add_parser("report", help="the customer table of a CSV, Parquet or Feather log")
    report.add_argument("log", help="the transaction log: .csv, .tsv, .parquet or .feather")
    report.add_argument("--customer", required=True, help="customer id column")
    report.add_argument("--time", required=True, help="date or time column")
    report.add_argument("--amount", required=True, help="amount column")
    report.add_argument("--item", help="item column (for next items)")
    report.add_argument("--time-format", help="strptime format of the time column, e.g. %%d/%%m/%%Y")
    outputs(report)
    demo = commands.add_parser("demo", help="the same on a simulated log shipped with the package")
    demo.add_argument("--customers", type=int, default=20_000, help="customers to simulate (default 20000)")
    demo.add_argument("--seed", type=int, default=0)
    outputs(demo)
    return parser


def _fraud_check(log: pa.Table, is_fraud: Any, alerts: pa.Table) -> str:
    """How many of the demo's alerts the simulator labelled fraud."""
    keys = ["customer_id", "timestamp"]
    fraud = log.select(keys).filter(pa.array(is_fraud))
    caught = alerts.select(keys).join(fraud, keys=keys, join_type="inner").num_rows
    return (
        f"Checked against the simulator's labels: {caught:,} of the {alerts.num_rows:,} alerts are fraud "
        f"({fraud.num_rows:,} fraudulent transactions in all)"
    )


def run(args: argparse.Namespace) -> CustomerTable:
    extra: dict[str, Any] = {}
    truth = None
    if args.command == "demo":
        from .datasets import simulate_transactions

        log, truth = simulate_transactions(args.customers, seed=args.seed, output="pyarrow")
        names = ("customer_id", "timestamp", "amount", "item_id")
        extra = {"category_col": "category", "place_col": "place"}
    else:
        names = (args.customer, args.time, args.amount, args.item)
        ids = [c for c in (args.customer, args.item) if c is not None]
        log = read_table(args.log, [c for c in names if c is not None], ids, args.time, args.time_format)
    result = customer_table(log, *names, freq=args.freq, horizon=args.horizon, risk=not args.no_risk,
                            show_progress=not args.quiet, output="pyarrow", **extra)  # fmt: skip
    if args.out:
        write_table(result.table, args.out)
    if args.html:
        result.to_html(args.html)
    if not args.quiet:
        print(result.summary())
        if truth is not None and result._alerts is not None:
            print(_fraud_check(log, truth.is_fraud, result._alerts))
        written = [p for p in (args.out, args.html) if p]
        if written:
            print("Wrote " + " and ".join(written))
    return result


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            run(args)
        except KeyboardInterrupt:
            _say("interrupted")
            return 130
        except (UserError, ValueError, TypeError, ImportError, OSError) as error:
            _say("error: " + (str(error) or type(error).__name__))
            return 1
        finally:
            for message in dict.fromkeys(str(w.message) for w in caught):
                _say("warning: " + message)
    return 0


def _say(message: str) -> None:
    """One line on stderr."""
    print("patronage: " + " ".join(message.split()), file=sys.stderr)
