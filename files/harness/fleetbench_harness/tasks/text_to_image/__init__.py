"""Text to image (Stable Diffusion XL on COCO-2014 captions; mlcommons/inference text_to_image/).

* dataset: the reference's captions_source.tsv (5,000 prompts) or the bundled ``captions-smoke``
  set (:mod:`.dataset`);
* model: a diffusers SDXL folder (MLCommons R2 checkpoints, upstream
  stabilityai/stable-diffusion-xl-base-1.0, ``model_path``, the cache) plus the reference's
  fixed latents, or the generated ``tiny-sdxl`` stand-in (:mod:`.model`);
* workload: StableDiffusionXLPipeline + EulerDiscreteScheduler through
  :mod:`fleetbench_harness.backends.diffusers_pipeline`; the response is the uint8 image
  (:mod:`.workload`);
* accuracy: FID and CLIP score as accuracy_coco.py, the checker's images kept (:mod:`.accuracy`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fleetbench_harness.errors import InputError
from fleetbench_harness.tasks.base import RunContext, TaskFamily

BUNDLED = ("captions-smoke",)


class TextToImage(TaskFamily):
    name = "text_to_image"
    options = {"scorer_dir": str}  # noqa: RUF012 - class-level option table, as the base class
    # One image per sample costs seconds to minutes: small batches keep Server latencies sane.
    default_batch = 1

    def check_dataset(self, ctx: RunContext) -> None:
        from fleetbench_harness.tasks.text_to_image import dataset

        dataset.read_captions(ctx.dataset_path, ctx.count)

    def prepare_model(self, ctx: RunContext) -> Any:
        from fleetbench_harness.tasks.text_to_image import model

        if ctx.backend != "pytorch":
            raise InputError("backend", f"{ctx.model} runs on diffusers (PyTorch)", ["pytorch"])
        cache = Path(ctx.cache_dir)
        if ctx.stand_in:
            return model.prepare_stand_in(ctx.model, ctx.entry, ctx.stand_in, cache, ctx.model_path)
        return model.prepare_checkpoint(ctx.model, ctx.entry, ctx.precision, cache, ctx.model_path)

    def prepare_dataset(self, ctx: RunContext, source: str | None) -> dict[str, Any]:
        from fleetbench_harness.tasks.text_to_image import dataset

        changed = False
        if source == "captions-smoke":
            path, changed = dataset.build_smoke(Path(ctx.cache_dir) / "datasets" / "captions-smoke")
        elif source:
            raise InputError("source", f"the text_to_image family has no bundled source {source!r}", BUNDLED)
        else:
            path, source = dataset.captions_file(ctx.dataset_path), "dataset_path"
        caps = dataset.read_captions(path, ctx.count)
        # The run takes a folder (the mlperf_run module checks a directory): the file's own folder when
        # the file has a name the folder lookup finds, else a copy in the cache.
        folder = dataset.dataset_folder(path, Path(ctx.cache_dir))
        return {
            "path": str(folder.resolve()),
            "count": len(caps),
            "source": source,
            "changed": bool(changed),
            "cache": None,
        }

    def workload(self, ctx: RunContext, art: Any) -> Any:
        import torch

        from fleetbench_harness.backends.diffusers_pipeline import DiffusersPipeline
        from fleetbench_harness.tasks.text_to_image import dataset
        from fleetbench_harness.tasks.text_to_image.workload import TextToImageWorkload

        captions = dataset.read_captions(ctx.dataset_path, ctx.count)
        gen = dict(ctx.entry["generation"])
        gen["height"], gen["width"] = art.extra["height"], art.extra["width"]
        gen["latents_sha256"] = art.extra["latents_sha256"]
        engine = DiffusersPipeline(ctx.device, ctx.precision, ctx.threads)
        engine.load(
            art.extra["pipeline_folder"], gen["pipeline"], gen["scheduler"], art.extra["scheduler_folder"]
        )
        latents = torch.load(art.extra["latents"], map_location="cpu", weights_only=True)
        wl = TextToImageWorkload(captions, engine, latents, gen, int(ctx.entry["performance_sample_count"]))
        wl.backend_info = engine.info()
        wl.dataset_info = {
            "path": str(dataset.captions_file(ctx.dataset_path).resolve()),
            "count": len(captions),
            "columns": dataset.columns(),
        }
        return wl

    def accuracy(self, ctx: RunContext, accuracy_log: Path, output: Path) -> dict[str, Any]:
        from fleetbench_harness.tasks.text_to_image import accuracy

        return accuracy.score(ctx, accuracy_log, output)


FAMILY = TextToImage()
