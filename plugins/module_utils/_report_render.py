# Copyright: fleetbench.mlperf contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Report rendering: table rows, report.md and report.html (Jinja2, controller only).

Input: the run records of ``_results_tree.discover_runs`` and the report dict of ``_report.build_report``.
"""

from __future__ import annotations

import html
import re


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
    """Every checked metric with its bound (``ROUGE1 44.45 >= 43.99 met; ...``), else the one-metric text."""
    if acc and acc.get("checks") and any("compared" in c for c in acc["checks"]):
        parts = []
        for check in acc["checks"]:
            value = "-" if check["value"] is None else f"{check['value']:.6g}"
            limit = "-" if check["limit"] is None else f"{check['limit']:.6g}"
            state = "met" if check["ok"] else "NOT met"
            note = " (as a fraction)" if check.get("note") else ""
            parts.append(f"{check['name']} {value}{note} {check['op']} {limit} {state}")
        coverage = acc.get("coverage") or {}
        if coverage.get("samples") is not None and coverage.get("dataset_size"):
            # "met" on a part of the dataset is not a submittable accuracy: say so in this column too.
            full = "" if coverage.get("full") else ": not the whole dataset, so not submittable"
            parts.append(f"on {int(coverage['samples'])} of {int(coverage['dataset_size'])} samples{full}")
        return "; ".join(parts)
    if not acc or acc.get("value") is None:
        return "-"
    unit = acc.get("unit") or ""
    unit_text = "%" if unit == "%" else (f" {unit}" if unit else "")
    met = {True: "met", False: "NOT met", None: "no target"}[acc.get("met")]
    samples = acc.get("samples")
    on = f" on {int(samples)} sample{'s' if int(samples) != 1 else ''}" if samples else ""
    return f"{acc.get('metric')} {acc['value']:.4g}{unit_text}{on} ({met})"


def _stand_in_accuracy(rec, text):
    """A stand-in's accuracy is measured but never judged against the benchmark's target."""
    if not rec.get("performance_only_model") or text == "-":
        return text
    text = re.sub(r"\b(NOT met|met)\b", "not judged", text)
    return f"stand-in, not comparable with the target: {text}"


def fmt_validity(rec):
    if rec["mode"] == "accuracy":
        return "n/a (accuracy run)"
    if rec.get("compliance") and rec["compliance"].get("ok") is not None:
        text = ("old, " if rec.get("old") else "") + ("PASS" if rec["compliance"]["ok"] else "FAIL")
        details = list(rec["compliance"].get("lines") or []) + [
            r
            for r in rec["compliance"].get("reasons") or []
            if r not in (rec["compliance"].get("lines") or [])
        ]
        return f"{text}: " + "; ".join(details)
    validity = rec["validity"] or "-"
    reasons = list(rec["reasons"])
    if rec.get("old"):
        reasons.append(f"old: {rec['old']}")
    check = rec.get("latency_check") or {}
    if check.get("ok") is False:
        reasons += check["reasons"]
    if rec.get("inferred_from"):
        reasons.append(f"inferred from a {rec['inferred_from']} log")
    return f"{validity}: " + "; ".join(reasons) if reasons else validity


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
                "accuracy": (
                    # The submission checker files this model under another benchmark (an open-division
                    # image classifier under "resnet", _rounds.checker_model) and its target applies.
                    f"(the checker's {rec['checker_model']} target) "
                    if rec.get("checker_model")
                    and rec["checker_model"] != rec["model"]
                    and rec.get("accuracy")
                    else ""
                )
                + _stand_in_accuracy(rec, fmt_accuracy(rec["accuracy"])),
                "result": fmt_value(rec["value"], rec["unit"]) if rec["mode"] != "accuracy" else "-",
                "validity": fmt_validity(rec),
                "submittable": fmt_submittable(rec)
                + (f"; old: {rec['old']}" if rec.get("old") and rec["mode"] != "performance" else "")
                + ("; earlier run: the host failed in its last run" if rec.get("from_failed_host") else ""),
                "ok": rec["validity"] == "VALID" or rec["mode"] == "accuracy",
            }
        )
    return rows


def _md_cell(text):
    return str(text).replace("|", "\\|").replace("\n", " ")


def render_markdown(report):
    lines = [
        "# MLPerf Inference results" + (f" - {report['title']}" if report["title"] else ""),
        "",
        f"Generated {report['generated']} from `{report['results_dir']}`.",
        "",
        _round_text(report.get("round")),
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


def _round_text(round_info):
    if not round_info:
        return "Checker round: none (the registry has no rounds section)."
    return (
        f"Checker round applied: **{round_info['name']}** (from {round_info['origin']}; "
        f"rules: {round_info.get('source')}). Choose another with `-e submission_round=`."
    )


def _checker_text(checker):
    if not checker:
        return "Not run: no checker information was given."
    if not checker.get("ran"):
        return "Not run: " + (checker.get("reason") or "no reason given")
    if checker.get("checked") == 0:
        return (
            f"Ran (exit code {checker.get('rc')}) on a tree with no results: nothing was checked, "
            "this is not a pass."
        )
    if checker.get("verdict") == "CRASHED":
        last = (checker.get("traceback") or "").strip().splitlines()[-1:] or ["?"]
        return (
            f"The official checker crashed (exit code {checker.get('rc')}): {last[0]}. It gave no verdict "
            "on the tree; the structure checks below still apply."
        )
    text = f"Verdict: **{checker.get('verdict')}** (exit code {checker.get('rc')})."
    argv = checker.get("argv") or []
    extra = argv[argv.index("--csv") + 2 :] if "--csv" in argv else []
    if extra:
        text += " Checker run with: " + " ".join(extra) + " (relaxed: not every rule was applied)."
    if checker.get("checked") is not None:
        text += f" Results in the tree it checked: {checker['checked']}."
    if checker.get("messages"):
        text += "\n\n" + "\n".join(f"- {_md_cell(m)}" for m in checker["messages"][:50])
    return text


_HTML = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>MLPerf results{{ ' - ' ~ title if title else '' }}</title>
<style>
body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse;margin-bottom:1.5em}
th,td{border:1px solid #999;padding:.25em .5em;vertical-align:top}th{background:#eee}
.VALID{color:#060}.INVALID{color:#a00}.failed{color:#a00}img{max-width:100%}
pre{white-space:pre-wrap;margin:0}
</style></head><body>
<h1>MLPerf Inference results{{ ' - ' ~ title if title else '' }}</h1>
<p>Generated {{ generated }} from <code>{{ results_dir }}</code>. {{ rows|length }} runs on
{{ systems|length }} system(s).</p>
<p id="round">{{ round_text }}</p>
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
    return env.from_string(_HTML).render(
        checker_text=_checker_text(report["checker"]), round_text=_round_text(report.get("round")), **report
    )


def escape(text):
    return html.escape(str(text))
