"""The `patronage` command: files in and out, and one clear line for bad input."""

import subprocess
import sys

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from patronage._cli import main
from patronage.datasets import simulate_transactions

ARGS = ["--customer", "customer_id", "--time", "timestamp", "--amount", "amount"]


@pytest.fixture(scope="module")
def log():
    return simulate_transactions(800, seed=5)[0]


@pytest.fixture(scope="module")
def files(log, tmp_path_factory):
    folder = tmp_path_factory.mktemp("logs")
    log.to_csv(folder / "log.csv", index=False)
    log.to_parquet(folder / "log.parquet", index=False)
    return folder


@pytest.mark.parametrize("source, target", [("log.csv", "out.parquet"), ("log.parquet", "out.csv")])
def test_report_round_trips_csv_and_parquet(log, files, tmp_path, capsys, source, target):
    out, page = tmp_path / target, tmp_path / "report.html"
    code = main(["report", str(files / source), *ARGS, "--item", "item_id", "--out", str(out), "--html", str(page)])
    assert code == 0
    table = pd.read_parquet(out) if target.endswith(".parquet") else pd.read_csv(out)
    assert len(table) == log["customer_id"].nunique()
    assert {"clv", "probability_alive", "buy_again", "try_next", "n_alerts"} <= set(table.columns)
    assert page.read_text().startswith("<!DOCTYPE html>")
    printed = capsys.readouterr().out
    assert "Most valuable customers" in printed and f"Wrote {out} and {page}" in printed


def test_csv_ids_keep_their_leading_zeros(tmp_path):
    path, out = tmp_path / "log.csv", tmp_path / "out.csv"
    rows = [("007", "2024-01-0%d" % d, 5.0 + d, "0042") for d in range(1, 9)] + [("12", "2024-01-03", 4.0, "7")]
    pd.DataFrame(rows, columns=["customer_id", "timestamp", "amount", "item_id"]).to_csv(path, index=False)
    args = ["report", str(path), *ARGS, "--item", "item_id", "--out", str(out), "--quiet", "--no-risk", "--freq", "D"]
    assert main(args) == 0
    table = pd.read_csv(out, dtype={"customer_id": str, "buy_again": str})
    assert table["customer_id"].tolist() == ["007", "12"] and table["buy_again"][0] == "0042"


def test_time_format_and_quiet(log, tmp_path, capsys):
    path = tmp_path / "log.csv"
    log.assign(timestamp=log["timestamp"].dt.strftime("%d/%m/%Y %H:%M")).to_csv(path, index=False)
    assert main(["report", str(path), *ARGS, "--time-format", "%d/%m/%Y %H:%M", "--quiet", "--no-risk"]) == 0
    assert capsys.readouterr().out == ""
    assert main(["report", str(path), *ARGS, "--quiet"]) == 1
    assert "not an ISO 8601 date" in capsys.readouterr().err


def _bad(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content) if isinstance(content, bytes) else path.write_text(content)
    return path


@pytest.mark.parametrize(
    "name, content, args, message",
    [
        (None, None, ARGS, "no such file"),
        ("log.csv", "customer_id,timestamp,price\n1,2024-01-01,3\n", ARGS, "column 'amount' not found"),
        ("log.csv", "customer_id,timestamp,amount\n1,2024-01-01,three\n", ARGS, "column 'amount' must hold numbers"),
        ("log.csv", "customer_id,timestamp,amount\n", ARGS, "no rows"),
        ("log.xlsx", "x", ARGS, "cannot read .xlsx"),
        ("log.parquet", b"not parquet at all", ARGS, "cannot be read as parquet"),
        ("log.csv", "customer_id,timestamp,amount\n1,2024-01-01,-3\n", ARGS, "no transactions left after cleaning"),
    ],
)  # fmt: skip
def test_bad_input_is_one_line_and_exit_1(tmp_path, capsys, name, content, args, message):
    path = tmp_path / "missing.csv" if name is None else _bad(tmp_path, name, content)
    out = tmp_path / "out.csv"
    assert main(["report", str(path), *args, "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("patronage: error: ") and err.count("\n") == 1 and message in err, err
    assert not out.exists()


def test_output_is_written_whole_or_not_at_all(files, tmp_path, capsys):
    out = tmp_path / "customers.xlsx"
    assert main(["report", str(files / "log.parquet"), *ARGS, "--out", str(out), "--quiet"]) == 1
    assert "cannot write .xlsx" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
    assert main(["report", str(files / "log.parquet"), *ARGS, "--out", str(tmp_path / "no" / "x.csv")]) == 1
    assert list(tmp_path.iterdir()) == []


def test_a_bad_command_line_is_usage_and_exit_2(capsys):
    with pytest.raises(SystemExit) as exit:
        main(["report", "log.csv"])
    assert exit.value.code == 2 and "--customer" in capsys.readouterr().err


def test_demo_runs_as_a_module_and_checks_the_simulators_labels():
    done = subprocess.run(
        [sys.executable, "-m", "patronage", "demo", "--customers", "3000"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "transactions of 3,000 customers" in done.stdout
    caught, alerts = map(int, done.stdout.split("labels: ")[1].split(" alerts")[0].replace(",", "").split(" of the "))
    assert caught > 0.5 * alerts
