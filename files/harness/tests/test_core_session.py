"""The family-free LoadGen core on the real LoadGen: failures answer every query; the watchdog ends
stuck runs."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
from fleetbench_harness.errors import HarnessError, InputError
from fleetbench_harness.loadgen import Workload, session
from fleetbench_harness.loadgen.lifecycle import RunMonitor, Watchdog
from harness_testlib import harness_env


class _Workload(Workload):
    """A 4-sample workload whose response is the sample index (int32); ``fail_at`` breaks a call."""

    def __init__(self, fail_at: int | None = None, fail_load: bool = False):
        self.total_sample_count = self.performance_sample_count = 4
        self.calls = 0
        self.fail_at, self.fail_load = fail_at, fail_load

    def load_samples(self, indices):
        if self.fail_load:
            raise OSError("disk gone")

    def run_batch(self, indices):
        self.calls += 1
        if self.calls == self.fail_at:
            raise RuntimeError("device lost")
        return indices.astype(np.int32)

    def encode(self, outputs, indices):
        return outputs


def _settings(scenario: str, n: int = 8, min_duration_ms: int = 0):
    import mlperf_loadgen as lg

    s = lg.TestSettings()
    s.scenario = getattr(lg.TestScenario, scenario)
    s.mode = lg.TestMode.PerformanceOnly
    s.min_duration_ms = min_duration_ms
    s.min_query_count = s.max_query_count = n
    s.server_target_qps = s.offline_expected_qps = 200
    s.performance_sample_count_override = 4
    return s


@pytest.mark.parametrize("scenario", ["Offline", "Server", "SingleStream", "MultiStream"])
def test_every_scenario_completes(tmp_path, scenario):
    stats = session.run_test(_Workload(), _settings(scenario), scenario, tmp_path, max_batchsize=2)
    assert stats["issued"] == stats["completed"] > 0
    assert "Result is" in (tmp_path / "mlperf_log_summary.txt").read_text()


@pytest.mark.parametrize("scenario", ["Offline", "Server", "SingleStream"])
def test_workload_failure_fails_the_run_with_its_reason(tmp_path, scenario):
    t0 = time.monotonic()
    with pytest.raises(HarnessError, match=r"run_batch/encode\): RuntimeError: device lost"):
        session.run_test(_Workload(fail_at=2), _settings(scenario), scenario, tmp_path, max_batchsize=2)
    assert time.monotonic() - t0 < 30
    assert (tmp_path / "mlperf_log_detail.txt").is_file()


def test_qsl_failure_fails_the_run(tmp_path):
    with pytest.raises(HarnessError, match=r"load_samples\): OSError: disk gone"):
        session.run_test(
            _Workload(fail_load=True), _settings("Offline"), "Offline", tmp_path, max_batchsize=2
        )


def test_check_audit_names_what_the_test_needs():
    session.check_audit({"performance_issue_same": 1, "performance_issue_same_index": 3}, 10, 10)
    with pytest.raises(InputError, match=r"audit_config: .*loads only 1 sample.*needs at least 4"):
        session.check_audit({"performance_issue_same": 1, "performance_issue_same_index": 3}, 1, 1024)
    session.check_audit({"mode": 2}, 1, 1)  # TEST01-style sampling asks for no index


def test_watchdog_reasons():
    mon = RunMonitor()
    dog = Watchdog(mon, deadline_s=10, stall_s=5, grace_s=2)
    dog.started = 100.0
    mon.last_progress = 100.0
    assert dog.check(101.0) is None
    mon.issued(3)
    mon.last_progress = 100.0
    assert "no sample completed for 6 s with 3 outstanding" in dog.check(106.0)
    late = Watchdog(RunMonitor(), deadline_s=10)
    late.started = 100.0
    assert "past its 10 s limit" in late.check(111.0)
    mon.completed(3)
    mon.fail(ValueError("x"), "the QSL (load_samples)")
    dog.started = mon.error_at
    assert dog.check(mon.error_at + 1) is None
    assert "the QSL (load_samples): ValueError: x" in dog.check(mon.error_at + 3)


_SCRIPT = """
import sys, time
import numpy as np
sys.path.insert(0, {harness!r})
from pathlib import Path
from fleetbench_harness.loadgen import Workload, session
import mlperf_loadgen as lg

class W(Workload):
    total_sample_count = performance_sample_count = 4
    calls = 0
    def run_batch(self, indices):
        self.calls += 1
        if {mode!r} == "hang":
            time.sleep(3600)
        if self.calls == 2:
            raise RuntimeError("device lost")
        return indices.astype(np.int32)
    def encode(self, outputs, indices):
        return outputs

s = lg.TestSettings()
s.scenario = lg.TestScenario.Server
s.mode = lg.TestMode.PerformanceOnly
s.min_duration_ms = 600000   # a valid-length run: only the watchdog can end it early
s.min_query_count = 100000
s.server_target_qps = 100
s.performance_sample_count_override = 4
session.run_test(W(), s, "Server", Path({out!r}), max_batchsize=1, stall_s=2, grace_s=2)
print("finished")
"""


@pytest.mark.parametrize("mode", ["hang", "fail"])
def test_watchdog_ends_a_run_that_cannot_finish(tmp_path, mode):
    """A hung backend (stall) or a failure in a 10-minute run ends within seconds, with the reason."""
    from harness_testlib import HARNESS

    script = _SCRIPT.format(harness=str(HARNESS), mode=mode, out=str(tmp_path))
    t0 = time.monotonic()
    res = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        env=harness_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    took = time.monotonic() - t0
    assert res.returncode == 1, res.stderr[-2000:]
    assert "finished" not in res.stdout
    last = res.stderr.strip().splitlines()[-1]
    if mode == "hang":
        assert "watchdog: no sample completed" in last
    else:
        assert "RuntimeError: device lost" in last and "did not finish within 2 s" in last
    assert took < 60


def test_no_family_concept_outside_tasks():
    """The core, backends and generic modules name no model, dataset or family concept (issue 9)."""
    import re

    from harness_testlib import HARNESS

    words = re.compile(
        r"imagenet|squad|top-?1|argmax|val_map|kits|coco|rouge|llama|gpt-?j|bert|sdxl|efficientnet|resnet"
        r"|mobilenet|label_offset|classif|segmentation|caption|summariz",
        re.I,
    )
    pkg = HARNESS / "fleetbench_harness"
    hits = []
    for path in sorted(pkg.rglob("*.py")):
        rel = path.relative_to(pkg).parts
        if rel[0] == "tasks" and rel not in (("tasks", "__init__.py"), ("tasks", "base.py")):
            continue  # a family's own folder
        for nr, line in enumerate(path.read_text().splitlines(), 1):
            if words.search(line):
                hits.append(f"{path.relative_to(pkg)}:{nr}: {line.strip()}")
    assert not hits, "\n".join(hits)
