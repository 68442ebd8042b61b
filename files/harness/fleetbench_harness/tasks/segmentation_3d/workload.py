"""3D-UNet workload: one preprocessed case in, its uint8 label volume out.

* ``load_samples`` reads the requested cases' cached float32 volumes into memory;
* ``run_batch`` runs each case's sliding window (:mod:`.sliding_window`) through the backend,
  ``window_batch`` windows per call (cases differ in size, so a batch of cases is a loop);
* ``encode`` returns one :class:`~fleetbench_harness.loadgen.Response` per case: the label
  volume's bytes (uint8, C order, (D, H, W)) as the reference base_SUT.py sends them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from fleetbench_harness.loadgen import Response, Workload
from fleetbench_harness.tasks.segmentation_3d import dataset, sliding_window


class Segmentation3DWorkload(Workload):
    """Workload over a preprocessed KiTS19 cache and ``infer(windows) -> logits``."""

    name = "segmentation_3d"

    def __init__(self, cache: dict[str, Any], infer: Any, spec: dict[str, Any], window_batch: int = 1):
        self.cases = list(cache["cases"])
        self.folder = cache["folder"]
        self.infer = infer
        self.spec = spec
        self.roi = tuple(int(r) for r in spec["roi_shape"])
        self.overlap = float(spec["overlap"])
        self.classes = int(spec.get("num_classes", 3))
        self.window_batch = max(1, int(window_batch))
        self.weights = sliding_window.gaussian_map(
            self.roi[0], float(spec["gaussian_sigma_scale"]) * self.roi[0]
        )
        self.total_sample_count = len(self.cases)
        self.performance_sample_count = len(self.cases)
        self.loaded: dict[int, np.ndarray] = {}

    def load_samples(self, indices: np.ndarray) -> None:
        for i in indices.tolist():
            if i not in self.loaded:
                self.loaded[i] = dataset.image(self.folder, self.cases[i])

    def unload_samples(self, indices: np.ndarray) -> None:
        for i in indices.tolist():
            self.loaded.pop(i, None)

    def segment(self, volume: np.ndarray) -> np.ndarray:
        """uint8 (D, H, W) labels of one (1, D, H, W) volume."""
        return sliding_window.segment(
            volume,
            self.infer,
            self.roi,
            self.overlap,
            num_classes=self.classes,
            window_batch=self.window_batch,
            weights=self.weights,
        )

    def run_batch(self, indices: np.ndarray) -> list[np.ndarray]:
        out = []
        for i in indices.tolist():
            vol = self.loaded.get(i)
            if vol is None:
                raise IndexError(f"sample {i} is not loaded (LoadGen issued a sample the QSL did not load)")
            out.append(self.segment(vol))
        return out

    def encode(self, outputs: list[np.ndarray], indices: np.ndarray) -> list[Response]:
        return [Response(np.ascontiguousarray(o, dtype=np.uint8)) for o in outputs]

    def warmup(self, batch_size: int) -> None:
        # One window at each batch shape the run uses (ORT/torch allocate per shape).
        x = np.zeros((1, 1, *self.roi), dtype=np.float32)
        self.infer(x)
        if self.window_batch > 1:
            self.infer(np.zeros((self.window_batch, 1, *self.roi), dtype=np.float32))

    def info(self) -> dict[str, Any]:
        return {
            "family": self.name,
            "response": "uint8 label volume (D, H, W), C order",
            "roi_shape": list(self.roi),
            "overlap": self.overlap,
            "gaussian_sigma": float(self.spec["gaussian_sigma_scale"]) * self.roi[0],
            "window_batch": self.window_batch,
        }
