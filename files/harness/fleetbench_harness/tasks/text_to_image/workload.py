"""SDXL workload: captions in, one uint8 RGB image per sample out.

* samples: the captions (strings; loading is indexing, nothing to bring into memory);
* a batch: the engine generates ``len(indices)`` images from the same initial latent (the
  reference's fixed latents, broadcast), the MLPerf negative prompt, 20 Euler steps, guidance 8;
* response: the image's bytes, uint8 (H, W, 3) RGB row-major, as the reference writes them
  (accuracy_coco.py reads ``np.frombuffer(bytes.fromhex(data), np.uint8).reshape(H, W, 3)``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from fleetbench_harness.loadgen import Workload


class TextToImageWorkload(Workload):
    """Workload over captions and an engine with ``generate(prompts, **gen) -> (N, H, W, 3) uint8``."""

    name = "text_to_image"

    def __init__(self, captions: list[str], engine: Any, latents: Any, gen: dict[str, Any], psc: int):
        self.captions = list(captions)
        self.engine = engine
        self.latents = latents
        self.gen = dict(gen)
        self.total_sample_count = len(self.captions)
        self.performance_sample_count = int(min(psc, self.total_sample_count))

    def _generate(self, prompts: list[str], steps: int | None = None) -> np.ndarray:
        g = self.gen
        return self.engine.generate(
            prompts,
            latents=self.latents,
            negative_prompt=g["negative_prompt"],
            steps=int(steps or g["steps"]),
            guidance=float(g["guidance"]),
            height=int(g["height"]),
            width=int(g["width"]),
        )

    def run_batch(self, indices: np.ndarray) -> np.ndarray:
        return self._generate([self.captions[int(i)] for i in indices])

    def encode(self, outputs: np.ndarray, indices: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(outputs, dtype=np.uint8)

    def warmup(self, batch_size: int) -> None:
        # Two short generations at the run's batch size (allocator and kernel choice per shape).
        prompts = [self.captions[i % self.total_sample_count] for i in range(batch_size)]
        self._generate(prompts, steps=2)
        if batch_size > 1:
            self._generate(prompts[:1], steps=2)

    def info(self) -> dict[str, Any]:
        return {
            "family": self.name,
            "response": f"uint8 RGB image ({self.gen['height']}, {self.gen['width']}, 3)",
            "steps": self.gen["steps"],
            "guidance": self.gen["guidance"],
            "negative_prompt": self.gen["negative_prompt"],
            "height": self.gen["height"],
            "width": self.gen["width"],
            "latents_sha256": self.gen.get("latents_sha256"),
        }
