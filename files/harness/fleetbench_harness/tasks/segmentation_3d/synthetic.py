"""The offline ``kits19-synthetic`` set: CT-like volumes in the KiTS19 layout, made by the harness.

Each case is a small volume (12 to 30 voxels per edge, spacings from 2.4 to 5.12 mm, so
resampling to [1.6, 1.2, 1.2] mm is exercised) of soft tissue (~40 HU) with two kidney ellipsoids (~150 HU,
label 1), a tumour blob in one (~60 HU, label 2) and noise; affine = diag(spacing). After the
reference preprocessing with the stand-in's 64^3 ROI, three cases are 64^3 (one window) and one
is 96 x 64 x 64 (two windows), so sample sizes differ like the real set's (with the 128^3 ROI
all are 128^3). Deterministic (seeded); case ids are the
first registry inference cases, listed in ``inference_cases.json``. More than four cases (``-e count=43``:
the whole inference set, as many as the checker's performance_sample_count and dataset size for 3d-unet)
repeat the four layouts with new noise.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

#: (shape (D, H, W) voxels, spacing mm) per synthetic case; the last one resamples to 80 x 60 x 60.
_LAYOUTS = (
    ((16, 20, 20), (4.0, 3.0, 3.0)),
    ((20, 24, 22), (3.2, 2.8, 2.6)),
    ((12, 30, 24), (5.0, 2.4, 3.0)),
    ((25, 24, 24), (5.12, 3.0, 3.0)),
)


def _case(shape: tuple[int, int, int], spacing: tuple[float, float, float], rng: np.random.Generator):
    d, h, w = shape
    z, y, x = np.meshgrid(np.arange(d), np.arange(h), np.arange(w), indexing="ij")
    img = rng.normal(40.0, 15.0, size=shape)
    seg = np.zeros(shape, dtype=np.uint8)
    for side in (0.3, 0.7):
        c = (d * 0.5, h * 0.55, w * side)
        r = (d * 0.3, h * 0.18, w * 0.12)
        inside = ((z - c[0]) / r[0]) ** 2 + ((y - c[1]) / r[1]) ** 2 + ((x - c[2]) / r[2]) ** 2 <= 1.0
        seg[inside] = 1
        img[inside] = rng.normal(150.0, 20.0, size=int(inside.sum()))
    c = (d * 0.5, h * 0.55, w * 0.7)
    r = (d * 0.12, h * 0.07, w * 0.05)
    tumour = ((z - c[0]) / r[0]) ** 2 + ((y - c[1]) / r[1]) ** 2 + ((x - c[2]) / r[2]) ** 2 <= 1.0
    seg[tumour] = 2
    img[tumour] = rng.normal(60.0, 10.0, size=int(tumour.sum()))
    return img.astype(np.int16), seg


def build(dest: str | Path, case_ids: list[str], n: int, seed: int = 19) -> tuple[Path, bool]:
    """Write ``n`` synthetic cases (ids = ``case_ids[:n]``) into ``dest``; (folder, changed).

    Idempotent: an existing complete set with the same ids is kept.
    """
    import nibabel

    d = Path(dest)
    ids = list(case_ids[: max(1, min(n, len(case_ids)))])
    meta = d / "inference_cases.json"
    if (
        meta.is_file()
        and json.loads(meta.read_text()) == ids
        and all((d / c / f).is_file() for c in ids for f in ("imaging.nii.gz", "segmentation.nii.gz"))
    ):
        return d, False
    rng = np.random.default_rng(seed)
    for i, case in enumerate(ids):
        # the layouts repeat (new noise each time) past the first four cases
        shape, spacing = _LAYOUTS[i % len(_LAYOUTS)]
        img, seg = _case(shape, spacing, rng)
        affine = np.diag([*spacing, 1.0])
        (d / case).mkdir(parents=True, exist_ok=True)
        for name, arr in (("imaging.nii.gz", img), ("segmentation.nii.gz", seg)):
            nif = nibabel.Nifti1Image(arr, affine)
            nif.header.set_zooms(spacing)
            tmp = d / case / (name + ".part.nii.gz")
            nibabel.save(nif, str(tmp))
            os.replace(tmp, d / case / name)
    tmp = meta.with_name(meta.name + ".part")
    tmp.write_text(json.dumps(ids))
    os.replace(tmp, meta)
    return d, True
