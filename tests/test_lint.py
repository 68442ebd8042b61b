"""Repository-wide static checks, all inside pytest.

* ``ansible-lint`` with the ``production`` profile (configured in ``.ansible-lint``)
  over the whole collection: roles, playbooks, molecule scenarios, inventories;
* ``ruff check .`` (``ruff.toml``);
* ``ansible-galaxy collection build`` into a temporary directory: the collection
  (galaxy.yml, meta/runtime.yml, build_ignore) builds into a tarball.

The tools come from the test venv (the directory of ``sys.executable``).
"""

from __future__ import annotations

import os
import subprocess
import tarfile
from pathlib import Path

import pytest
import yaml
from fleetbench_testlib import ANSIBLE_PLAYBOOK, REPO

BIN = ANSIBLE_PLAYBOOK.parent


def _tool(name: str) -> Path:
    path = BIN / name
    if not path.exists():
        pytest.skip(f"{name} is not installed in the test venv ({BIN})")
    return path


def _run(argv: list[str], timeout: int = 900, **kw) -> subprocess.CompletedProcess:
    env = dict(
        os.environ, NO_COLOR="1", ANSIBLE_NOCOLOR="1", PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"
    )
    return subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=timeout, env=env, **kw)


@pytest.mark.slow
def test_ansible_lint_production_profile():
    proc = _run([str(_tool("ansible-lint")), "--profile", "production", "--nocolor"])
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-8000:]
    assert "passed" in out, out[-2000:]


def test_ruff_check():
    proc = _run([str(_tool("ruff")), "check", "."], timeout=300)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-8000:]


def test_galaxy_collection_build(tmp_path):
    proc = _run(
        [str(_tool("ansible-galaxy")), "collection", "build", "--output-path", str(tmp_path)], timeout=300
    )
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    meta = yaml.safe_load((REPO / "galaxy.yml").read_text())
    tarball = tmp_path / f"{meta['namespace']}-{meta['name']}-{meta['version']}.tar.gz"
    assert tarball.is_file(), sorted(p.name for p in tmp_path.iterdir())
    with tarfile.open(tarball) as tar:
        names = set(tar.getnames())
    for needed in (
        "MANIFEST.json",
        "playbooks/run_mlperf.yml",
        "roles/python_env/meta/argument_specs.yml",
        "files/harness/fleetbench_harness/registry.yml",
        "plugins/modules/mlperf_run.py",
        "plugins/doc_fragments/attributes.py",
    ):
        assert needed in names, f"{needed} missing from {tarball.name}"
    # build_ignore keeps the checkout's local state, the tests (the harness's too) and the dev settings out
    assert not any(n.startswith((".venv/", "tests/", "collections/", "files/harness/tests/")) for n in names)
    dev_only = {
        "pytest.ini",
        "ruff.toml",
        "requirements-dev.txt",
        "requirements-data.txt",
        "tools",
        ".ansible-lint",
    }
    assert not names & dev_only
