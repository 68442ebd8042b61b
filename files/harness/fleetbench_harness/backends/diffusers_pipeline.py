"""A diffusers text-to-image pipeline engine (family-free): load a diffusers folder, generate images.

The engine knows diffusers and PyTorch, not MLPerf: the pipeline and scheduler classes, steps,
guidance, negative prompt, size and initial latents come from the caller (the task family reads
them from the registry). Output: uint8 RGB images, shape (N, H, W, 3), computed from the
pipeline's ``output_type="pt"`` tensors in [0, 1] as ``(x * 255).round()``.

Precisions: float32 on CPU; float32, float16, bfloat16 on CUDA.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from fleetbench_harness.errors import InputError

_DTYPES = {"float32": "float32", "float16": "float16", "bfloat16": "bfloat16"}


class DiffusersPipeline:
    """One loaded diffusers pipeline on one device.

    Args:
        device: ``cpu`` | ``cuda``; precision: ``float32`` | ``float16`` | ``bfloat16`` (CUDA only
            for the reduced ones); threads: torch intra-op threads.

    Raises:
        InputError(precision|device): a precision the device cannot run, or CUDA absent.
    """

    def __init__(self, device: str = "cpu", precision: str = "float32", threads: int = 1):
        import torch

        if precision not in _DTYPES:
            raise InputError("precision", f"diffusers pipelines run {precision!r} nowhere", sorted(_DTYPES))
        if device == "cpu" and precision != "float32":
            raise InputError("precision", f"{precision} on CPU is not supported by this engine", ["float32"])
        if device == "cuda" and not torch.cuda.is_available():
            raise InputError("device", "cuda requested but torch sees no CUDA device", ["cpu"])
        if device not in ("cpu", "cuda"):
            raise InputError("device", f"unknown device {device!r}", ["cpu", "cuda"])
        self.torch = torch
        self.device = device
        self.precision = precision
        self.dtype = getattr(torch, _DTYPES[precision])
        self.threads = int(threads)
        torch.set_num_threads(max(1, self.threads))
        self.pipe: Any = None
        self.folder: str | None = None

    def load(
        self,
        folder: str | Path,
        pipeline: str,
        scheduler: str,
        scheduler_folder: str | Path | None = None,
    ) -> None:
        """Load ``folder`` (a diffusers folder with model_index.json) as ``diffusers.<pipeline>``
        with ``diffusers.<scheduler>`` read from ``scheduler_folder`` (default ``<folder>/scheduler``).
        Local files only (never the Hub)."""
        import diffusers
        import transformers

        diffusers.utils.logging.disable_progress_bar()  # load bars would flood the run's console log
        transformers.utils.logging.disable_progress_bar()
        pipe_cls = getattr(diffusers, pipeline)
        sched_cls = getattr(diffusers, scheduler)
        sched = sched_cls.from_pretrained(str(scheduler_folder or Path(folder) / "scheduler"))
        kwargs: dict[str, Any] = {"scheduler": sched, "dtype": self.dtype, "local_files_only": True}
        if pipeline.startswith("StableDiffusionXL"):
            kwargs["add_watermarker"] = False  # the reference loads without the invisible watermark
        self.pipe = pipe_cls.from_pretrained(str(folder), **kwargs)
        self.pipe.to(self.device)
        self.pipe.set_progress_bar_config(disable=True)
        self.folder = str(folder)

    def generate(
        self,
        prompts: list[str],
        *,
        latents: Any,
        negative_prompt: str,
        steps: int,
        guidance: float,
        height: int,
        width: int,
    ) -> np.ndarray:
        """Images for ``prompts``: uint8 array (N, height, width, 3).

        ``latents``: a torch tensor (1, C, height / s, width / s) shared by every prompt (the
        MLPerf text-to-image reference starts each sample from the same latent) or (N, C, h, w).
        """
        torch = self.torch
        n = len(prompts)
        lat = latents if latents.shape[0] == n else latents.expand(n, *latents.shape[1:])
        lat = lat.to(device=self.device, dtype=self.dtype)
        with torch.inference_mode():
            out = self.pipe(
                prompt=list(prompts),
                negative_prompt=[negative_prompt] * n,
                num_inference_steps=int(steps),
                guidance_scale=float(guidance),
                height=int(height),
                width=int(width),
                latents=lat,
                output_type="pt",
            ).images
            images = (out.float().permute(0, 2, 3, 1) * 255).round().to(torch.uint8)
        return np.ascontiguousarray(images.cpu().numpy())

    def info(self) -> dict[str, Any]:
        """Provenance for harness.json ``backend``."""
        import diffusers

        return {
            "name": "diffusers",
            "version": diffusers.__version__,
            "torch": self.torch.__version__,
            "device": self.device,
            "precision": self.precision,
            "threads": self.threads,
            "pipeline": type(self.pipe).__name__ if self.pipe is not None else None,
            "scheduler": type(self.pipe.scheduler).__name__ if self.pipe is not None else None,
        }
