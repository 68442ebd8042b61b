"""DICE from ``mlperf_log_accuracy.json`` (MLPerf reference 3D-UNet, accuracy_kits.py).

Each logged response is one case's label volume, uint8 C order, the shape of its preprocessed
volume (D, H, W). Per case and class c in (1 kidney, 2 tumour), against the preprocessed
reference label::

    dice_c = (2 |pred == c & ref == c| + 1e-6) / (|pred == c| + |ref == c| + 1e-6)

composite = mean(kidney, tumour); the reported figures are the means over the cases (a NaN
would count 0, as the reference's ``fillna(0)``; the smoothing terms make it impossible here).
Each ``qsl_idx`` counts once. ``accuracy.txt`` carries the reference's printed line
``Accuracy: mean = 0.86170, kidney = 0.9347, tumor = 0.7887`` (the checker's DICE pattern
``Accuracy:\\s*mean\\s*=\\s*([\\d.]+)``) and the JSON dict; values are fractions.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from fleetbench_harness import accuracy_log
from fleetbench_harness.errors import InputError

SMOOTH = 1e-6


def dice(pred: np.ndarray, ref: np.ndarray) -> tuple[float, float]:
    """(kidney, tumour) DICE of two uint8 label volumes of the same shape."""
    if pred.shape != ref.shape:
        raise ValueError(f"prediction {pred.shape} and reference {ref.shape} differ in shape")
    out = []
    for c in (1, 2):
        p, r = pred == c, ref == c
        inter = float(np.count_nonzero(p & r))
        out.append(
            (2.0 * inter + SMOOTH) / (float(np.count_nonzero(p)) + float(np.count_nonzero(r)) + SMOOTH)
        )
    return out[0], out[1]


def read_log(path: Path) -> dict[int, bytes]:
    """``qsl_idx -> response bytes`` (first entry per index).

    Raises:
        InputError(accuracy_log): missing or malformed file.
    """
    return accuracy_log.responses(path, keep="first")


def score(accuracy_log: Path, cases: list[str], shapes: list[tuple[int, ...]], labels: Any) -> dict[str, Any]:
    """DICE of the logged cases; ``labels(case) -> uint8 (D, H, W)`` reference volumes.

    Returns:
        {"metric": "DICE", "value": composite mean, "unit": "fraction", "metrics": {DICE, kidney,
        tumor}, "total": cases scored, "cases": {case: {kidney, tumor, composite}}}.

    Raises:
        InputError(accuracy_log): no entries, a qsl_idx outside the cases, a response of the wrong size.
    """
    logged = read_log(accuracy_log)
    if not logged:
        raise InputError("accuracy_log", f"{accuracy_log} has no responses", ["an accuracy-mode run's log"])
    per_case: dict[str, dict[str, float]] = {}
    for idx in sorted(logged):
        if not 0 <= idx < len(cases):
            raise InputError(
                "accuracy_log",
                f"qsl_idx {idx} is beyond the {len(cases)} cases",
                ["the dataset the run used"],
            )
        shape = tuple(shapes[idx])
        raw = logged[idx]
        if len(raw) != int(np.prod(shape)):
            raise InputError(
                "accuracy_log",
                f"qsl_idx {idx} ({cases[idx]}): {len(raw)} bytes, not a uint8 volume {shape}",
                [f"{int(np.prod(shape))} bytes"],
            )
        pred = np.frombuffer(raw, dtype=np.uint8).reshape(shape)
        k, t = dice(pred, labels(cases[idx]))
        per_case[cases[idx]] = {"kidney": k, "tumor": t, "composite": (k + t) / 2.0}
    n = len(per_case)
    mean = {m: float(np.mean([v[m] for v in per_case.values()])) for m in ("kidney", "tumor", "composite")}
    return {
        "metric": "DICE",
        "value": round(mean["composite"], 5),
        "unit": "fraction",
        "metrics": {
            "DICE": round(mean["composite"], 5),
            "kidney": round(mean["kidney"], 4),
            "tumor": round(mean["tumor"], 4),
        },
        "total": n,
        "cases": per_case,
    }


def format_line(result: dict[str, Any]) -> str:
    """The reference's printed line (accuracy_kits.py main)."""
    m = result["metrics"]
    return f"Accuracy: mean = {m['DICE']:.5f}, kidney = {m['kidney']:.4f}, tumor = {m['tumor']:.4f}"


def write(result: dict[str, Any], output: Path) -> None:
    """accuracy.txt: the printed line, then the JSON dict (per-case scores included)."""
    Path(output).write_text(format_line(result) + "\n" + json.dumps(result, sort_keys=True) + "\n")
