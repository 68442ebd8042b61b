"""Inference engines behind small interfaces: raw inputs in, raw outputs out.

A backend knows nothing of any task family: no post-processing, no model definitions,
no pre- or post-processing. The family gives it the model (a file for
onnxruntime, an ``nn.Module`` for PyTorch) and feeds it arrays::

    b = backends.create("onnxruntime", device, precision, threads)
    b.load(path)                      # onnxruntime: an .onnx file
    outs = b.run({"input": x})        # -> list of output arrays (session output order)

    b = backends.create("pytorch", device, precision, threads, compile_model)
    b.load(module)                    # an nn.Module built by the family (moved/cast here)
    y = b.run(x)                      # numpy in (or a dict of them), numpy out (float32)

    b.info()    # {"name", "version", "providers", "device", "threads", "precision", ...}
"""

from __future__ import annotations

from typing import Any

from fleetbench_harness.errors import InputError

BACKENDS = ("onnxruntime", "pytorch")


def create(name: str, device: str, precision: str, threads: int, compile_model: bool = False) -> Any:
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
