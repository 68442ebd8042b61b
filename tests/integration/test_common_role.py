"""The internal role _common refuses a direct use and serves its task files and defaults to the roles."""

from __future__ import annotations

import os
import subprocess

import pytest
from fleetbench_testlib import ANSIBLE_PLAYBOOK, REPO

pytestmark = pytest.mark.slow

PLAY = """
- name: _common used directly
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Include the internal role
      ansible.builtin.include_role:
        name: fleetbench.mlperf._common
"""


def test_direct_use_fails_with_the_reason(tmp_path):
    play = tmp_path / "direct.yml"
    play.write_text(PLAY)
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_CONFIG=str(REPO / "ansible.cfg"))
    proc = subprocess.run(
        [str(ANSIBLE_PLAYBOOK), str(play)], cwd=REPO, capture_output=True, text=True, timeout=300, env=env
    )
    assert proc.returncode != 0
    assert "_common is internal to the collection" in proc.stdout + proc.stderr
