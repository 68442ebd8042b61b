# Copyright: fleetbench.mlperf contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller-side results report: discover runs in a results tree, write report.md/json/html + plots.

Controller only (imports PyYAML through ``_registry``, Jinja2 and matplotlib).

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

import datetime as _dt
import html
import json
import os
import re
from pathlib import Path

from ansible_collections.fleetbench.mlperf.plugins.module_utils import _accuracy, _mlperf_logs, _verdict

SCENARIO_DIRS = {
    "offline": "Offline",
    "server": "Server",
    "singlestream": "SingleStream",
    "multistream": "MultiStream",
    "interactive": "Interactive",
}
LOG_FILES = (_mlperf_logs.SUMMARY_LOG, _mlperf_logs.DETAIL_LOG)
_TEST_DIR = re.compile(r"^TEST\d\d$")
REPORT_FILES = ("report.md", "report.json", "report.html")
PLOT_THROUGHPUT = "plot_throughput.png"
PLOT_LATENCY = "plot_latency.png"
PERCENTILE_KEYS = ("p50", "p90", "p95", "p97", "p99", "p99.9")


def _model_index(registry):
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


def _verify_status(run_dir):
    """PASS/FAIL lines of compliance ``verify_*.txt`` files -> (ok|None, [str])."""
    lines = []
    verdicts = []
    for name in ("verify_accuracy.txt", "verify_performance.txt"):
        path = os.path.join(run_dir, name)
        if not os.path.isfile(path):
            continue
        with open(path, encoding="utf-8", errors="replace") as handle:
            text = handle.read()
        if "TEST FAIL" in text:
            verdicts.append(False)
            lines.append(f"{name}: TEST FAIL")
        elif "TEST PASS" in text:
            verdicts.append(True)
            lines.append(f"{name}: TEST PASS")
        for line in text.splitlines():
            # TEST06 style: "EOS check pass: True" / "... pass: False" / "... pass: Skipped"
            match = re.search(r"pass:\s*(True|False)", line)
            if match:
                verdicts.append(match.group(1) == "True")
                lines.append(f"{name}: {line.strip()}")
    if not verdicts:
        return None, lines
    return all(verdicts), lines


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
        "samples": acc.get("total"),
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
    record["scenario"] = loadgen.get("scenario") or record["scenario"]
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


def discover_runs(root, registry=None):
    """Find every run below ``root`` and return run records sorted by system/model/scenario/mode.

    Performance runs get ``accuracy`` from the accuracy run of the same system/model/scenario and,
    when no ``result.json`` says otherwise, ``submittable`` from :func:`_verdict.submittable_verdict`.
    """
    root = os.path.abspath(root)
    models = _model_index(registry)
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
        if _TEST_DIR.match(kind):
            ok, lines = _verify_status(dirpath)
            record["compliance"] = {"ok": ok, "lines": lines}
        records.append(record)
    _attach_accuracy(records, models)
    records.sort(key=lambda r: (r["system"] or "", r["model"] or "", r["scenario"] or "", r["mode"] or ""))
    return records


def _listdir(path):
    try:
        return os.listdir(path)
    except OSError:
        return []


def _attach_accuracy(records, models):
    acc_by_key = {}
    for rec in records:
        if rec["mode"] == "accuracy":
            acc_by_key[(rec["system"], rec["model"], rec["dir_scenario"])] = rec["accuracy"]
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


# ---------------------------------------------------------------------------
# rendering
# ---------------------------------------------------------------------------
def fmt_value(value, unit):
    """Human text of a metric value with its unit (``-`` when None)."""
    if value is None:
        return "-"
    text = f"{value:,.2f}"
    if unit == "ms":
        text = f"{value:.4g}" if value < 1000 else f"{value:,.1f}"
    return f"{text} {unit}".strip()


def fmt_accuracy(acc):
    if not acc or acc.get("value") is None:
        return "-"
    unit = acc.get("unit") or ""
    unit_text = "%" if unit == "%" else (f" {unit}" if unit else "")
    met = {True: "met", False: "NOT met", None: "no target"}[acc.get("met")]
    samples = acc.get("samples")
    on = f" on {int(samples)} sample{'s' if int(samples) != 1 else ''}" if samples else ""
    return f"{acc.get('metric')} {acc['value']:.4g}{unit_text}{on} ({met})"


def fmt_validity(rec):
    if rec["mode"] == "accuracy":
        return "n/a (accuracy run)"
    if rec.get("compliance") and rec["compliance"]["ok"] is not None:
        text = "PASS" if rec["compliance"]["ok"] else "FAIL"
        return f"{text}: " + "; ".join(rec["compliance"]["lines"])
    validity = rec["validity"] or "-"
    return f"{validity}: " + "; ".join(rec["reasons"]) if rec["reasons"] else validity


def fmt_submittable(rec):
    sub = rec.get("submittable")
    if sub is None:
        return "-"
    return "yes" if sub["ok"] else "no: " + "; ".join(sub["reasons"])


def table_rows(records):
    """Rows for md/html tables: Model | Scenario | Mode | Accuracy | Result | LoadGen | Submittable."""
    rows = []
    for rec in records:
        rows.append(
            {
                "system": rec["system"],
                "model": rec["model"],
                "scenario": rec["scenario"],
                "mode": rec["mode"],
                "accuracy": fmt_accuracy(rec["accuracy"]),
                "result": fmt_value(rec["value"], rec["unit"]) if rec["mode"] != "accuracy" else "-",
                "validity": fmt_validity(rec),
                "submittable": fmt_submittable(rec)
                + ("; earlier run: the host failed in its last run" if rec.get("from_failed_host") else ""),
                "ok": rec["validity"] == "VALID" or rec["mode"] == "accuracy",
            }
        )
    return rows


def _md_cell(text):
    return str(text).replace("|", "\\|").replace("\n", " ")


def render_markdown(report):
    lines = [
        f"# MLPerf Inference results - {report['title']}",
        "",
        f"Generated {report['generated']} from `{report['results_dir']}`.",
        "",
    ]
    head = "| Model | Scenario | Mode | Accuracy | Throughput or latency | LoadGen validity | Submittable |"
    sep = "|---|---|---|---|---|---|---|"
    lines += ["## All systems", "", "| System " + head, "|---" + sep]
    for row in report["rows"]:
        lines.append(
            "| "
            + " | ".join(
                _md_cell(row[k])
                for k in (
                    "system",
                    "model",
                    "scenario",
                    "mode",
                    "accuracy",
                    "result",
                    "validity",
                    "submittable",
                )
            )
            + " |"
        )
    for system in report["systems"]:
        lines += ["", f"## System `{system}`", "", head, sep]
        for row in report["rows"]:
            if row["system"] == system:
                lines.append(
                    "| "
                    + " | ".join(
                        _md_cell(row[k])
                        for k in (
                            "model",
                            "scenario",
                            "mode",
                            "accuracy",
                            "result",
                            "validity",
                            "submittable",
                        )
                    )
                    + " |"
                )
    lines += ["", "## Failed hosts", ""]
    if report["failed_hosts"]:
        lines += ["| Host | Status | Task | Reason |", "|---|---|---|---|"]
        for host in report["failed_hosts"]:
            lines.append(
                f"| {_md_cell(host['host'])} | {host['status']} | {_md_cell(host['task'])} | "
                f"{_md_cell(host['reason'])} |"
            )
    else:
        lines.append("None." if report["hosts_file"] else "No hosts.json (no fleet run recorded).")
    lines += ["", "## Official submission checker", "", _checker_text(report["checker"])]
    if report["submission"]:
        lines += [
            "",
            "## Submission tree",
            "",
            f"`{report['submission'].get('path')}`: "
            + (
                "structure checks passed"
                if not report["submission"].get("problems")
                else "problems: " + "; ".join(report["submission"]["problems"])
            ),
        ]
    if report["plots"]:
        lines += ["", "## Plots", ""]
        for title, name in report["plots"].items():
            lines += [f"![{title}]({name})", ""]
    return "\n".join(lines).rstrip() + "\n"


def _checker_text(checker):
    if not checker:
        return "Not run: no checker information was given."
    if not checker.get("ran"):
        return "Not run: " + (checker.get("reason") or "no reason given")
    text = f"Verdict: **{checker.get('verdict')}** (exit code {checker.get('rc')})."
    if checker.get("messages"):
        text += "\n\n" + "\n".join(f"- {_md_cell(m)}" for m in checker["messages"][:50])
    return text


_HTML = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>MLPerf results - {{ title }}</title>
<style>
body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse;margin-bottom:1.5em}
th,td{border:1px solid #999;padding:.25em .5em;vertical-align:top}th{background:#eee}
.VALID{color:#060}.INVALID{color:#a00}.failed{color:#a00}img{max-width:100%}
pre{white-space:pre-wrap;margin:0}
</style></head><body>
<h1>MLPerf Inference results - {{ title }}</h1>
<p>Generated {{ generated }} from <code>{{ results_dir }}</code>. {{ rows|length }} runs on
{{ systems|length }} system(s).</p>
<h2>All systems</h2>
<table id="runs"><thead><tr><th>System</th><th>Model</th><th>Scenario</th><th>Mode</th><th>Accuracy</th>
<th>Throughput or latency</th><th>LoadGen validity</th><th>Submittable</th></tr></thead><tbody>
{% for r in rows %}<tr class="run"><td>{{ r.system }}</td><td>{{ r.model }}</td><td>{{ r.scenario }}</td>
<td>{{ r.mode }}</td><td>{{ r.accuracy }}</td><td>{{ r.result }}</td>
<td class="{{ r.validity.split(':')[0] }}">{{ r.validity }}</td><td>{{ r.submittable }}</td></tr>
{% endfor %}</tbody></table>
{% for s in systems %}<h2>System {{ s }}</h2>
<table class="system" data-system="{{ s }}"><thead><tr><th>Model</th><th>Scenario</th><th>Mode</th>
<th>Accuracy</th><th>Throughput or latency</th><th>LoadGen validity</th><th>Submittable</th></tr></thead>
<tbody>
{% for r in rows if r.system == s %}<tr><td>{{ r.model }}</td><td>{{ r.scenario }}</td><td>{{ r.mode }}</td>
<td>{{ r.accuracy }}</td><td>{{ r.result }}</td>
<td class="{{ r.validity.split(':')[0] }}">{{ r.validity }}</td>
<td>{{ r.submittable }}</td></tr>{% endfor %}</tbody></table>
{% endfor %}
<h2>Failed hosts</h2>
{% if failed_hosts %}<table id="failed-hosts"><thead><tr><th>Host</th><th>Status</th><th>Task</th>
<th>Reason</th></tr></thead><tbody>{% for h in failed_hosts %}<tr class="failed"><td>{{ h.host }}</td>
<td>{{ h.status }}</td>
<td>{{ h.task }}</td><td><pre>{{ h.reason }}</pre></td></tr>{% endfor %}</tbody></table>
{% else %}<p id="failed-hosts">{{ 'None.' if hosts_file else 'No hosts.json (no fleet run recorded).' }}</p>
{% endif %}
<h2>Official submission checker</h2><div id="checker"><pre>{{ checker_text }}</pre></div>
{% if submission %}<h2>Submission tree</h2><p id="submission"><code>{{ submission.path }}</code>:
{{ 'structure checks passed' if not submission.problems else 'problems: ' ~ submission.problems|join('; ') }}
</p>{% endif %}
{% if plots %}<h2>Plots</h2>{% for t, name in plots.items() %}<figure><img class="plot" src="{{ name }}"
alt="{{ t }}"><figcaption>{{ t }}</figcaption></figure>{% endfor %}{% endif %}
</body></html>
"""


def render_html(report):
    import jinja2

    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    return env.from_string(_HTML).render(checker_text=_checker_text(report["checker"]), **report)


def make_plots(records, out_dir):
    """Write the PNG plots into ``out_dir``; returns ``{title: file name}`` (only plots with data)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plots = {}
    perf = [r for r in records if r["mode"] == "performance" and r["value"] is not None]
    thr = [r for r in perf if r["unit"] in ("samples/s", "tokens/s")]
    if thr:
        fig, ax = plt.subplots(figsize=(max(6, 0.8 * len(thr) + 2), 4))
        labels = [f"{r['system']}\n{r['model']}/{r['scenario']}" for r in thr]
        colors = ["tab:green" if r["validity"] == "VALID" else "tab:red" for r in thr]
        ax.bar(range(len(thr)), [r["value"] for r in thr], color=colors)
        ax.set_xticks(range(len(thr)), labels, rotation=30, ha="right", fontsize=7)
        units = sorted({r["unit"] for r in thr})
        ax.set_ylabel(" | ".join(units))
        ax.set_title("Throughput per SUT and scenario (green VALID, red INVALID)")
        fig.tight_layout()
        fig.savefig(os.path.join(out_dir, PLOT_THROUGHPUT), dpi=90)
        plt.close(fig)
        plots["Throughput per SUT and scenario"] = PLOT_THROUGHPUT
    lat = [
        r
        for r in records
        if r["mode"] == "performance"
        and any((r.get("latency_ms") or {}).get(k) is not None for k in PERCENTILE_KEYS)
    ]
    if lat:
        fig, ax = plt.subplots(figsize=(7, 4))
        for rec in lat:
            ys = [(rec["latency_ms"] or {}).get(k) for k in PERCENTILE_KEYS]
            ax.plot(
                PERCENTILE_KEYS, ys, marker="o", label=f"{rec['system']} {rec['model']}/{rec['scenario']}"
            )
        ax.set_yscale("log")
        ax.set_xlabel("percentile")
        ax.set_ylabel("latency (ms)")
        ax.set_title("Latency percentiles per run")
        ax.legend(fontsize=6)
        fig.tight_layout()
        fig.savefig(os.path.join(out_dir, PLOT_LATENCY), dpi=90)
        plt.close(fig)
        plots["Latency percentiles per run"] = PLOT_LATENCY
    return plots


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


def build_report(
    results_dir,
    output_dir=None,
    registry=None,
    hosts_file=None,
    checker=None,
    submission=None,
    title=None,
    write=True,
    fetch_errors=None,
):
    """Discover runs below ``results_dir`` and write report.md/.json/.html and plots to ``output_dir``.

    :param checker: ``_checker.run_checker`` output (``{ran, reason, verdict, rc, messages}``) or None.
    :param submission: ``{path, problems}`` of a submission tree built in this collection run, or None.
    :param write: False = compute only (check mode).
    :returns: the report dict (``runs``, ``rows``, ``systems``, ``failed_hosts``, ``plots``, ``files``).
    """
    output_dir = output_dir or results_dir
    records = discover_runs(results_dir, registry)
    failed = merge_fetch_errors(read_hosts(hosts_file), fetch_errors)
    # A host that failed in its last run still has the results of an earlier one here: say so.
    failed_names = {h["host"] for h in failed}
    for rec in records:
        rec["from_failed_host"] = bool(rec.get("host")) and rec["host"] in failed_names
    report = {
        "title": title or os.path.basename(os.path.abspath(results_dir)),
        "generated": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "results_dir": str(results_dir),
        "systems": sorted({r["system"] for r in records if r["system"]}),
        "rows": table_rows(records),
        "runs": json_runs(records),
        "failed_hosts": failed,
        "hosts_file": str(hosts_file) if hosts_file and os.path.isfile(hosts_file) else None,
        "checker": checker,
        "submission": submission,
        "plots": {},
        "files": {},
    }
    if not write:
        return report
    Path(output_dir).mkdir(parents=True, exist_ok=True)
    report["plots"] = make_plots(records, output_dir)
    files = {name: os.path.join(output_dir, name) for name in REPORT_FILES}
    for title_, name in report["plots"].items():
        files[title_] = os.path.join(output_dir, name)
    report["files"] = files
    _atomic_write(files["report.md"], render_markdown(report))
    _atomic_write(files["report.html"], render_html(report))
    payload = {
        k: report[k]
        for k in (
            "title",
            "generated",
            "results_dir",
            "systems",
            "runs",
            "failed_hosts",
            "checker",
            "submission",
            "plots",
        )
    }
    _atomic_write(files["report.json"], json.dumps(payload, indent=2, sort_keys=True, default=str) + "\n")
    return report


def _atomic_write(path, text):
    tmp = f"{path}.tmp"
    try:
        with open(tmp, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        # A full disk leaves no 0-byte or truncated .tmp behind.
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def escape(text):
    return html.escape(str(text))
