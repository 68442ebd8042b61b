"""Provisioning roles (sys_packages, nvidia_driver, rocm) in check mode on this machine.

They cannot install drivers here (no GPU, no internet), so this checks their logic:
package names resolve with apt's simulate mode (``apt-get -s``), check mode reports
changes without making them, hosts without the accelerator skip with a printed reason,
forced GPU presence walks the install path against a loopback HTTP "mirror" (the repo
URLs are variables for exactly that), and bad input fails naming the field and the
allowed values. Each playbook run takes a few seconds.
"""

from __future__ import annotations

import http.server
import os
import shutil
import subprocess
import threading
from pathlib import Path

import pytest
import yaml
from fleetbench_testlib import ANSIBLE_PLAYBOOK, REPO

SYS_PYTHON = "/usr/bin/python3"

pytestmark = [
    pytest.mark.skipif(not ANSIBLE_PLAYBOOK.exists(), reason="ansible-playbook not in the test venv"),
    pytest.mark.skipif(not Path("/etc/debian_version").exists(), reason="needs a Debian-family host (apt)"),
    pytest.mark.skipif(not Path(SYS_PYTHON).exists(), reason="needs /usr/bin/python3 (python3-apt)"),
]


def _defaults(role: str) -> dict:
    return yaml.safe_load((REPO / "roles" / role / "defaults" / "main.yml").read_text())


def _play(tmp_path: Path, role: str, *extra: str, check: bool = True) -> subprocess.CompletedProcess:
    pb = tmp_path / f"{role}.yml"
    pb.write_text(
        yaml.safe_dump(
            [
                {
                    "name": f"check {role}",
                    "hosts": "all",
                    "gather_facts": False,
                    "roles": [{"role": f"fleetbench.mlperf.{role}"}],
                }
            ],
            sort_keys=False,
        )
    )
    argv = [
        str(ANSIBLE_PLAYBOOK),
        "-i",
        "localhost,",
        "-c",
        "local",
        "-e",
        f"ansible_python_interpreter={SYS_PYTHON}",
        str(pb),
        *extra,
    ]
    if check:
        argv.append("--check")
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_FORCE_COLOR="0")
    # Keep hosts.json out of the repository.
    env["FLEETBENCH_OUTPUT_DIR"] = str(tmp_path / "out")
    return subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)


needs_root = pytest.mark.skipif(
    os.geteuid() != 0, reason="the role's package/repository tasks use become; run as root (as CI does)"
)


def _flat(text: str) -> str:
    """Output with YAML line folding undone."""
    return " ".join(text.split())


@pytest.fixture(scope="module")
def mirror(tmp_path_factory):
    """A loopback HTTP server with the files a CUDA/ROCm mirror would hold (signing keys)."""
    root = tmp_path_factory.mktemp("mirror")
    (root / "repos" / "debian12" / "x86_64").mkdir(parents=True)
    (root / "repos" / "debian12" / "x86_64" / "3bf863cc.pub").write_text("not a real key\n")
    (root / "rocm").mkdir()
    (root / "rocm" / "rocm.gpg.key").write_text("not a real key\n")

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **kw):
            super().__init__(*a, directory=str(root), **kw)

        def log_message(self, *a):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


# --- sys_packages ---------------------------------------------------------------------


@pytest.mark.skipif(shutil.which("apt-get") is None, reason="apt-get not available")
def test_sys_packages_apt_names_resolve_in_simulate_mode():
    pkgs = _defaults("sys_packages")["sys_packages_apt"]
    proc = subprocess.run(
        ["apt-get", "-s", "-qq", "install", *pkgs], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr


@needs_root
def test_sys_packages_check_mode_reports_without_installing(tmp_path):
    if subprocess.run(["dpkg", "-s", "hello"], capture_output=True).returncode == 0:
        pytest.skip("package 'hello' is installed here; the test needs a missing one")
    if (
        "Candidate: (none)"
        in subprocess.run(["apt-cache", "policy", "hello"], capture_output=True, text=True).stdout
        or subprocess.run(["apt-cache", "show", "hello"], capture_output=True).returncode != 0
    ):
        pytest.skip("apt index has no 'hello' package (run apt-get update)")
    proc = _play(tmp_path, "sys_packages", "-e", '{"sys_packages_extra": ["hello"]}')
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "changed: [localhost]" in proc.stdout
    assert "Install build prerequisites with apt" in proc.stdout
    assert subprocess.run(["dpkg", "-s", "hello"], capture_output=True).returncode != 0


def test_sys_packages_rejects_bad_proxy_env(tmp_path):
    proc = _play(tmp_path, "sys_packages", "-e", '{"proxy_env": "http://proxy:3128"}')
    assert proc.returncode != 0
    out = _flat(proc.stdout)
    assert "sys_packages_proxy_env" in out
    assert "dict" in out


# --- accelerator roles ------------------------------------------------------------------


def _has_pci_vendor(vendor: str) -> bool:
    base = Path("/sys/bus/pci/devices")
    if not base.is_dir():
        return False
    for dev in base.iterdir():
        try:
            if (dev / "vendor").read_text().strip() == vendor and (dev / "class").read_text()[:4] in (
                "0x03",
                "0x12",
            ):
                return True
        except OSError:
            continue
    return False


@pytest.mark.parametrize(("role", "vendor"), [("nvidia_driver", "0x10de"), ("rocm", "0x1002")])
def test_accelerator_role_skips_without_device(tmp_path, role, vendor):
    if _has_pci_vendor(vendor):
        pytest.skip(f"this machine has a PCI device of vendor {vendor}")
    proc = _play(tmp_path, role)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"{role}: skipped on localhost" in _flat(proc.stdout)
    assert "changed=0" in proc.stdout


@pytest.mark.parametrize("role", ["nvidia_driver", "rocm"])
def test_accelerator_role_rejects_bad_presence_value(tmp_path, role):
    proc = _play(tmp_path, role, "-e", f"{role}_gpu_present=maybe")
    assert proc.returncode != 0
    assert "allowed: auto, true, false" in proc.stdout


@needs_root
def test_nvidia_driver_forced_check_mode_uses_mirror_and_changes_nothing(tmp_path, mirror):
    keyring = Path("/etc/apt/keyrings/nvidia-cuda.asc")
    had_keyring = keyring.exists()
    proc = _play(
        tmp_path,
        "nvidia_driver",
        "-e",
        "nvidia_driver_gpu_present=true",
        "-e",
        f"nvidia_driver_repo_base_url={mirror}/repos",
        "-e",
        "nvidia_driver_repo_distro=debian12",
        "-e",
        "nvidia_driver_repo_arch=x86_64",
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "would add the CUDA repository and install cuda-drivers, cuda-toolkit-12-6" in _flat(proc.stdout)
    assert keyring.exists() == had_keyring
    assert not any(Path("/etc/apt/sources.list.d").glob("nvidia-cuda*"))


@needs_root
def test_rocm_forced_check_mode_uses_mirror_and_changes_nothing(tmp_path, mirror):
    proc = _play(
        tmp_path,
        "rocm",
        "-e",
        "rocm_gpu_present=true",
        "-e",
        f"rocm_repo_base_url={mirror}",
        "-e",
        f"rocm_apt_key_url={mirror}/rocm/rocm.gpg.key",
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "would add the amdgpu/ROCm 6.2.4 repositories and install amdgpu-dkms, rocm" in _flat(proc.stdout)
    assert not any(Path("/etc/apt/sources.list.d").glob("rocm*"))
    assert not any(Path("/etc/apt/sources.list.d").glob("amdgpu*"))


def test_example_inventory_requests_validate(tmp_path):
    """Every host type's group_vars resolve to a valid request (validate.yml runs on the controller only)."""
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), FLEETBENCH_OUTPUT_DIR=str(tmp_path))
    proc = subprocess.run(
        [
            str(ANSIBLE_PLAYBOOK),
            "-i",
            str(REPO / "inventories" / "example"),
            str(REPO / "playbooks" / "validate.yml"),
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-4000:]
    for host in ("xeon-01", "epyc-01", "dgx-01", "mi-01", "orin-01", "rpi5-01"):
        assert f"{host} " in proc.stdout.split("PLAY RECAP", 1)[1]
