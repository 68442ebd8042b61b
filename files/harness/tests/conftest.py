"""Fixtures for the harness tests (collected by the repository's pytest.ini).

The package is used from the source tree (``files/harness`` on ``sys.path``
and on ``PYTHONPATH`` for the CLI subprocesses), exactly as the CLI runs.
Test data: ``REPO.parent / "shared"`` (ImageNet sample) is optional; tests
that need it skip with the reason.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from harness_testlib import (  # noqa: F401
    HARNESS,
    IMAGENET_SAMPLE,
    REPO,
    SHARED,
    harness_env,
    last_json,
    run_cli,
    write_conf,
)


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
