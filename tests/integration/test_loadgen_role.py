"""The loadgen role on localhost: LoadGen built from the PyPI sdist, then idempotent.

A fresh venv without LoadGen; the role (loadgen_from_source=true) builds
mlcommons-loadgen at the registry pin with this machine's compiler (about 80 s on
2 cores), records the build in the venv, and a second run changes nothing. Needs
the package index (PyPI) and a C++ compiler; skips without them.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

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
- name: LoadGen role
  hosts: localhost
  gather_facts: false
  tasks:
    - name: LoadGen
      ansible.builtin.include_role:
        name: fleetbench.mlperf.loadgen
"""


def _run(play: Path, venv: Path) -> subprocess.CompletedProcess:
    argv = [
        str(ANSIBLE_PLAYBOOK),
        str(play),
        "-e",
        f"loadgen_python={venv / 'bin' / 'python'}",
        "-e",
        "loadgen_from_source=true",
    ]
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_CONFIG=str(REPO / "ansible.cfg"))
    return subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=1200, env=env)


def _changed(stdout: str) -> int:
    m = re.search(r"localhost\s*:\s*ok=\d+\s+changed=(\d+)", stdout[stdout.rfind("PLAY RECAP") :])
    assert m, stdout[-3000:]
    return int(m.group(1))


def test_loadgen_from_source_then_idempotent(tmp_path):
    if not ANSIBLE_PLAYBOOK.exists():
        pytest.skip("ansible-playbook is not installed in the test venv")
    if not (shutil.which("c++") or shutil.which("g++")):
        pytest.skip("no C++ compiler to build LoadGen from source")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    play = tmp_path / "loadgen.yml"
    play.write_text(PLAY)

    first = _run(play, venv)
    if first.returncode != 0 and "Could not find a version" in first.stdout + first.stderr:
        pytest.skip("the package index is not reachable")
    assert first.returncode == 0, first.stdout[-6000:] + first.stderr[-2000:]
    assert _changed(first.stdout) >= 2  # build + marker
    marker = venv / "fleetbench-loadgen-source.txt"
    assert marker.read_text().startswith(f"{PIN['package']}=={PIN['version']}")
    version = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-c",
            f"import mlperf_loadgen, importlib.metadata as m; print(m.version({PIN['package']!r}))",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert version == PIN["version"]

    second = _run(play, venv)
    assert second.returncode == 0, second.stdout[-6000:]
    assert _changed(second.stdout) == 0, second.stdout[-6000:]
