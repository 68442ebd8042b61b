"""onnxruntime backend: CPU EP, or CUDA EP with ``--device cuda``.

The CUDA EP is never replaced by the CPU EP silently: without
``CUDAExecutionProvider`` in the installed wheel, :class:`OrtBackend` raises
:class:`InputError` naming the providers it has.

``precision`` names the model file's precision (the family picks the file);
this backend does not cast.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from fleetbench_harness.errors import InputError


class OrtBackend:
    name = "onnxruntime"

    def __init__(self, device: str, precision: str, threads: int):
        import onnxruntime as ort

        self._ort = ort
        self.device, self.precision, self.threads = device, precision, threads
        if precision not in ("float32", "int8"):
            raise InputError(
                "precision",
                f"onnxruntime backend runs float32 or int8 model files, not {precision}",
                ["float32", "int8"],
            )
        avail = ort.get_available_providers()
        if device == "cuda":
            if "CUDAExecutionProvider" not in avail:
                raise InputError(
                    "device",
                    f"cuda: this onnxruntime {ort.__version__} wheel has no CUDAExecutionProvider "
                    f"(it has {', '.join(avail)}); install onnxruntime-gpu",
                    ["cpu"],
                )
            self.providers = ["CUDAExecutionProvider", "CPUExecutionProvider"]
        elif device == "cpu":
            self.providers = ["CPUExecutionProvider"]
        else:
            raise InputError("device", f"onnxruntime backend does not run on {device!r}", ["cpu", "cuda"])
        self.session = None

    def load(self, path: str) -> None:
        """Create the InferenceSession (intra-op = threads, inter-op = 1, sequential, all graph opts)."""
        ort = self._ort
        so = ort.SessionOptions()
        so.intra_op_num_threads = self.threads
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        so.log_severity_level = 3
        self.session = ort.InferenceSession(str(path), sess_options=so, providers=self.providers)
        if self.device == "cuda" and "CUDAExecutionProvider" not in self.session.get_providers():
            raise InputError(
                "device",
                "cuda: onnxruntime could not enable CUDAExecutionProvider "
                f"(session has {self.session.get_providers()})",
                ["cpu"],
            )
        self.input_names = [i.name for i in self.session.get_inputs()]
        self.output_names = [o.name for o in self.session.get_outputs()]

    def inputs(self) -> list[dict[str, Any]]:
        """The model's inputs: [{"name", "shape" (ints or dim names), "type" (e.g. tensor(int64))}]."""
        return [{"name": i.name, "shape": list(i.shape), "type": i.type} for i in self.session.get_inputs()]

    def outputs(self) -> list[dict[str, Any]]:
        """The model's outputs, like :meth:`inputs`."""
        return [{"name": o.name, "shape": list(o.shape), "type": o.type} for o in self.session.get_outputs()]

    def run(self, feeds: dict[str, np.ndarray], output_names: list[str] | None = None) -> list[np.ndarray]:
        """One ``session.run``: feeds by input name -> outputs (session order, or ``output_names``)."""
        return self.session.run(output_names, feeds)

    def info(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self._ort.__version__,
            "providers": list(self.session.get_providers()) if self.session else self.providers,
            "device": self.device,
            "threads": {"intra_op": self.threads, "inter_op": 1},
            "precision": self.precision,
        }
