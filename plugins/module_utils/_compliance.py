# Copyright: fleetbench.mlperf contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Compliance tests TEST01 / TEST04: audit.config text and the verify steps (stdlib only).

The facts (audit settings, thresholds, which runs a test compares against)
come from the registry's ``compliance`` section, passed in by the controller
as ``model_info['compliance_info'][test]`` (see ``_registry.compliance_info``).
Rules follow mlcommons/inference ``compliance/nvidia/TEST01`` and ``TEST04``:

* audit.config: ``*.*.<key> = <value>`` lines, read by LoadGen from the
  directory it runs in (the harness copies ``--audit-config`` there).
* performance (both tests): the score is Offline "Samples per second",
  Server "Completed samples per second" (higher is better), SingleStream
  early-stopping 90th percentile, MultiStream early-stopping 99th percentile
  latency in ns. TEST01 passes when ``ref*(1-t) < test < ref*(1+t)``; TEST04
  when ``test < ref*(1+t)``; t is 0.10, relaxed to 0.20 when the reference
  latency is at most 200000 ns (SingleStream) / 1600000 ns (MultiStream).
  When LoadGen printed no early-stopping estimate (too few queries, a test
  run), the p90/p99 latency is used instead and the check says so.
* TEST01 accuracy: every result LoadGen logged in the compliance run
  (``mlperf_log_accuracy.json``, entries ``{seq_id, qsl_idx, data}``) must
  equal the accuracy run's result for the same ``qsl_idx``.
"""

from __future__ import annotations

import json
import os

from ansible_collections.fleetbench.mlperf.plugins.module_utils import _accuracy

SCORE_PERCENTILE = {"SingleStream": "p90", "MultiStream": "p99"}


def audit_config_text(info: dict) -> str:
    """audit.config content for one test: ``*.*.<key> = <value>`` per ``info['audit']`` item."""
    audit = info.get("audit") or {}
    if not audit:
        raise ValueError("compliance_info: no audit settings")
    return "".join(f"*.*.{k} = {int(v) if isinstance(v, bool) else v}\n" for k, v in audit.items())


def performance_score(parsed: dict, scenario: str) -> tuple[float | None, str, str]:
    """``(score, unit, source)`` of a parsed run (``parse_run_dir`` output) as the verify scripts read it.

    Offline/Server: ``value`` in samples/s. SingleStream/MultiStream: the early-stopping
    estimate in ns (``value_ns``), else the p90/p99 latency in ns.
    """
    if scenario in ("Offline", "Server"):
        return parsed.get("value"), parsed.get("unit") or "samples/s", parsed.get("metric") or "throughput"
    if parsed.get("value_ns") is not None:
        return float(parsed["value_ns"]), "ns", parsed.get("metric") or "early stopping estimate"
    pct = SCORE_PERCENTILE.get(scenario, "p90")
    lat = (parsed.get("latency_ns") or {}).get(pct)
    return (float(lat) if lat is not None else None), "ns", f"{pct} latency (no early-stopping estimate)"


def verify_performance(test: str, info: dict, ref: dict, run: dict, scenario: str) -> dict:
    """Compare the compliance run's score with the performance run's.

    Returns ``{passed: bool, check: within|below, threshold, reference, test, unit, source, reasons,
    text}``; ``text`` is what verify_performance.txt holds.
    """
    reasons = []
    ref_score, unit, source = performance_score(ref, scenario)
    test_score, _, test_source = performance_score(run, scenario)
    threshold = float(info.get("performance_threshold", 0.10))
    relaxed = info.get("relaxed_threshold") or {}
    limit_ns = (relaxed.get("at_most_ns") or {}).get(scenario)
    if limit_ns is not None and unit == "ns" and ref_score is not None and ref_score <= float(limit_ns):
        threshold = float(relaxed.get("threshold", threshold))
    check = info.get("performance_check", "within")
    if ref.get("validity") == "INVALID":
        reasons.append("reference (performance) run is INVALID")
    if run.get("validity") == "INVALID":
        reasons.append(f"{test} run is INVALID")
    if ref.get("scenario") and run.get("scenario") and ref["scenario"] != run["scenario"]:
        reasons.append(f"scenarios differ: reference {ref['scenario']}, test {run['scenario']}")
    if ref_score is None or test_score is None:
        reasons.append("no score in the reference or test run")
        ok = False
    elif check == "below":
        ok = test_score < ref_score * (1 + threshold)
        if not ok:
            reasons.append(f"test score {test_score} >= reference {ref_score} * {1 + threshold:g}")
    else:
        ok = ref_score * (1 - threshold) < test_score < ref_score * (1 + threshold)
        if not ok:
            reasons.append(f"test score {test_score} outside reference {ref_score} +/- {threshold:.0%}")
    passed = ok and not reasons
    lines = [
        f"{test} performance verification ({check}, threshold {threshold:.0%})",
        f"score: {source} [{unit}]" + (f" (test: {test_source})" if test_source != source else ""),
        f"reference score = {ref_score}",
        f"test score = {test_score}",
        *[f"reason: {r}" for r in reasons],
        "TEST PASS" if passed else "TEST FAIL",
    ]
    return {
        "passed": passed,
        "check": check,
        "threshold": threshold,
        "reference": ref_score,
        "test": test_score,
        "unit": unit,
        "source": source,
        "reasons": reasons,
        "text": "\n".join(lines) + "\n",
    }


def _load_accuracy_log(path: str) -> list:
    with open(path, encoding="utf-8") as fh:
        data = json.load(fh)
    if not isinstance(data, list):
        raise ValueError(f"{path}: not a LoadGen accuracy log (expected a JSON list)")
    return data


def verify_accuracy(accuracy_log: str, compliance_log: str) -> dict:
    """TEST01: every logged compliance result equals the accuracy run's result for its ``qsl_idx``.

    Returns ``{passed, compared, mismatched, missing, reasons, text}``. Raises OSError/ValueError
    for unreadable logs.
    """
    reference = {}
    for entry in _load_accuracy_log(accuracy_log):
        reference.setdefault(entry["qsl_idx"], entry["data"])
    compared = mismatched = missing = 0
    reasons = []
    for entry in _load_accuracy_log(compliance_log):
        idx = entry["qsl_idx"]
        if idx not in reference:
            missing += 1
            continue
        compared += 1
        if entry["data"] != reference[idx]:
            mismatched += 1
    if compared == 0:
        reasons.append("the compliance run logged no result that the accuracy run has")
    if mismatched:
        reasons.append(f"{mismatched} of {compared} logged results differ from the accuracy run")
    if missing:
        reasons.append(f"{missing} logged results have no counterpart in the accuracy run")
    passed = not reasons
    lines = [
        "TEST01 accuracy verification (compliance results vs accuracy run, by qsl_idx)",
        f"compared = {compared}",
        f"mismatched = {mismatched}",
        f"missing = {missing}",
        *[f"reason: {r}" for r in reasons],
        f"Accuracy check pass: {passed}",
        # the official checker looks for this exact line (compliance_check, TEST01 deterministic mode)
        "TEST PASS" if passed else "TEST FAIL",
    ]
    return {
        "passed": passed,
        "compared": compared,
        "mismatched": mismatched,
        "missing": missing,
        "reasons": reasons,
        "text": "\n".join(lines) + "\n",
    }


# ---------------------------------------------------------------------------
# reading verify files as the official checker does
# ---------------------------------------------------------------------------
NO_VERDICT = "verifier crashed / no verdict"
#: what each test's verify files must say (checker compliance_check, v4.0 .. v6.1)
VERIFY_FILES = {
    "TEST01": ("verify_accuracy.txt", "verify_performance.txt"),
    "TEST04": ("verify_performance.txt",),
    "TEST05": ("verify_performance.txt",),
    "TEST06": ("verify_accuracy.txt",),
}
_TEST06_LINES = (
    ("First token check pass", ("True", "Skipped")),
    ("EOS check pass", ("True",)),
    ("Sample length check pass", ("True",)),
)


def read_verify_text(name, text):
    """``{"file", "verdict": "PASS"|"FAIL"|None, "line": str}`` of one verify file.

    Only a ``TEST PASS`` line passes (the checker looks for it); ``TEST FAIL`` fails; a file with
    neither (``Verifying performance.`` only, or a traceback) has no verdict: it fails with
    :data:`NO_VERDICT`, never a blank.
    """
    lines = [line.strip() for line in text.splitlines()]
    if "TEST PASS" in lines:
        return {"file": name, "verdict": "PASS", "line": f"{name}: TEST PASS"}
    if "TEST FAIL" in lines:
        return {"file": name, "verdict": "FAIL", "line": f"{name}: TEST FAIL"}
    crashed = " (traceback)" if any(line.startswith("Traceback") for line in lines) else ""
    return {"file": name, "verdict": None, "line": f"{name}: {NO_VERDICT}{crashed}"}


def _read(path):
    with open(path, encoding="utf-8", errors="replace") as handle:
        return handle.read()


def _test06(text):
    lines = [line.strip() for line in text.splitlines()]
    missing = []
    for label, good in _TEST06_LINES:
        if not any(f"{label}: {value}" in lines for value in good):
            missing.append(label)
    return missing


def _delta_check(acc_dir, rules):
    """TEST01 when the logged results differ (non-deterministic models): each accuracy metric of
    ``compliance_accuracy.txt`` within ``delta_perc`` % of ``baseline_accuracy.txt`` (checker)."""
    reasons = []
    files = {}
    for name in (
        "baseline_accuracy.txt",
        "compliance_accuracy.txt",
        "accuracy.txt",
        "mlperf_log_accuracy.json",
    ):
        path = f"{acc_dir}/{name}"
        try:
            files[name] = _read(path)
        except OSError:
            reasons.append(f"TEST01/accuracy: missing {name}")
    if reasons:
        return False, reasons
    base = _accuracy.read_metrics(files["baseline_accuracy.txt"])["metrics"]
    comp = _accuracy.read_metrics(files["compliance_accuracy.txt"])["metrics"]
    ok = True
    for metric in (rules or {}).get("targets") or {}:
        allowed = float(((rules or {}).get("delta_perc") or {}).get(metric, 1.0))
        if not base.get(metric) or not comp.get(metric):
            reasons.append(f"TEST01/accuracy: {metric} missing in baseline or compliance accuracy")
            ok = False
            continue
        delta = abs(1 - base[metric] / comp[metric]) * 100
        if delta > allowed:
            ok = False
            reasons.append(
                f"TEST01/accuracy: {metric} baseline {base[metric]:g} vs compliance {comp[metric]:g}: "
                f"{delta:.3f} % > {allowed:g} %"
            )
    return ok, reasons


def compliance_verdict(test_dir, test, accuracy_rules=None):
    """Verdict of one compliance folder (``.../TEST01``) as the official checker reads it.

    :param accuracy_rules: ``_rounds.accuracy_rules`` of the model (TEST01's accuracy fallback).
    :returns: ``{"ok": bool, "lines": [str], "reasons": [str]}``. TEST01 passes its accuracy part with
        ``TEST PASS`` in verify_accuracy.txt, or else when ``accuracy/`` holds baseline and compliance
        accuracy within the round's delta (non-deterministic outputs; exact match is not required).
        Performance needs ``TEST PASS`` in verify_performance.txt and ``performance/run_1`` logs.
    """
    lines, reasons = [], []
    ok = True
    for name in VERIFY_FILES.get(test, ("verify_accuracy.txt", "verify_performance.txt")):
        path = os.path.join(test_dir, name)
        if not os.path.isfile(path):
            ok = False
            reasons.append(f"{test}: missing {name}")
            continue
        text = _read(path)
        if test == "TEST06":
            missing = _test06(text)
            if missing:
                ok = False
                reasons.append(f"TEST06: {', '.join(missing)} not passed")
                lines.append(f"{name}: " + (NO_VERDICT if len(missing) == 3 else "FAIL"))
            else:
                lines.append(f"{name}: all checks pass")
            continue
        read = read_verify_text(name, text)
        lines.append(read["line"])
        if read["verdict"] == "PASS":
            continue
        if test == "TEST01" and name == "verify_accuracy.txt":
            delta_ok, delta_reasons = _delta_check(os.path.join(test_dir, "accuracy"), accuracy_rules)
            reasons += delta_reasons
            if delta_ok:
                lines.append("TEST01 accuracy within the allowed delta (non-deterministic mode)")
                continue
        ok = False
        if read["verdict"] is None:
            reasons.append(f"{test}: {read['line']}")
    if test in ("TEST01", "TEST04") and not os.path.isfile(
        os.path.join(test_dir, "performance", "run_1", "mlperf_log_detail.txt")
    ):
        ok = False
        reasons.append(f"{test}: missing performance/run_1/mlperf_log_detail.txt")
    return {"ok": ok, "lines": lines, "reasons": reasons}
