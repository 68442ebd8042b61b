"""Every benchmark in bench/ still starts (its ``--help``): they import test helpers and the harness
by path, so a moved file breaks them without any other test noticing."""

from __future__ import annotations

import subprocess
import sys

import pytest
from fleetbench_testlib import REPO

SCRIPTS = sorted(p for p in (REPO / "bench").glob("*.py") if not p.name.startswith("_"))


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_bench_script_starts(script):
    res = subprocess.run([sys.executable, str(script), "--help"], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "usage" in res.stdout.lower()
