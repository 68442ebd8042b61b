"""One LoadGen test session: working directory, audit.config, QSL + SUT, watchdog, start, tear down.

LoadGen reads ``audit.config`` (compliance tests) from the **current
directory**, so the test runs with cwd = the output directory and the file is
copied there; a stale one is removed when the run has none. Before LoadGen
starts, a compliance test's sample indices are checked against the loaded
set (:func:`check_audit`), so a test that would ask for a sample the QSL does
not have fails with what it needs instead of hanging.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from fleetbench_harness.errors import HarnessError, InputError
from fleetbench_harness.loadgen import schedulers
from fleetbench_harness.loadgen import settings as lg_settings
from fleetbench_harness.loadgen.lifecycle import RunMonitor, Watchdog, deadline_for


@contextlib.contextmanager
def _cwd(path: Path):
    old = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


def place_audit_config(out: Path, audit_config: str | None) -> Path | None:
    """Copy ``audit_config`` into ``out`` (where LoadGen reads it) or remove a stale one there."""
    dst = out / "audit.config"
    if audit_config:
        src = Path(audit_config).resolve()
        if src != dst.resolve():
            shutil.copyfile(src, dst)
        return dst
    if dst.exists():
        print(f"fleetbench_harness: removing stale {dst} (no --audit-config given)", file=sys.stderr)
        dst.unlink()
    return None


# audit.config keys LoadGen does not log as effective_<key> with the same value (mode is logged as a
# name, accuracy_log_probability scaled by 0.01): not compared by audit_not_applied.
_AUDIT_UNCOMPARED = frozenset({"mode", "accuracy_log_probability"})


def audit_not_applied(out: Path, audit: dict[str, float]) -> list[str]:
    """audit.config settings LoadGen ignored: ``effective_<key>`` in ``out/mlperf_log_detail.txt`` differs.

    LoadGen 4.1.30, for one, reads the accuracy_log_* keys from its compiled mlperf.conf only (its
    FromConfig takes them when ``is_mlperf_conf``), so TEST01's audit.config does not sample
    anything there: the run would look like a compliance run and log no response. Judged by what
    the LoadGen did (its detail log), not by its version.
    """
    effective: dict[str, Any] = {}
    detail = out / "mlperf_log_detail.txt"
    try:
        lines = detail.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []
    for line in lines:
        if not line.startswith(":::MLLOG "):
            continue
        try:
            rec = json.loads(line[len(":::MLLOG ") :])
        except ValueError:
            continue
        key = str(rec.get("key", ""))
        if key.startswith("effective_"):
            effective[key[len("effective_") :]] = rec.get("value")
    problems = []
    for key, want in sorted(audit.items()):
        got = effective.get(key)
        if key in _AUDIT_UNCOMPARED or got is None:
            continue
        try:
            same = float(got) == float(want)
        except (TypeError, ValueError):
            same = False
        if not same:
            shown = int(want) if float(want).is_integer() else want
            problems.append(f"{key} = {shown} in audit.config, LoadGen used {got}")
    return problems


def check_audit(audit: dict[str, float], total: int, performance_sample_count: int) -> None:
    """Refuse a compliance audit.config that asks for samples the QSL cannot give.

    TEST04 (``performance_issue_same = 1``) issues the sample at position
    ``performance_issue_same_index`` of the loaded performance set, so that set
    must hold more than that index.

    Raises:
        InputError(audit_config): naming what the test needs and what the run has.
    """
    if int(audit.get("performance_issue_same", 0)):
        same = int(audit.get("performance_issue_same_index", 0))
        loaded = min(total, performance_sample_count)
        if same >= loaded:
            raise InputError(
                "audit_config",
                f"the compliance test issues loaded sample #{same} (performance_issue_same_index) but the "
                f"run loads only {loaded} sample(s) (dataset {total}, performance_sample_count "
                f"{performance_sample_count}); it needs at least {same + 1}: raise count or use a "
                "larger dataset",
                [f"at least {same + 1} samples"],
            )


class QSL:
    """LoadGen QSL over a workload's load/unload callbacks (failures go to the monitor)."""

    def __init__(self, workload: Any, total: int, performance_sample_count: int, monitor: RunMonitor):
        import mlperf_loadgen as lg

        self.workload, self.monitor = workload, monitor
        self.handle = lg.ConstructQSL(total, performance_sample_count, self.load, self.unload)

    def load(self, indices: list[int]) -> None:
        try:
            self.workload.load_samples(np.asarray(indices, dtype=np.int64))
        except BaseException as exc:
            self.monitor.fail(exc, "the QSL (load_samples)")

    def unload(self, indices: list[int]) -> None:
        try:
            self.workload.unload_samples(np.asarray(indices, dtype=np.int64))
        except BaseException as exc:
            self.monitor.fail(exc, "the QSL (unload_samples)")

    def destroy(self) -> None:
        import mlperf_loadgen as lg

        lg.DestroyQSL(self.handle)


def run_test(
    workload: Any,
    test_settings: Any,
    scenario: str,
    out: Path,
    *,
    max_batchsize: int,
    batch_timeout_ms: float = 2.0,
    stall_s: float = 600.0,
    grace_s: float = 10.0,
) -> dict[str, Any]:
    """Run one LoadGen test of ``workload`` and return its statistics.

    Args:
        test_settings: LoadGen ``TestSettings`` (``performance_sample_count_override``
            already set to the count the QSL keeps loaded).
        scenario: the LoadGen scenario name (a request's ``Interactive`` is ``Server`` here).
        out: output directory (cwd of the test; audit.config already placed there).
        max_batchsize: the scheduler's largest batch.
        batch_timeout_ms: Server dynamic batching timeout (ms).
        stall_s: seconds without a completed sample (while samples are outstanding) that end the run.

    Returns:
        {"samples", "batches", "test_s", "test_cpu_s", "issued", "completed", "deadline_s"}.

    Raises:
        HarnessError: a callback failed (the reason names where), or LoadGen wrote no logs.
    """
    import mlperf_loadgen as lg

    monitor = RunMonitor()
    total = int(workload.total_sample_count)
    psc = int(test_settings.performance_sample_count_override)
    qsl = QSL(workload, total, psc, monitor)
    sched = schedulers.make(scenario, workload, max_batchsize, monitor, batch_timeout_ms)
    sut = lg.ConstructSUT(sched.issue_query, sched.flush_queries)
    deadline = deadline_for(test_settings, scenario)
    dog = Watchdog(monitor, deadline_s=deadline, stall_s=stall_s, grace_s=grace_s)
    log = lg_settings.log_settings(out)
    t0, c0 = time.time(), time.process_time()
    dog.start()
    try:
        with _cwd(out):
            lg.StartTestWithLogSettings(sut, qsl.handle, test_settings, log)
        stats = sched.stop()
    finally:
        dog.stop()
        lg.DestroySUT(sut)
        qsl.destroy()
    if monitor.error is not None:
        print(monitor.error_trace.rstrip(), file=sys.stderr)
        raise HarnessError(monitor.reason())
    for name in ("mlperf_log_summary.txt", "mlperf_log_detail.txt"):
        if not (out / name).is_file():
            raise HarnessError(f"LoadGen wrote no {out / name}")
    return {
        **stats,
        "test_s": time.time() - t0,
        "test_cpu_s": time.process_time() - c0,
        "issued": monitor.issued_samples,
        "completed": monitor.completed_samples,
        "deadline_s": deadline,
    }
