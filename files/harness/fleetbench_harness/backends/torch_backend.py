"""PyTorch backend: CPU (float32/bfloat16) or CUDA (float32/float16/bfloat16).

On CUDA the model and inputs use ``channels_last``; ``--compile`` wraps the
model in ``torch.compile``. Thread counts are set explicitly
(``torch.set_num_threads``) and recorded.
"""

from __future__ import annotations

import contextlib
from typing import Any

import numpy as np

from fleetbench_harness.errors import InputError

_DTYPES = {"float32": "float32", "float16": "float16", "bfloat16": "bfloat16"}


class TorchBackend:
    name = "pytorch"

    def __init__(self, device: str, precision: str, threads: int, compile_model: bool = False):
        import torch

        self.torch = torch
        self.device, self.precision, self.threads, self.compile = device, precision, threads, compile_model
        if device not in ("cpu", "cuda"):
            raise InputError("device", f"pytorch backend does not run on {device!r}", ["cpu", "cuda"])
        if device == "cuda" and not torch.cuda.is_available():
            raise InputError("device", f"cuda: torch {torch.__version__} sees no CUDA device", ["cpu"])
        if precision not in _DTYPES:
            raise InputError("precision", f"pytorch backend cannot run {precision}", list(_DTYPES))
        if device == "cpu" and precision == "float16":
            raise InputError(
                "precision", "float16 on the pytorch CPU backend is not supported", ["float32", "bfloat16"]
            )
        self.dtype = getattr(torch, _DTYPES[precision])
        torch.set_num_threads(threads)
        with contextlib.suppress(RuntimeError):  # already set in this process
            torch.set_num_interop_threads(1)
        self.model = None
        self.label_offset = 0

    def load(self, artifact: Any) -> None:
        from fleetbench_harness.backends import torch_models

        torch = self.torch
        if artifact.format != "pth":
            raise InputError(
                "model_path", f"{artifact.path}: the pytorch backend needs a .pth state dict", ["a .pth file"]
            )
        model = torch_models.build(artifact.architecture or "torchvision.resnet50", artifact.path)
        dev = torch.device(self.device)
        if self.device == "cuda":
            model = model.to(dev, dtype=self.dtype, memory_format=torch.channels_last)
        else:
            model = model.to(dtype=self.dtype)
        if self.compile:
            model = torch.compile(model)
        self.model = model
        self.label_offset = int(artifact.label_offset)

    def logits(self, batch: np.ndarray) -> np.ndarray:
        torch = self.torch
        with torch.inference_mode():
            x = torch.from_numpy(batch)
            if self.device == "cuda":
                x = x.to("cuda", non_blocking=True).to(dtype=self.dtype, memory_format=torch.channels_last)
            elif self.dtype != torch.float32:
                x = x.to(self.dtype)
            return self.model(x).float().cpu().numpy()

    def predict(self, batch: np.ndarray) -> np.ndarray:
        torch = self.torch
        with torch.inference_mode():
            x = torch.from_numpy(batch)
            if self.device == "cuda":
                x = x.to("cuda", non_blocking=True).to(dtype=self.dtype, memory_format=torch.channels_last)
            elif self.dtype != torch.float32:
                x = x.to(self.dtype)
            labels = self.model(x).argmax(dim=1).to(torch.float32).cpu().numpy()
        if self.label_offset:
            labels -= self.label_offset
        return labels

    def warmup(self, batch: np.ndarray, runs: int = 2) -> None:
        for _ in range(runs + (3 if self.compile else 0)):
            self.predict(batch)

    def info(self) -> dict[str, Any]:
        torch = self.torch
        prov = [torch.cuda.get_device_name(0)] if self.device == "cuda" else ["cpu"]
        return {
            "name": self.name,
            "version": torch.__version__,
            "providers": prov,
            "device": self.device,
            "threads": {"intra_op": torch.get_num_threads(), "inter_op": torch.get_num_interop_threads()},
            "precision": self.precision,
            "compile": self.compile,
            "channels_last": self.device == "cuda",
        }
