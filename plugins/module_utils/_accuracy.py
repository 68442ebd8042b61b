# Copyright: fleetbench.mlperf contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Readers for MLPerf ``accuracy.txt`` files and comparison with registry targets (stdlib only).

Formats (as written by the MLPerf reference accuracy scripts and matched by the
submission checker's ``ACC_PATTERN``, mlcommons/inference tools/submission):

* ImageNet top-1: ``accuracy=76.096%, good=38048, total=50000``           -> ``top1`` in %
* COCO / OpenImages: ``mAP=37.413%``                                      -> ``mAP`` in %
* SQuAD: ``{"exact_match": 82.92, "f1": 90.36}``                          -> ``F1``, ``exact_match`` in %
* KiTS19: ``Accuracy: mean = 0.86173, kidney = 0.9347, tumor = 0.7887``   -> ``DICE`` as a fraction
* Criteo: ``AUC=80.31...``                                                -> ``AUC`` in %
* LibriSpeech: ``Word Error Rate: 7.45%, accuracy=92.55%``                -> ``WER`` (as 100 - WER) in %
* ROUGE (GPT-J, Llama 2): ``{'rouge1': 44.4, ..., 'gen_len': N, 'tokens_per_sample': 301.1}``
* SDXL: ``Accuracy Results: {'FID_SCORE': '23.4', 'CLIP_SCORE': '31.7'}``
* every file in a submission ends with ``hash=<sha256 of mlperf_log_accuracy.json>``.

The registry entry (``models.<name>.accuracy`` of registry.yml) is passed in as a
dict by the caller; this module never loads YAML.
"""

from __future__ import annotations

import ast
import json
import os
import re

_PATTERNS = (
    (
        "top1",
        re.compile(
            r"^\s*accuracy\s*=\s*([\d.]+)\s*%?\s*,\s*good\s*=\s*(\d+)"
            r"\s*,\s*total\s*=\s*(\d+)",
            re.M,
        ),
    ),
    ("mAP", re.compile(r"mAP\s*=\s*([\d.]+)\s*%", re.M)),
    ("DICE", re.compile(r"Accuracy:\s*mean\s*=\s*([\d.]+)", re.M)),
    ("AUC", re.compile(r"^\s*AUC\s*=\s*([\d.]+)", re.M)),
    ("WER", re.compile(r"Word Error Rate:\s*([\d.]+)%?\s*,\s*accuracy\s*=\s*([\d.]+)%", re.M)),
)
_HASH = re.compile(r"^hash=([0-9a-fA-F]{64})\s*$", re.M)
# A dict line, bare or after a label: accuracy_coco.py (SDXL) prints "Accuracy Results: {...}".
_DICT_LINE = re.compile(r"^\s*(?:[A-Za-z][A-Za-z _-]*:\s*)?(\{.*\})\s*$", re.M)


class AccuracyError(ValueError):
    """Raised for a missing or unreadable accuracy file."""


def parse_accuracy_text(text):
    """Parse the text of an ``accuracy.txt``.

    :returns: ``{"values": {name: float}, "hash": str|None, "format": str|None,
        "good": int|None, "total": int|None}``; ``values`` is empty when no known
        format is found. Values keep the file's scale (% for %, fraction for DICE).
    """
    values = {}
    fmt = None
    good = total = None
    for name, pattern in _PATTERNS:
        match = pattern.search(text)
        if not match:
            continue
        fmt = fmt or name
        if name == "top1":
            values["top1"] = float(match.group(1))
            good, total = int(match.group(2)), int(match.group(3))
        elif name == "WER":
            values["WER"] = float(match.group(2))  # MLPerf reports 100 - WER as "accuracy"
            values["word_error_rate"] = float(match.group(1))
        else:
            values[name] = float(match.group(1))
    for match in _DICT_LINE.finditer(text):
        blob = match.group(1)
        try:
            data = json.loads(blob)
        except ValueError:
            try:
                data = ast.literal_eval(blob)
            except (ValueError, SyntaxError):
                continue
        if not isinstance(data, dict):
            continue
        for key, val in data.items():
            try:
                number = float(val)
            except (TypeError, ValueError):
                continue
            if key == "f1":
                values["F1"] = number
                fmt = fmt or "squad"
            elif key == "exact_match":
                values["exact_match"] = number
            else:
                values[key] = number
                if key.startswith("rouge"):
                    fmt = fmt or "rouge"
                elif key in ("FID_SCORE", "CLIP_SCORE"):
                    fmt = fmt or "sdxl"
                else:
                    fmt = fmt or "dict"
    match = _HASH.search(text)
    return {
        "values": values,
        "hash": match.group(1).lower() if match else None,
        "format": fmt,
        "good": good,
        "total": total,
    }


def read_accuracy_file(path):
    """Read ``path`` (an ``accuracy.txt``); raises :class:`AccuracyError` when missing."""
    if not os.path.isfile(path):
        raise AccuracyError(f"{path}: accuracy.txt not found")
    with open(path, encoding="utf-8", errors="replace") as handle:
        parsed = parse_accuracy_text(handle.read())
    parsed["path"] = str(path)
    return parsed


def _ratio(accuracy_entry, variant):
    ratios = accuracy_entry.get("target_ratio")
    if not ratios:
        return None, None
    if variant is not None and str(variant) in ratios:
        return str(variant), float(ratios[str(variant)])
    if len(ratios) == 1:
        key = next(iter(ratios))
        return str(key), float(ratios[key])
    raise AccuracyError(f"accuracy.target_ratio: several variants {sorted(ratios)}; pass variant")


def check_accuracy(parsed, model_entry, variant=None, require_hash=False):
    """Compare parsed accuracy values with the registry targets of ``model_entry``.

    :param parsed: output of :func:`parse_accuracy_text` / :func:`read_accuracy_file`.
    :param model_entry: the registry dict ``models.<name>`` (needs its ``accuracy`` block:
        ``metric``, ``unit``, ``reference`` or ``metrics``, ``target_ratio``, optional
        ``ranges``, ``gen_len_ratio``, ``tokens_per_sample_ratio``).
    :param variant: ``"99"`` / ``"99.9"`` when the entry lists several ratios.
    :param require_hash: True for submissions (the checker refuses a file without ``hash=``).
    :returns: ``{"metric", "value", "unit", "target", "met": bool|None, "checks": [{name, value,
        op, limit, ok}], "values", "hash", "reasons": [str]}``. ``met`` is None when the
        registry publishes no target (``target_ratio: null`` and no ``ranges``).
    """
    acc = model_entry.get("accuracy") or {}
    metric = acc.get("metric")
    unit = acc.get("unit", "")
    values = parsed.get("values") or {}
    reasons = []
    checks = []
    _variant, ratio = _ratio(acc, variant)
    value = None
    target = None
    if acc.get("ranges"):
        for name, (low, high) in acc["ranges"].items():
            got = values.get(name)
            ok = got is not None and float(low) <= got <= float(high)
            checks.append(
                {"name": name, "value": got, "op": "in", "limit": [float(low), float(high)], "ok": ok}
            )
        value = values.get(next(iter(acc["ranges"])))
    elif acc.get("metrics"):
        for name, ref in acc["metrics"].items():
            got = values.get(name)
            if name == "gen_len":
                factor = acc.get("gen_len_ratio")
            elif name == "tokens_per_sample":
                factor = acc.get("tokens_per_sample_ratio")
            else:
                factor = ratio
            if factor is None:
                checks.append({"name": name, "value": got, "op": ">=", "limit": None, "ok": None})
                continue
            limit = float(ref) * float(factor)
            checks.append(
                {
                    "name": name,
                    "value": got,
                    "op": ">=",
                    "limit": limit,
                    "ok": got is not None and got >= limit,
                }
            )
        first = next(iter(acc["metrics"]))
        value = values.get(first)
        metric = first if metric in (None, "ROUGE") else metric
    else:
        value = values.get(metric)
        if ratio is not None and acc.get("reference") is not None:
            target = float(acc["reference"]) * ratio
            checks.append(
                {
                    "name": metric,
                    "value": value,
                    "op": ">=",
                    "limit": target,
                    "ok": value is not None and value >= target,
                }
            )
    if value is None:
        reasons.append("accuracy.txt: no {} value found (format {})".format(metric, parsed.get("format")))
    decided = [c["ok"] for c in checks if c["ok"] is not None]
    met = None if not decided else all(decided)
    if met is False:
        failed = [c for c in checks if c["ok"] is False]
        for check in failed:
            reasons.append(
                "{}={} does not meet {} {}".format(check["name"], check["value"], check["op"], check["limit"])
            )
    if value is None and met:
        met = False
    if require_hash and not parsed.get("hash"):
        reasons.append("accuracy.txt has no hash= line (the submission checker requires it)")
    return {
        "metric": metric,
        "value": value,
        "unit": unit,
        "target": target,
        "met": met,
        "checks": checks,
        "values": values,
        "hash": parsed.get("hash"),
        "reasons": reasons,
        "path": parsed.get("path"),
        "good": parsed.get("good"),
        "total": parsed.get("total"),
    }


def evaluate_accuracy_file(path, model_entry, variant=None, require_hash=False):
    """:func:`read_accuracy_file` + :func:`check_accuracy`; a missing file gives ``met: False``
    with the reason instead of raising."""
    try:
        parsed = read_accuracy_file(path)
    except AccuracyError as exc:
        acc = model_entry.get("accuracy") or {}
        return {
            "metric": acc.get("metric"),
            "value": None,
            "unit": acc.get("unit", ""),
            "target": None,
            "met": False,
            "checks": [],
            "values": {},
            "hash": None,
            "reasons": [str(exc)],
            "path": str(path),
            "good": None,
            "total": None,
        }
    return check_accuracy(parsed, model_entry, variant=variant, require_hash=require_hash)
