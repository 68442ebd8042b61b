"""COCO-2014 captions for SDXL: the reference's captions_source.tsv, or the bundled smoke set.

The file is tab-separated with a header row and the columns of the reference
(text_to_image/coco2014/captions/captions_source.tsv): ``id, image_id, caption, height, width,
file_name, coco_url`` (registry ``datasets.coco2014_captions.columns``). Row order is the QSL
order (accuracy_coco.py: ``df_captions.iloc[qsl_idx]``). The dataset path is the .tsv file or a
folder holding ``captions_source.tsv`` (or the reference's ``captions/captions.tsv``).

``captions-smoke``: eight captions written for this project (not COCO's), in the same columns,
labelled a smoke set; for the stand-in and offline hosts.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

from fleetbench_harness import registry
from fleetbench_harness.errors import InputError

FILE_NAMES = ("captions_source.tsv", "captions.tsv", "captions/captions_source.tsv", "captions/captions.tsv")

#: The bundled smoke captions (our own sentences; image ids and sizes are placeholders, no images).
SMOKE_CAPTIONS = (
    "A red bicycle leaning against a brick wall.",
    "Two dogs running across a sandy beach at sunset.",
    "A bowl of oranges on a wooden kitchen table.",
    "A small sailboat on a calm blue lake.",
    "A city street with tall buildings and yellow taxis.",
    "A cat sleeping on a stack of old books.",
    "A train crossing a stone bridge over a river.",
    "A plate with pancakes, berries and a cup of coffee.",
)


def columns() -> list[str]:
    """The reference's column names (registry)."""
    return list(registry.load()["datasets"]["coco2014_captions"]["columns"])


def captions_file(path: str | Path | None) -> Path:
    """The .tsv of a dataset path (file, or folder holding one of :data:`FILE_NAMES`).

    Raises:
        InputError(dataset_path): missing path or no captions file in the folder.
    """
    if path is None:
        raise InputError("dataset_path", "no dataset path given", "captions_source.tsv or its folder")
    p = Path(path)
    if p.is_file():
        return p
    if p.is_dir():
        for name in FILE_NAMES:
            if (p / name).is_file():
                return p / name
        raise InputError("dataset_path", f"{p} holds no captions file", list(FILE_NAMES))
    raise InputError("dataset_path", f"{p} does not exist", "captions_source.tsv or its folder")


def read_captions(path: str | Path | None, count: int | None = None) -> list[str]:
    """The captions in file order (the first ``count``).

    Raises:
        InputError(dataset_path): unreadable file, missing columns (named), empty caption, no rows.
    """
    f = captions_file(path)
    want = columns()
    try:
        with open(f, encoding="utf-8", newline="") as fh:
            reader = csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)
            header = reader.fieldnames or []
            missing = [c for c in want if c not in header]
            if missing:
                raise InputError(
                    "dataset_path",
                    f"{f}: missing column(s) {', '.join(missing)} (header: {', '.join(header) or 'none'})",
                    want,
                )
            out = []
            for n, row in enumerate(reader, start=2):
                if count is not None and len(out) >= count:
                    break
                cap = (row.get("caption") or "").strip()
                if not cap:
                    raise InputError(
                        "dataset_path", f"{f}: line {n} has an empty caption", "a caption per row"
                    )
                out.append(cap)
    except OSError as exc:
        raise InputError("dataset_path", f"cannot read {f}: {exc.strerror}", "a readable .tsv") from None
    except UnicodeDecodeError as exc:
        raise InputError("dataset_path", f"{f} is not UTF-8 text: {exc}", "a UTF-8 .tsv") from None
    if not out:
        raise InputError("dataset_path", f"{f} has no caption rows", "at least one row")
    return out


def dataset_folder(captions: Path, cache_dir: Path) -> Path:
    """A folder whose :func:`captions_file` is ``captions``: its parent when the name is
    ``captions_source.tsv`` or ``captions.tsv``, else ``<cache>/datasets/captions-<sha256[:16]>/``
    holding a copy named ``captions_source.tsv``."""
    captions = Path(captions)
    if captions.name in FILE_NAMES[:2] and captions_file(captions.parent) == captions:
        return captions.parent
    import hashlib

    data = captions.read_bytes()
    folder = cache_dir / "datasets" / f"captions-{hashlib.sha256(data).hexdigest()[:16]}"
    dest = folder / "captions_source.tsv"
    if not dest.is_file() or dest.read_bytes() != data:
        folder.mkdir(parents=True, exist_ok=True)
        part = dest.with_name(dest.name + ".part")
        part.write_bytes(data)
        os.replace(part, dest)
    return folder


def build_smoke(folder: Path) -> tuple[Path, bool]:
    """Write the smoke set as ``folder/captions_source.tsv``; (path, changed)."""
    rows = ["\t".join(columns())]
    for i, cap in enumerate(SMOKE_CAPTIONS):
        rows.append("\t".join([str(i), str(900000 + i), cap, "512", "512", f"smoke_{i:03d}.jpg", "none"]))
    text = "\n".join(rows) + "\n"
    dest = folder / "captions_source.tsv"
    if dest.is_file() and dest.read_text(encoding="utf-8") == text:
        return dest, False
    folder.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    part.write_text(text, encoding="utf-8")
    os.replace(part, dest)
    return dest, True
