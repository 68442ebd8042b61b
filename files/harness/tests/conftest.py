"""Fixtures for the harness tests (collected by the repository's pytest.ini).

The package is used from the source tree (``files/harness`` on ``sys.path``
and on ``PYTHONPATH`` for the CLI subprocesses), exactly as the CLI runs.
Test data: ``REPO.parent / "shared"`` (ImageNet sample) is optional; tests
that need it skip with the reason.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

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


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory) -> Path:
    """One cache (exported ONNX, npy preprocessing) shared by every test of the session."""
    return tmp_path_factory.mktemp("harness-cache")


@pytest.fixture(scope="session")
def smoke_dataset(cache_dir) -> Path:
    """The skimage smoke dataset (real photographs, labelled by eye), built by the CLI."""
    pytest.importorskip("skimage", reason="scikit-image is needed for the skimage-smoke dataset")
    res = run_cli(
        "prepare-dataset", "--model", "efficientnet", "--cache-dir", cache_dir, "--source", "skimage-smoke"
    )
    assert res.returncode == 0, res.stderr
    return Path(last_json(res.stdout)["path"])


@pytest.fixture(scope="session")
def imagenet_sample() -> Path:
    if not (IMAGENET_SAMPLE / "val_map.txt").is_file():
        pytest.skip(f"ImageNet sample test data absent: {IMAGENET_SAMPLE} (shared test data, not shipped)")
    return IMAGENET_SAMPLE


def write_conf(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def small_conf(tmp_path) -> Path:
    """A user.conf with tiny LoadGen settings for every scenario."""
    lines = []
    for scen, n in (("Offline", 32), ("Server", 64), ("SingleStream", 16), ("MultiStream", 8)):
        lines += [
            f"*.{scen}.min_duration = 0",
            f"*.{scen}.min_query_count = {n}",
            f"*.{scen}.max_query_count = {n}",
        ]
    lines += ["*.Offline.target_qps = 32", "*.Server.target_qps = 20"]
    return write_conf(tmp_path / "user.conf", lines)
