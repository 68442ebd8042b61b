"""KiTS19 cases: NIfTI reading, the reference preprocessing and its cache.

Layout (KiTS19 starter code, github.com/neheller/kits19): ``<root>/case_XXXXX/imaging.nii.gz``
(CT, HU) and ``segmentation.nii.gz`` (0 background, 1 kidney, 2 tumour). The cases run, in QSL
order, are ``<root>/inference_cases.json`` when present (a JSON list; every id must be one of the
registry's ``datasets.kits19.inference_cases``), else those 43 (the reference's 42 plus
``case_00400``). A case named in ``duplicates`` (``case_00400``) that has no folder reads its
source's files (``case_00185``), as the reference Makefile's copy would.

Spacing: ``header["pixdim"][1:4]`` in mm, axis order of the array (KiTS19: slice, row, column),
as the reference reads it; it must be finite and positive, and the same for the image and the
segmentation.

Preprocessing (registry ``preprocessing.kits19_3dunet``; reference preprocess.py): resample with
``scipy.ndimage.zoom`` (image order 1, label order 0, ``mode="constant"``, ``cval`` = the volume's
minimum, ``grid_mode=False``) unless the spacing already is the target; clip, ``(x - mean) / std``;
edge-pad each edge to at least the ROI; crop a remainder ``edge % stride`` below ``stride // 2``
(split front/back); constant-pad (image ``pad_value``, label 0) to ``ROI + k x stride``.

Cache: ``<cache-dir>/preprocessed/kits19_3dunet-<n>-<key>/`` with ``<case>.image.npy`` (float32
``(1, D, H, W)``), ``<case>.label.npy`` (uint8 ``(D, H, W)``) and ``manifest.json``; the key hashes
the spec, the case list and each file's name, size and mtime.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import numpy as np

from fleetbench_harness.errors import InputError

CACHE_VERSION = 1
FIELD = "dataset_path"
SOURCE_HINT = (
    "give kits19_path=DIR (on the SUT): a KiTS19 data folder (case_XXXXX/imaging.nii.gz + "
    "segmentation.nii.gz) from the KiTS19 starter code: git clone https://github.com/neheller/kits19 "
    "&& cd kits19 && python3 -m starter_code.get_imaging"
)


def case_list(root: Path, registered: list[str]) -> list[str]:
    """The cases of a dataset folder, in QSL order (see module docstring).

    Raises:
        InputError(dataset_path): not a folder; inference_cases.json unreadable, not a list of
            strings, empty, with a duplicate or a case id not in the registry's list.
    """
    if not root.is_dir():
        raise InputError(FIELD, f"{root} is not a directory", [SOURCE_HINT])
    meta = root / "inference_cases.json"
    if not meta.is_file():
        return list(registered)
    try:
        cases = json.loads(meta.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(FIELD, f"{meta} is not a JSON list of case ids: {exc}", ["case_XXXXX ids"]) from None
    if not isinstance(cases, list) or not cases or not all(isinstance(c, str) for c in cases):
        raise InputError(FIELD, f"{meta} must be a non-empty JSON list of case ids", ["case_XXXXX ids"])
    allowed = set(registered)
    for c in cases:
        if c not in allowed:
            raise InputError(
                FIELD,
                f"{meta}: case id {c!r} is not one of the {len(registered)} KiTS19 inference cases",
                registered,
            )
    if len(set(cases)) != len(cases):
        raise InputError(FIELD, f"{meta} lists a case twice", ["each case once"])
    return cases


def case_files(root: Path, case: str, duplicates: dict[str, str]) -> tuple[Path, Path]:
    """(imaging, segmentation) paths of ``case`` (a duplicate's source when its folder is absent).

    Raises:
        InputError(dataset_path): a file is missing (names the case and where to get it).
    """
    folder = root / case
    if not folder.is_dir() and case in duplicates and (root / duplicates[case]).is_dir():
        folder = root / duplicates[case]
    img, seg = folder / "imaging.nii.gz", folder / "segmentation.nii.gz"
    for p in (img, seg):
        if not p.is_file():
            raise InputError(FIELD, f"KiTS19 case {case}: {p} does not exist", [SOURCE_HINT])
    return img, seg


def _raw_pixdim(img: Any, path: Path) -> Any:
    """pixdim as stored in the file: nibabel's loader replaces a 0 spacing by 1 (with only a
    log warning), which would resample a header without spacing as if it had 1 mm voxels."""
    from nibabel.openers import ImageOpener

    try:
        with ImageOpener(str(path)) as f:
            return type(img.header).from_fileobj(f, check=False)["pixdim"]
    except Exception:  # an unusual container: fall back to the loaded header
        return img.header["pixdim"]


def _spacing(img: Any, path: Path) -> tuple[float, float, float]:
    shape = tuple(int(d) for d in img.shape)
    if len(shape) != 3:
        raise InputError(FIELD, f"{path}: a {len(shape)}-D image, not a 3-D volume", ["3-D NIfTI volumes"])
    try:
        pix = [float(v) for v in _raw_pixdim(img, path)[1:4]]
    except (KeyError, ValueError, TypeError):
        raise InputError(
            FIELD, f"{path}: no pixdim (voxel spacing) in the header", ["pixdim[1:4] in mm"]
        ) from None
    if not all(np.isfinite(v) and v > 0 for v in pix):
        raise InputError(
            FIELD,
            f"{path}: voxel spacing pixdim[1:4] = {pix} is missing or not positive",
            ["pixdim[1:4] > 0 mm (KiTS19: slice thickness, row, column)"],
        )
    return pix[0], pix[1], pix[2]


def read_case(img_path: Path, seg_path: Path) -> tuple[np.ndarray, np.ndarray, tuple[float, float, float]]:
    """(image float32 (D, H, W), label uint8 (D, H, W), spacing mm) of one case, headers checked.

    Raises:
        InputError(dataset_path): unreadable NIfTI, not 3-D, spacing missing/non-positive, image
            and segmentation differing in shape or spacing, labels outside 0..2.
    """
    img, seg = load_headers(img_path, seg_path)
    spacing = _spacing(img, img_path)
    image = np.asarray(img.get_fdata(), dtype=np.float32)
    label = np.asarray(seg.get_fdata()).astype(np.uint8)
    if label.max(initial=0) > 2:
        raise InputError(FIELD, f"{seg_path}: label {int(label.max())} is not 0, 1 or 2", ["0, 1, 2"])
    return image, label, spacing


def load_headers(img_path: Path, seg_path: Path) -> tuple[Any, Any]:
    """nibabel images (headers read, data not) of a case, checked against each other.

    Raises:
        InputError(dataset_path): see :func:`read_case`.
    """
    import nibabel

    out = []
    for p in (img_path, seg_path):
        try:
            out.append(nibabel.load(str(p)))
        except Exception as exc:  # nibabel raises several types for a damaged file
            raise InputError(FIELD, f"{p} is not a readable NIfTI file: {exc}", ["NIfTI-1 .nii.gz"]) from None
    img, seg = out
    s_img, s_seg = _spacing(img, img_path), _spacing(seg, seg_path)
    if tuple(img.shape) != tuple(seg.shape):
        raise InputError(
            FIELD, f"{seg_path}: shape {seg.shape} differs from the imaging's {img.shape}", ["the same shape"]
        )
    if not np.allclose(s_img, s_seg, rtol=1e-4):
        raise InputError(
            FIELD,
            f"{seg_path}: voxel spacing {list(s_seg)} differs from the imaging's {list(s_img)}",
            ["the same pixdim[1:4]"],
        )
    return img, seg


def preprocess(
    image: np.ndarray, label: np.ndarray, spacing: tuple[float, ...], spec: dict[str, Any]
) -> tuple[np.ndarray, np.ndarray]:
    """The reference preprocessing of one case (module docstring).

    Returns:
        (image float32 (1, D, H, W), label uint8 (D, H, W)); every edge ``ROI + k x stride``.
    """
    from scipy import ndimage

    target = [float(v) for v in spec["target_spacing"]]
    if [float(v) for v in spacing] != target:
        zf = np.asarray(spacing, dtype=np.float64) / np.asarray(target, dtype=np.float64)
        image = ndimage.zoom(image, zf, order=1, mode="constant", cval=float(image.min()), grid_mode=False)
        label = ndimage.zoom(label, zf, order=0, mode="constant", cval=int(label.min()), grid_mode=False)
    lo, hi = spec["clip"]
    image = ((np.clip(image, lo, hi) - float(spec["mean"])) / float(spec["std"])).astype(np.float32)
    roi = [int(r) for r in spec["roi_shape"]]
    strides = [int(r * (1 - float(spec["overlap"]))) for r in roi]
    # 1. edge-pad to at least the ROI
    short = [max(0, r - s) for r, s in zip(roi, image.shape, strict=True)]
    pads = [(b // 2, b - b // 2) for b in short]
    image, label = np.pad(image, pads, mode="edge"), np.pad(label, pads, mode="edge")
    # 2. crop a remainder below half a stride
    cut = [s % st for s, st in zip(image.shape, strides, strict=True)]
    cut = [c if c < st // 2 else 0 for c, st in zip(cut, strides, strict=True)]
    sl = tuple(slice(c // 2, s - (c - c // 2)) for c, s in zip(cut, image.shape, strict=True))
    image, label = image[sl], label[sl]
    # 3. constant-pad to ROI + k x stride
    grow = [(st - s % st) % st for s, st in zip(image.shape, strides, strict=True)]
    grow = [g if s + g >= r else g + st for g, s, r, st in zip(grow, image.shape, roi, strides, strict=True)]
    pads = [(g // 2, g - g // 2) for g in grow]
    image = np.pad(image, pads, mode="constant", constant_values=float(spec["pad_value"]))
    label = np.pad(label, pads, mode="constant", constant_values=0)
    return np.ascontiguousarray(image[None], dtype=np.float32), np.ascontiguousarray(label, dtype=np.uint8)


def _key(files: list[tuple[str, Path, Path]], spec: dict[str, Any]) -> str:
    h = hashlib.sha256(json.dumps({"v": CACHE_VERSION, "spec": spec}, sort_keys=True).encode())
    for case, img, seg in files:
        for p in (img, seg):
            st = p.stat()
            h.update(f"{case}\0{p.name}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def resolve(root: str | Path, registry_ds: dict[str, Any], count: int | None) -> list[tuple[str, Path, Path]]:
    """[(case, imaging, segmentation)] of the first ``count`` cases, headers checked (cheap).

    Raises:
        InputError(dataset_path): see :func:`case_list`, :func:`case_files`, :func:`load_headers`;
        InputError(count): count < 1.
    """
    d = Path(root)
    cases = case_list(d, list(registry_ds["inference_cases"]))
    if count is not None:
        if count < 1:
            raise InputError("count", f"{count} is not a positive number of cases", [f"1..{len(cases)}"])
        cases = cases[:count]
    dup = dict(registry_ds.get("duplicates") or {})
    out = []
    for c in cases:
        img, seg = case_files(d, c, dup)
        load_headers(img, seg)
        out.append((c, img, seg))
    return out


def load_preprocessed(
    root: str | Path,
    registry_ds: dict[str, Any],
    spec: dict[str, Any],
    cache_dir: str | Path,
    count: int | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """The preprocessed cases, from the cache or built once (tqdm progress bar on stderr).

    Returns:
        {"cases": [ids], "folder": cache folder, "shapes": [(D, H, W)], "changed": bool, "key"}.
    """
    files = resolve(root, registry_ds, count)
    key = _key(files, spec)
    folder = (
        Path(cache_dir) / "preprocessed" / f"{spec.get('name', 'kits19')}-{len(files)}-{key[:24]}"
    ).resolve()
    manifest = folder / "manifest.json"
    changed = False
    if not manifest.is_file():
        from tqdm import tqdm

        tmp = folder.with_name(folder.name + f".part{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        shapes = []
        try:
            for case, img, seg in tqdm(
                files, desc="preprocess KiTS19", unit="case", file=sys.stderr, disable=not progress
            ):
                image, label, spacing = read_case(img, seg)
                image, label = preprocess(image, label, spacing, spec)
                np.save(tmp / f"{case}.image.npy", image)
                np.save(tmp / f"{case}.label.npy", label)
                shapes.append(list(label.shape))
            (tmp / "manifest.json").write_text(
                json.dumps({"cases": [f[0] for f in files], "shapes": shapes, "key": key}, indent=1)
            )
            if folder.exists():
                shutil.rmtree(folder)
            os.replace(tmp, folder)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        changed = True
    info = json.loads(manifest.read_text())
    return {
        "cases": info["cases"],
        "shapes": [tuple(s) for s in info["shapes"]],
        "folder": str(folder),
        "changed": changed,
        "key": key,
    }


def image(folder: str | Path, case: str) -> np.ndarray:
    """A cached case's float32 (1, D, H, W) volume (read into memory)."""
    return np.load(Path(folder) / f"{case}.image.npy")


def label(folder: str | Path, case: str) -> np.ndarray:
    """A cached case's uint8 (D, H, W) reference label volume."""
    return np.load(Path(folder) / f"{case}.label.npy")
