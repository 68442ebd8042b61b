"""Run molecule scenario `fleet` (provisioning roles over loopback SSH) from pytest."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from _sshd import LoopbackSshd, fleet_inventory
from fleetbench_testlib import REPO

pytestmark = [pytest.mark.slow, pytest.mark.fleet]

MOLECULE = Path(sys.executable).with_name("molecule")


def test_molecule_fleet_scenario(loopback_sshd: LoopbackSshd, tmp_path):
    if not MOLECULE.exists():
        pytest.skip("molecule not in the test venv")
    if os.geteuid() != 0:
        pytest.skip("sys_packages in the fleet scenario needs root on the loopback SUTs")
    inv = tmp_path / "hosts.yml"
    data = fleet_inventory(loopback_sshd, ["fleet-a", "fleet-b"])
    for name, hv in data["all"]["hosts"].items():
        hv["mlperf_work_dir"] = str(tmp_path / name / "work")
    inv.write_text(json.dumps(data))
    env = dict(
        os.environ,
        FLEET_MOLECULE_INVENTORY=str(inv),
        PATH=str(MOLECULE.parent) + os.pathsep + os.environ.get("PATH", ""),
        ANSIBLE_FORCE_COLOR="0",
        NO_COLOR="1",
    )
    env.pop("FLEETBENCH_OUTPUT_DIR", None)
    proc = subprocess.run(
        [str(MOLECULE), "test", "-s", "fleet"], cwd=REPO, env=env, capture_output=True, text=True, timeout=900
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-6000:]
    flat = " ".join(out.split())
    for step in ("check", "converge", "idempotence", "verify"):
        assert f"{step}: Executed: Successful" in flat, f"molecule step {step} did not succeed"
