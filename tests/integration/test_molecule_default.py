"""Run molecule scenario `default` (provisioning roles on localhost) from pytest.

Sequence (molecule/default/molecule.yml): syntax, converge (playbooks/provision.yml),
idempotence (a second converge changes nothing), check (converge in --check mode),
verify (venv imports LoadGen at the registry pin and the harness; model and dataset
prepared; system description draft). The venv is shared with the other integration
tests through FLEETBENCH_FLEET_CACHE.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from fleetbench_testlib import REPO

pytestmark = pytest.mark.slow

MOLECULE = Path(sys.executable).with_name("molecule")


def test_molecule_default_scenario(fleet_shared_dir):
    if not MOLECULE.exists():
        pytest.skip("molecule is not installed in the test venv")
    env = dict(
        os.environ,
        FLEETBENCH_FLEET_CACHE=str(fleet_shared_dir),
        PATH=str(MOLECULE.parent) + os.pathsep + os.environ.get("PATH", ""),
        ANSIBLE_FORCE_COLOR="0",
        NO_COLOR="1",
    )
    proc = subprocess.run(
        [str(MOLECULE), "test", "-s", "default"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-8000:]
    flat = " ".join(out.split())
    for step in ("converge", "idempotence", "check", "verify"):
        assert f"{step}: Executed: Successful" in flat, f"molecule {step} failed:\n{out[-4000:]}"
