"""The python_env role on localhost with a controller wheelhouse (offline install path).

A wheelhouse with the wheels of a trimmed package set (the LoadGen pin from the
registry plus tqdm) is filled once with `pip download`; the role pushes it to the
SUT work dir and installs with --no-index --find-links, records the pins in the
venv, and a second run changes nothing. Needs the package index to fill the
wheelhouse (or the pip cache); skips without it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest
import yaml
from fleetbench_testlib import ANSIBLE_PLAYBOOK, REPO

pytestmark = pytest.mark.slow

_REGISTRY = yaml.safe_load((REPO / "files/harness/fleetbench_harness/registry.yml").read_text())
# The LoadGen of the default round (a request without submission_round): rounds.<default>.loadgen.
PIN = {
    "package": _REGISTRY["loadgen"]["package"],
    "version": _REGISTRY["rounds"][_REGISTRY["rounds"]["default"]]["loadgen"],
}

PLAY = """
- name: python_env role
  hosts: localhost
  gather_facts: true
  gather_subset: [min]
  vars:
    mlperf_request: {backend: onnxruntime, device: cpu}
  tasks:
    - name: Python environment
      ansible.builtin.include_role:
        name: fleetbench.mlperf.python_env
"""


def _changed(stdout: str) -> int:
    m = re.search(r"localhost\s*:\s*ok=\d+\s+changed=(\d+)", stdout[stdout.rfind("PLAY RECAP") :])
    assert m, stdout[-3000:]
    return int(m.group(1))


def test_python_env_from_wheelhouse_then_idempotent(tmp_path):
    if not ANSIBLE_PLAYBOOK.exists():
        pytest.skip("ansible-playbook is not installed in the test venv")
    packages = ["tqdm==4.70.1"]
    wheelhouse = tmp_path / "wheelhouse"
    dl = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "-q",
            "--only-binary",
            ":all:",
            "-d",
            str(wheelhouse),
            f"{PIN['package']}=={PIN['version']}",
            *packages,
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if dl.returncode != 0:
        pytest.skip(f"cannot fill the wheelhouse from the package index: {dl.stderr.strip()[-300:]}")
    play = tmp_path / "python_env.yml"
    play.write_text(PLAY)
    extra = {
        "mlperf_work_dir": str(tmp_path / "work"),
        "python_env_wheelhouse": str(wheelhouse),
        "python_env_packages": {"common": packages, "onnxruntime-cpu": []},
    }
    argv = [str(ANSIBLE_PLAYBOOK), str(play), "-e", json.dumps(extra)]
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_CONFIG=str(REPO / "ansible.cfg"))

    first = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=900, env=env)
    assert first.returncode == 0, first.stdout[-6000:] + first.stderr[-2000:]
    venv = tmp_path / "work" / "venvs" / "onnxruntime-cpu"
    assert (tmp_path / "work" / "wheelhouse").is_dir()
    pins = (venv / "fleetbench-requirements.txt").read_text().splitlines()
    assert f"{PIN['package']}=={PIN['version']}" in pins and "tqdm==4.70.1" in pins
    subprocess.run([str(venv / "bin" / "python"), "-c", "import mlperf_loadgen, tqdm"], check=True)

    second = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=900, env=env)
    assert second.returncode == 0, second.stdout[-6000:]
    assert _changed(second.stdout) == 0, second.stdout[-6000:]
