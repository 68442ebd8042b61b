"""3D medical segmentation (3d-unet-99 / 3d-unet-99.9, KiTS19; LoadGen key ``3d-unet``).

* dataset: a KiTS19 data folder (``kits19_path``) or the offline ``kits19-synthetic`` set (stand-in
  runs only); the reference preprocessing into a per-case npy cache (:mod:`.dataset`,
  :mod:`.synthetic`);
* model: the registry's zenodo 5597155 files (ONNX dynbatch; the PyTorch checkpoint in our
  :mod:`.model` ``Unet3D``; the TorchScript ``.ptc`` as model_path), or the generated stand-in
  ``tiny-unet3d`` (a folder: ``model.pth`` + ``model.onnx`` + ``manifest.json``);
* workload: sliding-window inference, the label volume as response (:mod:`.workload`);
  equal-issue mode is mlperf.conf's ``3d-unet.*.sample_concatenate_permutation = 1`` (LoadGen);
* accuracy: mean DICE of kidney and tumour as accuracy_kits.py (:mod:`.accuracy`).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

from fleetbench_harness import artifacts, registry
from fleetbench_harness.errors import InputError
from fleetbench_harness.tasks.base import RunContext, TaskFamily

SYNTHETIC = "kits19-synthetic"
STARTER = "kits19-starter"
#: Bumped when the generated stand-in's files change, so cached folders are rebuilt.
STAND_IN_VERSION = 1
STAND_IN_FILES = ("manifest.json", "model.pth", "model.onnx")


def _ds(ctx: RunContext) -> dict[str, Any]:
    return registry.dataset(ctx.entry)


def _spec(ctx: RunContext) -> dict[str, Any]:
    """The preprocessing/sliding-window spec; a stand-in's ``roi_shape`` overrides the ROI."""
    spec = dict(registry.preprocessing(ctx.entry))
    sin = ctx.stand_in_entry()
    if sin and sin.get("roi_shape"):
        spec["roi_shape"] = list(sin["roi_shape"])
        spec["name"] = f"{spec['name']}-roi{sin['roi_shape'][0]}"
    return spec


def _missing_dataset(why: str) -> InputError:
    from fleetbench_harness.tasks.segmentation_3d.dataset import SOURCE_HINT

    return InputError("kits19_path", f"{why}; {SOURCE_HINT} (registry source {STARTER})", ["kits19_path=DIR"])


def _stand_in_key(spec: dict[str, Any], roi: list[int]) -> str:
    blob = {"v": STAND_IN_VERSION, "filters": spec["filters"], "seed": spec["seed"], "roi": roi}
    return hashlib.sha256(json.dumps(blob, sort_keys=True).encode()).hexdigest()[:16]


def _check_stand_in_folder(folder: Path, name: str) -> dict[str, Any]:
    """The manifest of a generated stand-in folder, every component present and its sha256 right.

    Raises:
        InputError(model_path): not a folder, a component missing, or a file changed since built.
    """
    if not folder.is_dir():
        raise InputError(
            "model_path", f"{folder} is not a {name} folder", [f"a folder with {', '.join(STAND_IN_FILES)}"]
        )
    missing = [f for f in STAND_IN_FILES if not (folder / f).is_file()]
    if missing:
        raise InputError(
            "model_path",
            f"{folder}: the {name} folder lacks {', '.join(missing)}",
            [", ".join(STAND_IN_FILES)],
        )
    man = json.loads((folder / "manifest.json").read_text())
    if man.get("name") != name:
        raise InputError("model_path", f"{folder} holds {man.get('name')!r}, not {name}", [name])
    for f, sha in man.get("sha256", {}).items():
        if artifacts.file_digest(folder / f, "sha256") != sha:
            raise InputError(
                "model_path",
                f"{folder / f} changed since it was built (sha256)",
                ["rebuild: omit model_path"],
            )
    return man


def _build_stand_in(ctx: RunContext, spec: dict[str, Any]) -> tuple[Path, bool]:
    from fleetbench_harness.tasks.segmentation_3d import model

    roi = [int(r) for r in _spec(ctx)["roi_shape"]]
    folder = (Path(ctx.cache_dir) / "models" / f"{spec['name']}-{_stand_in_key(spec, roi)}").resolve()
    if folder.is_dir():
        try:
            _check_stand_in_folder(folder, spec["name"])
            return folder, False
        except InputError:
            shutil.rmtree(folder)
    import torch

    tmp = folder.with_name(folder.name + f".part{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        net = model.build_random(tuple(spec["filters"]), int(spec["seed"]))
        torch.save({"best_model_state_dict": net.state_dict()}, tmp / "model.pth")
        model.export_onnx(net, tmp / "model.onnx", tuple(roi))
        man = {
            "kind": "generated-stand-in",
            "name": spec["name"],
            "filters": list(spec["filters"]),
            "seed": int(spec["seed"]),
            "roi_shape": roi,
            "sha256": {f: artifacts.file_digest(tmp / f, "sha256") for f in ("model.pth", "model.onnx")},
        }
        (tmp / "manifest.json").write_text(json.dumps(man, indent=1, sort_keys=True))
        os.replace(tmp, folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder, True


class Segmentation3D(TaskFamily):
    name = "segmentation_3d"
    # Cases differ hugely in size: a "batch" is a loop over cases; windows batch inside a case.
    default_batch = 1
    options = {"window_batch": int}  # noqa: RUF012

    def check_dataset(self, ctx: RunContext) -> None:
        from fleetbench_harness.tasks.segmentation_3d import dataset

        if ctx.dataset_path is None:
            raise _missing_dataset("no KiTS19 dataset given")
        dataset.resolve(ctx.dataset_path, _ds(ctx), ctx.count)

    def prepare_model(self, ctx: RunContext) -> Any:
        if ctx.stand_in:
            spec = artifacts.stand_in_spec(ctx.model, ctx.entry, ctx.stand_in, ctx.backend)
            if ctx.model_path:
                folder, changed = Path(ctx.model_path), False
                man = _check_stand_in_folder(folder, spec["name"])
            else:
                folder, changed = _build_stand_in(ctx, spec)
                man = _check_stand_in_folder(folder, spec["name"])
            digest = hashlib.sha256(json.dumps(man["sha256"], sort_keys=True).encode()).hexdigest()
            return artifacts.ModelArtifact(
                str(folder),
                digest,
                str(spec["label"]),
                spec["name"],
                changed,
                "unet3d-folder",
                spec,
                source="model_path" if ctx.model_path else "generated",
                extra={"filters": man["filters"], "seed": man["seed"]},
            )
        model_path = ctx.model_path
        art = artifacts._artifact_entry(ctx.model, ctx.entry, ctx.backend, ctx.precision)
        if model_path and Path(model_path).is_dir():
            # A model folder (e.g. the reference's build/model): it must hold the registry file.
            want = Path(model_path) / art["name"]
            ts = art.get("torchscript")
            if not want.is_file() and ts and (Path(model_path) / ts["name"]).is_file():
                want = Path(model_path) / ts["name"]
            if not want.is_file():
                names = [art["name"]] + ([ts["name"]] if ts else [])
                raise InputError(
                    "model_path", f"{model_path}: the model folder lacks {' or '.join(names)}", names
                )
            model_path = str(want)
        if ctx.backend == "pytorch" and model_path and str(model_path).endswith(".ptc"):
            ts = dict(art["torchscript"])
            p = Path(model_path)
            if not p.is_file():
                raise InputError("model_path", f"model file {p} does not exist", "an existing model file")
            sha, warning = artifacts._verify(p, ts, "model_path")
            return artifacts.ModelArtifact(
                str(p),
                sha,
                ts["name"],
                None,
                False,
                "torchscript",
                ts,
                checksum_warning=warning,
                source="model_path",
            )
        res = artifacts.prepare(ctx.model, ctx.backend, ctx.precision, ctx.cache_dir, model_path, None)
        return res

    def prepare_dataset(self, ctx: RunContext, source: str | None) -> dict[str, Any]:
        from fleetbench_harness.tasks.segmentation_3d import dataset, synthetic

        ds = _ds(ctx)
        changed = False
        if source == SYNTHETIC:
            if not ctx.stand_in:
                raise _missing_dataset(
                    f"the KiTS19 inference set is not on this host, and the offline {SYNTHETIC} set is only "
                    f"for stand-in runs (stand_in_model={', '.join(ctx.entry.get('stand_ins') or {})})"
                )
            n = next((int(s.get("cases", 4)) for s in ds.get("sources", []) if s.get("name") == SYNTHETIC), 4)
            # -e count=N: N cases (up to the 43 of the inference set), e.g. all 43 for a run whose
            # performance_sample_count and accuracy coverage the checker judges (3d-unet: 43)
            n = int(ctx.count) if ctx.count else n
            path, changed = synthetic.build(
                Path(ctx.cache_dir) / "datasets" / SYNTHETIC, list(ds["inference_cases"]), n
            )
        elif source == STARTER:
            raise _missing_dataset("the KiTS19 starter code is run by you, not by this harness")
        elif source:
            raise InputError(
                "source", f"the {self.name} family has no bundled source {source!r}", [SYNTHETIC]
            )
        else:
            if ctx.dataset_path is None:
                raise _missing_dataset("no KiTS19 dataset given")
            path, source = Path(ctx.dataset_path), "dataset_path"
        cache = dataset.load_preprocessed(path, ds, _spec(ctx), ctx.cache_dir, ctx.count)
        return {
            "path": str(Path(path).resolve()),
            "count": len(cache["cases"]),
            "source": source,
            "changed": bool(changed or cache["changed"]),
            "cache": cache["folder"],
        }

    def workload(self, ctx: RunContext, art: Any) -> Any:
        from fleetbench_harness import backends
        from fleetbench_harness.tasks.segmentation_3d import dataset
        from fleetbench_harness.tasks.segmentation_3d.workload import Segmentation3DWorkload

        spec = _spec(ctx)
        be = backends.create(ctx.backend, ctx.device, ctx.precision, ctx.threads, ctx.compile)
        if ctx.backend == "onnxruntime":
            path = Path(art.path) / "model.onnx" if art.format == "unet3d-folder" else Path(art.path)
            be.load(str(path))
            feed = be.input_names[0]

            def infer(x):
                return be.run({feed: x})[0]

        else:
            from fleetbench_harness.tasks.segmentation_3d import model

            try:
                if art.format == "unet3d-folder":
                    net = model.load_checkpoint(Path(art.path) / "model.pth", tuple(art.spec["filters"]))
                elif art.format == "torchscript":
                    import torch

                    net = torch.jit.load(art.path, map_location="cpu")
                else:
                    net = model.load_checkpoint(art.path)
            except ValueError as exc:
                raise InputError("model_path", str(exc), ["the 3D-UNet checkpoint of the registry"]) from None
            be.load(net)
            infer = be.run
        cache = dataset.load_preprocessed(ctx.dataset_path, _ds(ctx), spec, ctx.cache_dir, ctx.count)
        wl = Segmentation3DWorkload(cache, infer, spec, int(ctx.options.get("window_batch", 1)))
        wl.backend_info = be.info()
        wl.dataset_info = {
            "path": str(Path(ctx.dataset_path).resolve()),
            "count": len(cache["cases"]),
            "cases": cache["cases"],
            "preprocessing": spec["name"],
            "cache": cache["folder"],
            "cache_built": cache["changed"],
        }
        return wl

    def accuracy(self, ctx: RunContext, accuracy_log: Path, output: Path) -> dict[str, Any]:
        from fleetbench_harness.tasks.segmentation_3d import accuracy, dataset

        cache = dataset.load_preprocessed(ctx.dataset_path, _ds(ctx), _spec(ctx), ctx.cache_dir, ctx.count)
        res = accuracy.score(
            accuracy_log, cache["cases"], cache["shapes"], lambda case: dataset.label(cache["folder"], case)
        )
        if ctx.stand_in:
            res["stand_in"] = ctx.stand_in
        accuracy.write(res, output)
        return res


FAMILY = Segmentation3D()
