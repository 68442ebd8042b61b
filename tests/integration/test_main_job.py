"""The main job end to end: real ``ansible-playbook playbooks/run_mlperf.yml`` on localhost.

One session-scoped first run (the embedded default: local inventory, efficientnet,
onnxruntime, cpu, Offline, both modes, test execution mode) in a temporary work
dir + output dir; the per-backend venv lives in the fleet tests' shared directory
(``fleet_shared_dir``, ``python_env_work_dir``) so the suite builds it once.
Then: a second run changes nothing (PLAY RECAP ``changed=0``) and reuses the
cached results; ``--check`` changes nothing and reports what would run;
``-e rerun=true`` runs the benchmarks again.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from pathlib import Path

import pytest
from conftest import recap
from fleetbench_testlib import ANSIBLE_PLAYBOOK, REPO

SUT = "localhost"  # the inventory host (PLAY RECAP, hosts.json)
# The system name: <hw_name>-<implementation>-<device>-<backend>-<precision> (hardware + software).
SYSTEM = "localhost-reference-cpu-onnxruntime-float32"
MODEL = "efficientnet"

pytestmark = pytest.mark.slow


class Job:
    """Runs the main job with fixed work/output dirs; remembers the last output."""

    def __init__(self, root: Path, shared: Path):
        self.root = root
        self.work = root / "work"
        self.out = root / "out"
        self.shared = shared

    @property
    def sut_results(self) -> Path:
        """The SUT's results directory of the default request (``results/<request key>``)."""
        (keyed,) = (self.work / "results").glob("r-*")
        return keyed

    @property
    def tree(self) -> Path:
        return self.sut_results / "test_results" / SYSTEM / MODEL / "Offline"

    def run(
        self, *args: str, playbook: str = "run_mlperf.yml", timeout: int = 1800
    ) -> subprocess.CompletedProcess:
        argv = [
            str(ANSIBLE_PLAYBOOK),
            f"playbooks/{playbook}",
            "-e",
            f"mlperf_work_dir={self.work}",
            "-e",
            f"output_dir={self.out}",
            "-e",
            f"python_env_work_dir={self.shared}",
            "-e",
            f"artifact_cache_dir={self.root / 'artifacts'}",
            "-e",
            f"harness_controller_dir={self.root / 'controller'}",
            *args,
        ]
        env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0", PYTHONUNBUFFERED="1")
        start = time.monotonic()
        proc = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=timeout, env=env)
        proc.duration_s = time.monotonic() - start  # type: ignore[attr-defined]
        log = self.root / f"run-{int(time.time() * 1000)}.log"
        log.write_text(proc.stdout + "\n--- stderr ---\n" + proc.stderr)
        return proc


def _fail(proc: subprocess.CompletedProcess, what: str) -> str:
    return f"{what} (rc={proc.returncode}):\n{proc.stdout[-6000:]}\n--- stderr ---\n{proc.stderr[-3000:]}"


def _snapshot(root: Path, skip: tuple[str, ...] = ()) -> dict[str, float]:
    return {
        str(p.relative_to(root)): p.stat().st_mtime_ns
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name not in skip
    }


@pytest.fixture(scope="module")
def job(tmp_path_factory, fleet_shared_dir) -> Job:
    if not ANSIBLE_PLAYBOOK.exists():
        pytest.skip("ansible-playbook is not installed in the test venv")
    j = Job(tmp_path_factory.mktemp("main-job"), fleet_shared_dir)
    proc = j.run()
    assert proc.returncode == 0, _fail(proc, "first run of the embedded default failed")
    j.first = proc
    print(f"first run: {proc.duration_s:.1f} s")
    return j


def test_first_run_leaves_results_tree_and_report(job):
    perf = job.tree / "performance" / "run_1"
    acc = job.tree / "accuracy"
    for run_dir in (perf, acc):
        for name in ("mlperf_log_summary.txt", "mlperf_log_detail.txt", "user.conf", "result.json"):
            assert (run_dir / name).is_file(), f"missing {run_dir / name}"
    assert (acc / "accuracy.txt").is_file()
    assert re.search(r"accuracy=\d+(\.\d+)?%", (acc / "accuracy.txt").read_text())

    result = json.loads((perf / "result.json").read_text())
    assert result["system"] == SYSTEM
    assert result["model"] == MODEL
    assert result["scenario"] == "Offline"
    assert result["mode"] == "performance"
    assert result["backend"] == "onnxruntime"
    assert result["loadgen"]["validity"] in ("VALID", "INVALID")
    assert result["loadgen"]["value"] > 0
    assert json.loads((acc / "result.json").read_text())["accuracy"] is not None

    # the SUT description draft beside the results
    desc = json.loads((job.work / "system_desc_draft.json").read_text())
    assert desc["system_name"] == SYSTEM
    assert int(desc["host_processor_vcpu_count"]) >= 1

    # the controller side: fetched tree + report
    fetched = job.out / "test_results" / SYSTEM / MODEL / "Offline" / "performance" / "run_1" / "result.json"
    assert fetched.is_file()
    assert (job.out / "report.md").is_file()
    report = json.loads((job.out / "report.json").read_text())
    assert report, "report.json is empty"

    # the dataset source is printed, never silent
    assert "dataset: imagenet from " in job.first.stdout


def test_second_run_changes_nothing_and_reuses_results(job):
    before = _snapshot(job.work / "results")
    proc = job.run()
    assert proc.returncode == 0, _fail(proc, "second run failed")
    counts = recap(proc.stdout)
    assert counts.get(SUT), _fail(proc, "no PLAY RECAP line for localhost")
    assert counts[SUT]["changed"] == 0, _fail(proc, "second run changed something")
    # the SUT is current (same inputs, the controller holds its results): left out, and said so
    assert "current, left out of this run: - localhost" in _flat(proc), _fail(proc, "no plan line")
    assert "TASK [Run MLPerf LoadGen]" not in proc.stdout.replace("benchmark : ", "")
    assert _snapshot(job.work / "results") == before
    assert (job.out / "report.md").is_file()
    print(f"cached second run: {proc.duration_s:.1f} s")

    # every step again on request: all of them no-ops, the benchmarks cached
    proc = job.run("-e", "mlperf_skip_current=false")
    assert proc.returncode == 0, _fail(proc, "run with mlperf_skip_current=false failed")
    assert recap(proc.stdout)[SUT]["changed"] == 0, _fail(proc, "a full cached pass changed something")
    assert "(cached)" in proc.stdout
    assert "skip_current is false" in proc.stdout
    assert _snapshot(job.work / "results") == before


def _flat(proc: subprocess.CompletedProcess) -> str:
    """stdout with every run of whitespace made one space (the callback wraps long YAML lines)."""
    return " ".join(proc.stdout.split())


def test_changed_input_or_sut_file_makes_the_sut_run_again(job):
    """A stamp holds only while inputs, the controller's copy and (verified) SUT files are unchanged."""
    current = "current, left out of this run: - localhost"
    # a changed role input: the plan names it
    proc = job.run("--check", "-e", json.dumps({"benchmark_environment": {"OMP_NUM_THREADS": "1"}}))
    assert proc.returncode == 0, _fail(proc, "--check with a changed input failed")
    assert "changed since the last complete run: benchmark_environment" in _flat(proc), _fail(
        proc, "no reason"
    )

    # the controller's copy lost a file: fetched again, then current once more
    summary = (
        job.out
        / "test_results"
        / SYSTEM
        / MODEL
        / "Offline"
        / "performance"
        / "run_1"
        / "mlperf_log_summary.txt"
    )
    summary.unlink()
    proc = job.run()
    assert proc.returncode == 0, _fail(proc, "run after losing a controller file failed")
    assert "file(s) of the controller's copy are gone" in _flat(proc), _fail(proc, "no reason")
    assert summary.is_file()
    assert current in _flat(job.run())

    # the controller's copy was edited: fetched again (the edit undone), then current once more
    good = summary.read_text()
    summary.write_text(good.replace("Result is", "Result was"))
    proc = job.run()
    assert proc.returncode == 0, _fail(proc, "run after editing a controller file failed")
    assert "file(s) of the controller's copy were changed" in _flat(proc), _fail(proc, "no reason")
    assert summary.read_text() == good
    assert current in _flat(job.run())

    # verified: a touched file on the SUT makes it run (all cached), the stamp is renewed
    os.utime(job.tree / "performance" / "run_1" / "mlperf_log_summary.txt", ns=(1, 1))
    proc = job.run("-e", "mlperf_verify_current=true")
    assert proc.returncode == 0, _fail(proc, "verified run failed")
    sut_tree = job.sut_results / "test_results" / SYSTEM
    assert f"changed on the SUT since the last complete run: {sut_tree}" in _flat(proc), _fail(
        proc, "no reason"
    )
    assert recap(proc.stdout)[SUT]["changed"] == 0, _fail(proc, "the verified cached pass changed something")
    proc = job.run("-e", "mlperf_verify_current=true")
    assert current in _flat(proc), _fail(proc, "not current after the stamp was renewed")

    # verified: a run file emptied on the SUT is measured again (not served from the cache)
    sut_summary = job.tree / "performance" / "run_1" / "mlperf_log_summary.txt"
    sut_summary.write_text("")
    proc = job.run("-e", "mlperf_verify_current=true")
    assert proc.returncode == 0, _fail(proc, "verified run after emptying a SUT file failed")
    assert recap(proc.stdout)[SUT]["changed"] >= 1, _fail(proc, "the damaged run was not measured again")
    assert sut_summary.stat().st_size > 0
    assert "Result is" in summary.read_text()


def test_benchmark_playbook_runs_alone(job):
    """benchmark.yml alone re-derives the provision facts (no-ops) and finds the cached results."""
    before = _snapshot(job.work / "results")
    proc = job.run(playbook="benchmark.yml")
    assert proc.returncode == 0, _fail(proc, "benchmark.yml alone failed")
    assert recap(proc.stdout)[SUT]["changed"] == 0, _fail(proc, "benchmark.yml alone changed something")
    assert "Offline performance: VALID" in proc.stdout or "Offline performance: INVALID" in proc.stdout
    assert proc.stdout.count("(cached)") >= 2
    assert _snapshot(job.work / "results") == before


def test_check_mode_changes_nothing_and_reports_what_would_run(job):
    work_before = _snapshot(job.work)
    # --check writes nothing on the controller either, hosts.json included
    out_before = _snapshot(job.out)

    # the cached request: nothing would change
    proc = job.run("--check")
    assert proc.returncode == 0, _fail(proc, "--check of the cached request failed")
    assert recap(proc.stdout)[SUT]["changed"] == 0, _fail(proc, "--check reported changes for cached runs")

    # a new scenario: reported as would-run, nothing written
    proc = job.run("--check", "-e", "scenario=SingleStream")
    assert proc.returncode == 0, _fail(proc, "--check with a new scenario failed")
    assert "SingleStream performance: would run (check mode)" in proc.stdout, _fail(proc, "no would-run line")
    assert "SingleStream accuracy: would run (check mode)" in proc.stdout
    assert not (job.tree.parent / "SingleStream").exists()
    assert _snapshot(job.work) == work_before
    assert _snapshot(job.out) == out_before


def test_rerun_runs_the_benchmarks_again(job):
    perf = job.tree / "performance" / "run_1" / "result.json"
    acc = job.tree / "accuracy" / "result.json"
    before = (json.loads(perf.read_text())["started"], json.loads(acc.read_text())["started"])
    proc = job.run("-e", "rerun=true")
    assert proc.returncode == 0, _fail(proc, "rerun failed")
    assert recap(proc.stdout)[SUT]["changed"] >= 2
    after = (json.loads(perf.read_text())["started"], json.loads(acc.read_text())["started"])
    assert after[0] != before[0] and after[1] != before[1]
    # rerun says what to do this time, not what the results are of: the plain run after it is current.
    proc = job.run()
    assert proc.returncode == 0, _fail(proc, "plain run after the rerun failed")
    assert f"current, left out of this run: - {SUT}" in _flat(proc), _fail(proc, "not current after a rerun")


def test_a_report_older_than_the_stamp_is_written_again(job):
    # A run stopped between collect's stamp and its report left the previous request's report: every SUT
    # is current, yet the report is written again, once.
    report = job.out / "report.json"
    old = report.stat().st_mtime - 3600
    os.utime(report, (old, old))
    proc = job.run()
    assert proc.returncode == 0, _fail(proc, "run with an old report failed")
    assert f"current, left out of this run: - {SUT}" in _flat(proc), _fail(proc, "not current")
    assert report.stat().st_mtime > old + 1800, _fail(proc, "the report was not written again")
    proc = job.run()
    assert "report.html is kept as it is" in _flat(proc), _fail(proc, "report not kept on the next run")
    assert not list(job.out.glob(".fleetbench-pack*")), "an archive or its folder was left in output_dir"


def test_another_round_says_it_replaces_this_output_dirs_results(job):
    proc = job.run("-e", "round=v5.0", playbook="validate.yml")
    assert proc.returncode == 0, _fail(proc, "validate with round=v5.0 failed")
    assert "request field submission_round" in _flat(proc), _fail(proc, "round change not named")
    assert "give another output_dir to keep both" in _flat(proc), _fail(proc, "no output_dir advice")


def test_an_interrupted_rerun_leaves_the_sut_not_current(job):
    # rerun=true voids the stamp as soon as the validate step decides to run again; stopping there
    # (validate.yml alone stands for a run interrupted before its fetch) must not leave the next
    # plain run calling the SUT current with the controller's older copy.
    proc = job.run("-e", "rerun=true", playbook="validate.yml")
    assert proc.returncode == 0, _fail(proc, "validate with rerun=true failed")
    assert "the last complete run's stamp is void" in _flat(proc), _fail(proc, "stamp not voided")
    proc = job.run("--check")
    assert f"current, left out of this run: - {SUT}" not in _flat(proc), _fail(proc, "still current")
    assert "no complete run recorded" in _flat(proc), _fail(proc, "no reason shown")


def test_check_mode_on_a_fresh_host_writes_nothing(tmp_path, fleet_shared_dir):
    """--check before any provision: every step reports what it would do; no file appears on the SUT."""
    fresh = Job(tmp_path, tmp_path / "venvs")
    proc = fresh.run("--check")
    assert proc.returncode == 0, _fail(proc, "--check on a fresh host failed")
    assert recap(proc.stdout)[SUT]["failed"] == 0
    assert "python_env: installing" in proc.stdout
    assert "harness: would install" in proc.stdout
    assert "Offline performance: would run (check mode)" in proc.stdout
    # collect says the SUT has no results yet (the benchmark would write them); no fetch failure
    assert "check mode: no results under" in proc.stdout, _fail(proc, "no check-mode note from collect")
    assert "a real run creates it and writes the report there" in _flat(proc), _fail(proc, "no report note")
    for path in (fresh.work, fresh.shared, fresh.root / "controller"):
        assert not path.exists(), f"--check created {path}"


def test_every_sut_failing_still_writes_a_report(tmp_path, fleet_shared_dir):
    """The only SUT fails in provision: the report still names it, and the run exits 2 at the end."""
    broken = Job(tmp_path, fleet_shared_dir)
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the work dir should be\n")
    broken.work = blocker / "work"
    proc = broken.run()
    assert proc.returncode == 2, _fail(proc, "a run whose only SUT failed did not exit 2")
    counts = recap(proc.stdout)[SUT]
    assert counts["failed"] == 1, _fail(proc, "the failed SUT is not failed in the recap")
    assert "failed earlier in this run, at 'Ensure the work directory exists'" in _flat(proc)
    report = (broken.out / "report.md").read_text()
    failed = report.split("## Failed hosts", 1)[1].split("\n## ", 1)[0]
    assert SUT in failed and "Ensure the work directory exists" in failed, failed
    status = json.loads((broken.out / "hosts.json").read_text())[SUT]
    assert status["status"] == "failed" and status["play"] == "Provision | prepare each SUT", status
