"""Fixtures for the fleet tests: a loopback sshd and inventories of SUTs reached through it.

* ``loopback_sshd`` (session): an OpenSSH server on 127.0.0.1:<high port> with its own
  host key, key-only auth (generated ed25519 client key) and ``known_hosts``
  (tests/integration/_sshd.py). If ``/usr/sbin/sshd`` is missing and the tests run as
  root on a Debian-family host, ``apt-get install openssh-server`` is tried once; the
  fleet tests skip with the reason only when that is impossible.
* ``fleet_shared_dir`` (session): the directory every loopback SUT uses as
  ``python_env_work_dir`` (and ``harness_source``: a snapshot of files/harness taken at
  session start, so that concurrent source edits cannot make the hosts reinstall into
  the shared venv at once) so that the per-backend venv (LoadGen, onnxruntime, torch ...)
  is built once per machine and shared (``FLEETBENCH_FLEET_CACHE`` overrides the
  location, default ``$TMPDIR/fleetbench-fleet-cache``); ``fleet_warm`` provisions it
  once, serially, through the same playbooks, before any fleet run (three hosts
  building one venv at once would race).
* ``fleet_inventory(tmp, names, broken=...)``: writes an inventory YAML with one host per
  name: ``ansible_host: 127.0.0.1``, the sshd port, distinct ``mlperf_work_dir`` and
  ``hw_name`` per host.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import yaml
from fleetbench_testlib import ANSIBLE_PLAYBOOK, REPO

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _sshd import LoopbackSshd, SshdUnavailable, find_sshd

SUT_PYTHON = os.environ.get("FLEETBENCH_SUT_PYTHON", "/usr/bin/python3")

# The small request every fleet test runs (tiny dataset, few queries).
FLEET_REQUEST = {
    "model": "efficientnet",
    "backend": "onnxruntime",
    "device": "cpu",
    "scenario": "Offline",
    "mode": "performance",
    "execution_mode": "test",
    "count": 8,
    "test_query_count": 16,
}


def _try_install_sshd() -> str | None:
    """Install openssh-server with apt when running as root; returns why not otherwise."""
    if os.geteuid() != 0:
        return "not root: cannot apt-get install openssh-server"
    if not shutil.which("apt-get"):
        return "no apt-get to install openssh-server"
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for argv in (["apt-get", "install", "-y", "-qq", "openssh-server"],):
        proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=600)
        if proc.returncode != 0:
            subprocess.run(["apt-get", "update", "-qq"], env=env, capture_output=True, timeout=600)
            proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=600)
        if proc.returncode != 0:
            return f"apt-get install openssh-server failed: {proc.stderr.strip()[-300:]}"
    return None


@pytest.fixture(scope="session")
def loopback_sshd(tmp_path_factory):
    if not find_sshd():
        why = _try_install_sshd()
        if why or not find_sshd():
            pytest.skip(f"/usr/sbin/sshd unavailable ({why or 'not found after install'})")
    if not Path(SUT_PYTHON).exists():
        pytest.skip(f"SUT interpreter {SUT_PYTHON} missing (set FLEETBENCH_SUT_PYTHON)")
    sshd = LoopbackSshd(tmp_path_factory.mktemp("sshd"))
    try:
        sshd.start()
    except SshdUnavailable as exc:
        pytest.skip(str(exc))
    yield sshd
    sshd.stop()


@pytest.fixture(scope="session")
def fleet_shared_dir() -> Path:
    default = Path(tempfile.gettempdir()) / "fleetbench-fleet-cache"
    root = Path(os.environ.get("FLEETBENCH_FLEET_CACHE") or default)
    root.mkdir(parents=True, exist_ok=True)
    snapshot_harness(root)
    return root.resolve()


def snapshot_harness(shared: Path) -> Path:
    """Copy files/harness to ``shared/harness-src`` once per session; every loopback SUT installs from it.

    All loopback SUTs share one venv, and the harness role reinstalls into it whenever
    the source checksum changes: a source edited during a test session would make all
    hosts reinstall into the same venv at once. A per-session snapshot keeps the source
    fixed for the whole session.
    """
    dest = shared / "harness-src"
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(
        REPO / "files" / "harness",
        dest,
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "build", "*.egg-info", ".pytest_cache"),
    )
    return dest


def host_vars(sshd: LoopbackSshd, root: Path, name: str, shared: Path, **extra) -> dict:
    """Inventory vars of one loopback SUT ``name`` with its own work dir under ``root``."""
    return {
        **sshd.ansible_vars(),
        "ansible_python_interpreter": SUT_PYTHON,
        "mlperf_work_dir": str(root / name / "work"),
        "hw_name": f"loop-{name}",
        "python_env_work_dir": str(shared),
        "harness_source": str(shared / "harness-src"),
        # OS packages need root + apt; the molecule `fleet` scenario covers them over SSH.
        "mlperf_system_packages": False,
        **extra,
    }


def write_inventory(path: Path, hosts: dict[str, dict]) -> Path:
    path.write_text(yaml.safe_dump({"all": {"hosts": hosts}}, sort_keys=True))
    return path


def ansible_env(output_dir: Path | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        ANSIBLE_CONFIG=str(REPO / "ansible.cfg"),
        ANSIBLE_FORCE_COLOR="0",
        ANSIBLE_NOCOLOR="1",
        PATH=str(ANSIBLE_PLAYBOOK.parent) + os.pathsep + env.get("PATH", ""),
    )
    env.pop("FLEETBENCH_OUTPUT_DIR", None)
    return env


def run_playbook(
    inventory: Path,
    request: dict,
    *,
    playbook: str = "run_mlperf.yml",
    limit: str | None = None,
    timeout: int = 1500,
) -> subprocess.CompletedProcess:
    """``ansible-playbook -i inventory playbooks/<playbook> -e <request as JSON>`` from the repo root."""
    argv = [
        str(ANSIBLE_PLAYBOOK),
        "-i",
        str(inventory),
        str(REPO / "playbooks" / playbook),
        "-e",
        json.dumps(request),
    ]
    if limit:
        argv += ["--limit", limit]
    return subprocess.run(argv, cwd=REPO, env=ansible_env(), capture_output=True, text=True, timeout=timeout)


def recap(stdout: str) -> dict[str, dict[str, int]]:
    """Parse PLAY RECAP lines -> ``{host: {"ok": n, "changed": n, "failed": n, "unreachable": n, ...}}``."""
    out: dict[str, dict[str, int]] = {}
    if "PLAY RECAP" not in stdout:
        return out
    for line in stdout.split("PLAY RECAP", 1)[1].splitlines()[1:]:
        if ":" not in line or "=" not in line:
            continue
        host, rest = line.split(":", 1)
        out[host.strip()] = {k: int(v) for k, v in (kv.split("=") for kv in rest.split())}
    return out


@pytest.fixture(scope="session")
def fleet_warm(loopback_sshd, fleet_shared_dir, tmp_path_factory):
    """Provision the shared SUT venv once through one loopback host (serially)."""
    if not ANSIBLE_PLAYBOOK.exists():
        pytest.skip("ansible-playbook not in the test venv")
    if not (REPO / "playbooks" / "provision.yml").exists():
        pytest.skip("playbooks/provision.yml not present yet")
    root = tmp_path_factory.mktemp("warm")
    inv = write_inventory(
        root / "hosts.yml", {"warm": host_vars(loopback_sshd, root, "warm", fleet_shared_dir)}
    )
    proc = run_playbook(inv, dict(FLEET_REQUEST, output_dir=str(root / "out")), playbook="provision.yml")
    if proc.returncode != 0:
        pytest.fail(f"warm-up provision failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-2000:]}")
    return fleet_shared_dir
