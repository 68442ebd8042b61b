"""Image classification (ImageNet: resnet50, efficientnet, mobilenet).

* dataset: an ImageNet-layout folder (images + ``val_map.txt``), or the offline
  ``skimage-smoke`` set; preprocessing per the registry's ``preprocessing``
  entry into an npy cache (:mod:`.dataset`);
* model: the registry file artifact; EfficientNet-Lite0's ONNX file is exported
  from its PyTorch weights (:mod:`.export`); PyTorch architectures in :mod:`.models`;
* workload: float32 class id per sample (:mod:`.workload`);
* accuracy: top-1 against ``val_map.txt`` (:mod:`.accuracy`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fleetbench_harness import artifacts, registry
from fleetbench_harness.errors import InputError
from fleetbench_harness.tasks.base import RunContext, TaskFamily


def _num_classes(entry: dict[str, Any]) -> int:
    return int(registry.dataset(entry)["num_classes"])


def _spec(ctx: RunContext, art: Any = None) -> dict[str, Any]:
    spec = registry.preprocessing(ctx.entry)
    if art is not None and art.spec.get(
        "input_layout"
    ):  # artifact-level layout (registry `input_layout`) wins
        spec["layout"] = art.spec["input_layout"]
    return spec


class ImageClassification(TaskFamily):
    name = "image_classification"
    default_batch = 8

    def check_dataset(self, ctx: RunContext) -> None:
        from fleetbench_harness.tasks.image_classification.dataset import read_val_map

        read_val_map(ctx.dataset_path, _num_classes(ctx.entry))

    def prepare_model(self, ctx: RunContext) -> Any:
        from fleetbench_harness.tasks.image_classification.export import export_onnx

        return artifacts.prepare(
            ctx.model,
            ctx.backend,
            ctx.precision,
            ctx.cache_dir,
            ctx.model_path,
            ctx.stand_in,
            exporter=export_onnx,
        )

    def prepare_dataset(self, ctx: RunContext, source: str | None) -> dict[str, Any]:
        from fleetbench_harness.tasks.image_classification import dataset

        changed = False
        if source == "skimage-smoke":
            path, _, changed = dataset.build_skimage_smoke(Path(ctx.cache_dir) / "datasets" / "skimage-smoke")
        elif source:
            raise InputError(
                "source",
                f"the image_classification family has no bundled source {source!r}",
                ["skimage-smoke"],
            )
        else:
            path, source = Path(ctx.dataset_path), "dataset_path"
        _, _, info = dataset.load_preprocessed(
            path, _spec(ctx), ctx.cache_dir, _num_classes(ctx.entry), ctx.count, threads=ctx.threads
        )
        return {
            "path": str(Path(path).resolve()),
            "count": info["count"],
            "source": source,
            "changed": bool(changed or info["changed"]),
            "cache": info["path"],
        }

    def workload(self, ctx: RunContext, art: Any) -> Any:
        from fleetbench_harness import backends
        from fleetbench_harness.tasks.image_classification import dataset
        from fleetbench_harness.tasks.image_classification.workload import ClassificationWorkload

        be = backends.create(ctx.backend, ctx.device, ctx.precision, ctx.threads, ctx.compile)
        if ctx.backend == "onnxruntime":
            be.load(art.path)
            feed = be.input_names[0]

            def logits(batch):
                return be.run({feed: batch})[0]

        else:
            from fleetbench_harness.tasks.image_classification import models

            if art.format != "pth":
                raise InputError(
                    "model_path", f"{art.path}: the pytorch backend needs a .pth state dict", ["a .pth file"]
                )
            be.load(
                models.build(art.spec.get("architecture") or "torchvision.resnet50", art.path),
                channels_last=True,
            )
            logits = be.run
        data, _labels, ds_info = dataset.load_preprocessed(
            ctx.dataset_path,
            _spec(ctx, art),
            ctx.cache_dir,
            _num_classes(ctx.entry),
            ctx.count,
            threads=ctx.threads,
        )
        offset = (
            0
            if art.stand_in
            else int(art.spec.get("output", ctx.entry.get("output", {})).get("label_offset", 0))
        )
        wl = ClassificationWorkload(data, logits, int(ctx.entry["performance_sample_count"]), offset)
        wl.backend_info = be.info()
        wl.dataset_info = {
            "path": str(Path(ctx.dataset_path).resolve()),
            "count": len(data),
            "preprocessing": _spec(ctx, art)["name"],
            "cache": ds_info["path"],
            "cache_built": ds_info["changed"],
        }
        return wl

    def accuracy(self, ctx: RunContext, accuracy_log: Path, output: Path) -> dict[str, Any]:
        from fleetbench_harness.tasks.image_classification import accuracy

        res = accuracy.top1(
            ctx.model, accuracy_log, ctx.dataset_path, int(ctx.options.get("label_offset", 0))
        )
        accuracy.write(res, output)
        return res


FAMILY = ImageClassification()
FAMILY.options = {"label_offset": int}
