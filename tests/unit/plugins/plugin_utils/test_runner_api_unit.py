"""runner_api (argument checks, result collection, secrets handling) and the mlperf_hosts callback.

The two "real" tests run ansible-playbook through ansible-runner (and plain) on a tiny
playbook against localhost - a few seconds each, no LoadGen.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from ansible_collections.fleetbench.mlperf.plugins.callback import mlperf_hosts
from ansible_collections.fleetbench.mlperf.plugins.plugin_utils import runner_api
from fleetbench_testlib import REPO

SECRET = "hf_SeCrEt_0123456789abcdef"

PLAYBOOK = """
- name: Provision | tiny
  hosts: all
  gather_facts: false
  tasks:
    - name: Use the secret where nobody may see it
      ansible.builtin.command:
        argv:
          - sh
          - -c
          - 'test -n "$T" && echo "$T" >&2 && exit {{ 3 if inventory_hostname == "h_bad" else 0 }}'
      environment:
        T: "{{ hf_token }}"
      changed_when: false
      no_log: true
    - name: Fail on purpose
      ansible.builtin.command:
        argv: [sh, -c, 'echo boom-on-{{ inventory_hostname }} >&2; exit 4']
      changed_when: false
      when: inventory_hostname == 'h_fail'
"""


def _inventory() -> dict:
    local = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
    return {"all": {"hosts": {name: dict(local) for name in ("h_ok", "h_fail", "h_bad")}}}


# --- pure helpers -----------------------------------------------------------------------


def test_failure_reason_prefers_module_reason_and_adds_stderr_tail():
    res = {"reason": "harness crashed", "msg": "non-zero return code", "stderr": "a\nb\nTraceback: x"}
    text = mlperf_hosts.failure_reason(res)
    assert text.startswith("harness crashed\nnon-zero return code\nstderr: ")
    assert text.endswith("Traceback: x")


def test_failure_reason_censored_and_bounded():
    assert "no_log" in mlperf_hosts.failure_reason({"censored": "hidden because no_log", "msg": SECRET})
    assert SECRET not in mlperf_hosts.failure_reason({"censored": "hidden because no_log", "msg": SECRET})
    assert len(mlperf_hosts.failure_reason({"msg": "x" * 10000})) == mlperf_hosts.REASON_MAX


def test_failure_reason_loop_items():
    res = {
        "msg": "One or more items failed",
        "results": [{"item": "a"}, {"item": "b", "failed": True, "msg": "nope"}],
    }
    assert "item b: nope" in mlperf_hosts.failure_reason(res)


def test_merge_hosts_keeps_other_hosts(tmp_path):
    path = tmp_path / "hosts.json"
    mlperf_hosts.merge_hosts(path, {"a": {"status": "failed"}, "b": {"status": "ok"}})
    merged = mlperf_hosts.merge_hosts(path, {"a": {"status": "ok"}})
    assert merged == {"a": {"status": "ok"}, "b": {"status": "ok"}}
    assert json.loads(path.read_text()) == merged


def test_merge_hosts_survives_a_corrupt_file(tmp_path):
    path = tmp_path / "hosts.json"
    path.write_text("{not json")
    assert mlperf_hosts.merge_hosts(path, {"a": {"status": "ok"}}) == {"a": {"status": "ok"}}
    assert (tmp_path / "hosts.json.corrupt").exists()


def test_collect_results_groups_by_host(tmp_path):
    for host, sut, scen in (("h1", "s1", "Offline"), ("h1", "s1", "Server"), ("h2", "s2", "Offline")):
        d = tmp_path / "test_results" / sut / "resnet50" / scen / "performance" / "run_1"
        d.mkdir(parents=True)
        (d / "result.json").write_text(json.dumps({"host": host, "system": sut, "run_dir": str(d)}))
    (tmp_path / "test_results" / "junk").mkdir()
    (tmp_path / "test_results" / "junk" / "result.json").write_text("{oops")
    found = runner_api.collect_results(tmp_path)
    assert sorted(found) == ["h1", "h2"]
    assert len(found["h1"]) == 2


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"request": []}, "request"),
        ({"request": {}, "inventory": 42}, "inventory"),
        ({"request": {}, "inventory": "/nonexistent/inventory.yml"}, "inventory"),
        ({"request": {}, "playbook": "nope.yml"}, "playbook"),
        ({"request": {}, "limit": 3}, "limit"),
        ({"request": {}, "secrets": {"hf_token": 1}}, "secrets"),
        ({"request": {"hf_token": "x"}, "secrets": {"hf_token": "x"}}, "secrets"),
    ],
)
def test_bad_arguments_name_the_field(kwargs, field, tmp_path):
    with pytest.raises(runner_api.RunnerApiError, match=rf"^{field}: .*allowed|^{field}: .*secrets"):
        runner_api.run_mlperf(private_data_dir=tmp_path, **kwargs)
    assert not (tmp_path / "artifacts").exists(), "nothing may run on bad input"


def test_missing_ansible_playbook_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(runner_api.AnsiblePlaybookNotFound, match="ansible-playbook not found"):
        runner_api.find_ansible_playbook()


def test_runner_env_points_at_this_checkout():
    env = runner_api.runner_env()
    assert env["ANSIBLE_CONFIG"] == str(REPO / "ansible.cfg")
    assert env["ANSIBLE_COLLECTIONS_PATH"] == str(REPO / "collections")
    assert "mlperf_hosts" in env["ANSIBLE_CALLBACKS_ENABLED"]


# --- real runs (tiny playbook, localhost) -----------------------------------------------


def test_run_through_runner_records_hosts_and_keeps_secrets_out(tmp_path):
    pb = tmp_path / "tiny.yml"
    pb.write_text(PLAYBOOK)
    pdd = tmp_path / "pdd"
    run = runner_api.run_mlperf(
        {"model": "efficientnet"},
        _inventory(),
        private_data_dir=pdd,
        playbook=str(pb),
        secrets={"hf_token": SECRET},
    )
    assert run.rc == 2 and run.status == "failed"
    assert run.output_dir == pdd.resolve() / "results"
    assert run.failed_hosts == ["h_bad", "h_fail"]
    assert run.hosts["h_ok"]["status"] == "ok"
    assert run.hosts["h_fail"]["task"] == "Fail on purpose"
    assert "boom-on-h_fail" in run.hosts["h_fail"]["reason"]
    assert "no_log" in run.hosts["h_bad"]["reason"]
    assert run.stats["failures"] == {"h_fail": 1, "h_bad": 1}
    assert run.artifact_dir and run.artifact_dir.is_dir()
    leaks = [str(p) for p in pdd.rglob("*") if p.is_file() and SECRET.encode() in p.read_bytes()]
    assert leaks == []
    assert not list(Path("/tmp").glob("fleetbench-secrets-*/secrets.json")), "secret file left behind"

    # --limit re-run: only h_fail's entry changes (here it fails again), the rest are kept.
    before = json.loads((run.output_dir / "hosts.json").read_text())
    run2 = runner_api.run_mlperf(
        {"output_dir": str(run.output_dir)},
        _inventory(),
        private_data_dir=tmp_path / "pdd2",
        playbook=str(pb),
        limit=["h_ok"],
        secrets={"hf_token": SECRET},
    )
    assert run2.rc == 0
    after = run2.hosts
    assert after["h_fail"] == before["h_fail"] and after["h_bad"] == before["h_bad"]
    assert after["h_ok"]["status"] == "ok"


def test_callback_finds_output_dir_from_extra_vars_in_plain_cli(tmp_path):
    pb = tmp_path / "tiny.yml"
    pb.write_text(PLAYBOOK)
    inv = tmp_path / "inv.json"
    inv.write_text(json.dumps(_inventory()))
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"))
    env.pop("FLEETBENCH_OUTPUT_DIR", None)
    out = tmp_path / "out"
    proc = subprocess.run(
        [
            str(Path(sys.executable).with_name("ansible-playbook")),
            "-i",
            str(inv),
            str(pb),
            "-e",
            f"output_dir={out}",
            "-e",
            f"hf_token={SECRET}",
            "--limit",
            "h_ok,h_fail",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2, proc.stdout
    data = json.loads((out / "hosts.json").read_text())
    assert sorted(data) == ["h_fail", "h_ok"]
    assert SECRET not in (out / "hosts.json").read_text()


def test_unreachable_host_is_recorded_with_its_reason(tmp_path):
    pb = tmp_path / "ping.yml"
    pb.write_text(
        "- name: Ping\n  hosts: all\n  gather_facts: false\n  tasks:\n"
        "    - name: Ping\n      ansible.builtin.ping:\n"
    )
    inv = _inventory()
    # Port 1 on loopback: connection refused at once (no sshd there).
    inv["all"]["hosts"]["h_dead"] = {
        "ansible_connection": "ssh",
        "ansible_host": "127.0.0.1",
        "ansible_port": 1,
        "ansible_ssh_common_args": "-o ConnectTimeout=5",
    }
    run = runner_api.run_mlperf({}, inv, private_data_dir=tmp_path / "pdd", playbook=str(pb))
    assert run.rc == 4
    assert run.hosts["h_dead"]["status"] == "unreachable"
    assert (
        "refused" in run.hosts["h_dead"]["reason"].lower()
        or "connect" in run.hosts["h_dead"]["reason"].lower()
    )
    assert run.hosts["h_ok"]["status"] == "ok"
    assert run.failed_hosts == ["h_dead"]
