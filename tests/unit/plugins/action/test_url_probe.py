"""url_probe action plugin: a real HEAD request to a local HTTP server; an address that does not answer."""

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
