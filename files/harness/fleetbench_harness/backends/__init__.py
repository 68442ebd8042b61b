"""Inference backends behind one small interface.

A backend is created with :func:`create`, then::

    b.load(artifact)         # build the session / module (may compile)
    b.warmup(batch)          # a few runs on real input, not timed by LoadGen
    labels = b.predict(x)    # x: float32 (N, C, H, W) or (N, H, W, C), C-contiguous
                             # -> float32 (N,) predicted class ids (label_offset applied)
    b.info()                 # {"name", "version", "providers", "device", "threads", "precision"}

Predictions are float32 class ids (what the MLPerf reference classification
harness writes into the accuracy log), already corrected by the model's
``label_offset``.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from fleetbench_harness.errors import InputError

BACKENDS = ("onnxruntime", "pytorch")


class Backend(Protocol):
    name: str

    def load(self, artifact: Any) -> None: ...
    def warmup(self, batch: np.ndarray, runs: int = 2) -> None: ...
    def predict(self, batch: np.ndarray) -> np.ndarray: ...
    def info(self) -> dict[str, Any]: ...


def create(name: str, device: str, precision: str, threads: int, compile_model: bool = False) -> Backend:
    """Instantiate a backend (imports its framework lazily).

    Raises:
        InputError(backend): unknown backend; InputError(device/precision): an
            unsupported combination (e.g. onnxruntime without a CUDA EP).
    """
    if name == "onnxruntime":
        from fleetbench_harness.backends.ort import OrtBackend

        return OrtBackend(device, precision, threads)
    if name == "pytorch":
        from fleetbench_harness.backends.torch_backend import TorchBackend

        return TorchBackend(device, precision, threads, compile_model)
    raise InputError("backend", f"unknown backend {name!r}", BACKENDS)
