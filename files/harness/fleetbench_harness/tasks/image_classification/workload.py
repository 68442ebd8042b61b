"""Image classification workload: preprocessed images in, one float32 class id per sample out.

Data path (low overhead versus a bare backend loop, ``bench/harness_overhead.py``):

* the preprocessed set is one C-contiguous float32 array (N, C, H, W) or
  (N, H, W, C), memory-mapped read-only from the cache;
* ``load_samples`` copies the requested rows into one contiguous array (rows
  in LoadGen's load order) plus ``row_of[qsl_index] -> row``;
* a batch is gathered with ``np.take(..., out=buf)`` into a preallocated batch
  buffer (no per-sample Python work, no allocation);
* the response is the float32 class id (argmax minus the model's
  ``label_offset``), 4 bytes per sample, as the MLPerf reference
  classification harness writes it into the accuracy log.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from fleetbench_harness.loadgen import Workload


class ClassificationWorkload(Workload):
    """Workload over a preprocessed array and a ``logits(batch) -> (N, classes)`` function."""

    name = "image_classification"

    def __init__(self, data: np.ndarray, logits: Any, performance_sample_count: int, label_offset: int = 0):
        self.data = data
        self.logits = logits
        self.label_offset = int(label_offset)
        self.total_sample_count = int(data.shape[0])
        self.performance_sample_count = int(min(performance_sample_count, self.total_sample_count))
        self.loaded: np.ndarray | None = None
        self.row_of = np.full(self.total_sample_count, -1, dtype=np.int64)
        self.buf: np.ndarray | None = None

    def load_samples(self, indices: np.ndarray) -> None:
        order = np.argsort(indices, kind="stable")  # sequential reads from the memmap
        loaded = np.empty((len(indices), *self.data.shape[1:]), dtype=self.data.dtype)
        loaded[order] = self.data[indices[order]]
        self.loaded = loaded
        self.row_of[:] = -1
        self.row_of[indices] = np.arange(len(indices), dtype=np.int64)

    def unload_samples(self, indices: np.ndarray) -> None:
        self.row_of[indices] = -1
        if not (self.row_of >= 0).any():
            self.loaded = None

    def run_batch(self, indices: np.ndarray) -> np.ndarray:
        rows = self.row_of[indices]
        if rows.min() < 0:
            missing = indices[rows < 0].tolist()
            raise IndexError(
                f"sample(s) {missing[:8]} are not loaded (LoadGen issued samples the QSL did not load)"
            )
        m = len(rows)
        if self.buf is None or self.buf.shape[0] < m:
            self.buf = np.empty((max(m, 1), *self.data.shape[1:]), dtype=self.data.dtype)
        batch = self.buf[:m]
        np.take(self.loaded, rows, axis=0, out=batch)
        return self.logits(batch)

    def encode(self, outputs: np.ndarray, indices: np.ndarray) -> np.ndarray:
        labels = outputs.reshape(outputs.shape[0], -1).argmax(axis=1).astype(np.float32)
        if self.label_offset:
            labels -= self.label_offset
        return labels

    def warmup(self, batch_size: int) -> None:
        # Warm up at the full batch shape (ORT/torch allocate per shape) and at batch 1 (Server batches vary).
        n = self.total_sample_count
        self.logits(np.ascontiguousarray(self.data[np.arange(batch_size) % n]))
        self.logits(np.ascontiguousarray(self.data[np.arange(batch_size) % n]))
        if batch_size > 1:
            self.logits(np.ascontiguousarray(self.data[:1]))

    def info(self) -> dict[str, Any]:
        return {"family": self.name, "label_offset": self.label_offset, "response": "float32 class id"}
