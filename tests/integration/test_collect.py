"""collect.yml end to end with real ansible-playbook runs on localhost.

Hosts: ``localhost`` (local connection, a results tree built from the real fixture logs),
``emptyhost`` (reachable, no results: its fetch fails and is recorded) and ``deadhost``
(ssh to a closed port: unreachable, recorded). Also import mode (CM tree, no host
contacted) and a submission tree from a valid-style structure.
"""

import json
import os
import shutil
import subprocess
import sys

import pytest
import trees
from conftest import recap
from fleetbench_testlib import ANSIBLE_PLAYBOOK, REPO

pytestmark = pytest.mark.slow
PLAYBOOK = str(REPO / "playbooks" / "collect.yml")


def run_playbook(inventory, *extra, check=True):
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
    env.pop("FLEETBENCH_OUTPUT_DIR", None)
    argv = [ANSIBLE_PLAYBOOK, "-i", str(inventory), PLAYBOOK]
    for item in extra:
        argv += ["-e", item]
    proc = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    if check:
        assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    return proc


@pytest.fixture
def fleet(tmp_path):
    if shutil.which("ssh") is None:
        pytest.skip(
            "ssh client absent (the unreachable host is an ssh host on a closed port); apt: openssh-client"
        )
    work = tmp_path / "work"
    trees.make_project_tree(work / "results", sut="localhost", exec_mode="test")
    (work / "system_desc_draft.json").write_text(json.dumps({"system_name": "localhost"}))
    inv = tmp_path / "inventory.yml"
    py = sys.executable
    inv.write_text(f"""all:
  hosts:
    localhost:
      ansible_connection: local
      ansible_python_interpreter: {py}
      mlperf_work_dir: {work}
      # the fixture tree is not a request's (results/<request key>/, <hw>-<stack> system name)
      results_sut_results_dir: {work / "results"}
      results_sut_name: localhost
    emptyhost:
      ansible_connection: local
      ansible_python_interpreter: {py}
      mlperf_work_dir: {tmp_path / "empty"}
    deadhost:
      ansible_host: 127.0.0.1
      ansible_port: 1
      ansible_connection: ssh
      ansible_ssh_common_args: >-
        -o ConnectTimeout=3 -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null
""")
    return inv, tmp_path / "out"


def test_collect_fetches_reports_and_records_failed_hosts(fleet):
    inv, out = fleet
    proc = run_playbook(inv, f"output_dir={out}", "execution_mode=test", check=False)
    # emptyhost's fetch failed: recorded in the report and hosts.json, and failed at the end (exit 2)
    assert proc.returncode == 2, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert json.loads((out / "hosts.json").read_text())["emptyhost"]["status"] == "failed"
    tree = out / "test_results" / "localhost" / "resnet50"
    assert (tree / "Offline" / "performance" / "run_1" / "result.json").is_file()
    assert (tree / "Offline" / "accuracy" / "accuracy.txt").is_file()
    assert (out / "test_results" / "localhost" / "system_desc_draft.json").is_file()
    for name in ("report.md", "report.json", "report.html", "plot_throughput.png", "plot_latency.png"):
        assert (out / name).is_file(), name
    report = json.loads((out / "report.json").read_text())
    failed = {h["host"]: h for h in report["failed_hosts"]}
    assert failed["deadhost"]["status"] == "unreachable"
    assert "Connection refused" in failed["deadhost"]["reason"] or "connect" in failed["deadhost"]["reason"]
    assert "no files under" in failed["emptyhost"]["reason"]
    assert "localhost" not in failed
    runs = {(r["scenario"], r["mode"]): r for r in report["runs"]}
    assert runs[("Offline", "performance")]["value"] == pytest.approx(88714.3)
    assert runs[("Offline", "performance")]["validity"] == "VALID"
    assert runs[("SingleStream", "performance")]["validity"] == "INVALID"
    md = (out / "report.md").read_text()
    assert "deadhost | unreachable" in md and "emptyhost | failed" in md
    assert "Not run: submission=false" in md
    assert recap(proc.stdout)["localhost"]["failed"] == 0

    # Re-run: nothing new to fetch, the report is unchanged.
    again = run_playbook(inv, f"output_dir={out}", "execution_mode=test", check=False)
    assert recap(again.stdout)["localhost"]["changed"] == 0, again.stdout[-3000:]


def test_collect_import_cm_tree_contacts_no_host(fleet, tmp_path):
    inv, _ = fleet
    cm = tmp_path / "cm"
    trees.make_cm_tree(cm)
    proc = run_playbook(inv, f"results_dir={cm}")
    assert "deadhost" not in proc.stdout.split("PLAY RECAP")[1]
    report = json.loads((cm / "report.json").read_text())
    assert {r["source"] for r in report["runs"]} == {"logs"}
    assert {r["scenario"] for r in report["runs"]} == {"Offline", "SingleStream", "Server"}
    assert (cm / "report.html").is_file()


def test_collect_submission_from_valid_tree(fleet, tmp_path):
    inv, _ = fleet
    valid = tmp_path / "valid"
    trees.make_llama_valid(valid, "sut-b")
    out = tmp_path / "valid_out"
    args = [
        f"results_dir={valid}",
        f"output_dir={out}",
        "submission=true",
        "submitter=Fleet",
        "division=closed",
        "category=datacenter",
    ]
    bad = run_playbook(inv, *args, check=False)
    # caught by the validate step, before any host is contacted
    assert bad.returncode != 0
    assert "submission_status: required with submission=true" in bad.stdout
    assert "allowed: available, preview, rdi" in bad.stdout
    # the fixture's published logs are v5.1's (its seeds); the draft lacks what facts cannot know
    overrides = json.dumps({"system_desc_overrides": trees.LLAMA_OVERRIDES})
    run_playbook(inv, *args, "submission_status=available", "submission_round=v5.1", overrides)
    desc = json.loads((out / "submission" / "closed" / "Fleet" / "systems" / "sut-b.json").read_text())
    assert desc["status"] == "available" and desc["system_type"] == "datacenter"
    report = json.loads((out / "report.json").read_text())
    # Offline only: the v5.1 checker also wants Server or Interactive for a closed llama2 result
    assert report["submission"]["problems"] == [trees.LLAMA_ONE_OF]
    assert report["round"]["name"] == "v5.1"
    assert report["checker"]["ran"] is False and "mlperf_inference_src" in report["checker"]["reason"]


def test_collect_check_mode_writes_nothing(fleet):
    inv, out = fleet
    out.mkdir()
    proc = subprocess.run(
        [
            ANSIBLE_PLAYBOOK,
            "-i",
            str(inv),
            PLAYBOOK,
            "--check",
            "--limit",
            "localhost",
            "-e",
            f"output_dir={out}",
            "-e",
            "execution_mode=test",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert not (out / "test_results").exists()
    assert not (out / "report.md").exists()
