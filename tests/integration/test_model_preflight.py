"""A checkpoint the SUT cannot get stops the run in seconds, naming what is needed and from where.

Real ``ansible-playbook`` runs on localhost (roles/model/tasks/preflight.yml, which provision.yml
runs before the OS packages and the venv). No network is used: the registry's GPT-J checkpoint has
no public download, and Llama 3.1 8B is a gated Hugging Face repository, so without ``model_path`` or
``hf_token`` neither is looked up anywhere.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from fleetbench_testlib import ANSIBLE_PLAYBOOK, REPO
from test_main_job import Job

pytestmark = pytest.mark.slow

# The bound for the whole main job (validate, provision, report) on a host without the
# checkpoint.
FAIL_WITHIN_S = 60

PLAY = """
- name: model preflight
  hosts: localhost
  gather_facts: true
  gather_subset: [min]
  tasks:
    - name: Preflight
      ansible.builtin.include_role:
        name: fleetbench.mlperf.model
        tasks_from: preflight
"""


def _preflight(tmp_path: Path, request: dict, **extra) -> subprocess.CompletedProcess:
    play = tmp_path / "preflight.yml"
    play.write_text(PLAY)
    base = {"model_path": None, "stand_in_model": None, "backend": "pytorch", "precision": "float32"}
    variables = {"mlperf_request": dict(base, **request), "mlperf_work_dir": str(tmp_path / "sut"), **extra}
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_CONFIG=str(REPO / "ansible.cfg"))
    return subprocess.run(
        [str(ANSIBLE_PLAYBOOK), str(play), "-e", json.dumps(variables)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def _one_line(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture
def no_playbook():
    if not ANSIBLE_PLAYBOOK.exists():
        pytest.skip("ansible-playbook is not installed in the test venv")


def test_gptj_without_checkpoint_fails_fast_naming_model_path(tmp_path, fleet_shared_dir, no_playbook):
    job = Job(tmp_path, fleet_shared_dir)
    proc = job.run("-e", "model=gptj-99")
    out = _one_line(proc.stdout)
    assert proc.returncode != 0, out[-3000:]
    assert proc.duration_s < FAIL_WITHIN_S, f"took {proc.duration_s:.0f} s"
    for text in (
        "model_path: model=gptj-99 needs the gpt-j-checkpoint checkpoint",
        "https://inference.mlcommons-storage.org/metadata/gpt-j-model-checkpoint.uri",
        "rclone copy mlc-inference:mlcommons-inference-wg-public/gpt-j",
        "stand_in_model=tiny-gptj",
    ):
        assert text in out, f"{text!r} not in the output:\n{out[-4000:]}"
    # It stopped before the slow roles: no venv was made for it.
    assert "TASK [python_env" not in proc.stdout


def test_gated_llama_without_token_fails_fast_naming_hf_token(tmp_path, fleet_shared_dir, no_playbook):
    job = Job(tmp_path, fleet_shared_dir)
    proc = job.run("-e", "model=llama3.1-8b")
    out = _one_line(proc.stdout)
    assert proc.returncode != 0, out[-3000:]
    assert proc.duration_s < FAIL_WITHIN_S, f"took {proc.duration_s:.0f} s"
    for text in (
        "hf_token: model=llama3.1-8b needs meta-llama/Llama-3.1-8B-Instruct, a gated Hugging Face repository",
        "model_path=FOLDER",
        "https://inference.mlcommons-storage.org/metadata/llama3-1-8b-instruct.uri",
        "stand_in_model=smollm2-135m",
    ):
        assert text in out, f"{text!r} not in the output:\n{out[-4000:]}"
    assert "TASK [python_env" not in proc.stdout


def test_preflight_passes_a_cached_checkpoint_a_token_and_other_artifacts(tmp_path, no_playbook):
    # A checkpoint folder in the SUT cache (pre-seeded, or an earlier download) is what the harness uses.
    cached = tmp_path / "sut" / "cache" / "models" / "gpt-j-checkpoint"
    cached.mkdir(parents=True)
    (cached / "config.json").write_text("{}")
    proc = _preflight(tmp_path, {"model": "gptj-99"})
    assert proc.returncode == 0, proc.stdout[-3000:]
    # With a token the gated download is the harness's to try (the token is never printed).
    proc = _preflight(tmp_path, {"model": "llama3.1-8b"}, hf_token="hf_not_a_real_token")
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "hf_not_a_real_token" not in proc.stdout + proc.stderr
    # A stand-in, an existing model_path and a file artifact pass.
    for request in (
        {"model": "gptj-99", "stand_in_model": "tiny-gptj"},
        {"model": "gptj-99", "model_path": str(tmp_path)},
        {"model": "resnet50", "backend": "onnxruntime"},
    ):
        proc = _preflight(tmp_path, request)
        assert proc.returncode == 0, (request, proc.stdout[-3000:])
    # And without the cache the same gptj request fails in the preflight itself.
    (cached / "config.json").unlink()
    proc = _preflight(tmp_path, {"model": "gptj-99"})
    assert proc.returncode != 0 and "model_path: model=gptj-99" in _one_line(proc.stdout)


def test_missing_model_path_fails_in_the_preflight(tmp_path, no_playbook):
    # A model_path that is not on the SUT is found before the venv (minutes), not in prepare-model.
    missing = tmp_path / "no-such-checkpoint"
    proc = _preflight(tmp_path, {"model": "gptj-99", "model_path": str(missing)})
    out = _one_line(proc.stdout)
    assert proc.returncode != 0, out[-3000:]
    assert f"model_path: '{missing}' is not a file or folder on localhost" in out, out[-3000:]
