"""The native module's hand-written stubs (python/patronage/_core.pyi) match it.

mypy.stubtest imports ``patronage._core`` and compares the stubs with it:
every name, class and function on both sides, parameter names, kinds and
defaults (from pyo3's text signatures), static methods, properties against
getters, and ``@final`` for classes that cannot be subclassed.  It cannot see
parameter or return types of native code: those follow src/python/*.rs.
"""

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("mypy.stubtest", reason="mypy is not installed")


def test_stubs_match_the_native_module(tmp_path: Path) -> None:
    # In an empty folder, so that no mypy configuration or cache of the
    # project's is used, and none is left behind.
    result = subprocess.run(
        [sys.executable, "-m", "mypy.stubtest", "patronage._core"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_package_type_checks_against_them() -> None:
    package = Path(__file__).resolve().parents[1] / "python" / "patronage"
    result = subprocess.run(
        [sys.executable, "-m", "mypy", str(package), "--ignore-missing-imports", "--no-incremental"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
