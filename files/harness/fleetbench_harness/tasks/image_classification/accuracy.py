"""Top-1 accuracy from ``mlperf_log_accuracy.json`` (ImageNet classification).

The accuracy log is LoadGen's JSON list of ``{"seq_id", "qsl_idx", "data"}``
where ``data`` is the hex of the response bytes. This harness (like the MLPerf
reference classification harness) writes one float32 class id per sample,
already corrected by the model's ``label_offset``; ``--label-offset`` is
subtracted additionally for logs from harnesses that store the raw argmax.
Each ``qsl_idx`` counts once (LoadGen may log a sample more than once).

Output: ``accuracy.txt`` with the submission checker's ImageNet line
``accuracy=NN.NNN%, good=N, total=M`` and the JSON dict
``{metric, value, unit, good, total}``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from fleetbench_harness import registry
from fleetbench_harness.accuracy_log import read_entries
from fleetbench_harness.errors import InputError
from fleetbench_harness.tasks.image_classification.dataset import read_val_map


def predictions(accuracy_log: str | Path) -> dict[int, int]:
    """``qsl_idx -> predicted class`` from an accuracy log (first entry per index wins).

    Raises:
        InputError(accuracy_log): missing or malformed file.
    """
    p = Path(accuracy_log)
    entries = read_entries(p)
    out: dict[int, int] = {}
    for e in entries:
        idx = int(e["qsl_idx"])
        if idx in out:
            continue
        raw = bytes.fromhex(e["data"])
        if len(raw) < 4:
            raise InputError(
                "accuracy_log", f"{p}: qsl_idx {idx} has {len(raw)} data bytes", "float32 class ids"
            )
        out[idx] = int(np.frombuffer(raw[:4], dtype=np.float32)[0])
    return out


def top1(
    model: str, accuracy_log: str | Path, dataset_path: str | Path, label_offset: int = 0
) -> dict[str, Any]:
    """Top-1 of the logged predictions against ``val_map.txt`` (file order = qsl index).

    Returns:
        {"metric": "top1", "value": percent (float), "unit": "%", "good", "total"}.
    """
    entry = registry.model(model)
    if entry["accuracy"]["metric"] != "top1":
        raise InputError("model", f"{model} is not scored by top-1", ["an image classification model"])
    _, labels = read_val_map(dataset_path, int(registry.dataset(entry)["num_classes"]))
    preds = predictions(accuracy_log)
    good = 0
    for idx, pred in preds.items():
        if idx >= len(labels):
            raise InputError(
                "dataset_path",
                f"qsl_idx {idx} is beyond the {len(labels)} images of val_map.txt",
                "the dataset the run used",
            )
        good += int(pred - label_offset == labels[idx])
    total = len(preds)
    value = 100.0 * good / total if total else 0.0
    value = round(value, 3)
    return {
        "metric": "top1",
        "value": value,
        "unit": "%",
        "metrics": {"top1": value},
        "good": good,
        "total": total,
    }


def format_line(result: dict[str, Any]) -> str:
    """The submission checker's ImageNet line: ``accuracy=NN.NNN%, good=N, total=M``."""
    return f"accuracy={result['value']:.3f}%, good={result['good']}, total={result['total']}"


def write(result: dict[str, Any], output: str | Path) -> None:
    """Write ``accuracy.txt`` (the format line, then the JSON dict)."""
    Path(output).write_text(format_line(result) + "\n" + json.dumps(result, sort_keys=True) + "\n")
