"""url_probe action plugin: a real HEAD request to a local HTTP server; an address that does not answer."""

import hashlib
import http.server
import socket
import threading

import pytest
from ansible_collections.fleetbench.mlperf.plugins.action import url_probe as P
from fleetbench_testlib import run_action as run_plugin


def run_action(args):
    return run_plugin(P, "fleetbench.mlperf.url_probe", args)


@pytest.fixture
def server():
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_HEAD(self):
            self.send_response(200 if self.path == "/data.tar" else 404)
            self.end_headers()

        def log_message(self, *args):
            pass

    httpd = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()


def test_answers_with_the_http_status(server):
    res = run_action({"url": f"{server}/data.tar", "timeout": 5})
    assert not res.get("failed") and res["changed"] is False
    assert res["status"] == 200 and res["url"] == f"{server}/data.tar"
    res = run_action({"url": f"{server}/missing.tar"})
    assert not res.get("failed") and res["status"] == 404


def test_an_address_that_does_not_answer_is_status_minus_one():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again below: nothing listens there
    res = run_action({"url": f"http://127.0.0.1:{port}/x.tar", "timeout": 2})
    assert not res.get("failed") and res["status"] == -1
    assert "refused" in res["msg"].lower(), res["msg"]


def test_bad_arguments_name_the_field():
    assert "url: " in run_action({"url": "ftp://x/y"})["msg"]
    assert "timeout: " in run_action({"url": "http://x/y", "timeout": "soon"})["msg"]


def test_files_in_the_controller_cache_with_their_md5_are_not_asked_for(tmp_path, server):
    (tmp_path / "data.tar").write_bytes(b"archive")
    md5 = hashlib.md5(b"archive").hexdigest()
    files = [
        {"filename": "data.tar", "md5": md5, "url": f"{server}/data.tar"},
        {"filename": "labels.txt", "md5": ""},
    ]
    (tmp_path / "labels.txt").write_text("x\n")
    res = run_action({"url": f"{server}/missing.tar", "cache_dir": str(tmp_path), "cached_files": files})
    assert res["cached"] is True and res["missing"] == [] and res["status"] == 0, res
    # A wrong md5 or a missing file: not cached, and the URL is asked (404 here) unless probe=false.
    files[0]["md5"] = "0" * 32
    res = run_action({"url": f"{server}/missing.tar", "cache_dir": str(tmp_path), "cached_files": files})
    assert (res["cached"], res["missing"], res["status"]) == (False, ["data.tar"], 404)
    (tmp_path / "labels.txt").unlink()
    res = run_action(
        {"url": f"{server}/data.tar", "cache_dir": str(tmp_path), "cached_files": files, "probe": False}
    )
    assert (res["cached"], res["missing"], res["status"]) == (False, ["data.tar", "labels.txt"], -1)
    assert "not asked" in res["msg"]


def test_cached_files_need_plain_file_names_and_a_cache_dir(tmp_path):
    res = run_action(
        {"url": "http://x/y", "cache_dir": str(tmp_path), "cached_files": [{"filename": "../etc"}]}
    )
    assert res["failed"] and "no plain filename" in res["msg"]
    res = run_action({"url": "http://x/y", "cached_files": [{"filename": "a"}]})
    assert res["failed"] and "needs cache_dir" in res["msg"]
    assert "probe: " in run_action({"url": "http://x/y", "probe": "sometimes"})["msg"]
