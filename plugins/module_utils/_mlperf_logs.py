# Copyright: fleetbench.mlperf contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""LoadGen log parser (stdlib only: it also runs on SUTs inside ``mlperf_run``).

Reads ``mlperf_log_detail.txt`` (``:::MLLOG {json}`` records) and
``mlperf_log_summary.txt`` (human-readable) of one LoadGen run and returns
the facts the MLPerf submission checker would take from them.

Where the facts come from (mlcommons/inference, tools/submission/
submission_checker.py, ``RESULT_FIELD_NEW`` and ``RESULT_FIELD_BENCHMARK_OVERWRITE``
for rounds v4.1 .. v6.0; LoadGen 5.x/6.x ``results.cc``):

=============  ===========================================  =============================
scenario       detail-log key the checker reads              unit returned here
=============  ===========================================  =============================
Offline        ``result_samples_per_second``                 ``samples/s``
Offline (LLM)  ``result_tokens_per_second``                  ``tokens/s``
Server         ``result_completed_samples_per_sec``          ``samples/s``
Server (LLM)   ``result_completed_tokens_per_second``        ``tokens/s``
SingleStream   ``early_stopping_latency_ss`` (ns)            ``ms`` (+ ``value_ns``)
MultiStream    ``early_stopping_latency_ms`` (ns)            ``ms`` (+ ``value_ns``)
=============  ===========================================  =============================

Up to round v4.0 the checker took the *scheduled* Server rate
(``result_scheduled_samples_per_sec``); from v4.1 on it takes the *completed*
rate, which is what this parser returns (the scheduled rate is kept in
``extra``). Summary fallbacks: ``Samples per second``, ``Tokens per second``,
``Completed samples per second``, ``Completed tokens per second``,
``Early stopping 90th|90.0th percentile estimate``,
``Early stopping 99th|99.0th percentile estimate``.

:func:`parse_run_dir` keeps that default headline (``metric``/``value``) and every
``result_*`` / early-stopping key in ``log_values``; :func:`official_metric` then scores the
run as the checker of one round does (its ``RESULT_FIELD_NEW`` + ``RESULT_FIELD_BENCHMARK_OVERWRITE``
tables in the registry's ``rounds``: e.g. the scheduled Server rate up to v4.0, gptj's inferred
tokens/s from v4.1, inferred MultiStream/Offline results, Interactive folders holding Server logs).

All latencies in LoadGen logs are nanoseconds. Keys ending ``_ns`` hold
integers in ns, keys ending ``_ms`` floats in ms; the two are never mixed.
"""

from __future__ import annotations

import json
import math
import os
import re

MARKER = ":::MLLOG"
DETAIL_LOG = "mlperf_log_detail.txt"
SUMMARY_LOG = "mlperf_log_summary.txt"

#: percentile keys of ``latency_ns`` / ``latency_ms`` -> LoadGen's label (results.cc)
PERCENTILES = {
    "p50": "50.00",
    "p90": "90.00",
    "p95": "95.00",
    "p97": "97.00",
    "p99": "99.00",
    "p99.9": "99.90",
}

SCENARIOS = ("Offline", "Server", "SingleStream", "MultiStream")

_MODE_NAMES = {
    "PerformanceOnly": "performance",
    "AccuracyOnly": "accuracy",
    "SubmissionRun": "submission",
    "FindPeakPerformance": "find_peak_performance",
}

#: detail-log boolean keys -> reason text when false (LoadGen results.cc)
_CONDITIONS = (
    ("result_min_duration_met", "min_duration", "minimum duration not met (Min duration satisfied: NO)"),
    ("result_min_queries_met", "min_queries", "minimum query count not met (Min queries satisfied: NO)"),
    ("early_stopping_met", "early_stopping", "early stopping not satisfied (Early stopping satisfied: NO)"),
    (
        "result_perf_constraints_met",
        "performance_constraints",
        "performance constraints not met (latency bound exceeded)",
    ),
)
_SUMMARY_CONDITIONS = {
    "min duration satisfied": "result_min_duration_met",
    "min queries satisfied": "result_min_queries_met",
    "early stopping satisfied": "early_stopping_met",
    "performance constraints satisfied": "result_perf_constraints_met",
}


#: detail-log keys kept in ``log_values`` (what the checker's round tables may score a run by)
_LOG_VALUE_PREFIXES = ("result_", "early_stopping_latency")
_LOG_VALUE_KEYS = (
    "effective_samples_per_query",
    "qsl_reported_total_count",
    "effective_accuracy_sample_count",
    "requested_use_token_latencies",
    "effective_scenario",
)
#: summary label -> detail-log key (LoadGen results.cc prints one for the other)
SUMMARY_TO_DETAIL = {
    "Samples per second": "result_samples_per_second",
    "Completed samples per second": "result_completed_samples_per_sec",
    "Scheduled samples per second": "result_scheduled_samples_per_sec",
    "Tokens per second": "result_tokens_per_second",
    "Completed tokens per second": "result_completed_tokens_per_second",
    "Tokens per second (inferred)": "result_inferred_tokens_per_second",
    "Completed tokens per second (inferred)": "result_inferred_completed_tokens_per_second",
    "QPS w/o loadgen overhead": "result_qps_without_loadgen_overhead",
    "Mean latency (ns)": "result_mean_latency_ns",
    "90.00 percentile latency (ns)": "result_90.00_percentile_latency_ns",
    "99.00 percentile latency (ns)": "result_99.00_percentile_latency_ns",
    "99.00 percentile first token latency (ns)": "result_first_token_99.00_percentile_latency_ns",
    "99.00 percentile time to output token (ns)": "result_time_per_output_token_99.00_percentile_ns",
    "samples_per_query": "effective_samples_per_query",
    "Scenario": "effective_scenario",
}
#: early-stopping estimate label of the summary -> detail key (SingleStream logs both, MultiStream the 99th)
_ES_TO_DETAIL = {"90": "early_stopping_latency_ss", "99": "early_stopping_latency_ms"}


class LogParseError(ValueError):
    """Raised when a run directory holds no LoadGen log at all."""


# ---------------------------------------------------------------------------
# low-level readers
# ---------------------------------------------------------------------------
def _num(value):
    """Return ``value`` as int/float, or None for ``inf``, ``nan``, ``-nan`` and non-numbers."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return None if isinstance(value, float) and not math.isfinite(value) else value
    text = str(value).strip()
    try:
        number = int(text)
    except ValueError:
        try:
            number = float(text)
        except ValueError:
            return None
    if isinstance(number, float) and not math.isfinite(number):
        return None
    return number


def _is_nonfinite(value):
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, str):
        return value.strip().lower().lstrip("+-") in ("inf", "nan", "infinity")
    return False


def read_detail_records(path):
    """Read ``:::MLLOG`` records from a detail log.

    Returns a list of dicts (``key``, ``value``, ``metadata`` ...). A record whose
    JSON value contains a raw newline spans several physical lines: lines that do
    not start with the marker are appended to the pending record (joined with
    ``\\n``) until it decodes. ``NaN``/``Infinity`` literals decode to floats.
    Undecodable fragments are skipped (counted in the ``_undecodable`` pseudo
    record's value when any exist).
    """
    records = []
    pending = None
    bad = 0
    with open(path, encoding="utf-8", errors="replace") as handle:
        for raw in handle:
            line = raw.rstrip("\r\n")
            if line.startswith(MARKER):
                if pending is not None:
                    bad += 1
                pending = line[len(MARKER) :].strip()
            elif pending is not None:
                pending += "\n" + line
            else:
                continue
            try:
                record = json.loads(pending, strict=False)
            except ValueError:
                continue
            if isinstance(record, dict):
                records.append(record)
            pending = None
    if pending is not None:
        bad += 1
    if bad:
        records.append({"key": "_undecodable", "value": bad})
    return records


def _detail_dict(records):
    """Last value per key, plus warning/error accounting."""
    values = {}
    warnings = 0
    errors = 0
    error_messages = []
    warning_messages = []
    for record in records:
        key = record.get("key")
        if key is None:
            continue
        meta = record.get("metadata") or {}
        if meta.get("is_error"):
            errors += 1
            error_messages.append("{}: {}".format(key, record.get("value")))
        if meta.get("is_warning"):
            warnings += 1
            warning_messages.append("{}: {}".format(key, record.get("value")))
        values[key] = record.get("value")
    return values, warnings, errors, error_messages, warning_messages


_SUMMARY_LINE = re.compile(r"^\s*([^:]+?)\s*:\s*(.*?)\s*$")
_ES_ESTIMATE = re.compile(r"Early stopping (\d+(?:\.\d+)?)th percentile estimate\s*:\s*(\S+)", re.I)
_PCT_LINE = re.compile(r"^(\d+(?:\.\d+)?) percentile latency \(ns\)$", re.I)


def parse_summary_text(text):
    """Parse ``mlperf_log_summary.txt`` text into a flat dict.

    Returns ``{"fields": {label: raw str}, "conditions": {detail key: bool},
    "early_stopping_estimates": {"90": ns, ...}, "early_stopping_lines": [str],
    "warnings": int|None, "errors": int|None, "has_results": bool}``. Labels are
    stripped of surrounding spaces; a label seen twice keeps its first value
    (the Results section comes before Additional Stats).
    """
    fields = {}
    conditions = {}
    estimates = {}
    es_lines = []
    warnings = errors = None
    has_results = False
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("====="):
            continue
        if stripped == "MLPerf Results Summary":
            has_results = True
            continue
        match = _ES_ESTIMATE.search(stripped)
        if match:
            label = match.group(1)
            label = label[:-2] if label.endswith(".0") else label
            estimates[label] = match.group(2)
            es_lines.append(stripped.lstrip("* "))
            continue
        if stripped.startswith("*"):
            es_lines.append(stripped.lstrip("* "))
            continue
        lowered = stripped.lower()
        match = re.match(r"^(no|\d+) warnings? encountered", lowered)
        if match:
            warnings = 0 if match.group(1) == "no" else int(match.group(1))
            continue
        match = re.match(r"^(no|\d+) errors? encountered", lowered)
        if match:
            errors = 0 if match.group(1) == "no" else int(match.group(1))
            continue
        match = _SUMMARY_LINE.match(stripped)
        if not match:
            continue
        label, value = match.group(1), match.group(2)
        cond = _SUMMARY_CONDITIONS.get(label.lower())
        if cond:
            conditions[cond] = value.strip().lower() == "yes"
            continue
        fields.setdefault(label, value)
    return {
        "fields": fields,
        "conditions": conditions,
        "early_stopping_estimates": estimates,
        "early_stopping_lines": es_lines,
        "warnings": warnings,
        "errors": errors,
        "has_results": has_results,
    }


# ---------------------------------------------------------------------------
# normalisation
# ---------------------------------------------------------------------------
def _ns_to_ms(value):
    return None if value is None else value / 1e6


def _ms_dict(ns_dict):
    return {key: _ns_to_ms(val) for key, val in ns_dict.items()}


def _empty_latency():
    return dict.fromkeys(("min", "max", "mean", *PERCENTILES), None)


def _metric_spec(scenario, tokens):
    """(metric name, unit, detail key, summary labels) for the official metric."""
    if scenario == "Offline":
        if tokens:
            return "tokens_per_second", "tokens/s", "result_tokens_per_second", ("Tokens per second",)
        return "samples_per_second", "samples/s", "result_samples_per_second", ("Samples per second",)
    if scenario == "Server":
        if tokens:
            return (
                "completed_tokens_per_second",
                "tokens/s",
                "result_completed_tokens_per_second",
                ("Completed tokens per second",),
            )
        return (
            "completed_samples_per_second",
            "samples/s",
            "result_completed_samples_per_sec",
            ("Completed samples per second",),
        )
    if scenario == "SingleStream":
        return "p90_latency_early_stopping", "ms", "early_stopping_latency_ss", ("90",)
    if scenario == "MultiStream":
        return "p99_latency_early_stopping", "ms", "early_stopping_latency_ms", ("99",)
    return None, "", None, ()


def _base_result():
    return {
        "scenario": None,
        "mode": None,
        "validity": None,
        "reasons": [],
        "conditions": {},
        "metric": None,
        "value": None,
        "value_ns": None,
        "unit": "",
        "latency_ns": _empty_latency(),
        "latency_ms": _empty_latency(),
        "early_stopping": {},
        "settings": {},
        "warnings": 0,
        "errors": 0,
        "error_messages": [],
        "warning_messages": [],
        "loadgen_version": None,
        "source": None,
        "sut_name": None,
        "token_latencies": False,
        "extra": {},
        "log_values": {},
    }


def _finish(result):
    """Apply the value/validity rules common to both sources."""
    if result["mode"] != "performance":
        # Accuracy runs have no performance verdict.
        result["validity"] = None
        return result
    if result["value"] is None and result["validity"] == "VALID":
        result["validity"] = "INVALID"
        result["reasons"].append("{}: no finite value in the log".format(result["metric"]))
    if result["validity"] is None:
        result["validity"] = "INVALID"
        result["reasons"].append("LoadGen wrote no result (run incomplete?)")
    return result


def parse_detail_records(records, model_tokens=None):
    """Build the parse result from detail-log records (see :func:`parse_run_dir`)."""
    values, warnings, errors, error_messages, warning_messages = _detail_dict(records)
    result = _base_result()
    result["source"] = "detail"
    result["warnings"], result["errors"] = warnings, errors
    result["error_messages"], result["warning_messages"] = error_messages, warning_messages
    result["loadgen_version"] = values.get("loadgen_version")
    result["sut_name"] = values.get("sut_name")
    scenario = values.get("effective_scenario") or values.get("requested_scenario")
    result["scenario"] = scenario
    mode = values.get("effective_test_mode") or values.get("requested_test_mode")
    result["mode"] = _MODE_NAMES.get(mode, mode)
    result["settings"] = {k[len("effective_") :]: v for k, v in values.items() if k.startswith("effective_")}
    tokens = bool(
        values.get("requested_use_token_latencies")
        or values.get("effective_use_token_latencies")
        or "result_tokens_per_second" in values
        or "result_completed_tokens_per_second" in values
    )
    if model_tokens is not None:
        tokens = bool(model_tokens) or tokens
    result["token_latencies"] = tokens

    sample = _empty_latency()
    sample["min"] = _num(values.get("result_min_latency_ns"))
    sample["max"] = _num(values.get("result_max_latency_ns"))
    sample["mean"] = _num(values.get("result_mean_latency_ns"))
    for short, label in PERCENTILES.items():
        sample[short] = _num(values.get(f"result_{label}_percentile_latency_ns"))
    if scenario == "MultiStream":
        # MultiStream's latency is per query (what its summary prints); per-sample kept apart.
        lat = {
            "min": _num(values.get("result_min_query_latency_ns")),
            "max": _num(values.get("result_max_query_latency_ns")),
            "mean": _num(values.get("result_mean_query_latency_ns")),
        }
        for short, label in PERCENTILES.items():
            lat[short] = _num(values.get(f"result_{label}_percentile_per_query_latency_ns"))
        result["sample_latency_ns"] = sample
        result["sample_latency_ms"] = _ms_dict(sample)
    else:
        lat = sample
    result["latency_ns"] = lat
    result["latency_ms"] = _ms_dict(lat)
    if tokens:
        # LoadGen results.cc key names (use_token_latencies, non-Offline scenarios).
        ttft = {
            "min": _num(values.get("result_first_token_min_latency_ns")),
            "max": _num(values.get("result_first_token_max_latency_ns")),
            "mean": _num(values.get("result_first_token_mean_latency_ns")),
        }
        tpot = {
            "min": _num(values.get("result_time_to_output_token_min")),
            "max": _num(values.get("result_time_to_output_token_max")),
            "mean": _num(values.get("result_time_to_output_token_mean")),
        }
        for short, label in PERCENTILES.items():
            ttft[short] = _num(values.get(f"result_first_token_{label}_percentile_latency_ns"))
            tpot[short] = _num(values.get(f"result_time_per_output_token_{label}_percentile_ns"))
        for name, block in (("ttft", ttft), ("tpot", tpot)):
            result[name + "_ns"] = block
            result[name + "_ms"] = _ms_dict(block)
    result["early_stopping"] = {k: v for k, v in values.items() if k.startswith("early_stopping")}
    result["log_values"] = {
        k: v for k, v in values.items() if k.startswith(_LOG_VALUE_PREFIXES) or k in _LOG_VALUE_KEYS
    }
    for key in (
        "result_scheduled_samples_per_sec",
        "result_query_count",
        "result_overlatency_query_count",
        "result_samples_per_second",
        "result_completed_samples_per_sec",
        "result_tokens_per_second",
        "result_completed_tokens_per_second",
        "generated_samples_per_query",
        "num_errors",
    ):
        if key in values:
            result["extra"][key] = values[key]

    metric, unit, key, _labels = _metric_spec(scenario, tokens)
    result["metric"], result["unit"] = metric, unit
    if (
        scenario == "Server"
        and not tokens
        and key not in values
        and "result_scheduled_samples_per_sec" in values
    ):
        # LoadGen before the completed-rate headline (checker rounds <= v4.0 read the scheduled rate).
        metric, key = "scheduled_samples_per_second", "result_scheduled_samples_per_sec"
        result["metric"] = metric
        result["extra"]["metric_note"] = "old LoadGen log: no completed rate, the scheduled rate is reported"
    if tokens and key and key not in values:
        # infer_token_latencies (mlperf.conf gptj, LoadGen >= 4.1): the token rate is inferred from the
        # sample rate x token_latency_scaling_factor and logged under result_inferred_*.
        inferred = key.replace("result_", "result_inferred_", 1)
        if inferred in values:
            key = inferred
            result["extra"]["metric_note"] = "tokens per second inferred (infer_token_latencies)"
    raw = values.get(key) if key else None
    if _is_nonfinite(raw):
        result["reasons"].append(f"{key} is {raw} in the log")
    number = _num(raw)
    if unit == "ms":
        # Too few queries for an estimate: LoadGen logs no value (or 0); never report 0.0.
        if number is not None and number > 0 and values.get("early_stopping_met") is not False:
            result["value_ns"] = number
            result["value"] = number / 1e6
    else:
        result["value"] = number

    validity = values.get("result_validity")
    result["validity"] = validity if validity in ("VALID", "INVALID") else None
    for dkey, short, text in _CONDITIONS:
        if dkey in values:
            result["conditions"][short] = bool(values[dkey])
            if values[dkey] is False:
                result["reasons"].append(text)
    recommendation = str(values.get("result_invalid_reason") or "").strip()
    if recommendation:
        result["extra"]["recommendation"] = recommendation
        if result["validity"] == "INVALID":
            result["reasons"].append(f"LoadGen recommends: {recommendation}")
    if result["validity"] == "INVALID" and not result["reasons"]:
        result["reasons"].append("LoadGen reported INVALID")
    return _finish(result)


def parse_summary(text, model_tokens=None):
    """Build the parse result from summary-log text (see :func:`parse_run_dir`)."""
    parsed = parse_summary_text(text)
    fields = parsed["fields"]
    result = _base_result()
    result["source"] = "summary"
    result["warnings"] = parsed["warnings"] or 0
    result["errors"] = parsed["errors"] or 0
    if result["errors"]:
        result["error_messages"].append(f"{result['errors']} errors reported by the summary log")
    result["sut_name"] = fields.get("SUT name")
    result["scenario"] = fields.get("Scenario")
    mode = fields.get("Mode")
    result["mode"] = _MODE_NAMES.get(mode, mode)
    if not parsed["has_results"]:
        # An accuracy-mode run writes only the warnings/errors footer.
        result["mode"] = result["mode"] or "accuracy"
    tokens = "Tokens per second" in fields or "Completed tokens per second" in fields
    if model_tokens is not None:
        tokens = bool(model_tokens) or tokens
    result["token_latencies"] = tokens

    lat = result["latency_ns"]
    lat["min"] = _num(fields.get("Min latency (ns)"))
    lat["max"] = _num(fields.get("Max latency (ns)"))
    lat["mean"] = _num(fields.get("Mean latency (ns)"))
    for short, label in PERCENTILES.items():
        lat[short] = _num(fields.get(f"{label} percentile latency (ns)"))
    result["latency_ms"] = _ms_dict(lat)
    # (MultiStream summaries print per-query latencies under "Per-query latency:", as latency_ns here.)
    if tokens:
        # TPOT labels: "Time to Output Token" (LoadGen 5.x) / "Time per Output Token" (6.x) for min/max/mean;
        # the percentile lines say "time to output token" in both.
        for name, labels, pct_label in (
            ("ttft", ("First Token latency (ns)",), "first token latency (ns)"),
            (
                "tpot",
                ("Time to Output Token (ns)", "Time per Output Token (ns)"),
                "time to output token (ns)",
            ),
        ):
            block = {}
            for stat, word in (("min", "Min "), ("max", "Max "), ("mean", "Mean ")):
                block[stat] = next((_num(fields[word + lb]) for lb in labels if word + lb in fields), None)
            for short, pct in PERCENTILES.items():
                block[short] = _num(fields.get(f"{pct} percentile {pct_label}"))
            result[name + "_ns"] = block
            result[name + "_ms"] = _ms_dict(block)
    settings_labels = (
        "samples_per_query",
        "target_qps",
        "target_latency (ns)",
        "ttft_latency (ns)",
        "tpot_latency (ns)",
        "max_async_queries",
        "min_duration (ms)",
        "max_duration (ms)",
        "min_query_count",
        "max_query_count",
        "qsl_rng_seed",
        "sample_index_rng_seed",
        "schedule_rng_seed",
        "accuracy_log_rng_seed",
        "accuracy_log_probability",
        "accuracy_log_sampling_target",
        "print_timestamps",
        "performance_issue_unique",
        "performance_issue_same",
        "performance_issue_same_index",
        "performance_sample_count",
    )
    for label in settings_labels:
        if label in fields:
            key = label.replace(" (ns)", "_ns").replace(" (ms)", "_ms")
            number = _num(fields[label])
            result["settings"][key] = number if number is not None else fields[label]
    result["early_stopping"] = {
        "estimates_ns": {k: _num(v) for k, v in parsed["early_stopping_estimates"].items()},
        "lines": parsed["early_stopping_lines"],
    }
    for label in (
        "Scheduled samples per second",
        "QPS w/ loadgen overhead",
        "QPS w/o loadgen overhead",
        "Samples per second",
        "Completed samples per second",
        "Tokens per second",
        "Completed tokens per second",
        "90th percentile latency (ns)",
        "99th percentile latency (ns)",
    ):
        if label in fields:
            result["extra"][label] = _num(fields[label])

    result["log_values"] = _summary_log_values(parsed)
    metric, unit, _key, labels = _metric_spec(result["scenario"], tokens)
    result["metric"], result["unit"] = metric, unit
    if unit == "ms":
        raw = parsed["early_stopping_estimates"].get(labels[0])
        if _is_nonfinite(raw):
            result["reasons"].append(f"early-stopping estimate is {raw} in the log")
        number = _num(raw)
        if number is not None and number > 0:
            result["value_ns"] = number
            result["value"] = number / 1e6
    elif labels:
        label = labels[0]
        if (
            result["scenario"] == "Server"
            and not tokens
            and label not in fields
            and "Scheduled samples per second" in fields
        ):
            # LoadGen before the completed-rate headline (checker rounds <= v4.0 read the scheduled rate).
            label = "Scheduled samples per second"
            result["metric"] = "scheduled_samples_per_second"
            result["extra"]["metric_note"] = (
                "old LoadGen log: no completed rate, the scheduled rate is reported"
            )
        if tokens and label not in fields and f"{label} (inferred)" in fields:
            label = f"{label} (inferred)"  # infer_token_latencies (gptj): "Tokens per second (inferred)"
            result["extra"]["metric_note"] = "tokens per second inferred (infer_token_latencies)"
        raw = fields.get(label)
        if _is_nonfinite(raw):
            result["reasons"].append(f"{label} is {raw} in the log")
        result["value"] = _num(raw)

    verdict = fields.get("Result is")
    result["validity"] = verdict if verdict in ("VALID", "INVALID") else None
    for dkey, short, text in _CONDITIONS:
        if dkey in parsed["conditions"]:
            result["conditions"][short] = parsed["conditions"][dkey]
            if not parsed["conditions"][dkey]:
                result["reasons"].append(text)
    if result["validity"] == "INVALID" and not result["reasons"]:
        result["reasons"].append("LoadGen reported INVALID")
    return _finish(result)


def _summary_log_values(parsed):
    """Detail-log-keyed numbers of a parsed summary (``SUMMARY_TO_DETAIL``, early-stopping estimates)."""
    out = {}
    for label, key in SUMMARY_TO_DETAIL.items():
        if label in parsed["fields"]:
            raw = parsed["fields"][label]
            number = _num(raw)
            out[key] = number if number is not None or key == "effective_scenario" else raw
            if key == "effective_scenario":
                out[key] = raw
    # MultiStream per-query lines come after "Per-query latency:" with the same labels as per-sample ones
    for label, key in _ES_TO_DETAIL.items():
        if label in parsed["early_stopping_estimates"]:
            out[key] = _num(parsed["early_stopping_estimates"][label])
    return out


# ---------------------------------------------------------------------------
# the checker's score of a run, per round
# ---------------------------------------------------------------------------
#: detail key -> (metric name in results, unit); the unit of a latency key is ms after / 1e6
_METRIC_NAMES = {
    "result_samples_per_second": ("samples_per_second", "samples/s"),
    "result_completed_samples_per_sec": ("completed_samples_per_second", "samples/s"),
    "result_scheduled_samples_per_sec": ("scheduled_samples_per_second", "samples/s"),
    "result_tokens_per_second": ("tokens_per_second", "tokens/s"),
    "result_completed_tokens_per_second": ("completed_tokens_per_second", "tokens/s"),
    "result_inferred_tokens_per_second": ("inferred_tokens_per_second", "tokens/s"),
    "result_inferred_completed_tokens_per_second": ("inferred_completed_tokens_per_second", "tokens/s"),
    "early_stopping_latency_ss": ("p90_latency_early_stopping", "ms"),
    "early_stopping_latency_ms": ("p99_latency_early_stopping", "ms"),
    "result_90.00_percentile_latency_ns": ("p90_latency", "ms"),
    "result_99.00_percentile_per_query_latency_ns": ("p99_query_latency", "ms"),
}
#: (log scenario, folder scenario) pairs the checker accepts as an inferred result, edge systems only
#: (checker ``inferred_check``, v4.0 .. v6.1); Server logs in Interactive folders are not inferred.
INFERRED_PAIRS = (("SingleStream", "MultiStream"), ("MultiStream", "Offline"), ("SingleStream", "Offline"))
#: samples per query the checker assumes when it infers MultiStream from a SingleStream log
INFERRED_MULTISTREAM_SAMPLES = 8


def official_metric(parsed, facts, model, dir_scenario=None):
    """The figure the official checker of one round takes from a parsed run, and how.

    :param parsed: :func:`parse_run_dir` output (needs ``log_values``).
    :param facts: ``_rounds.round_facts`` of the round (``result_field``,
        ``result_field_benchmark_overwrite``, ``name``, ``source``).
    :param model: the checker's model name in that round (``_rounds.checker_model``).
    :param dir_scenario: the folder's scenario (``Interactive``, or an inferred one); default the log's.
    :returns: ``{"round", "round_source", "scenario" (the folder's), "log_scenario", "metric_key",
        "metric", "value", "value_ns", "unit", "inferred": bool, "inferred_from", "reasons": [str]}``.
        Latencies are ms (``value_ns`` keeps ns). Inference rules (checker ``get_inferred_result``):
        MultiStream from SingleStream = 8 x the SingleStream early-stopping 99th-percentile estimate;
        Offline from SingleStream = QPS w/o loadgen overhead; Offline from MultiStream =
        samples_per_query * 1000 / mean query latency (ms).
    """
    values = parsed.get("log_values") or {}
    log_scenario = parsed.get("scenario")
    folder = _canonical(dir_scenario) or log_scenario
    out = {
        "round": facts.get("name"),
        "round_source": facts.get("source"),
        "scenario": folder,
        "log_scenario": log_scenario,
        "metric_key": None,
        "metric": None,
        "value": None,
        "value_ns": None,
        "unit": "",
        "inferred": False,
        "inferred_from": None,
        "reasons": [],
    }
    if parsed.get("mode") != "performance":
        return out
    table = facts.get("result_field") or {}
    overwrite = ((facts.get("result_field_benchmark_overwrite") or {}).get(model) or {}).get(log_scenario)
    key = overwrite or table.get(log_scenario)
    if key is None:
        out["reasons"].append(f"round {facts.get('name')}: no result field for scenario {log_scenario}")
        return out
    name, unit = _METRIC_NAMES.get(
        key, (key, "ms" if log_scenario in ("SingleStream", "MultiStream") else "")
    )
    out.update(metric_key=key, metric=name, unit=unit)
    raw = values.get(key)
    number = _num(raw)
    if raw is None:
        out["reasons"].append(f"{key} not in the log (round {facts.get('name')} scores {log_scenario} by it)")
    elif number is None:
        out["reasons"].append(f"{key} is {raw} in the log")
    if log_scenario in ("SingleStream", "MultiStream") and number is not None:
        if number <= 0:
            out["reasons"].append("too few queries for an early-stopping estimate (LoadGen logged 0)")
            number = None
        else:
            out["value_ns"], number = number, number / 1e6
    out["value"] = number
    if (
        folder
        and log_scenario
        and folder != log_scenario
        and (log_scenario, folder) != ("Server", "Interactive")
    ):
        _infer(out, values, log_scenario, folder)
    elif folder == "Interactive" and log_scenario not in ("Server", "Interactive"):
        out["reasons"].append(f"an Interactive result must come from a Server log, not {log_scenario}")
        out["value"] = None
    return out


def _infer(out, values, log_scenario, folder):
    out["inferred"], out["inferred_from"] = True, log_scenario
    if (log_scenario, folder) not in INFERRED_PAIRS:
        out["reasons"].append(f"a {folder} result cannot be inferred from a {log_scenario} log")
        out["value"] = out["value_ns"] = None
        return
    if folder == "MultiStream":
        estimate = _num(values.get("early_stopping_latency_ms"))
        out.update(metric_key="early_stopping_latency_ms", metric="p99_latency_early_stopping_x8", unit="ms")
        if not estimate:
            out["reasons"].append("no early-stopping 99th-percentile estimate in the SingleStream log")
            out["value"] = out["value_ns"] = None
        else:
            out["value_ns"] = estimate * INFERRED_MULTISTREAM_SAMPLES
            out["value"] = out["value_ns"] / 1e6
    elif log_scenario == "SingleStream":
        qps = _num(values.get("result_qps_without_loadgen_overhead"))
        out.update(
            metric_key="result_qps_without_loadgen_overhead", metric="samples_per_second", unit="samples/s"
        )
        out["value"], out["value_ns"] = qps, None
    else:
        spq = _num(values.get("effective_samples_per_query"))
        mean_ns = _num(values.get("result_mean_query_latency_ns"))
        out.update(
            metric_key="samples_per_query/mean_query_latency", metric="samples_per_second", unit="samples/s"
        )
        out["value_ns"] = None
        out["value"] = spq * 1000 / (mean_ns / 1e6) if spq and mean_ns else None
    if out["value"] is None:
        out["reasons"].append(f"the {log_scenario} log lacks what inferring {folder} needs")


def llm_latency_check(parsed, limits_ns, scenario):
    """TTFT/TPOT 99th percentiles against the round's limits (checker ``extra_check_llm``).

    :param limits_ns: ``{"ttft": ns, "tpot": ns}`` (``_rounds.latency_limits_ns``) or None.
    :returns: ``{"ok": bool|None, "ttft_p99_ms", "tpot_p99_ms", "limits_ms", "reasons"}``; ``ok`` is
        None when there are no limits for this scenario. The checker requires both strictly below.
    """
    ttft = (parsed.get("ttft_ns") or {}).get("p99")
    tpot = (parsed.get("tpot_ns") or {}).get("p99")
    values = parsed.get("log_values") or {}
    ttft = ttft if ttft is not None else _num(values.get("result_first_token_99.00_percentile_latency_ns"))
    tpot = tpot if tpot is not None else _num(values.get("result_time_per_output_token_99.00_percentile_ns"))
    out = {
        "ok": None,
        "scenario": scenario,
        "ttft_p99_ms": _ns_to_ms(ttft),
        "tpot_p99_ms": _ns_to_ms(tpot),
        "limits_ms": None,
        "reasons": [],
    }
    if not limits_ns:
        return out
    out["limits_ms"] = {k: v / 1e6 for k, v in limits_ns.items()}
    ok = True
    for name, got in (("ttft", ttft), ("tpot", tpot)):
        limit = limits_ns.get(name)
        if got is None:
            ok = False
            out["reasons"].append(f"{scenario}: no {name.upper()} 99th percentile in the log")
        elif limit is not None and not got < limit:
            ok = False
            out["reasons"].append(
                f"{scenario}: {name.upper()} p99 {got / 1e6:g} ms not below the limit {limit / 1e6:g} ms"
            )
    out["ok"] = ok
    return out


def _canonical(name):
    if name is None:
        return None
    lowered = str(name).lower()
    for scenario in (*SCENARIOS, "Interactive"):
        if scenario.lower() == lowered:
            return scenario
    return str(name)


def parse_run_dir(path, model_tokens=None, dir_scenario=None):
    """Parse the LoadGen logs of one run directory.

    :param path: directory holding ``mlperf_log_detail.txt`` and/or ``mlperf_log_summary.txt``.
    :param model_tokens: True for token-latency benchmarks (registry ``models.*.token_latencies``);
        None = detect from the log (``use_token_latencies`` / token result keys).
    :param dir_scenario: scenario named by the directory (e.g. ``Interactive``); kept in
        ``dir_scenario``. The log's own scenario always wins for ``scenario``.
    :returns: dict with ``scenario``, ``mode`` (``performance``|``accuracy``), ``validity``
        (``VALID``|``INVALID``|None for accuracy runs), ``reasons`` [str] (every unmet condition),
        ``conditions`` {min_duration, min_queries, early_stopping, performance_constraints: bool},
        ``metric``, ``value`` (float|None; latency metrics in ms), ``value_ns`` (latency metrics),
        ``unit`` (``samples/s``|``tokens/s``|``ms``), ``latency_ns``/``latency_ms``
        {min,max,mean,p50,p90,p95,p97,p99,p99.9}, ``ttft_ns``/``tpot_ns`` (+``_ms``, token benchmarks),
        ``early_stopping``, ``settings`` (test parameters used), ``warnings``, ``errors`` (int),
        ``error_messages`` [str], ``loadgen_version``, ``source`` (``detail``|``summary``), ``extra``.
        The detail log wins; the summary fills values the detail log lacks.
    :raises LogParseError: when the directory holds neither log.
    """
    detail = os.path.join(path, DETAIL_LOG)
    summary = os.path.join(path, SUMMARY_LOG)
    have_detail = os.path.isfile(detail) and os.path.getsize(detail) > 0
    have_summary = os.path.isfile(summary)
    if not have_detail and not have_summary:
        raise LogParseError(f"{path}: neither {DETAIL_LOG} nor {SUMMARY_LOG} found")
    from_summary = None
    if have_summary:
        with open(summary, encoding="utf-8", errors="replace") as handle:
            from_summary = parse_summary(handle.read(), model_tokens=model_tokens)
    if have_detail:
        result = parse_detail_records(read_detail_records(detail), model_tokens=model_tokens)
        if result["scenario"] is None and from_summary is not None:
            result = from_summary
        elif from_summary is not None:
            _fill_from_summary(result, from_summary)
    else:
        result = from_summary
    result["dir_scenario"] = dir_scenario
    result["dir"] = str(path)
    return result


def _fill_from_summary(result, summary):
    """Fill gaps of a detail-log result from the summary (never overrides)."""
    for block in ("latency_ns", "ttft_ns", "tpot_ns"):
        if block in result and block in summary:
            for key, val in result[block].items():
                if val is None and summary[block].get(key) is not None:
                    result[block][key] = summary[block][key]
            result[block.replace("_ns", "_ms")] = _ms_dict(result[block])
    if (
        result["value"] is None
        and summary["value"] is not None
        and result["mode"] == "performance"
        and not result["reasons"]
    ):
        result["value"], result["value_ns"] = summary["value"], summary["value_ns"]
    for key, val in summary["settings"].items():
        result["settings"].setdefault(key, val)
    for key, val in (summary.get("log_values") or {}).items():
        result["log_values"].setdefault(key, val)
