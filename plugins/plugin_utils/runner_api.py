# Copyright: fleetbench.mlperf contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Public Python API: run the collection's main job through ansible-runner (controller only).

    from ansible_collections.fleetbench.mlperf.plugins.plugin_utils.runner_api import run_mlperf
    run = run_mlperf({"model": "efficientnet", "count": 8}, "inventories/example")
    run.rc, run.status, run.results["host-a"], run.failed_hosts, run.report_paths["md"]

What it takes care of (each a known ansible-runner pitfall):

* ``private_data_dir`` is made absolute (default: a fresh ``tempfile.mkdtemp``); runner's
  relative paths would otherwise resolve against its own cwd.
* The collection and ``ansible.cfg`` are found wherever the caller's cwd is: runner's
  environment gets ``ANSIBLE_CONFIG=<repo>/ansible.cfg``, ``ANSIBLE_COLLECTIONS_PATH``,
  ``ANSIBLE_ROLES_PATH`` and ``ANSIBLE_CALLBACKS_ENABLED`` (the ``mlperf_hosts``
  callback) and runs with the repository as project dir (cwd).
* ``ansible-playbook`` is looked up next to ``sys.executable`` (the venv's bin, which is
  not on PATH when a venv python runs without activation), then on PATH; if neither has
  it, ``AnsiblePlaybookNotFound`` names both places before anything runs. Its directory
  goes first on runner's PATH (runner's ``binary=`` would switch it to raw mode, which
  drops the playbook argument and the events).
* Events are consumed once (runner's ``events`` is a one-shot generator over files);
  per-host results come from the collected files instead: every ``result.json`` under
  ``<output_dir>/*_results/`` (grouped by its ``host`` field) and ``<output_dir>/hosts.json``.
* Secrets (``secrets={"hf_token": ...}``) never reach runner's ``env/`` files, its
  ``artifacts/<ident>/command`` (which records the whole environment) or the results:
  they are written to a 0600 file in a private temp dir *outside* ``private_data_dir``,
  passed as ``-e @<file>`` on the command line (only the path is logged) and the file is
  deleted when the run ends. Tasks that use them carry ``no_log: true``.

``output_dir`` defaults to ``<private_data_dir>/results`` when the request has none, so
the caller always knows where the controller-side tree is.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# <repo>/plugins/plugin_utils/runner_api.py -> <repo>
REPO = Path(__file__).resolve().parents[2]
PLAYBOOK_DIR = REPO / "playbooks"
CALLBACK = "fleetbench.mlperf.mlperf_hosts,fleetbench.mlperf.preload"
REPORT_FILES = {"md": "report.md", "html": "report.html", "json": "report.json"}


class AnsiblePlaybookNotFound(RuntimeError):
    """``ansible-playbook`` is neither next to ``sys.executable`` nor on ``PATH``."""


class RunnerApiError(ValueError):
    """Bad argument to ``run_mlperf`` (the message names the argument and what is allowed)."""


@dataclass
class MlperfRun:
    """Outcome of one ``run_mlperf`` call.

    rc: ansible-playbook's exit code (0 all hosts fine, 2 some host failed, 4 unreachable).
    status: runner's status (``successful``, ``failed``, ``timeout``, ``canceled``).
    output_dir: the controller-side results root.
    hosts: ``hosts.json`` as written by the ``mlperf_hosts`` callback,
        ``{host: {"status": "ok"|"failed"|"unreachable", "play", "task", "reason", "updated"}}``
        (all hosts ever recorded in this output_dir, not only this run's).
    results: ``{host: [result.json dict, ...]}`` for every run found under ``output_dir``.
    failed_hosts: hosts whose ``hosts.json`` status is not ``ok``, sorted.
    report_paths: ``{"md"|"html"|"json": Path}`` of the report files that exist.
    stats: runner's recap, ``{"ok": {host: n}, "changed": {...}, "failures": {...}, "dark": {...}, ...}``.
    private_data_dir / artifact_dir: where runner kept its inputs and artifacts.
    """

    rc: int
    status: str
    output_dir: Path
    hosts: dict[str, dict] = field(default_factory=dict)
    results: dict[str, list[dict]] = field(default_factory=dict)
    failed_hosts: list[str] = field(default_factory=list)
    report_paths: dict[str, Path] = field(default_factory=dict)
    stats: dict[str, dict[str, int]] = field(default_factory=dict)
    private_data_dir: Path | None = None
    artifact_dir: Path | None = None

    @property
    def ok(self) -> bool:
        """True when ansible-playbook succeeded and no known host is failed."""
        return self.rc == 0 and not self.failed_hosts

    def changed(self, host: str) -> int:
        """Number of changed tasks of ``host`` in this run's recap (0 when absent)."""
        return int(self.stats.get("changed", {}).get(host, 0))


def find_ansible_playbook() -> str:
    """Absolute path of ``ansible-playbook``: next to ``sys.executable`` first, then ``PATH``."""
    beside = Path(sys.executable).parent / "ansible-playbook"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which("ansible-playbook")
    if found:
        return found
    raise AnsiblePlaybookNotFound(
        f"ansible-playbook not found next to {sys.executable} nor on PATH; "
        "install ansible-core into this environment (pip install -r requirements.txt)"
    )


def _resolve_playbook(playbook: str | os.PathLike) -> str:
    path = Path(playbook)
    if not path.is_absolute():
        path = PLAYBOOK_DIR / path
    if not path.is_file():
        available = sorted(p.name for p in PLAYBOOK_DIR.glob("*.yml"))
        raise RunnerApiError(f"playbook: {playbook!s} not found; allowed: {', '.join(available)}")
    return str(path)


def _resolve_inventory(inventory: str | dict | os.PathLike | None) -> str | dict | None:
    if inventory is None or isinstance(inventory, dict):
        return inventory
    if isinstance(inventory, (str, os.PathLike)):
        path = Path(inventory).expanduser()
        if not path.is_absolute() and not path.exists() and (REPO / path).exists():
            path = REPO / path
        if not path.exists():
            raise RunnerApiError(
                f"inventory: {inventory!s} does not exist; allowed: a path (file or directory), "
                "a dict in Ansible's YAML inventory shape, or None (the embedded local inventory)"
            )
        return str(path.resolve())
    raise RunnerApiError(
        f"inventory: type {type(inventory).__name__} not allowed; allowed: str, Path, dict, None"
    )


def _limit_arg(limit: str | list[str] | tuple[str, ...] | None) -> str | None:
    if limit is None:
        return None
    if isinstance(limit, (list, tuple)):
        return ",".join(str(x) for x in limit)
    if isinstance(limit, str):
        return limit
    raise RunnerApiError(f"limit: type {type(limit).__name__} not allowed; allowed: str, list of str, None")


def runner_env() -> dict[str, str]:
    """Environment additions that make runner find this checkout's config, collection and callback."""
    bin_dir = str(Path(find_ansible_playbook()).parent)
    return {
        "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
        "ANSIBLE_COLLECTIONS_PATH": str(REPO / "collections"),
        "ANSIBLE_ROLES_PATH": str(REPO / "roles"),
        "ANSIBLE_CALLBACKS_ENABLED": CALLBACK,
        "PATH": bin_dir + os.pathsep + os.environ.get("PATH", os.defpath),
    }


def collect_results(output_dir: str | os.PathLike) -> dict[str, list[dict]]:
    """``{host: [result.json, ...]}`` from ``<output_dir>/*_results/**/result.json``.

    The host is the result's ``host`` field (the inventory name), else its ``system``.
    Unreadable files are skipped. Lists are sorted by ``run_dir``.
    """
    found: dict[str, list[dict]] = {}
    root = Path(output_dir)
    for path in sorted(root.glob("*_results/**/result.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if not isinstance(data, dict):
            continue
        data.setdefault("_path", str(path))
        host = str(data.get("host") or data.get("system") or path.relative_to(root).parts[1])
        found.setdefault(host, []).append(data)
    for runs in found.values():
        runs.sort(key=lambda r: str(r.get("run_dir") or r.get("_path")))
    return found


def read_hosts(output_dir: str | os.PathLike) -> dict[str, dict]:
    """``<output_dir>/hosts.json`` as a dict (empty when missing or unreadable)."""
    path = Path(output_dir) / "hosts.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def run_mlperf(
    request: dict[str, Any],
    inventory: str | dict | os.PathLike | None = None,
    *,
    private_data_dir: str | os.PathLike | None = None,
    limit: str | list[str] | None = None,
    playbook: str = "run_mlperf.yml",
    secrets: dict[str, str] | None = None,
    quiet: bool = True,
) -> MlperfRun:
    """Run ``playbooks/<playbook>`` with ``request`` as extra vars through ansible-runner.

    :param request: the request (extra vars, docs/contracts.md "Variables"); validated by the
        playbook's first step, which fails naming the field and the allowed values.
    :param inventory: inventory path (file/dir), an inventory dict, or None for ansible.cfg's
        embedded local inventory.
    :param private_data_dir: runner's directory (made absolute; default: a new temp dir, kept).
    :param limit: ``--limit`` pattern (str or list of host names).
    :param playbook: file name under ``playbooks/`` or an absolute path.
    :param secrets: extra vars that must never be written (e.g. ``{"hf_token": "..."}``).
    :param quiet: suppress runner's stdout echo.
    :raises RunnerApiError: bad argument (named, with what is allowed), before anything runs.
    :raises AnsiblePlaybookNotFound: no ansible-playbook next to the interpreter nor on PATH.
    """
    import ansible_runner  # controller dependency (requirements.txt); imported late for the error path

    if not isinstance(request, dict):
        raise RunnerApiError(f"request: type {type(request).__name__} not allowed; allowed: dict")
    if secrets is not None and not (
        isinstance(secrets, dict)
        and all(isinstance(k, str) and isinstance(v, str) for k, v in secrets.items())
    ):
        raise RunnerApiError("secrets: allowed: a dict of str -> str (e.g. {'hf_token': '...'}) or None")
    overlap = sorted(set(secrets or {}) & set(request))
    if overlap:
        raise RunnerApiError(
            f"secrets: {', '.join(overlap)} also given in request; pass secrets only in secrets"
        )
    find_ansible_playbook()  # fails early with a clear error; runner_env() puts its dir first on PATH
    playbook_path = _resolve_playbook(playbook)
    inv = _resolve_inventory(inventory)
    limit_arg = _limit_arg(limit)

    pdd = Path(private_data_dir or tempfile.mkdtemp(prefix="fleetbench-runner-")).expanduser().resolve()
    pdd.mkdir(parents=True, exist_ok=True)
    extravars = dict(request)
    extravars.setdefault("output_dir", str(pdd / "results"))
    output_dir = Path(str(extravars["output_dir"])).expanduser()
    if not output_dir.is_absolute():
        output_dir = (REPO / output_dir).resolve()
        extravars["output_dir"] = str(output_dir)

    secret_dir = None
    cmdline = None
    try:
        if secrets:
            secret_dir = tempfile.mkdtemp(prefix="fleetbench-secrets-")
            secret_file = Path(secret_dir) / "secrets.json"
            fd = os.open(secret_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(secrets, fh)
            cmdline = f"-e @{secret_file}"
        runner = ansible_runner.run(
            private_data_dir=str(pdd),
            project_dir=str(REPO),
            playbook=playbook_path,
            inventory=inv,
            limit=limit_arg,
            extravars=extravars,
            envvars=runner_env(),
            cmdline=cmdline,
            quiet=quiet,
            suppress_env_files=False,
        )
    finally:
        if secret_dir:
            shutil.rmtree(secret_dir, ignore_errors=True)

    stats = runner.stats or {}
    hosts = read_hosts(output_dir)
    run = MlperfRun(
        rc=int(runner.rc if runner.rc is not None else -1),
        status=str(runner.status),
        output_dir=output_dir,
        hosts=hosts,
        results=collect_results(output_dir),
        failed_hosts=sorted(h for h, e in hosts.items() if isinstance(e, dict) and e.get("status") != "ok"),
        report_paths={k: output_dir / v for k, v in REPORT_FILES.items() if (output_dir / v).is_file()},
        stats={k: dict(v) for k, v in stats.items() if isinstance(v, dict)},
        private_data_dir=pdd,
        artifact_dir=Path(runner.config.artifact_dir) if getattr(runner, "config", None) else None,
    )
    return run
