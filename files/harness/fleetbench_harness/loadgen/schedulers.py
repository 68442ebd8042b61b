"""Scenario schedulers: how LoadGen's queries reach the workload (no family knowledge).

Each scheduler has ``issue_query(query_samples)`` and ``flush_queries()`` (the
LoadGen SUT callbacks), ``stop() -> {"samples", "batches"}`` and the
constructor ``(workload, max_batchsize, monitor, batch_timeout_ms)``. A family
can bring its own for a scenario through ``Workload.scheduler(scenario)``; it
subclasses :class:`Scheduler` and completes samples through
:mod:`fleetbench_harness.loadgen.responses`.

* ``Offline``: LoadGen issues one query with every sample; a worker thread
  runs it in batches of ``max_batchsize``.
* ``Server``: ``issue_query`` only enqueues; a worker batches dynamically: it
  waits for the first sample, then collects more until the batch is full or
  ``batch_timeout_ms`` (ms) has passed since the first one.
* ``SingleStream`` / ``MultiStream``: the query (1 sample, or
  ``samples_per_query``, 8 in mlperf.conf) runs inline in ``issue_query``, in
  batches of up to ``max_batchsize``.

Failures: an exception from the workload completes the rest of its query
empty and is recorded in the :class:`~.lifecycle.RunMonitor`; from then on
every issued sample is completed empty at once, so LoadGen finishes and the
run fails with the reason (the watchdog ends it if LoadGen still waits).
"""

from __future__ import annotations

import queue
import threading
import time
from typing import Any

import numpy as np

from fleetbench_harness.loadgen import responses
from fleetbench_harness.loadgen.lifecycle import RunMonitor


def split(query_samples: list) -> tuple[np.ndarray, np.ndarray]:
    """LoadGen ``QuerySample`` list -> (ids uint64, QSL indices int64)."""
    n = len(query_samples)
    ids = np.fromiter((q.id for q in query_samples), dtype=np.uint64, count=n)
    idx = np.fromiter((q.index for q in query_samples), dtype=np.int64, count=n)
    return ids, idx


class Scheduler:
    """Base: runs (ids, indices) through the workload in batches and completes them."""

    def __init__(self, workload: Any, max_batchsize: int, monitor: RunMonitor, batch_timeout_ms: float = 2.0):
        self.workload = workload
        self.bs = max(1, int(max_batchsize))
        self.monitor = monitor
        self.timeout_s = max(0.0, float(batch_timeout_ms)) / 1000.0
        self.samples = 0
        self.batches = 0

    # LoadGen callbacks -------------------------------------------------------
    def issue_query(self, query_samples: list) -> None:
        raise NotImplementedError

    def flush_queries(self) -> None:
        pass

    # -------------------------------------------------------------------------
    def execute(self, ids: np.ndarray, idx: np.ndarray) -> None:
        """Run one query's samples in batches; never raises (failures go to the monitor)."""
        mon = self.monitor
        if mon.error is not None:
            responses.complete_empty(ids, mon)
            return
        wl = self.workload
        n = len(idx)
        for s in range(0, n, self.bs):
            e = min(n, s + self.bs)
            try:
                sub = idx[s:e]
                responses.complete(ids[s:e], wl.encode(wl.run_batch(sub), sub), mon)
            except BaseException as exc:
                responses.complete_empty(ids[s:], mon)
                mon.fail(exc, "the workload (run_batch/encode)")
                return
            self.batches += 1
        self.samples += n

    def stop(self) -> dict[str, int]:
        return {"samples": self.samples, "batches": self.batches}


class InlineScheduler(Scheduler):
    """SingleStream / MultiStream: run each query inline in ``issue_query``."""

    def issue_query(self, query_samples: list) -> None:
        ids, idx = split(query_samples)
        self.monitor.issued(len(ids))
        self.execute(ids, idx)


class OfflineScheduler(Scheduler):
    """Offline: one worker thread runs each issued query in batches."""

    def __init__(self, *args: Any, **kw: Any):
        super().__init__(*args, **kw)
        self.q: queue.Queue = queue.Queue()
        self.worker = threading.Thread(target=self._loop, name="offline-worker", daemon=True)
        self.worker.start()

    def issue_query(self, query_samples: list) -> None:
        ids, idx = split(query_samples)
        self.monitor.issued(len(ids))
        self.q.put((ids, idx))

    def _loop(self) -> None:
        while (item := self.q.get()) is not None:
            self.execute(*item)

    def stop(self) -> dict[str, int]:
        self.q.put(None)
        self.worker.join()
        return super().stop()


class ServerScheduler(Scheduler):
    """Server: enqueue in ``issue_query``; a worker batches dynamically with a timeout."""

    def __init__(self, *args: Any, **kw: Any):
        super().__init__(*args, **kw)
        self.q: queue.SimpleQueue = queue.SimpleQueue()
        self.worker = threading.Thread(target=self._loop, name="server-worker", daemon=True)
        self.worker.start()

    def issue_query(self, query_samples: list) -> None:
        self.monitor.issued(len(query_samples))
        for q in query_samples:
            self.q.put((q.id, q.index))

    def _loop(self) -> None:
        get = self.q.get
        while True:
            first = get()
            if first is None:
                return
            items = [first]
            deadline = time.monotonic() + self.timeout_s
            stop = False
            while len(items) < self.bs:
                left = deadline - time.monotonic()
                try:
                    nxt = get(timeout=left) if left > 0 else self.q.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    stop = True
                    break
                items.append(nxt)
            ids = np.fromiter((i[0] for i in items), dtype=np.uint64, count=len(items))
            idx = np.fromiter((i[1] for i in items), dtype=np.int64, count=len(items))
            self.execute(ids, idx)
            if stop:
                return

    def stop(self) -> dict[str, int]:
        self.q.put(None)
        self.worker.join()
        return super().stop()


#: LoadGen scenario name -> core scheduler.
SCHEDULERS: dict[str, type[Scheduler]] = {
    "Offline": OfflineScheduler,
    "Server": ServerScheduler,
    "SingleStream": InlineScheduler,
    "MultiStream": InlineScheduler,
}


def make(
    scenario: str, workload: Any, max_batchsize: int, monitor: RunMonitor, batch_timeout_ms: float
) -> Scheduler:
    """The scheduler for a LoadGen scenario: the workload's own (``Workload.scheduler``) or the core's."""
    cls = workload.scheduler(scenario) or SCHEDULERS[scenario]
    return cls(workload, max_batchsize, monitor, batch_timeout_ms)
