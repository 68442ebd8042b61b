"""PyTorch backend: CPU (float32/bfloat16) or CUDA (float32/float16/bfloat16).

The family builds the ``nn.Module``; this backend moves and casts it, runs it
under ``inference_mode`` and converts numpy in/out. On CUDA the family may ask
for ``channels_last``; ``--compile`` wraps the model in ``torch.compile``.
Thread counts are set explicitly (``torch.set_num_threads``) and recorded.
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
        self.channels_last = False

    def load(self, module: Any, channels_last: bool = False) -> Any:
        """Take a family-built ``nn.Module``: eval mode, moved to the device, cast to the precision.

        ``channels_last`` (CUDA only) uses the NHWC memory format for 4-D convolutional inputs.
        Returns the module as run (compiled when ``compile_model``).
        """
        torch = self.torch
        model = module.eval()
        self.channels_last = bool(channels_last and self.device == "cuda")
        if self.channels_last:
            model = model.to(torch.device("cuda"), dtype=self.dtype, memory_format=torch.channels_last)
        else:
            model = model.to(torch.device(self.device), dtype=self.dtype)
        if self.compile:
            model = torch.compile(model)
        self.model = model
        return model

    def tensor(self, x: np.ndarray) -> Any:
        """A numpy array as a tensor on the device; floating arrays cast to the precision."""
        torch = self.torch
        t = torch.from_numpy(x)
        if self.device == "cuda":
            t = t.to("cuda", non_blocking=True)
        if t.is_floating_point() and t.dtype != self.dtype:
            t = t.to(self.dtype)
        if self.channels_last and t.dim() == 4:
            t = t.contiguous(memory_format=torch.channels_last)
        return t

    def run(self, inputs: np.ndarray | dict[str, np.ndarray]) -> np.ndarray | tuple:
        """Call the module under ``inference_mode``: an array (or keyword arrays) in, float32 numpy out.

        A tuple/list output gives a tuple of arrays.
        """
        torch = self.torch
        with torch.inference_mode():
            if isinstance(inputs, dict):
                out = self.model(**{k: self.tensor(v) for k, v in inputs.items()})
            else:
                out = self.model(self.tensor(inputs))
            if isinstance(out, (tuple, list)):
                return tuple(o.float().cpu().numpy() for o in out)
            return out.float().cpu().numpy()

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
            "channels_last": self.channels_last,
        }
