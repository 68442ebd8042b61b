"""Helpers shared by the harness tests (imported by name; conftest only holds fixtures)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

HARNESS = Path(__file__).resolve().parents[1]
REPO = HARNESS.parents[1]
SHARED = REPO.parent / "shared"
IMAGENET_SAMPLE = SHARED / "datasets" / "imagenet-sample"

if str(HARNESS) not in sys.path:
    sys.path.insert(0, str(HARNESS))


def harness_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(HARNESS) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.setdefault("OMP_NUM_THREADS", "2")
    return env


def run_cli(*args: str | Path, timeout: float = 900) -> subprocess.CompletedProcess:
    """Run ``python -m fleetbench_harness ARGS`` and return the completed process (text)."""
    return subprocess.run(
        [sys.executable, "-m", "fleetbench_harness", *map(str, args)],
        env=harness_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def last_json(stdout: str) -> dict:
    return json.loads(stdout.strip().splitlines()[-1])


def write_conf(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path
