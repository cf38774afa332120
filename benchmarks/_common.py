"""What the benchmark scripts share: each measurement runs in a fresh worker
process, which reports its time and memory as one JSON line.

Peak memory is the kernel's high-water mark (VmHWM) of the worker, reset after
imports and data loading, so it is the task's own peak; ``base_mb`` is the
resident memory when the task starts (a worker's ``ru_maxrss`` would instead
inherit the parent's peak across ``exec``).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping, Sequence
from typing import Any


def status_mb(field: str) -> float:
    """A memory field of /proc/self/status (e.g. VmRSS, VmHWM) in MB."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:  # pragma: no cover - not Linux
        pass
    return float("nan")


def start_measuring() -> float:
    """Reset the peak to the current resident memory and return the latter."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:  # pragma: no cover - not Linux: the peak then includes loading
        pass
    return status_mb("VmRSS")


def report(base_mb: float, **measures: Any) -> None:
    """Print a worker's result line: its measures, peak (unless measured
    earlier, as ``peak_mb``) and base memory."""
    print(json.dumps({"peak_mb": status_mb("VmHWM"), "base_mb": base_mb, **measures}))


def run_worker(
    script: str, args: Sequence[str], env: Mapping[str, str] | None = None, python: str | None = None
) -> dict:
    """Run ``script --worker *args`` in a fresh interpreter (this one, or
    ``python``: a reference library's own environment) and parse its result line."""
    out = subprocess.run(
        [python or sys.executable, script, "--worker", *args], check=True, capture_output=True, text=True, env=env
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def best(results: Sequence[dict]) -> dict:
    """Fastest time of each ``*seconds`` measure over runs (the machine may be
    shared), other fields of the fastest run, and the largest peak memory."""
    fastest = min(results, key=lambda r: r.get("seconds", 0.0))
    out = {**fastest, **{k: min(r[k] for r in results) for k in results[0] if k.endswith("seconds")}}
    worst = max(results, key=lambda r: r["peak_mb"] - r["base_mb"])
    out.update(peak_mb=worst["peak_mb"], base_mb=worst["base_mb"])
    return out


def fmt_mb(result: Mapping[str, float]) -> str:
    """``peak (+above the memory the task started with)`` in MB."""
    return f"{result['peak_mb']:.0f} (+{result['peak_mb'] - result['base_mb']:.0f})"
