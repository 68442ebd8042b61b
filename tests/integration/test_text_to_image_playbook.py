"""SDXL through the main job on an offline host: the tiny-sdxl stand-in, real ``ansible-playbook``.

``ansible-playbook playbooks/run_mlperf.yml -e model=sdxl -e stand_in_model=tiny-sdxl
-e scenario=Offline -e mode=performance -e test_query_count=4`` with its own work, output, cache
and controller dirs; the SUT venv lives in the fleet tests' shared directory. The captions come
from the bundled smoke set when the captions download is not reachable (offline host), the model
is built on the SUT; the result is labelled a stand-in.
"""

from __future__ import annotations

import json
import os
import subprocess

import pytest
from fleetbench_testlib import ANSIBLE_PLAYBOOK, REPO

pytestmark = pytest.mark.slow


def test_sdxl_stand_in_offline_performance(tmp_path, fleet_shared_dir):
    if not ANSIBLE_PLAYBOOK.exists():
        pytest.skip("ansible-playbook not in the test venv")
    work, out = tmp_path / "work", tmp_path / "out"
    argv = [
        str(ANSIBLE_PLAYBOOK), "playbooks/run_mlperf.yml",
        "-e", "model=sdxl", "-e", "stand_in_model=tiny-sdxl", "-e", "scenario=Offline",
        "-e", "mode=performance", "-e", "test_query_count=4",
        "-e", f"mlperf_work_dir={work}", "-e", f"output_dir={out}",
        "-e", f"python_env_work_dir={fleet_shared_dir}",
        "-e", f"artifact_cache_dir={tmp_path / 'artifacts'}",
        "-e", f"harness_controller_dir={tmp_path / 'controller'}",
    ]  # fmt: skip
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0", PYTHONUNBUFFERED="1")
    proc = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=2400, env=env)
    (tmp_path / "run.log").write_text(proc.stdout + "\n--- stderr ---\n" + proc.stderr)
    assert proc.returncode == 0, f"rc={proc.returncode}\n{proc.stdout[-6000:]}\n{proc.stderr[-2000:]}"
    results = list((work / "results").rglob("sdxl/Offline/performance/run_1/result.json"))
    assert results, f"no sdxl Offline result under {work / 'results'}"
    run_dir = results[0].parent
    for name in ("mlperf_log_summary.txt", "mlperf_log_detail.txt", "harness.json"):
        assert (run_dir / name).is_file(), name
    harness = json.loads((run_dir / "harness.json").read_text())
    assert harness["stand_in"]["name"] == "tiny-sdxl" and harness["loadgen_key"] == "stable-diffusion-xl"
    assert harness["backend"]["name"] == "diffusers" and harness["samples_processed"] >= 4
    result = json.loads(results[0].read_text())
    assert "tiny-sdxl" in json.dumps(result)
