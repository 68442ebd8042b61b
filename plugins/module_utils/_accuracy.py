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

Two levels: :func:`parse_accuracy_text` / :func:`check_accuracy` read the one metric of a registry
entry (this project's runs, as ``mlperf_run`` judged them so far); :func:`read_metrics` reads every
metric the official checker reads, under the checker's names, and :func:`check_round_accuracy` /
:func:`evaluate_round_accuracy` compare them with one round's targets, upper limits and dataset size
(``_rounds.accuracy_rules``). Real files of every family (v3.1 .. v5.1) are the unit-test fixtures.
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


# ---------------------------------------------------------------------------
# every metric the official checker reads, under the checker's names
# ---------------------------------------------------------------------------
#: dict keys printed by the reference accuracy scripts -> checker metric (ACC_PATTERN key)
DICT_KEYS = {
    "rouge1": "ROUGE1",
    "rouge2": "ROUGE2",
    "rougeL": "ROUGEL",
    "rougeLsum": "ROUGELSUM",
    "gen_len": "GEN_LEN",
    "tokens_per_sample": "TOKENS_PER_SAMPLE",
    "FID_SCORE": "FID_SCORE",
    "CLIP_SCORE": "CLIP_SCORE",
    "gsm8k": "gsm8k_accuracy",
    "mbxp": "mbxp_accuracy",
    "exact_match": "exact_match",
    "f1": "F1",
    "vbench_score": "vbench_score",
    "mean-accuracy": "meanAcc",
    # pointpainting (v5.x): {'Pedestrian': [..], 'Cyclist': [..], 'Car': [..], 'Total': 54.2}
    "Total": "mAP",
}
#: line formats (one metric per match; ``%`` after the number is remembered)
_LINE_METRICS = (
    # ImageNet / rgat: "accuracy=76.456%, good=38228, total=50000" (the line starts with it)
    ("acc", re.compile(r"^\s*accuracy\s*=\s*([\d.]+)(%?)")),
    # Criteo: "AUC=80.166%, accuracy=96.605%, ..." or "AUC=80.2378..."
    ("AUC", re.compile(r"^\s*AUC\s*=\s*([\d.]+)(%?)")),
    ("mAP", re.compile(r"mAP\s*=\s*([\d.]+)(%?)")),
    ("DICE", re.compile(r"Accuracy:\s*mean\s*=\s*([\d.]+)()")),
    ("ACCURACY", re.compile(r"Word Error Rate:.*,\s*accuracy\s*=\s*([\d.]+)(%?)")),
    ("bleu", re.compile(r"^\s*BLEU:\s*([\d.]+)()")),
    ("DLRM_NE", re.compile(r"metric/lifetime_ne/rating:\s*([\d.]+)()")),
    ("DLRM_ACC", re.compile(r"metric/lifetime_accuracy/rating:\s*([\d.]+)()")),
    ("DLRM_AUC", re.compile(r"metric/lifetime_gauc/rating:\s*([\d.]+)()")),
    ("E2E_ACCURACY", re.compile(r"^\s*Accuracy:\s*([\d.]+)()\s*$")),
)
_GOOD_TOTAL = re.compile(r"good\s*=\s*(\d+)\s*,\s*total\s*=\s*(\d+)")


def _dict_blocks(text):
    """Every top-level ``{...}`` block of ``text`` (may span lines), as parsed dicts.

    JSON first, then a Python literal (the reference scripts print dicts with ``print(dict)``,
    quoting numbers as strings in some submitters' versions). Undecodable blocks are skipped.
    """
    blocks = []
    depth = 0
    start = None
    for idx, char in enumerate(text):
        if char == "{":
            if depth == 0:
                start = idx
            depth += 1
        elif char == "}" and depth:
            depth -= 1
            if depth == 0 and start is not None:
                blob = text[start : idx + 1]
                data = None
                try:
                    data = json.loads(blob)
                except ValueError:
                    try:
                        data = ast.literal_eval(blob)
                    except (ValueError, SyntaxError, MemoryError, RecursionError):
                        data = None
                if isinstance(data, dict):
                    line_start = text.rfind("\n", 0, start) + 1
                    blocks.append((data, text[line_start:start].strip() == ""))
                start = None
    return blocks


def _as_float(value):
    if isinstance(value, bool):
        return None
    if isinstance(value, (list, tuple)) and len(value) == 1:
        value = value[0]
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _walk_dict(data, metrics, top=True):
    for key, val in data.items():
        if isinstance(val, dict):
            _walk_dict(val, metrics, top=False)
            continue
        name = DICT_KEYS.get(str(key))
        if name is None and top and key == "accuracy":
            # '{"accuracy": 76.4, ...}' on its own line is the checker's "acc" form; a nested
            # "accuracy" (dlrm's JSON block, the share of correct clicks) is not scored.
            name = "acc"
        number = _as_float(val)
        if name and number is not None:
            metrics.setdefault(name, number)


def read_metrics(text):
    """Every accuracy metric of an ``accuracy.txt`` under the checker's names.

    :returns: ``{"metrics": {METRIC: float}, "percent": [METRIC printed with %], "hash": str|None,
        "good": int|None, "total": int|None}``. Noise lines (warnings, per-sample numbers, tracebacks)
        are ignored; the first value of a metric wins (the Results block precedes any repeat).
    """
    metrics = {}
    percent = []
    good = total = None
    for line in text.splitlines():
        for name, pattern in _LINE_METRICS:
            match = pattern.search(line)
            if match and name not in metrics:
                metrics[name] = float(match.group(1))
                if match.group(2):
                    percent.append(name)
        match = _GOOD_TOTAL.search(line)
        if match and good is None and line.lstrip().startswith("accuracy"):
            good, total = int(match.group(1)), int(match.group(2))
    for data, own_line in _dict_blocks(text):
        _walk_dict(data, metrics, top=own_line)
    match = _HASH.search(text)
    return {
        "metrics": metrics,
        "percent": percent,
        "hash": match.group(1).lower() if match else None,
        "good": good,
        "total": total,
    }


def check_round_accuracy(read, rules, samples=None, require_hash=False):
    """Compare :func:`read_metrics` output with a round's rules (``_rounds.accuracy_rules``).

    Every target metric is checked (``value >= target``) and every upper limit (``value <= limit``);
    a metric printed as a percentage whose target is a fraction (rgat: ``accuracy=72.584%`` against
    0.7213) is compared as a fraction and the check says so. ``samples`` is how many samples the
    accuracy run covered (``qsl_reported_total_count`` of its detail log, or accuracy.txt ``total``);
    a run on fewer than the round's ``dataset_size`` is never met (checker dataset check).

    :returns: ``{"metric", "value", "unit", "target", "met": bool|None, "checks": [{name, value,
        compared, op, limit, ok, note}], "values", "hash", "reasons", "coverage": {samples,
        dataset_size, full}}``. ``met`` is None when the round has no target for the model.
    """
    metrics = read.get("metrics") or {}
    percent = set(read.get("percent") or [])
    checks = []
    reasons = []
    for name, target in (rules.get("targets") or {}).items():
        checks.append(_bound(name, metrics.get(name), target, ">=", name in percent))
    for name, limit in (rules.get("upper") or {}).items():
        checks.append(_bound(name, metrics.get(name), limit, "<=", name in percent))
    for check in checks:
        if check["value"] is None:
            reasons.append(f"accuracy.txt: no {check['name']} value found")
        elif check["ok"] is False:
            reasons.append(
                "{}={:g} does not meet {} {:g}".format(
                    check["name"], check["compared"], check["op"], check["limit"]
                )
            )
    size = rules.get("dataset_size")
    coverage = {"samples": samples, "dataset_size": size, "full": None}
    if size and samples is not None:
        coverage["full"] = int(samples) >= int(size)
        if not coverage["full"]:
            reasons.append(
                f"accuracy run covered {int(samples)} of {int(size)} samples (the whole dataset is required)"
            )
    met = None if not checks else all(c["ok"] for c in checks)
    if coverage["full"] is False and met is not None:
        met = False
    if require_hash and not read.get("hash"):
        reasons.append("accuracy.txt has no hash= line (the submission checker requires it)")
    first = checks[0] if checks else None
    return {
        "metric": first["name"] if first else next(iter(metrics), None),
        "value": first["value"] if first else next(iter(metrics.values()), None),
        "unit": "%" if first and first["name"] in percent else "",
        "target": first["limit"] if first else None,
        "met": met,
        "checks": checks,
        "values": dict(metrics),
        "hash": read.get("hash"),
        "reasons": reasons,
        "coverage": coverage,
        "good": read.get("good"),
        "total": read.get("total"),
    }


def _bound(name, value, limit, op, printed_percent):
    compared = value
    note = None
    if value is not None and limit is not None and limit < 1.5 and value > 1.5 and printed_percent:
        compared = value / 100.0
        note = "printed as a percentage, the target is a fraction: compared as a fraction"
    ok = None if value is None else (compared >= limit if op == ">=" else compared <= limit)
    return {
        "name": name,
        "value": value,
        "compared": compared,
        "op": op,
        "limit": limit,
        "ok": False if value is None else ok,
        "note": note,
    }


def evaluate_round_accuracy(path, rules, samples=None, require_hash=False):
    """:func:`read_metrics` of the file at ``path`` + :func:`check_round_accuracy`; a missing file is
    ``met: False`` with the reason. This is the one multi-metric reader for this project's own
    accuracy runs and for imported trees alike."""
    if not os.path.isfile(path):
        result = check_round_accuracy({"metrics": {}}, rules, samples=samples)
        result.update(met=False, reasons=[f"{path}: accuracy.txt not found"], path=str(path))
        return result
    with open(path, encoding="utf-8", errors="replace") as handle:
        read = read_metrics(handle.read())
    result = check_round_accuracy(read, rules, samples=samples, require_hash=require_hash)
    result["path"] = str(path)
    return result
