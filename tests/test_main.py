"""`python -m patronage`, the main job the README starts with, runs on the bundled data."""

import re
import subprocess
import sys


def test_main_job_runs_every_core():
    out = subprocess.run(
        [sys.executable, "-m", "patronage"], check=True, capture_output=True, text=True, timeout=300
    ).stdout
    assert "CDNOW: 69,659 purchases of 23,570 customers" in out
    assert "r=0.243, alpha=4.414, a=0.793, b=2.426" in out  # Fader, Hardie & Lee (2005)
    ours, popularity = map(float, re.search(r"held-out purchases ([\d.]+) vs ([\d.]+)", out).groups())
    assert ours > popularity
    caught = int(re.search(r"(\d+) of the 100 riskiest are labelled fraud", out).group(1))
    assert caught >= 90
