"""EfficientNet-Lite0 -> ONNX export (the registry's ``export_from: pytorch`` artifact of ``efficientnet``).

Exported once from the PyTorch weights, float32, dynamic batch (``N``), opset
from the registry (17); :func:`fleetbench_harness.artifacts.prepare` caches
the result under the weights' sha256.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any


def export_onnx(weights: Path, dest: Path, spec: dict[str, Any]) -> None:
    """Write the ONNX export of the classifier at ``weights`` to ``dest`` (input ``input`` (N,3,224,224))."""
    import torch

    from fleetbench_harness.tasks.image_classification import models

    architecture = spec.get("source", {}).get("architecture", "efficientnet-lite0")
    model = models.build(architecture, weights)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model,
            torch.zeros(1, 3, 224, 224),
            str(dest),
            input_names=["input"],
            output_names=["logits"],
            dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}},
            opset_version=int(spec.get("opset", 17)),
            dynamo=False,
        )
