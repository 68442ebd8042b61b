"""onnxruntime backend: CPU EP, or CUDA EP with ``--device cuda``.

The CUDA EP is never replaced by the CPU EP silently: without
``CUDAExecutionProvider`` in the installed wheel, :class:`OrtBackend` raises
:class:`InputError` naming the providers it has.
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
        if precision != "float32":
            raise InputError(
                "precision", f"onnxruntime backend runs the float32 models only, not {precision}", ["float32"]
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
        self.label_offset = 0

    def load(self, artifact: Any) -> None:
        """Create the InferenceSession (intra-op = threads, inter-op = 1, sequential, all graph opts)."""
        ort = self._ort
        so = ort.SessionOptions()
        so.intra_op_num_threads = self.threads
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        so.log_severity_level = 3
        self.session = ort.InferenceSession(artifact.path, sess_options=so, providers=self.providers)
        if self.device == "cuda" and "CUDAExecutionProvider" not in self.session.get_providers():
            raise InputError(
                "device",
                "cuda: onnxruntime could not enable CUDAExecutionProvider "
                f"(session has {self.session.get_providers()})",
                ["cpu"],
            )
        self.input_name = self.session.get_inputs()[0].name
        self.output_name = self.session.get_outputs()[0].name
        self.label_offset = int(artifact.label_offset)

    def logits(self, batch: np.ndarray) -> np.ndarray:
        """Raw model output (N, classes) float32."""
        return self.session.run([self.output_name], {self.input_name: batch})[0]

    def predict(self, batch: np.ndarray) -> np.ndarray:
        out = self.logits(batch)
        labels = out.reshape(out.shape[0], -1).argmax(axis=1).astype(np.float32)
        if self.label_offset:
            labels -= self.label_offset
        return labels

    def warmup(self, batch: np.ndarray, runs: int = 2) -> None:
        for _ in range(runs):
            self.logits(batch)

    def info(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self._ort.__version__,
            "providers": list(self.session.get_providers()) if self.session else self.providers,
            "device": self.device,
            "threads": {"intra_op": self.threads, "inter_op": 1},
            "precision": self.precision,
        }
