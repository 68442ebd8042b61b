# Copyright: fleetbench.mlperf contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Results-tree discovery: every run of a results or submission tree, scored by one checker round (stdlib).

Trees understood by :func:`discover_runs` (``root`` is the directory scanned):

* this project's tree ``<exec>_results/<sut>/<model>/<Scenario>/{performance/run_1,accuracy,TEST0x}``
  where each run directory may hold a ``result.json`` (``mlperf_run`` output, docs/contracts.md);
* CM/MLC trees: the same shape with lower-case scenario folders and no ``result.json``
  (the LoadGen logs and ``accuracy.txt`` are parsed directly);
* submission trees ``<division>/<submitter>/results/<system>/<model>/<Scenario>/...`` (any round:
  ``compliance/<system>/...`` of rounds up to v5.1 as well).

A "run" record (one row of ``report.json``'s ``runs``) has at least: ``system``, ``model``,
``scenario``, ``mode`` (performance | accuracy | TEST01 | ...), ``execution_mode``, ``validity``,
``reasons``, ``metric``, ``value``, ``unit``, ``accuracy`` (``{metric, value, unit, met}`` or None),
``submittable`` (``{ok, reasons}`` or None for non-performance runs), ``latency_ms`` (percentiles in ms),
``run_dir`` (relative to ``root``) and ``source`` (``result.json`` | ``logs``).
"""

from __future__ import annotations

import json
import os
import re

from ansible_collections.fleetbench.mlperf.plugins.module_utils import (
    _accuracy,
    _compliance,
    _mlperf_logs,
    _rounds,
    _verdict,
)

SCENARIO_DIRS = {
    "offline": "Offline",
    "server": "Server",
    "singlestream": "SingleStream",
    "multistream": "MultiStream",
    "interactive": "Interactive",
}


LOG_FILES = (_mlperf_logs.SUMMARY_LOG, _mlperf_logs.DETAIL_LOG)


_TEST_DIR = re.compile(r"^TEST\d\d$")


def model_index(registry):
    """name -> registry entry for registry keys and official MLPerf names."""
    index = {}
    for key, entry in ((registry or {}).get("models") or {}).items():
        index[key] = entry
        if entry.get("mlperf_name"):
            index.setdefault(entry["mlperf_name"], entry)
    return index


def _read_json(path):
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return None


def _locate(parts):
    """Index of the scenario folder in ``parts`` (searching from the end), or None."""
    for idx in range(len(parts) - 1, 1, -1):
        if parts[idx].lower() in SCENARIO_DIRS:
            return idx
    return None


def _context(parts, scen_idx):
    """system/model/execution_mode/division/submitter from the path components."""
    ctx = {
        "model": parts[scen_idx - 1],
        "system": parts[scen_idx - 2],
        "execution_mode": None,
        "division": None,
        "submitter": None,
        "tree": "results",
    }
    for part in parts[: scen_idx - 2]:
        if part.endswith("_results") and part[: -len("_results")] in ("test", "fast", "valid"):
            ctx["execution_mode"] = part[: -len("_results")]
    if scen_idx >= 5 and parts[scen_idx - 3] in ("results", "compliance"):
        ctx["division"], ctx["submitter"] = parts[scen_idx - 5], parts[scen_idx - 4]
        ctx["tree"] = "submission"
        ctx["execution_mode"] = ctx["execution_mode"] or "valid"
    return ctx


def _classify(after):
    """Run kind from the components below the scenario folder, or None (not a run directory)."""
    if len(after) == 2 and after[0] == "performance" and after[1].startswith("run_"):
        return "performance"
    if after == ["accuracy"]:
        return "accuracy"
    if len(after) == 1 and _TEST_DIR.match(after[0]):
        return after[0]
    return None


def _acc_summary(acc):
    if not acc:
        return None
    return {
        "metric": acc.get("metric"),
        "value": acc.get("value"),
        "unit": acc.get("unit", ""),
        "met": acc.get("met"),
        "target": acc.get("target"),
        "reasons": list(acc.get("reasons") or []),
        # how many samples the figure rests on: a 1-image smoke set must not read like ImageNet
        "samples": (acc.get("coverage") or {}).get("samples") or acc.get("total"),
        "checks": list(acc.get("checks") or []),
        "coverage": acc.get("coverage"),
    }


def _from_result_json(data, record):
    loadgen = data.get("loadgen") or {}
    record.update(
        {
            "system": data.get("system") or record["system"],
            "host": data.get("host"),
            "model": data.get("model") or record["model"],
            "execution_mode": data.get("execution_mode") or record["execution_mode"],
            "division": data.get("division") or record["division"],
            "category": data.get("category"),
            "backend": data.get("backend"),
            "device": data.get("device"),
            "precision": data.get("precision"),
            "performance_only_model": bool(data.get("performance_only_model")),
            "started": data.get("started"),
            "model_label": data.get("model_label"),
            "source": "result.json",
        }
    )
    record["mode"] = data.get("mode") or record["mode"]
    _apply_loadgen(record, loadgen)
    record["accuracy"] = _acc_summary(data.get("accuracy"))
    if data.get("submittable") is not None:
        record["submittable"] = data["submittable"]


def _apply_loadgen(record, loadgen):
    if not loadgen:
        return
    record["loadgen"] = loadgen
    # The folder names the scenario the checker judges (Interactive folders hold "Scenario : Server"
    # logs; MultiStream/Offline folders of edge systems may hold an inferred SingleStream log).
    record["log_scenario"] = loadgen.get("scenario")
    record["scenario"] = _rounds.canonical_scenario(record.get("dir_scenario")) or loadgen.get("scenario")
    for key in ("validity", "metric", "value", "value_ns", "unit", "warnings", "errors"):
        record[key] = loadgen.get(key)
    record["reasons"] = list(loadgen.get("reasons") or [])
    record["latency_ms"] = loadgen.get("latency_ms") or {}
    for key in ("ttft_ms", "tpot_ms"):
        if loadgen.get(key):
            record[key] = loadgen[key]


def _new_record(root, run_dir, ctx, kind, scen_dir):
    return {
        "system": ctx["system"],
        "host": None,
        "model": ctx["model"],
        "scenario": SCENARIO_DIRS.get(scen_dir.lower(), scen_dir),
        "dir_scenario": scen_dir,
        "mode": kind,
        "execution_mode": ctx["execution_mode"],
        "division": ctx["division"],
        "submitter": ctx["submitter"],
        "category": None,
        "tree": ctx["tree"],
        "validity": None,
        "reasons": [],
        "metric": None,
        "value": None,
        "value_ns": None,
        "unit": "",
        "warnings": 0,
        "errors": 0,
        "accuracy": None,
        "submittable": None,
        "latency_ms": {},
        "performance_only_model": False,
        "run_dir": os.path.relpath(run_dir, root),
        "source": "logs",
        "compliance": None,
    }


def _parse_logs(run_dir, record, entry):
    tokens = bool(entry.get("token_latencies")) if entry else None
    for candidate in (run_dir, os.path.join(run_dir, "performance", "run_1")):
        if any(os.path.isfile(os.path.join(candidate, f)) for f in LOG_FILES):
            try:
                parsed = _mlperf_logs.parse_run_dir(
                    candidate, model_tokens=tokens, dir_scenario=record["dir_scenario"]
                )
            except _mlperf_logs.LogParseError as exc:
                record["reasons"].append(str(exc))
                return
            _apply_loadgen(record, parsed)
            return


def resolve_round(registry, root, round_=None):
    """``{"name", "origin", "source", "facts"}`` of the checker round whose rules apply to ``root``
    (``_rounds.resolve_round``: the request, a round named by the tree path, else the latest round the
    checker knows); None when the registry has no ``rounds`` section."""
    if not (registry or {}).get("rounds"):
        return None
    name, origin = _rounds.resolve_round(registry, round_, root)
    facts = _rounds.round_facts(registry, name)
    return {"name": name, "origin": origin, "source": facts.get("source"), "facts": facts}


def discover_runs(root, registry=None, round_=None):
    """Find every run below ``root`` and return run records sorted by system/model/scenario/mode.

    Performance runs get ``accuracy`` from the accuracy run of the same system/model/scenario and,
    when no ``result.json`` says otherwise, ``submittable`` from :func:`_verdict.submittable_verdict`.
    Metrics, accuracy targets, Interactive limits and compliance verdicts follow the checker of the
    round :func:`resolve_round` picks (``round_`` = the request's ``-e round=``); each record names it.
    """
    root = os.path.abspath(root)
    models = model_index(registry)
    round_info = resolve_round(registry, root, round_)
    has_results = any(name.endswith("_results") for name in _listdir(root))
    records = []
    for dirpath, dirnames, filenames in os.walk(root):
        rel = os.path.relpath(dirpath, root)
        parts = [] if rel == "." else rel.split(os.sep)
        if parts and has_results and not parts[0].endswith("_results"):
            dirnames[:] = []
            continue
        dirnames.sort()
        scen_idx = _locate(parts)
        if scen_idx is None:
            continue
        kind = _classify(parts[scen_idx + 1 :])
        if kind is None:
            continue
        ctx = _context(parts, scen_idx)
        record = _new_record(root, dirpath, ctx, kind, parts[scen_idx])
        entry = models.get(record["model"])
        data = _read_json(os.path.join(dirpath, "result.json")) if "result.json" in filenames else None
        if isinstance(data, dict):
            _from_result_json(data, record)
        else:
            _parse_logs(dirpath, record, entry)
            if kind == "accuracy":
                record["mode"] = "accuracy"
                record["validity"] = None
                if entry is not None:
                    record["accuracy"] = _acc_summary(
                        _accuracy.evaluate_accuracy_file(os.path.join(dirpath, "accuracy.txt"), entry)
                    )
                elif "accuracy.txt" in filenames:
                    parsed = _accuracy.read_accuracy_file(os.path.join(dirpath, "accuracy.txt"))
                    values = parsed["values"]
                    first = next(iter(values), None)
                    record["accuracy"] = {
                        "metric": first,
                        "value": values.get(first),
                        "unit": "",
                        "met": None,
                        "target": None,
                        "reasons": [f"model {record['model']!r} not in the registry"],
                    }
        if round_info:
            _apply_round(record, round_info, registry, dirpath)
        if _TEST_DIR.match(kind):
            rules = record.get("_accuracy_rules")
            record["compliance"] = _compliance.compliance_verdict(dirpath, kind, rules)
        record.pop("_accuracy_rules", None)
        records.append(record)
    _attach_accuracy(records, models)
    records.sort(key=lambda r: (r["system"] or "", r["model"] or "", r["scenario"] or "", r["mode"] or ""))
    return records


def _apply_round(record, round_info, registry, run_dir):
    """Score ``record`` as the round's checker does: metric, accuracy (every metric), LLM limits."""
    facts = round_info["facts"]
    model = _rounds.checker_model(facts, record["model"], registry)
    record["round"] = round_info["name"]
    record["checker_model"] = model
    if model is None:
        record["reasons"] = [
            *record["reasons"],
            f"model {record['model']!r} is not a benchmark of round {round_info['name']}",
        ]
        return
    scenario = record["scenario"]
    record["_accuracy_rules"] = _rounds.accuracy_rules(facts, model, scenario)
    loadgen = record.get("loadgen") or {}
    if record["mode"] == "performance" and loadgen.get("log_values") is not None:
        official = _mlperf_logs.official_metric(loadgen, facts, model, scenario)
        record["official"] = official
        if official["metric_key"]:
            record.update(metric=official["metric"], value=official["value"], unit=official["unit"])
            record["value_ns"] = official["value_ns"]
        if official["inferred"]:
            record["inferred_from"] = official["inferred_from"]
        seeds = _rounds.seed_problems(facts, loadgen.get("settings"))
        psc = _rounds.performance_sample_count_problem(facts, model, loadgen.get("settings"))
        if psc:
            seeds.append(psc)
        if seeds:
            record["round_problems"] = seeds
        for reason in official["reasons"]:
            if reason not in record["reasons"]:
                record["reasons"] = [*record["reasons"], reason]
        limits = _rounds.latency_limits_ns(facts, model, scenario)
        if limits and scenario in ("Server", "Interactive"):
            record["latency_check"] = _mlperf_logs.llm_latency_check(loadgen, limits, scenario)
    if record["mode"] == "accuracy" and os.path.isfile(os.path.join(run_dir, "accuracy.txt")):
        # our own runs too: result.json judged the run by the registry entry, the report by the round
        samples = (loadgen.get("log_values") or {}).get("effective_accuracy_sample_count")
        if samples is None:
            samples = (loadgen.get("log_values") or {}).get("qsl_reported_total_count")
        path = os.path.join(run_dir, "accuracy.txt")
        result = _accuracy.evaluate_round_accuracy(path, record["_accuracy_rules"], samples=samples)
        if samples is None and result.get("total") is not None:
            result = _accuracy.evaluate_round_accuracy(
                path, record["_accuracy_rules"], samples=result["total"]
            )
        record["accuracy"] = _acc_summary(result)


def _listdir(path):
    try:
        return os.listdir(path)
    except OSError:
        return []


def _mark_old(records):
    """Mark rows of runs that a later run of the same system/model/scenario/mode replaced.

    A later run is a higher ``performance/run_N`` or, between ``result.json`` rows, a later
    ``started`` time; a compliance run started before the performance run it verifies is old too.
    Old rows stay in the report (marked ``old``) but are never submittable nor copied into a
    submission tree.
    """
    groups = {}
    for rec in records:
        groups.setdefault((rec["system"], rec["model"], rec["dir_scenario"], rec["mode"]), []).append(rec)
    for group in groups.values():
        if len(group) < 2:
            continue
        newest = max(group, key=lambda r: (str(r.get("started") or ""), _run_number(r["run_dir"])))
        for rec in group:
            if rec is not newest:
                rec["old"] = f"replaced by {newest['run_dir']}"
    # A compliance run older than the performance run it verifies was made for an earlier one.
    for (system, model, scenario, mode), group in groups.items():
        if not _TEST_DIR.match(str(mode)):
            continue
        perf = [r for r in groups.get((system, model, scenario, "performance"), []) if not r.get("old")]
        newest_perf = max((str(r.get("started") or "") for r in perf), default="")
        for rec in group:
            started = str(rec.get("started") or "")
            if started and newest_perf and started < newest_perf and not rec.get("old"):
                rec["old"] = f"older than the performance run it verifies (started {started} < {newest_perf})"


def _run_number(run_dir):
    match = re.search(r"run_(\d+)$", run_dir.replace(os.sep, "/"))
    return int(match.group(1)) if match else 0


def _attach_accuracy(records, models):
    _mark_old(records)
    acc_by_key = {}
    for rec in records:
        if rec["mode"] == "accuracy" and not rec.get("old"):
            acc_by_key[(rec["system"], rec["model"], rec["dir_scenario"])] = rec["accuracy"]
        if rec["mode"] == "accuracy" and rec.get("round") and (rec["accuracy"] or {}).get("checks"):
            # judged by the round (result.json's verdict used the registry entry alone)
            acc = rec["accuracy"]
            reasons = list(acc.get("reasons") or [])
            if acc.get("met") is None:
                reasons.append(
                    f"round {rec['round']} publishes no accuracy target for {rec.get('checker_model')}"
                )
            if rec.get("old"):
                reasons.append(f"old run: {rec['old']}")
            rec["submittable"] = {"ok": acc.get("met") is True and not reasons, "reasons": reasons}
    for rec in records:
        if rec["mode"] != "performance":
            continue
        acc = acc_by_key.get((rec["system"], rec["model"], rec["dir_scenario"]))
        if rec["accuracy"] is None:
            rec["accuracy"] = acc
        verdict = _verdict.submittable_verdict(
            rec["execution_mode"] or "unknown",
            rec.get("loadgen"),
            rec["accuracy"],
            performance_only_model=rec["performance_only_model"],
            model_entry=models.get(rec["model"]),
            scenario=rec["scenario"],
        )
        check = rec.get("latency_check") or {}
        if check.get("ok") is False:
            verdict["reasons"] += check["reasons"]
        if rec.get("old"):
            verdict["reasons"].append(f"old run: {rec['old']}")
        for problem in rec.get("round_problems") or []:
            verdict["reasons"].append(f"round {rec.get('round')}: {problem}")
        # A result.json verdict was judged on the run alone (mlperf_run); the report adds what
        # only the whole tree shows (the matching accuracy run).
        reasons = list((rec["submittable"] or {}).get("reasons") or [])
        reasons += [r for r in verdict["reasons"] if r not in reasons and not _covered(r, reasons)]
        rec["submittable"] = {"ok": not reasons, "reasons": reasons}


def _covered(reason, reasons):
    """True when ``reason`` restates one of ``reasons`` (same leading ``key=``/``key:`` word)."""
    head = re.split(r"[=:]", reason, maxsplit=1)[0]
    return any(r.startswith(head) for r in reasons) if head != reason else False


def merge_fetch_errors(failed, fetch_errors):
    """Add ``{host: reason}`` fetch failures to the failed-host list (one entry per host)."""
    seen = {h["host"] for h in failed}
    out = list(failed)
    for host, reason in sorted((fetch_errors or {}).items()):
        if host in seen:
            for entry in out:
                known = entry["reason"] or ""
                if entry["host"] == host and known not in reason and reason not in known:
                    entry["reason"] = f"{known}; collect: {reason}".strip("; ")
        else:
            out.append({"host": host, "status": "failed", "task": "collect: fetch results", "reason": reason})
    return out


def read_hosts(path):
    """``hosts.json`` (mlperf_hosts callback) -> list of ``{host, status, task, reason}`` not ok."""
    data = _read_json(path) if path and os.path.isfile(path) else None
    failed = []
    for host, info in sorted((data or {}).items()):
        if not isinstance(info, dict) or info.get("status") == "ok":
            continue
        failed.append(
            {
                "host": host,
                "status": info.get("status", "unknown"),
                "task": info.get("task", ""),
                "reason": info.get("reason", ""),
            }
        )
    return failed


def json_runs(records):
    """report.json rows (drops the bulky parsed loadgen dict, keeps its settings)."""
    out = []
    for rec in records:
        row = {k: v for k, v in rec.items() if k != "loadgen"}
        if rec.get("loadgen"):
            row["settings"] = rec["loadgen"].get("settings")
            row["loadgen_version"] = rec["loadgen"].get("loadgen_version")
            row["latency_ns"] = rec["loadgen"].get("latency_ns")
        out.append(row)
    return out
