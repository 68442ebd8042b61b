"""Sliding-window inference over one preprocessed case (MLPerf reference 3D-UNet, inference_utils.py).

* windows: ROI ``(128, 128, 128)`` voxels, stride ``ROI x (1 - overlap)`` (64 at overlap 0.5),
  start positions ``0, stride, ...`` while the window fits (the preprocessing makes every edge
  ``ROI + k x stride``, so the windows tile the volume exactly);
* each window's logits ``(classes, *ROI)`` are multiplied by the Gaussian importance map and
  summed into a result volume, the map itself into a normalisation volume;
* label = argmax over classes of ``result / norm`` (uint8, ``(D, H, W)``).

Gaussian map (registry ``preprocessing.kits19_3dunet``): per axis
``scipy.signal.windows.gaussian(n, sigma_scale x n)`` (the reference's ``scipy.signal.gaussian``,
removed from SciPy), outer product over the three axes, cube root, divided by its maximum.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np


def gaussian_map(n: int, sigma: float) -> np.ndarray:
    """The (n, n, n) float32 importance map; ``sigma`` in voxels (0.125 x 128 = 16 for MLPerf)."""
    from scipy.signal import windows

    g1 = windows.gaussian(n, sigma)
    g3 = np.cbrt(g1[:, None, None] * g1[None, :, None] * g1[None, None, :])
    return (g3 / g3.max()).astype(np.float32)


def window_starts(shape: tuple[int, ...], roi: tuple[int, ...], overlap: float) -> Iterator[tuple[int, ...]]:
    """Start corners ``(i, j, k)`` of the windows over a volume of ``shape`` (D, H, W), z-major order.

    Raises:
        ValueError: a volume edge shorter than the ROI.
    """
    strides = [int(r * (1 - overlap)) for r in roi]
    counts = []
    for axis, (size, r, s) in enumerate(zip(shape, roi, strides, strict=True)):
        if size < r:
            raise ValueError(f"volume edge {axis} is {size} voxels, shorter than the ROI {r}")
        counts.append((size - r) // s + 1)
    for i in range(counts[0]):
        for j in range(counts[1]):
            for k in range(counts[2]):
                yield i * strides[0], j * strides[1], k * strides[2]


def segment(
    image: np.ndarray,
    infer: Callable[[np.ndarray], np.ndarray],
    roi: tuple[int, int, int] = (128, 128, 128),
    overlap: float = 0.5,
    sigma_scale: float = 0.125,
    num_classes: int = 3,
    window_batch: int = 1,
    weights: np.ndarray | None = None,
) -> np.ndarray:
    """Label volume of one case.

    Args:
        image: float32 ``(1, D, H, W)`` or ``(D, H, W)`` preprocessed volume.
        infer: ``(n, 1, *roi)`` float32 -> ``(n, num_classes, *roi)`` logits (any float dtype).
        window_batch: windows per ``infer`` call.
        weights: the Gaussian map (computed from ``roi``/``sigma_scale`` when None).

    Returns:
        uint8 ``(D, H, W)`` labels (argmax over classes).
    """
    vol = image[0] if image.ndim == 4 else image
    if weights is None:
        weights = gaussian_map(roi[0], sigma_scale * roi[0])
    result = np.zeros((num_classes, *vol.shape), dtype=np.float32)
    norm = np.zeros(vol.shape, dtype=np.float32)
    starts = list(window_starts(vol.shape, roi, overlap))
    batch = np.empty((max(1, window_batch), 1, *roi), dtype=np.float32)
    for b in range(0, len(starts), window_batch):
        group = starts[b : b + window_batch]
        for n, (i, j, k) in enumerate(group):
            batch[n, 0] = vol[i : i + roi[0], j : j + roi[1], k : k + roi[2]]
        logits = np.asarray(infer(batch[: len(group)]), dtype=np.float32)
        for n, (i, j, k) in enumerate(group):
            result[:, i : i + roi[0], j : j + roi[1], k : k + roi[2]] += logits[n] * weights
            norm[i : i + roi[0], j : j + roi[1], k : k + roi[2]] += weights
    result /= norm
    return np.argmax(result, axis=0).astype(np.uint8)
