"""The model role's download path (roles/model/tasks/fetch.yml) against a loopback HTTP server.

The registry's URLs are not reachable here, so the role's fetch step runs with an
artifact spec that points at a server on 127.0.0.1 serving real bytes with their
md5: first run downloads into the controller cache (checksum checked by
get_url) and pushes to the SUT's models/; the second run finds the cache and
changes nothing, without a request to the server; a wrong checksum fails.
"""

from __future__ import annotations

import hashlib
import http.server
import json
import os
import re
import subprocess
import threading
from pathlib import Path

import pytest
from fleetbench_testlib import ANSIBLE_PLAYBOOK, REPO

pytestmark = pytest.mark.slow


PLAY = """
- name: model fetch step
  hosts: localhost
  gather_facts: true
  gather_subset: [min]
  tasks:
    - name: Fetch through the controller cache
      ansible.builtin.include_role:
        name: fleetbench.mlperf.model
        tasks_from: fetch
"""


@pytest.fixture
def server(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    hits: list[str] = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **kw):
            super().__init__(*a, directory=str(root), **kw)

        def log_message(self, *args):
            hits.append(self.path)

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{httpd.server_address[1]}", hits
    finally:
        httpd.shutdown()
        thread.join(timeout=5)


def _run(tmp_path: Path, spec: dict) -> subprocess.CompletedProcess:
    play = tmp_path / "fetch.yml"
    play.write_text(PLAY)
    extra = {
        "model_spec": spec,
        "mlperf_work_dir": str(tmp_path / "sut"),
        "artifact_cache_dir": str(tmp_path / "cache"),
        "model_download_retries": 1,
        "model_download_timeout": 10,
    }
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), no_proxy="*")
    return subprocess.run(
        [str(ANSIBLE_PLAYBOOK), str(play), "-e", json.dumps(extra)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )


def _changed(stdout: str) -> int:
    m = re.search(r"localhost\s*:\s*ok=\d+\s+changed=(\d+)", stdout[stdout.rfind("PLAY RECAP") :])
    assert m, stdout[-3000:]
    return int(m.group(1))


def test_download_once_into_controller_cache_then_push(tmp_path, server):
    if not ANSIBLE_PLAYBOOK.exists():
        pytest.skip("ansible-playbook is not installed in the test venv")
    root, base, hits = server
    payload = os.urandom(256 * 1024)
    (root / "model.onnx").write_bytes(payload)
    spec = {"name": "model.onnx", "url": f"{base}/model.onnx", "md5": hashlib.md5(payload).hexdigest()}

    first = _run(tmp_path, spec)
    assert first.returncode == 0, first.stdout[-6000:] + first.stderr[-2000:]
    assert (tmp_path / "cache" / "model.onnx").read_bytes() == payload
    assert (tmp_path / "sut" / "models" / "model.onnx").read_bytes() == payload
    downloads = [h for h in hits if h.endswith("/model.onnx")]
    assert downloads, hits

    second = _run(tmp_path, spec)
    assert second.returncode == 0, second.stdout[-6000:]
    assert _changed(second.stdout) == 0, second.stdout[-6000:]
    assert [h for h in hits if h.endswith("/model.onnx")] == downloads, (
        "the cached artifact was downloaded again"
    )


def test_wrong_checksum_fails(tmp_path, server):
    if not ANSIBLE_PLAYBOOK.exists():
        pytest.skip("ansible-playbook is not installed in the test venv")
    root, base, _ = server
    (root / "model.onnx").write_bytes(b"not the model")
    spec = {"name": "model.onnx", "url": f"{base}/model.onnx", "md5": "0" * 32}
    proc = _run(tmp_path, spec)
    assert proc.returncode != 0
    assert "checksum" in proc.stdout.lower()
    assert not (tmp_path / "sut" / "models" / "model.onnx").exists()
