"""Runs that cannot hang, collide or leak, through real ``ansible-playbook`` runs on localhost.

Fast checks (validate step only, seconds): a mistyped secret variable is named, never echoed; a
read-only output_dir fails before anything runs on a host.

One slow scenario (the Job pattern of test_main_job.py: own work/output/cache dirs, the shared SUT
venv of ``fleet_shared_dir``), three requests at once against one SUT, then one re-run:

* A: ``test_query_count=11`` into output dir A, at ``-vvv``, with a planted ``hf_token`` and a
  token-like ``benchmark_environment`` entry;
* B: ``test_query_count=12`` into output dir B;
* C: ``compliance=true`` on the embedded default (a tiny offline set: TEST04 cannot run), which
  ends in seconds with the reason and leaves no benchmark process behind;
* A again: current, left out, and its results are still A's (11, not 12).
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest
from conftest import recap
from fleetbench_testlib import ANSIBLE_PLAYBOOK, REPO
from test_main_job import MODEL, SYSTEM, Job, _fail

TOKEN = "hf_PLANTEDtoken0123456789"
API_KEY = "PLANTEDapikey987654321"


def _playbook(*args: str, playbook: str = "validate.yml") -> subprocess.CompletedProcess:
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
    return subprocess.run(
        [str(ANSIBLE_PLAYBOOK), f"playbooks/{playbook}", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )


def test_mistyped_secret_variable_is_named_not_echoed():
    proc = _playbook("-vvv", "-e", f"hf_tokn={TOKEN}")
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "hf_tokn: unknown variable" in out, out[-3000:]
    assert TOKEN not in out


def test_read_only_output_dir_fails_in_validate(tmp_path):
    # /proc takes no new file, even for root: the run stops in the validate step, not at fetch
    proc = _playbook("-e", "output_dir=/proc/fleetbench-out", playbook="run_mlperf.yml")
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "output_dir: /proc/fleetbench-out is not writable (its parent /proc)" in out, out[-3000:]
    assert "PLAY [Provision" not in out


def _start(job: Job, *args: str) -> tuple[subprocess.Popen, Path]:
    log = job.root / f"run-{len(list(job.root.glob('run-*.log')))}.log"
    argv = [
        str(ANSIBLE_PLAYBOOK),
        "playbooks/run_mlperf.yml",
        "-e",
        f"mlperf_work_dir={job.work}",
        "-e",
        f"python_env_work_dir={job.shared}",
        "-e",
        f"artifact_cache_dir={job.root / 'artifacts'}",
        "-e",
        f"harness_controller_dir={job.root / 'controller'}",
        *args,
    ]
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0", PYTHONUNBUFFERED="1")
    with open(log, "w") as fh:
        proc = subprocess.Popen(argv, cwd=REPO, stdout=fh, stderr=subprocess.STDOUT, text=True, env=env)
    proc.log = log  # type: ignore[attr-defined]
    proc.started = time.monotonic()  # type: ignore[attr-defined]
    return proc, log


def _finish(proc: subprocess.Popen, timeout: int = 1500) -> subprocess.CompletedProcess:
    rc = proc.wait(timeout=timeout)
    done = subprocess.CompletedProcess(proc.args, rc, proc.log.read_text(), "")  # type: ignore[attr-defined]
    done.duration_s = time.monotonic() - proc.started  # type: ignore[attr-defined]
    return done


def _perf_result(out: Path) -> dict:
    path = out / "test_results" / SYSTEM / MODEL / "Offline" / "performance" / "run_1" / "result.json"
    return json.loads(path.read_text())


def _files_with(root: Path, needle: bytes) -> list[str]:
    hits = []
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink():
            try:
                if needle in path.read_bytes():
                    hits.append(str(path))
            except OSError:
                continue
    return hits


@pytest.mark.slow
def test_concurrent_requests_keep_their_results_and_secrets_stay_out(tmp_path, fleet_shared_dir):
    if not ANSIBLE_PLAYBOOK.exists():
        pytest.skip("ansible-playbook is not installed in the test venv")
    job = Job(tmp_path, fleet_shared_dir)
    out_a, out_b, out_c = tmp_path / "A", tmp_path / "B", tmp_path / "C"
    env_a = json.dumps({"benchmark_environment": {"MY_API_TOKEN": API_KEY, "OMP_NUM_THREADS": "1"}})
    a, _ = _start(
        job, "-vvv", "-e", "mode=performance", "-e", "test_query_count=11", "-e", f"output_dir={out_a}",
        "-e", f"hf_token={TOKEN}", "-e", env_a,
    )  # fmt: skip
    b, _ = _start(job, "-e", "mode=performance", "-e", "test_query_count=12", "-e", f"output_dir={out_b}")
    c, _ = _start(job, "-e", "compliance=true", "-e", f"output_dir={out_c}")
    run_a, run_b, run_c = _finish(a), _finish(b), _finish(c)
    assert run_a.returncode == 0, _fail(run_a, "request A failed")
    assert run_b.returncode == 0, _fail(run_b, "request B failed")

    # Collision: each request keeps its own numbers; the SUT keeps both (one directory per request)
    assert _perf_result(out_a)["loadgen"]["settings"]["samples_per_query"] == 11
    assert _perf_result(out_b)["loadgen"]["settings"]["samples_per_query"] == 12
    assert _perf_result(out_a)["request"]["test_query_count"] == 11
    assert len(list((job.work / "results").glob("r-*"))) >= 2

    # Hang: TEST04 on a 1-image set fails before LoadGen with what it needs; the run ends, exit 2
    assert run_c.returncode == 2, _fail(run_c, "the compliance run did not fail the SUT")
    assert "TEST04" in run_c.stdout and "failed earlier in this run" in run_c.stdout
    assert "audit_config: the compliance test issues loaded sample" in run_c.stdout
    status = json.loads((out_c / "hosts.json").read_text())["localhost"]
    assert status["status"] == "failed" and "TEST04 failed" in status["reason"], status
    left = subprocess.run(["pgrep", "-f", str(job.work)], capture_output=True, text=True)
    assert left.stdout.strip() == "", f"processes left behind: {left.stdout}"

    # Leaks: the planted secrets reach no file and no line of the -vvv run
    assert TOKEN not in run_a.stdout and API_KEY not in run_a.stdout
    for root in (job.work, out_a, out_b, out_c):
        assert not _files_with(root, TOKEN.encode()), root
        assert not _files_with(root, API_KEY.encode()), root
    provenance = _perf_result(out_a)["provenance"]
    assert provenance["secret_names"] == ["MY_API_TOKEN"]
    assert provenance["environment"]["OMP_NUM_THREADS"] == "1"

    # A re-run of A: current (same inputs, its own copy), left out, still A's numbers
    again, _ = _start(
        job, "-e", "mode=performance", "-e", "test_query_count=11", "-e", f"output_dir={out_a}", "-e", env_a
    )
    rerun = _finish(again)
    assert rerun.returncode == 0, _fail(rerun, "re-run of A failed")
    assert "current, left out of this run: - localhost" in " ".join(rerun.stdout.split()), _fail(
        rerun, "plan"
    )
    assert recap(rerun.stdout)["localhost"]["changed"] == 0
    assert _perf_result(out_a)["loadgen"]["settings"]["samples_per_query"] == 11
