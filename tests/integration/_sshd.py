"""A throw-away OpenSSH server on loopback for the fleet tests, molecule and bench.

Shape: ``LoopbackSshd(state_dir).start()`` generates, inside ``state_dir``,
its own ed25519 host key, an ed25519 client key (no passphrase), an
``authorized_keys`` file, a ``known_hosts`` file pinning the host key for
``[127.0.0.1]:<port>``, and an ``sshd_config`` with ``ListenAddress 127.0.0.1``,
a free high port, key-only auth (``PasswordAuthentication no``,
``KbdInteractiveAuthentication no``), ``StrictModes no`` (tmp dirs are
world-traversable) and ``UsePAM no``. It then runs ``/usr/sbin/sshd -D -e``
as a child process and waits (up to 10 s) until the port accepts connections.

``ansible_vars()`` returns the host vars that make Ansible reach it with
strict host-key checking against the generated ``known_hosts``.

Errors: ``SshdUnavailable`` when ``sshd`` is not installed (callers skip with
that reason), ``RuntimeError`` with sshd's stderr when it does not come up.

Also a command line for molecule's create/destroy and for ``bench/``::

    python tests/integration/_sshd.py start STATE_DIR   # prints JSON of ansible_vars()
    python tests/integration/_sshd.py stop STATE_DIR
    python tests/integration/_sshd.py fleet STATE_DIR INVENTORY HOST...  # start + write a YAML
        # inventory: each HOST -> this sshd, mlperf_work_dir STATE_DIR/HOST/work, hw_name loop-HOST
"""

from __future__ import annotations

import contextlib
import getpass
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

SSHD_CANDIDATES = ("/usr/sbin/sshd", "/usr/local/sbin/sshd")


class SshdUnavailable(RuntimeError):
    """OpenSSH server binary not found (Debian package: openssh-server)."""


def find_sshd() -> str | None:
    for cand in SSHD_CANDIDATES:
        if os.access(cand, os.X_OK):
            return cand
    return shutil.which("sshd")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
            return s.recv(4).startswith(b"SSH")
    except OSError:
        return False


class LoopbackSshd:
    """One sshd on 127.0.0.1:<high port>, all of its state in ``state_dir``."""

    def __init__(self, state_dir: str | os.PathLike, port: int | None = None) -> None:
        self.dir = Path(state_dir).resolve()
        self.port = port
        self.proc: subprocess.Popen | None = None
        self.user = getpass.getuser()

    # paths -----------------------------------------------------------------
    @property
    def client_key(self) -> Path:
        return self.dir / "id_ed25519"

    @property
    def known_hosts(self) -> Path:
        return self.dir / "known_hosts"

    @property
    def pid_file(self) -> Path:
        return self.dir / "sshd.pid"

    # lifecycle ---------------------------------------------------------------
    def _keygen(self, path: Path, comment: str) -> None:
        if not path.exists():
            subprocess.run(
                ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
                check=True,
            )

    def start(self) -> LoopbackSshd:
        sshd = find_sshd()
        if not sshd:
            raise SshdUnavailable("/usr/sbin/sshd not found (apt-get install openssh-server)")
        self.dir.mkdir(parents=True, exist_ok=True)
        if self.port is None:
            self.port = _free_port()
        host_key = self.dir / "ssh_host_ed25519_key"
        self._keygen(host_key, "fleetbench-loopback-host")
        self._keygen(self.client_key, "fleetbench-loopback-client")
        authorized = self.dir / "authorized_keys"
        authorized.write_text(self.client_key.with_suffix(".pub").read_text())
        authorized.chmod(0o600)
        host_pub = (self.dir / "ssh_host_ed25519_key.pub").read_text().split()
        self.known_hosts.write_text(f"[127.0.0.1]:{self.port} {host_pub[0]} {host_pub[1]}\n")
        # sshd refuses to start as root without its privilege-separation dir.
        if os.geteuid() == 0:
            Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
        config = self.dir / "sshd_config"
        config.write_text(
            "\n".join(
                [
                    f"Port {self.port}",
                    "ListenAddress 127.0.0.1",
                    f"HostKey {host_key}",
                    f"PidFile {self.pid_file}",
                    f"AuthorizedKeysFile {authorized}",
                    "PubkeyAuthentication yes",
                    "PasswordAuthentication no",
                    "KbdInteractiveAuthentication no",
                    "PermitRootLogin prohibit-password",
                    f"AllowUsers {self.user}",
                    "StrictModes no",
                    "UsePAM no",
                    "PermitUserEnvironment no",
                    "MaxStartups 100:30:200",
                    "MaxSessions 100",
                    "LogLevel ERROR",
                    "Subsystem sftp internal-sftp",
                    "",
                ]
            )
        )
        log = open(self.dir / "sshd.log", "ab")  # noqa: SIM115 - lives as long as sshd
        self.proc = subprocess.Popen(
            [sshd, "-D", "-e", "-f", str(config)],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"sshd exited with {self.proc.returncode}: {(self.dir / 'sshd.log').read_text()[-2000:]}"
                )
            if _port_open(self.port):
                (self.dir / "state.json").write_text(json.dumps(self.ansible_vars() | {"pid": self.proc.pid}))
                return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"sshd did not listen on 127.0.0.1:{self.port} within 10 s")

    def stop(self) -> None:
        pid = self.proc.pid if self.proc else None
        if pid is None and (self.dir / "state.json").exists():
            pid = json.loads((self.dir / "state.json").read_text()).get("pid")
        if pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
            if self.proc:
                try:
                    self.proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
        self.proc = None

    def __enter__(self) -> LoopbackSshd:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # what Ansible needs --------------------------------------------------------
    def ansible_vars(self) -> dict:
        """Host vars for an inventory entry reaching this sshd (strict host-key checking)."""
        return {
            "ansible_connection": "ssh",
            "ansible_host": "127.0.0.1",
            "ansible_port": self.port,
            "ansible_user": self.user,
            "ansible_ssh_private_key_file": str(self.client_key),
            "ansible_ssh_common_args": (
                f"-o UserKnownHostsFile={self.known_hosts} -o StrictHostKeyChecking=yes "
                "-o IdentitiesOnly=yes -o PasswordAuthentication=no"
            ),
            "ansible_python_interpreter": sys.executable
            if os.environ.get("FLEET_SSH_PYTHON") == "controller"
            else "/usr/bin/python3",
        }


def fleet_inventory(sshd: LoopbackSshd, names: list[str], python: str = "/usr/bin/python3") -> dict:
    """YAML-inventory dict: each name reaches ``sshd`` with its own work dir and ``hw_name``."""
    hosts = {}
    for name in names:
        hosts[name] = sshd.ansible_vars() | {
            "ansible_python_interpreter": python,
            "mlperf_work_dir": str(sshd.dir / name / "work"),
            "hw_name": f"loop-{name}",
        }
    return {"all": {"hosts": hosts}}


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[1] not in {"start", "stop", "fleet"} or (argv[1] == "fleet" and len(argv) < 5):
        print(__doc__, file=sys.stderr)
        return 2
    sshd = LoopbackSshd(argv[2])
    if argv[1] == "stop":
        sshd.stop()
        return 0
    try:
        sshd.start()
    except SshdUnavailable as exc:
        print(f"sshd unavailable: {exc}", file=sys.stderr)
        return 3
    # Leave it running after this process exits.
    sshd.proc = None
    if argv[1] == "fleet":
        inv = fleet_inventory(sshd, argv[4:], os.environ.get("FLEETBENCH_SUT_PYTHON", "/usr/bin/python3"))
        Path(argv[3]).write_text(json.dumps(inv, indent=2) + "\n")
        print(argv[3])
    else:
        print(json.dumps(sshd.ansible_vars()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
