"""SDXL accuracy as text_to_image/tools/accuracy_coco.py: FID and CLIP score of the logged images.

Input: ``mlperf_log_accuracy.json`` (each ``data`` the hex of one uint8 (H, W, 3) image; each
``qsl_idx`` counts once, first entry wins) and the captions file the run used (row = qsl_idx).

Steps:

1. the checker's images (registry ``models.sdxl.accuracy_images``, every round, plus sample 0 as
   the reference dumps it) are written as ``images/<qsl_idx>.png`` beside accuracy.txt, with
   ``images/captions.txt`` (``<qsl_idx>  <caption>`` lines), whatever happens next;
2. the scorer files (registry ``models.sdxl.scorer``) are looked up in ``--set scorer_dir=DIR``
   or ``<cache>/scorer/``; when any is absent the step writes ``accuracy.txt`` saying accuracy was
   not measured and which files (name, URL) are missing, and returns ``value: None`` with
   ``not_measured`` (the run result carries that reason), never a number;
3. otherwise CLIP_SCORE = mean of ``100 * cos`` (:mod:`.clip_score`) and FID_SCORE = Fréchet
   distance of the images' Inception statistics to the reference statistics (:mod:`.fid`).

accuracy.txt: ``Accuracy Results: {'FID_SCORE': '<float>', 'CLIP_SCORE': '<float>'}``, the line
the reference prints and published submissions hold (the checker's ACC_PATTERN reads it).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from fleetbench_harness import artifacts
from fleetbench_harness.accuracy_log import read_entries
from fleetbench_harness.errors import InputError
from fleetbench_harness.tasks.base import RunContext
from fleetbench_harness.tasks.text_to_image import dataset


def read_images(accuracy_log: str | Path) -> dict[int, np.ndarray]:
    """``qsl_idx -> uint8 (S, S, 3)`` from an accuracy log (square images; first entry wins).

    Raises:
        InputError(accuracy_log): missing/malformed file, or data that is not a square RGB image.
    """
    p = Path(accuracy_log)
    entries = read_entries(p)
    out: dict[int, np.ndarray] = {}
    for e in entries:
        idx = int(e["qsl_idx"])
        if idx in out:
            continue
        raw = np.frombuffer(bytes.fromhex(e["data"]), np.uint8)
        side = math.isqrt(raw.size // 3)
        if raw.size == 0 or side * side * 3 != raw.size:
            raise InputError(
                "accuracy_log",
                f"{p}: qsl_idx {idx} has {raw.size} bytes, not a square RGB image",
                "H*W*3 bytes",
            )
        out[idx] = raw.reshape(side, side, 3)
    return out


def checker_image_ids(entry: dict[str, Any]) -> list[int]:
    """Sample 0 plus every round's checker list (registry ``accuracy_images``), sorted, unique."""
    ids = {0}
    for lst in (entry.get("accuracy_images") or {}).values():
        ids.update(int(i) for i in lst)
    return sorted(ids)


def save_checker_images(
    images: dict[int, np.ndarray], captions: list[str], ids: list[int], folder: Path
) -> list[int]:
    """Write ``<folder>/<id>.png`` for the logged ``ids`` and ``captions.txt``; return the ids written."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    written = [i for i in ids if i in images]
    for i in written:
        Image.fromarray(images[i]).save(folder / f"{i}.png")
    (folder / "captions.txt").write_text("".join(f"{i}  {captions[i]}\n" for i in written), encoding="utf-8")
    return written


def scorer_files(ctx: RunContext) -> tuple[Path, dict[str, Path], list[str]]:
    """(scorer folder, {key: path}, missing lines "name (from URL)") for the registry's scorer files."""
    folder = Path(ctx.options.get("scorer_dir") or Path(ctx.cache_dir) / "scorer")
    spec = ctx.entry["scorer"]
    paths = {key: folder / s["name"] for key, s in spec.items()}
    missing = [f"{paths[k]} (from {s['url']})" for k, s in spec.items() if not paths[k].is_file()]
    return folder, paths, missing


def _verify_scorer(ctx: RunContext, paths: dict[str, Path]) -> dict[str, str]:
    """sha256 of each scorer file, checked where the registry has a digest (or a digest prefix).

    Raises:
        InputError(scorer_dir): a file that does not match.
    """
    digests = {}
    for key, s in ctx.entry["scorer"].items():
        sha = artifacts.file_digest(paths[key], "sha256")
        want, prefix = s.get("sha256"), s.get("sha256_prefix")
        if (want and sha != want) or (prefix and not sha.startswith(prefix)):
            raise InputError(
                "scorer_dir",
                f"{paths[key]}: sha256 {sha} does not match the registry",
                [want or f"{prefix}..."],
            )
        digests[key] = sha
    return digests


def format_line(fid: float, clip: float) -> str:
    """The reference's printed result line."""
    return f"Accuracy Results: {{'FID_SCORE': '{fid!r}', 'CLIP_SCORE': '{clip!r}'}}"


def score(ctx: RunContext, accuracy_log: Path, output: Path) -> dict[str, Any]:
    """Score the log (module docstring); write ``output``; return the accuracy JSON line."""
    captions = dataset.read_captions(ctx.dataset_path)
    images = read_images(accuracy_log)
    beyond = [i for i in images if i >= len(captions)]
    if beyond:
        raise InputError(
            "dataset_path",
            f"qsl_idx {beyond[:5]} beyond the {len(captions)} captions",
            "the dataset the run used",
        )
    image_dir = Path(output).parent / "images"
    written = save_checker_images(images, captions, checker_image_ids(ctx.entry), image_dir)
    base = {
        "metric": "FID_CLIP",
        "unit": "",
        "total": len(images),
        "images": str(image_dir),
        "images_saved": written,
    }
    folder, paths, missing = scorer_files(ctx)
    if missing:
        reason = (
            "accuracy not measured: the scorer weights cannot be fetched here; "
            f"missing {len(missing)} file(s) in {folder}: "
            + "; ".join(missing)
            + " (give --set scorer_dir=DIR holding them)"
        )
        Path(output).write_text(reason + "\n", encoding="utf-8")
        import sys

        print(f"fleetbench_harness: {reason}", file=sys.stderr)
        return {
            **base,
            "value": None,
            "metrics": {},
            "measured": False,
            "not_measured": reason,
            "missing": missing,
        }
    digests = _verify_scorer(ctx, paths)
    fid_value, clip_value = measure(ctx, images, captions, paths)
    Path(output).write_text(format_line(fid_value, clip_value) + "\n", encoding="utf-8")
    return {
        **base,
        "value": fid_value,
        "metrics": {"FID_SCORE": fid_value, "CLIP_SCORE": clip_value},
        "measured": True,
        "scorer_sha256": digests,
    }


def measure(ctx: RunContext, images: dict[int, np.ndarray], captions: list[str], paths: dict[str, Path]):
    """(FID_SCORE, CLIP_SCORE) with the scorer files at ``paths``.

    ``paths`` keys: fid_inception, fid_statistics, clip (registry ``scorer``).
    """
    from fleetbench_harness.tasks.text_to_image import clip_score, fid, tokenizer

    device = "cuda" if ctx.device == "cuda" else "cpu"
    order = sorted(images)
    tok = tokenizer.write_clip_tokenizer(
        tokenizer.vocab_file(ctx.cache_dir), Path(ctx.cache_dir) / "tokenizers" / "clip-scorer"
    )
    scorer = clip_score.ClipScorer(paths["clip"], tok, device)
    clip_value = float(np.mean([scorer.score(captions[i], images[i]) for i in order]))
    net = fid.inception(paths["fid_inception"], device)
    mu_ref, sigma_ref = fid.load_statistics(paths["fid_statistics"])
    mu, sigma = fid.statistics(fid.features(net, [images[i] for i in order], device))
    return fid.frechet_distance(mu_ref, sigma_ref, mu, sigma), clip_value
