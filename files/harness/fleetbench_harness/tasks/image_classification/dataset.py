"""ImageNet-layout datasets and the registry's preprocessing.

Layout (MLPerf): a folder of images plus ``val_map.txt`` with one
``<file> <label>`` per line (label = ImageNet-1k class index, 0..999).

Preprocessing follows the registry ``preprocessing`` entry named by the model:

1. decode, convert to RGB;
2. aspect-preserving resize so the short side is ``resize_short_side`` (256),
   computed as in the MLPerf reference (``int(256 * long / short)`` for the
   long side). ``interpolation: area`` uses PIL ``Resampling.BOX`` when
   downscaling (box filter = pixel-area averaging, like OpenCV INTER_AREA)
   and bilinear when upscaling (what INTER_AREA does then); ``bilinear``
   uses PIL ``Resampling.BILINEAR``. PIL rather than OpenCV keeps the SUT
   dependency set small; results differ from cv2 by rounding only;
3. centre crop ``crop`` x ``crop`` (offset ``int((size - crop) / 2)``);
4. float32, ``(x - mean) / std`` per channel;
5. ``layout`` NCHW (transpose) or NHWC.

The result for the first ``count`` entries of val_map.txt is cached once as
one C-contiguous float32 ``.npy`` array (N, 3, 224, 224) under
``<cache-dir>/preprocessed/``; the cache key hashes the preprocessing spec,
the val_map.txt content and every image's name, size and mtime.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
from concurrent.futures import ThreadPoolExecutor
from importlib import resources
from importlib import util as importlib_util
from pathlib import Path
from typing import Any

import numpy as np

from fleetbench_harness.errors import InputError

CACHE_VERSION = 1


def read_val_map(
    dataset_dir: str | Path, num_classes: int, label_file: str = "val_map.txt"
) -> tuple[list[str], np.ndarray]:
    """Parse ``val_map.txt``.

    Returns:
        (file names, labels int64 array), in file order.

    Raises:
        InputError(dataset_path): folder or val_map.txt missing, a malformed
            line, a label outside 0..num_classes-1, an image file missing.
    """
    d = Path(dataset_dir)
    if not d.is_dir():
        raise InputError("dataset_path", f"{d} is not a directory", "a folder of images with val_map.txt")
    vm = d / label_file
    if not vm.is_file():
        raise InputError(
            "dataset_path", f"{vm} does not exist", [f"a folder with {label_file} ('<file> <label>' lines)"]
        )
    files: list[str] = []
    labels: list[int] = []
    for nr, line in enumerate(vm.read_text(encoding="utf-8").splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 2 or not parts[1].lstrip("-").isdigit():
            raise InputError(
                "dataset_path", f"{vm}:{nr}: {line!r} is not '<file> <label>'", "'<file> <int label>'"
            )
        lab = int(parts[1])
        if not 0 <= lab < num_classes:
            raise InputError(
                "dataset_path",
                f"{vm}:{nr}: label {lab} of {parts[0]} is out of range",
                [f"0..{num_classes - 1}"],
            )
        files.append(parts[0])
        labels.append(lab)
    if not files:
        raise InputError("dataset_path", f"{vm} lists no images", "at least one '<file> <label>' line")
    return files, np.asarray(labels, dtype=np.int64)


def _resize_crop(path: Path, spec: dict[str, Any]) -> np.ndarray:
    """One image -> float32 array in the spec's layout (see module docstring)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            im = im.convert("RGB")
            w, h = im.size
            short = int(spec["resize_short_side"])
            if h > w:
                nw, nh = short, int(short * h / w)
            else:
                nw, nh = int(short * w / h), short
            interp = spec.get("interpolation", "bilinear")
            if interp == "area" and (nw < w or nh < h):
                im = im.resize((nw, nh), Image.Resampling.BOX)
            else:
                im = im.resize((nw, nh), Image.Resampling.BILINEAR)
            c = int(spec["crop"])
            left, top = int((nw - c) / 2), int((nh - c) / 2)
            im = im.crop((left, top, left + c, top + c))
            arr = np.asarray(im, dtype=np.float32)
    except (OSError, UnidentifiedImageError, ValueError) as exc:
        raise InputError(
            "dataset_path", f"cannot read image {path}: {exc}", "readable JPEG/PNG images"
        ) from None
    arr = (arr - np.asarray(spec["mean"], np.float32)) / np.asarray(spec["std"], np.float32)
    if spec.get("layout", "NCHW") == "NCHW":
        arr = arr.transpose(2, 0, 1)
    return np.ascontiguousarray(arr)


def cache_key(
    dataset_dir: Path, files: list[str], spec: dict[str, Any], label_file: str = "val_map.txt"
) -> str:
    """sha256 over the spec, val_map.txt and each image's (name, size, mtime_ns)."""
    h = hashlib.sha256()
    h.update(json.dumps({"v": CACHE_VERSION, "spec": spec}, sort_keys=True).encode())
    h.update((dataset_dir / label_file).read_bytes())
    for f in files:
        p = dataset_dir / f
        try:
            st = p.stat()
        except OSError:
            raise InputError(
                "dataset_path",
                f"image {p} listed in {label_file} does not exist",
                "files listed in val_map.txt",
            ) from None
        h.update(f"{f}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def load_preprocessed(
    dataset_dir: str | Path,
    spec: dict[str, Any],
    cache_dir: str | Path,
    num_classes: int,
    count: int | None = None,
    threads: int = 2,
    progress: bool = True,
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Preprocessed samples for the first ``count`` images, from the cache or built once.

    Returns:
        (data float32 C-contiguous (N, ...) memory-mapped read-only from the
        cache, labels int64 (N,), info {path, count, key, changed}).

    Raises:
        InputError(dataset_path): see :func:`read_val_map`; unreadable image.
        InputError(count): count < 1.
    """
    d = Path(dataset_dir)
    files, labels = read_val_map(d, num_classes)
    if count is not None:
        if count < 1:
            raise InputError("count", f"{count} is not a positive number of samples", [f"1..{len(files)}"])
        files, labels = files[:count], labels[:count]
    key = cache_key(d, files, spec)
    cdir = Path(cache_dir) / "preprocessed"
    npy = cdir / f"{spec.get('name', 'pp')}-{len(files)}-{key[:24]}.npy"
    changed = False
    if not npy.is_file():
        c = int(spec["crop"])
        shape = (len(files), 3, c, c) if spec.get("layout", "NCHW") == "NCHW" else (len(files), c, c, 3)
        cdir.mkdir(parents=True, exist_ok=True)
        tmp = npy.with_name(npy.name + f".part{os.getpid()}")
        out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32, shape=shape)
        try:
            from tqdm import tqdm

            paths = [d / f for f in files]
            with (
                tqdm(
                    total=len(paths), desc="preprocess", unit="img", file=sys.stderr, disable=not progress
                ) as bar,
                ThreadPoolExecutor(max_workers=max(1, threads)) as pool,
            ):
                for i, arr in enumerate(pool.map(lambda p: _resize_crop(p, spec), paths)):
                    out[i] = arr
                    bar.update(1)
            out.flush()
            del out
            os.replace(tmp, npy)
        finally:
            Path(tmp).unlink(missing_ok=True)
        changed = True
    data = np.load(npy, mmap_mode="r")
    return data, labels, {"path": str(npy), "count": len(files), "key": key, "changed": changed}


def smoke_labels() -> list[tuple[str, int]]:
    """Entries of the package's ``imagenet_smoke_labels.txt`` as (file, class id)."""
    text = resources.files(__package__).joinpath("imagenet_smoke_labels.txt").read_text(encoding="utf-8")
    out = []
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            f, c = line.split()
            out.append((f, int(c)))
    return out


def build_skimage_smoke(dest: str | Path) -> tuple[Path, int, bool]:
    """Copy the labelled scikit-image photographs to ``dest`` with a val_map.txt.

    Returns:
        (folder, image count, changed).

    Raises:
        InputError(source): scikit-image is not installed / a file is missing.
    """
    spec = importlib_util.find_spec("skimage")
    if spec is None or not spec.submodule_search_locations:
        raise InputError("source", "skimage-smoke needs scikit-image installed", ["pip install scikit-image"])
    src = Path(next(iter(spec.submodule_search_locations))) / "data"
    entries = smoke_labels()
    d = Path(dest)
    val_map = "".join(f"{f} {c}\n" for f, c in entries)
    if (
        (d / "val_map.txt").is_file()
        and (d / "val_map.txt").read_text() == val_map
        and all((d / f).is_file() for f, _ in entries)
    ):
        return d, len(entries), False
    d.mkdir(parents=True, exist_ok=True)
    for f, _ in entries:
        if not (src / f).is_file():
            raise InputError(
                "source", f"{src / f} is not in this scikit-image wheel", [e[0] for e in entries]
            )
        shutil.copyfile(src / f, d / f)
    tmp = d / "val_map.txt.part"
    tmp.write_text(val_map)
    os.replace(tmp, d / "val_map.txt")
    return d, len(entries), True
