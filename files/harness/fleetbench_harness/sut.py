"""LoadGen QSL and SUTs for the four scenarios (image classification).

Data path (designed for low overhead versus a bare backend loop):

* the QSL keeps the loaded samples in **one contiguous float32 array**
  (rows in LoadGen's load order) plus ``row_of[qsl_index] -> row``;
* a batch is gathered with ``np.take(..., out=buf)`` into a preallocated,
  contiguous batch buffer (no per-sample Python work, no allocation);
* the backend returns float32 class ids for the batch; each
  ``QuerySampleResponse`` points into that numpy buffer (4 bytes per sample),
  which stays alive until ``QuerySamplesComplete`` returns (LoadGen copies the
  bytes it logs in accuracy mode).

Scenarios:

* ``Offline``: LoadGen issues one query with every sample; a worker thread
  runs it in batches of ``max_batchsize`` (the backend uses all threads).
* ``Server``: ``issue_query`` only enqueues; a worker thread batches
  dynamically: it waits for the first sample, then collects more until the
  batch is full or ``batch_timeout_ms`` has passed since the first one.
* ``SingleStream`` / ``MultiStream``: the query (1 sample, or
  ``samples_per_query`` = 8 from mlperf.conf) runs inline in ``issue_query``,
  in batches of up to ``max_batchsize``.
"""

from __future__ import annotations

import queue
import threading
import time
from typing import Any

import numpy as np


class QSL:
    """Query sample library over a preprocessed array (N, ...) (e.g. a read-only memmap)."""

    def __init__(self, data: np.ndarray, performance_sample_count: int):
        import mlperf_loadgen as lg

        self.data = data
        self.total = int(data.shape[0])
        self.performance_sample_count = int(min(performance_sample_count, self.total))
        self.loaded: np.ndarray | None = None
        self.row_of = np.full(self.total, -1, dtype=np.int64)
        self.handle = lg.ConstructQSL(self.total, self.performance_sample_count, self.load, self.unload)

    def load(self, indices: list[int]) -> None:
        """LoadGen callback: copy the requested samples into one contiguous array."""
        idx = np.asarray(indices, dtype=np.int64)
        order = np.argsort(idx, kind="stable")  # sequential reads from the memmap
        loaded = np.empty((len(idx), *self.data.shape[1:]), dtype=self.data.dtype)
        loaded[order] = self.data[idx[order]]
        self.loaded = loaded
        self.row_of[:] = -1
        self.row_of[idx] = np.arange(len(idx), dtype=np.int64)

    def unload(self, indices: list[int]) -> None:
        """LoadGen callback: drop the loaded samples."""
        self.row_of[np.asarray(indices, dtype=np.int64)] = -1
        if not (self.row_of >= 0).any():
            self.loaded = None

    def destroy(self) -> None:
        import mlperf_loadgen as lg

        lg.DestroyQSL(self.handle)


class _Executor:
    """Runs (ids, qsl indices) in batches and completes them with LoadGen."""

    def __init__(self, backend: Any, qsl: QSL, max_batchsize: int):
        self.backend, self.qsl, self.bs = backend, qsl, max(1, int(max_batchsize))
        self.buf: np.ndarray | None = None
        self.samples = 0
        self.batches = 0

    def run(self, ids: np.ndarray, idx: np.ndarray) -> None:
        import mlperf_loadgen as lg

        qsl = self.qsl
        loaded = qsl.loaded
        if self.buf is None or self.buf.shape[1:] != loaded.shape[1:]:
            self.buf = np.empty((self.bs, *loaded.shape[1:]), dtype=loaded.dtype)
        rows = qsl.row_of[idx]
        n = len(rows)
        resp_cls = lg.QuerySampleResponse
        for s in range(0, n, self.bs):
            e = min(n, s + self.bs)
            m = e - s
            batch = self.buf[:m]
            try:
                np.take(loaded, rows[s:e], axis=0, out=batch)
                labels = np.ascontiguousarray(self.backend.predict(batch), dtype=np.float32)
            except BaseException:
                _complete_empty(ids[s:])  # LoadGen must not wait for the rest of this query
                raise
            addr = labels.ctypes.data
            item = labels.itemsize
            responses = [resp_cls(qid, addr + j * item, item) for j, qid in enumerate(ids[s:e].tolist())]
            lg.QuerySamplesComplete(responses)
            self.batches += 1
        self.samples += n


def _split(query_samples: list) -> tuple[np.ndarray, np.ndarray]:
    n = len(query_samples)
    ids = np.fromiter((q.id for q in query_samples), dtype=np.uint64, count=n)
    idx = np.fromiter((q.index for q in query_samples), dtype=np.int64, count=n)
    return ids, idx


class InlineSUT:
    """SingleStream / MultiStream: run each query inline in ``issue_query``."""

    def __init__(self, backend: Any, qsl: QSL, max_batchsize: int):
        import mlperf_loadgen as lg

        self.ex = _Executor(backend, qsl, max_batchsize)
        self.errors: list[BaseException] = []
        self.handle = lg.ConstructSUT(self.issue_query, self.flush_queries)

    def issue_query(self, query_samples: list) -> None:
        ids, idx = _split(query_samples)
        try:
            self.ex.run(ids, idx)
        except BaseException as exc:  # reported by stop(); the query was completed empty
            self.errors.append(exc)

    def flush_queries(self) -> None:
        pass

    def stop(self) -> dict[str, Any]:
        if self.errors:
            raise self.errors[0]
        return {"samples": self.ex.samples, "batches": self.ex.batches}


class OfflineSUT:
    """Offline: one worker thread runs each issued query in batches."""

    def __init__(self, backend: Any, qsl: QSL, max_batchsize: int):
        import mlperf_loadgen as lg

        self.ex = _Executor(backend, qsl, max_batchsize)
        self.q: queue.Queue = queue.Queue()
        self.errors: list[BaseException] = []
        self.worker = threading.Thread(target=self._loop, name="offline-worker", daemon=True)
        self.worker.start()
        self.handle = lg.ConstructSUT(self.issue_query, self.flush_queries)

    def issue_query(self, query_samples: list) -> None:
        self.q.put(_split(query_samples))

    def flush_queries(self) -> None:
        pass

    def _loop(self) -> None:
        while (item := self.q.get()) is not None:
            try:
                self.ex.run(*item)
            except BaseException as exc:  # reported by stop(); the query was completed empty
                self.errors.append(exc)

    def stop(self) -> dict[str, Any]:
        self.q.put(None)
        self.worker.join()
        if self.errors:
            raise self.errors[0]
        return {"samples": self.ex.samples, "batches": self.ex.batches}


class ServerSUT:
    """Server: enqueue in ``issue_query``; a worker batches dynamically with a timeout."""

    def __init__(self, backend: Any, qsl: QSL, max_batchsize: int, batch_timeout_ms: float):
        import mlperf_loadgen as lg

        self.ex = _Executor(backend, qsl, max_batchsize)
        self.bs = self.ex.bs
        self.timeout_s = max(0.0, float(batch_timeout_ms)) / 1000.0
        self.q: queue.SimpleQueue = queue.SimpleQueue()
        self.errors: list[BaseException] = []
        self.stopping = False
        self.worker = threading.Thread(target=self._loop, name="server-worker", daemon=True)
        self.worker.start()
        self.handle = lg.ConstructSUT(self.issue_query, self.flush_queries)

    def issue_query(self, query_samples: list) -> None:
        for q in query_samples:
            self.q.put((q.id, q.index))

    def flush_queries(self) -> None:
        pass

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
                    nxt = get(timeout=left) if left > 0 else get_nowait(self.q)
                except queue.Empty:
                    break
                if nxt is None:
                    stop = True
                    break
                items.append(nxt)
            ids = np.fromiter((i[0] for i in items), dtype=np.uint64, count=len(items))
            idx = np.fromiter((i[1] for i in items), dtype=np.int64, count=len(items))
            try:
                self.ex.run(ids, idx)
            except BaseException as exc:  # reported by stop(); the samples were completed empty
                self.errors.append(exc)
            if stop:
                return

    def stop(self) -> dict[str, Any]:
        self.q.put(None)
        self.worker.join()
        if self.errors:
            raise self.errors[0]
        return {"samples": self.ex.samples, "batches": self.ex.batches}


def get_nowait(q: queue.SimpleQueue) -> Any:
    return q.get_nowait()


def _complete_empty(ids: np.ndarray) -> None:
    """Complete samples with empty responses so LoadGen does not hang after an error."""
    import mlperf_loadgen as lg

    lg.QuerySamplesComplete([lg.QuerySampleResponse(int(i), 0, 0) for i in ids.tolist()])


def make_sut(scenario: str, backend: Any, qsl: QSL, max_batchsize: int, batch_timeout_ms: float) -> Any:
    """The SUT object for a LoadGen scenario name (``handle`` is the LoadGen SUT)."""
    if scenario == "Offline":
        return OfflineSUT(backend, qsl, max_batchsize)
    if scenario == "Server":
        return ServerSUT(backend, qsl, max_batchsize, batch_timeout_ms)
    return InlineSUT(backend, qsl, max_batchsize)
