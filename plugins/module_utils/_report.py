# Copyright: fleetbench.mlperf contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller-side results report: report.md/json/html + plots for a results or submission tree.

Controller only (Jinja2 and matplotlib). The work is split by job: ``_results_tree`` finds and scores
the runs (see its docstring for the trees understood and the run record), ``_report_render`` writes
the tables, report.md and report.html, ``_report_plots`` the PNG plots. This module puts them together
(:func:`build_report`), holds the ``fleetbench.mlperf.mlperf_report`` module's logic (:func:`run`:
registry and round checks, idempotence against the ``report.json`` on disk) and re-exports the names
callers used before the split.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
from pathlib import Path

from ansible_collections.fleetbench.mlperf.plugins.module_utils import _registry, _rounds
from ansible_collections.fleetbench.mlperf.plugins.module_utils._module import ModuleFailure
from ansible_collections.fleetbench.mlperf.plugins.module_utils._report_plots import (
    PLOT_LATENCY,
    PLOT_THROUGHPUT,
    make_plots,
)
from ansible_collections.fleetbench.mlperf.plugins.module_utils._report_render import (
    _checker_text,
    fmt_accuracy,
    fmt_submittable,
    fmt_validity,
    fmt_value,
    render_html,
    render_markdown,
    table_rows,
)
from ansible_collections.fleetbench.mlperf.plugins.module_utils._results_tree import (
    SCENARIO_DIRS,
    discover_runs,
    json_runs,
    merge_fetch_errors,
    model_index,
    read_hosts,
    resolve_round,
)

__all__ = [
    "PLOT_LATENCY",
    "PLOT_THROUGHPUT",
    "REPORT_FILES",
    "SCENARIO_DIRS",
    "_checker_text",
    "build_report",
    "discover_runs",
    "fmt_accuracy",
    "fmt_submittable",
    "fmt_validity",
    "fmt_value",
    "json_runs",
    "make_plots",
    "merge_fetch_errors",
    "model_index",
    "read_hosts",
    "render_html",
    "render_markdown",
    "resolve_round",
    "table_rows",
]

REPORT_FILES = ("report.md", "report.json", "report.html")
# The report.json keys that decide whether a report on disk is the one a new run would write
# ("generated" and the plot list change without the results changing).
COMPARED_KEYS = ("runs", "failed_hosts", "checker", "submission", "systems")


#: Folder names that say nothing beside the heading "MLPerf Inference results" ("results - results").
GENERIC_FOLDER_NAMES = frozenset({"results", "result", "output", "out"})


def default_title(results_dir) -> str:
    """The report's title when none is given: the results folder's name, or ``""`` for a generic one."""
    name = os.path.basename(os.path.abspath(str(results_dir)))
    return "" if name.lower() in GENERIC_FOLDER_NAMES else name


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
    round_=None,
):
    """Discover runs below ``results_dir`` and write report.md/.json/.html and plots to ``output_dir``.

    :param round_: the checker round whose rules apply (``-e round=``); default: the tree's, else the
        latest round the checker knows (:func:`resolve_round`). The report names it and its origin.

    :param checker: ``_checker.run_checker`` output (``{ran, reason, verdict, rc, messages}``) or None.
    :param submission: ``{path, problems}`` of a submission tree built in this collection run, or None.
    :param write: False = compute only (check mode).
    :returns: the report dict (``runs``, ``rows``, ``systems``, ``failed_hosts``, ``plots``, ``files``).
    """
    output_dir = output_dir or results_dir
    records = discover_runs(results_dir, registry, round_=round_)
    round_info = resolve_round(registry, os.path.abspath(results_dir), round_)
    failed = merge_fetch_errors(read_hosts(hosts_file), fetch_errors)
    # A host that failed in its last run still has the results of an earlier one here: say so.
    failed_names = {h["host"] for h in failed}
    for rec in records:
        rec["from_failed_host"] = bool(rec.get("host")) and rec["host"] in failed_names
    report = {
        "title": title or default_title(results_dir),
        "generated": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "results_dir": str(results_dir),
        "systems": sorted({r["system"] for r in records if r["system"]}),
        "rows": table_rows(records),
        "runs": json_runs(records),
        "failed_hosts": failed,
        "hosts_file": str(hosts_file) if hosts_file and os.path.isfile(hosts_file) else None,
        "checker": checker,
        "submission": submission,
        "round": {k: v for k, v in (round_info or {}).items() if k != "facts"} or None,
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
            "round",
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


def comparable(payload):
    """The :data:`COMPARED_KEYS` of a report dict (or a loaded report.json), JSON round-tripped."""
    return json.loads(json.dumps({k: payload.get(k) for k in COMPARED_KEYS}, default=str))


def _stored_report(output_dir):
    """:func:`comparable` of ``<output_dir>/report.json``; None when absent, unreadable or not JSON."""
    try:
        with open(os.path.join(output_dir, "report.json"), encoding="utf-8") as handle:
            return comparable(json.load(handle))
    except (OSError, ValueError, AttributeError):
        return None


def summary(runs):
    """``{runs, valid, submittable}``: counts of all runs and of VALID / submittable performance runs."""
    perf = [r for r in runs if r["mode"] == "performance"]
    return {
        "runs": len(runs),
        "valid": sum(r["validity"] == "VALID" for r in perf),
        "submittable": sum(bool((r.get("submittable") or {}).get("ok")) for r in perf),
    }


def run(module):
    """The ``mlperf_report`` module: ``module.params`` (its argument spec) -> the ``exit_json`` dict.

    The report is built once without writing and compared (:func:`comparable`) with the
    ``report.json`` on disk; it is written only when that differs or a report file is missing, and
    never in check mode. Raises :class:`ModuleFailure` on a bad ``results_dir``, ``registry_path`` or
    ``round``, or when the plotting library is missing.
    """
    p = module.params
    if not os.path.isdir(p["results_dir"]):
        raise ModuleFailure(f"results_dir: {p['results_dir']} is not a directory")
    output_dir = p["output_dir"] or p["results_dir"]
    try:
        registry = _registry.load_registry_option(p["registry_path"])
    except ValueError as exc:
        raise ModuleFailure(str(exc), field="registry_path") from exc
    if p["round"]:
        try:
            _rounds.round_facts(registry, p["round"])
        except _rounds.RoundError as exc:
            raise ModuleFailure(str(exc), field="round", allowed=exc.allowed) from exc

    def build(write):
        return build_report(
            p["results_dir"],
            output_dir,
            registry=registry,
            hosts_file=p["hosts_file"] or os.path.join(output_dir, "hosts.json"),
            checker=p["checker"],
            submission=p["submission"],
            title=p["title"],
            fetch_errors=p["fetch_errors"],
            write=write,
            round_=p["round"],
        )

    report = build(write=False)
    present = all(os.path.isfile(os.path.join(output_dir, name)) for name in REPORT_FILES)
    changed = not (present and _stored_report(output_dir) == comparable(report))
    if changed and not module.check_mode:
        try:
            report = build(write=True)
        except ImportError as exc:  # matplotlib: a controller requirement that ansible-core does not bring
            msg = f"mlperf_report needs the controller requirements (matplotlib): {exc}"
            raise ModuleFailure(msg) from exc
    if not report["runs"]:
        # Never an empty table without a word: usually results_dir points one level too deep or high.
        module.warn(
            f"no MLPerf runs found under {p['results_dir']}: expected <execution_mode>_results/<system>/"
            "<model>/<scenario>/... (this project, CM/MLC) or a submission tree "
            "(<division>/<submitter>/results)"
        )
    runs = json.loads(json.dumps(report["runs"], default=str))
    return {
        "changed": changed,
        "files": report.get("files") or {name: os.path.join(output_dir, name) for name in REPORT_FILES},
        "runs": runs,
        "systems": report["systems"],
        "failed_hosts": report["failed_hosts"],
        "summary": summary(runs),
    }
