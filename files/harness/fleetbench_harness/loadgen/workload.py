"""The workload protocol: what a task family gives the family-free LoadGen core.

A task family (``fleetbench_harness.tasks.<family>``) builds one :class:`Workload`
per run. The core (:mod:`fleetbench_harness.loadgen`) owns LoadGen: it builds the
QSL over the workload's sample callbacks, schedules queries for the scenario,
turns encoded outputs into ``QuerySampleResponse`` objects and watches the run.
The workload never imports ``mlperf_loadgen``.

Life of a run, as the core calls it::

    wl.load_samples(indices)        # QSL callback: bring samples into memory (LoadGen's order)
    wl.warmup(batch_size)           # before the timed test, on loaded samples
    out = wl.run_batch(indices)     # raw backend outputs for up to max_batchsize QSL indices
    enc = wl.encode(out, indices)   # response bytes: ndarray (n, ...) rows, or list[Response]
    wl.unload_samples(indices)      # QSL callback
    wl.close()

Units: indices are QSL sample indices (int64, ``0 <= i < total_sample_count``);
the response bytes are what LoadGen writes, hex-encoded, into
``mlperf_log_accuracy.json`` (the family's accuracy script decodes them).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass
class Response:
    """One sample's response.

    Attributes:
        data: C-contiguous array whose bytes are the response; it must stay alive
            until the core has completed the sample (the core holds a reference).
        n_tokens: generated tokens of an LLM response (LoadGen's token metrics),
            else None.
    """

    data: np.ndarray
    n_tokens: int | None = None


class Workload:
    """Base class of a family's workload (override what the family needs).

    Attributes:
        total_sample_count: samples in the QSL (the dataset after ``--count``).
        performance_sample_count: samples LoadGen keeps loaded in performance
            mode; the core applies the user.conf/CLI override and caps it at
            ``total_sample_count``.
        name: the family name, for provenance.
        backend_info: the backend's ``info()`` (harness.json ``backend``).
        dataset_info: what was loaded (harness.json ``dataset``: path, count, cache ...).
    """

    name: str = "workload"
    total_sample_count: int = 0
    performance_sample_count: int = 0
    backend_info: dict[str, Any] = {}  # noqa: RUF012 - replaced per instance
    dataset_info: dict[str, Any] = {}  # noqa: RUF012 - replaced per instance

    def load_samples(self, indices: np.ndarray) -> None:
        """Bring the samples ``indices`` (int64 array) into memory; called by LoadGen's QSL."""

    def unload_samples(self, indices: np.ndarray) -> None:
        """Drop the samples ``indices``; called by LoadGen's QSL."""

    def run_batch(self, indices: np.ndarray) -> Any:
        """Run the backend on loaded samples ``indices`` (1..max_batchsize); return raw outputs."""
        raise NotImplementedError

    def encode(self, outputs: Any, indices: np.ndarray) -> np.ndarray | list[Response]:
        """Response bytes for each sample of a batch, in ``indices`` order.

        Returns either one C-contiguous ndarray whose first dimension is the
        batch (row ``j`` = sample ``j``'s bytes, equal sizes), or a list of
        :class:`Response` (sizes may differ; token counts for LLMs).
        """
        raise NotImplementedError

    def warmup(self, batch_size: int) -> None:
        """Optional: run a few batches of ``batch_size`` before the timed test (not logged)."""

    def scheduler(self, scenario: str) -> type | None:
        """Optional: a family-specific scheduler class for ``scenario`` (e.g. a streaming
        LLM Server); None takes the core's scheduler. See :mod:`.schedulers` for the interface."""
        return None

    def info(self) -> dict[str, Any]:
        """Provenance recorded in harness.json under ``workload``."""
        return {}

    def close(self) -> None:
        """Release backend resources after the test."""
