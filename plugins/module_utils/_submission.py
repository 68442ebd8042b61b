# Copyright: fleetbench.mlperf contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller-side MLPerf submission tree builder and structure checks.

The layout per round, the system-description fields, the measurements fields and the
accuracy-log truncation rule come from the registry's ``submission`` block (sources named
there: mlcommons/inference tools/submission/submission_checker.py and
truncate_accuracy_log.py). Nothing here reads YAML itself; callers pass the registry dict.

Tree (``{...}`` from ``submission.layouts`` of the round)::

    <out>/{division}/{submitter}/systems/<system>.json
    <out>/{results}/performance/run_1/{mlperf_log_summary.txt, mlperf_log_detail.txt, ...}
    <out>/{results}/accuracy/{accuracy.txt (+hash=), mlperf_log_accuracy.json (truncated), logs}
    <out>/{compliance}/TEST0x/...
    <out>/{measurements}/{measurements.json, user.conf, README.md}
    <out>/{code}/<benchmark>/README.md
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil

from ansible_collections.fleetbench.mlperf.plugins.module_utils import _accuracy, _mlperf_logs, _report

LOADGEN_FILES = ("mlperf_log_summary.txt", "mlperf_log_detail.txt", "mlperf_log_accuracy.json")
PERF_FILES = ("mlperf_log_summary.txt", "mlperf_log_detail.txt")
ACC_FILES = ("mlperf_log_summary.txt", "mlperf_log_detail.txt", "mlperf_log_accuracy.json", "accuracy.txt")
CATEGORY_SYSTEM_TYPE = {"edge": "edge", "datacenter": "datacenter"}


class SubmissionError(ValueError):
    """Bad request for a submission: names the field and the allowed values."""

    def __init__(self, field, value, allowed, message=None):
        self.field, self.value, self.allowed = field, value, allowed
        super().__init__(message or f"{field}: {value!r} is not allowed; allowed: {', '.join(allowed)}")


def layout_for(registry, round_):
    """Path templates of ``round_`` from ``registry['submission']['layouts']``."""
    sub = registry.get("submission") or {}
    rounds = [str(r) for r in sub.get("rounds") or []]
    for name, layout in (sub.get("layouts") or {}).items():
        if round_ in [str(r) for r in layout.get("rounds") or []]:
            return dict(layout, name=name)
    allowed = sorted(
        {*rounds, *(r for lay in (sub.get("layouts") or {}).values() for r in lay.get("rounds", []))}
    )
    raise SubmissionError("submission_round", round_, allowed)


def validate_request(registry, division, submitter, category, status, round_):
    """Check the submission request before anything is copied; raises :class:`SubmissionError`."""
    sub = registry.get("submission") or {}
    divisions = list(sub.get("divisions") or ["closed", "open"])
    statuses = list(sub.get("statuses") or ["available", "preview", "rdi"])
    if not division or division not in divisions:
        raise SubmissionError("division", division, divisions)
    if not submitter or not str(submitter).strip() or "/" in str(submitter):
        raise SubmissionError("submitter", submitter, ["a non-empty name without '/'"])
    if not category or category not in CATEGORY_SYSTEM_TYPE:
        raise SubmissionError("category", category, list(CATEGORY_SYSTEM_TYPE))
    if not status or status not in statuses:
        raise SubmissionError("status", status, statuses)
    layout_for(registry, round_)


def sha256_file(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def truncate_accuracy_log(src, dest, max_bytes, keep_bytes):
    """Copy ``src`` to ``dest``, keeping only head and tail when larger than ``max_bytes``.

    :returns: ``(sha256 of the full src, truncated: bool)``.
    """
    digest = sha256_file(src)
    size = os.path.getsize(src)
    if size <= max_bytes:
        shutil.copyfile(src, dest)
        return digest, False
    with open(src, "rb") as handle:
        head = handle.read(keep_bytes)
        handle.seek(size - keep_bytes)
        tail = handle.read(keep_bytes)
    with open(dest, "wb") as handle:
        handle.write(head + b"\n...\n" + tail)
    return digest, True


def write_accuracy_txt(src, dest, digest):
    """Copy accuracy.txt, replacing any ``hash=`` line by ``hash=<digest>`` at the end."""
    text = ""
    if src and os.path.isfile(src):
        with open(src, encoding="utf-8", errors="replace") as handle:
            text = handle.read()
    lines = [line for line in text.splitlines() if not line.startswith("hash=")]
    with open(dest, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines).rstrip("\n") + f"\nhash={digest}\n")


def system_description(
    draft, overrides, *, system=None, division, submitter, status, category, framework, required_fields
):
    """Merge a facts draft, inventory overrides and the request into a system description.

    Precedence (low -> high): ``draft`` (sut_facts role), ``framework`` (from the run provenance),
    ``overrides`` (``system_desc_overrides``), request fields ``division``, ``submitter``,
    ``status``, ``system_type`` (= ``category``). Required fields still empty are set to
    ``"N/A"`` and listed in the second return value so the report can name them.

    :returns: ``(description dict, [field names filled with "N/A"])``.
    """
    desc = dict(draft or {})
    if system and not desc.get("system_name"):
        desc["system_name"] = system
    if framework and not desc.get("framework"):
        desc["framework"] = framework
    desc.update(overrides or {})
    desc.update(
        {
            "division": division,
            "submitter": submitter,
            "status": status,
            "system_type": CATEGORY_SYSTEM_TYPE[category],
        }
    )
    filled = []
    for field in required_fields:
        value = desc.get(field)
        if value is None or (isinstance(value, str) and not value.strip()):
            desc[field] = "N/A"
            filled.append(field)
    return desc, filled


def _harness(results_root, rec):
    """The run's harness.json (provenance written by the harness), or {}."""
    data = _report._read_json(os.path.join(results_root, rec["run_dir"], "harness.json"))
    return data if isinstance(data, dict) else {}


def _framework(results_root, records):
    """``name version`` of each backend used (harness.json ``backend``), else the request's backend."""
    names = []
    for rec in records:
        backend = _harness(results_root, rec).get("backend")
        if isinstance(backend, dict) and backend.get("name"):
            names.append(f"{backend['name']} {backend.get('version', '')}".strip())
        elif rec.get("backend"):
            names.append(str(rec["backend"]))
    return ", ".join(sorted(set(names)))


def _copy(src_dir, dest_dir, names):
    os.makedirs(dest_dir, exist_ok=True)
    copied = []
    for name in names:
        src = os.path.join(src_dir, name)
        if os.path.isfile(src):
            shutil.copyfile(src, os.path.join(dest_dir, name))
            copied.append(name)
    return copied


def _find_user_conf(results_root, rec):
    run_dir = os.path.join(results_root, rec["run_dir"])
    for candidate in (run_dir, os.path.dirname(run_dir), os.path.dirname(os.path.dirname(run_dir))):
        path = os.path.join(candidate, "user.conf")
        if os.path.isfile(path):
            return path
    return None


def build_submission(
    results_root,
    out_dir,
    registry,
    *,
    division,
    submitter,
    category,
    status,
    round_=None,
    system_desc_overrides=None,
    drafts=None,
    execution_modes=("valid",),
    implementation="reference",
):
    """Build the submission tree for every run of ``results_root`` (``execution_modes`` only).

    :param results_root: the controller results tree (``_report.discover_runs`` layout).
    :param out_dir: submission root (``<output_dir>/submission``); replaced on each call.
    :param system_desc_overrides: ``{system: {field: value}}`` (inventory ``system_desc_overrides``).
    :param drafts: ``{system: draft dict}``; default: ``<exec>_results/<system>/system_desc_draft.json``.
    :raises SubmissionError: bad division/submitter/category/status/round (before copying).
    :returns: ``{"path", "round", "layout", "systems": [...], "benchmarks": [...], "filled_na":
        {system: [fields]}, "problems": [...], "skipped": [str]}`` (``problems`` from
        :func:`check_submission_tree`).
    """
    sub = registry.get("submission") or {}
    round_ = round_ or str(sub.get("round"))
    validate_request(registry, division, submitter, category, status, round_)
    layout = layout_for(registry, round_)
    models = _report._model_index(registry)
    records = [
        r
        for r in _report.discover_runs(results_root, registry)
        if (r["execution_mode"] in execution_modes) and r["tree"] == "results"
    ]
    skipped = []
    if os.path.isdir(out_dir):
        shutil.rmtree(out_dir)
    os.makedirs(out_dir)
    max_bytes = int(sub.get("accuracy_log_max_bytes", 10240))
    keep = int(sub.get("accuracy_log_keep_bytes", 4096))
    systems = {}
    benchmarks = set()
    for rec in records:
        entry = models.get(rec["model"])
        if entry is None:
            skipped.append(f"{rec['run_dir']}: model {rec['model']!r} not in the registry")
            continue
        bench = entry.get("mlperf_name") or rec["model"]
        scenario = rec["dir_scenario"] if rec["dir_scenario"] == "Interactive" else rec["scenario"]
        fmt = {
            "division": division,
            "submitter": submitter,
            "system": rec["system"],
            "benchmark": bench,
            "scenario": scenario,
        }
        src = os.path.join(results_root, rec["run_dir"])
        systems.setdefault(rec["system"], []).append(rec)
        benchmarks.add(bench)
        if rec["mode"] == "performance":
            dest = os.path.join(out_dir, layout["results"].format(**fmt), "performance", "run_1")
            _copy(src, dest, LOADGEN_FILES)
            user_conf = _find_user_conf(results_root, rec)
            mdir = os.path.join(out_dir, layout["measurements"].format(**fmt))
            os.makedirs(mdir, exist_ok=True)
            if user_conf:
                shutil.copyfile(user_conf, os.path.join(mdir, "user.conf"))
            _write_measurements(mdir, rec, entry, registry, src)
        elif rec["mode"] == "accuracy":
            dest = os.path.join(out_dir, layout["results"].format(**fmt), "accuracy")
            _copy(src, dest, ("mlperf_log_summary.txt", "mlperf_log_detail.txt"))
            log = os.path.join(src, "mlperf_log_accuracy.json")
            if os.path.isfile(log):
                digest, _trunc = truncate_accuracy_log(
                    log, os.path.join(dest, "mlperf_log_accuracy.json"), max_bytes, keep
                )
                write_accuracy_txt(
                    os.path.join(src, "accuracy.txt"), os.path.join(dest, "accuracy.txt"), digest
                )
            else:
                skipped.append(
                    f"{rec['run_dir']}: no mlperf_log_accuracy.json (accuracy.txt copied without hash)"
                )
                _copy(src, dest, ("accuracy.txt",))
        else:  # compliance TEST0x
            dest = os.path.join(out_dir, layout["compliance"].format(**fmt), rec["mode"])
            shutil.copytree(
                src,
                dest,
                dirs_exist_ok=True,
                ignore=shutil.ignore_patterns("result.json", "console.out", "harness.json"),
            )
    required = list(sub.get("system_desc_required_fields") or [])
    filled_na = {}
    for system, recs in systems.items():
        draft = (drafts or {}).get(system)
        if draft is None:
            draft = _load_draft(results_root, recs)
        desc, filled = system_description(
            draft,
            (system_desc_overrides or {}).get(system),
            system=system,
            division=division,
            submitter=submitter,
            status=status,
            category=category,
            framework=_framework(results_root, recs),
            required_fields=required,
        )
        filled_na[system] = filled
        sys_dir = os.path.join(out_dir, layout["systems"].format(division=division, submitter=submitter))
        os.makedirs(sys_dir, exist_ok=True)
        with open(os.path.join(sys_dir, f"{system}.json"), "w", encoding="utf-8") as handle:
            json.dump(desc, handle, indent=2, sort_keys=True)
            handle.write("\n")
    code_root = os.path.join(out_dir, layout["code"].format(division=division, submitter=submitter))
    for bench in sorted(benchmarks):
        os.makedirs(os.path.join(code_root, bench), exist_ok=True)
        with open(os.path.join(code_root, bench, "README.md"), "w", encoding="utf-8") as handle:
            handle.write(
                f"# {bench}\n\nRun with the fleetbench.mlperf Ansible collection "
                f"({implementation} implementation, harness `fleetbench_harness`).\n"
                "See the collection's README for the exact commands; the per-run command "
                "lines are in each run's harness.json.\n"
            )
    problems = check_submission_tree(out_dir, registry, round_)
    return {
        "path": str(out_dir),
        "round": round_,
        "layout": layout["name"],
        "systems": sorted(systems),
        "benchmarks": sorted(benchmarks),
        "filled_na": filled_na,
        "problems": problems,
        "skipped": skipped,
    }


def _load_draft(results_root, recs):
    for rec in recs:
        parts = rec["run_dir"].split(os.sep)
        # <exec>_results/<system>/<model>/<scenario>/... -> <exec>_results/<system>/system_desc_draft.json
        if len(parts) >= 2:
            path = os.path.join(results_root, parts[0], parts[1], "system_desc_draft.json")
            data = _report._read_json(path)
            if isinstance(data, dict):
                return data
    return {}


def _write_measurements(mdir, rec, entry, registry, run_dir):
    harness = _report._read_json(os.path.join(run_dir, "harness.json")) or {}
    model_file = harness.get("model_file") if isinstance(harness.get("model_file"), dict) else {}
    precision = rec.get("precision") or "float32"
    data = {
        "input_data_types": precision,
        "retraining": "No",
        "starting_weights_filename": os.path.basename(str(model_file.get("path") or ""))
        or harness.get("model_label")
        or rec.get("model_label")
        or entry.get("mlperf_name")
        or rec["model"],
        "weight_data_types": precision,
        "weight_transformations": "none" if precision == "float32" else f"conversion to {precision}",
    }
    for field in (registry.get("submission") or {}).get("measurements_required_fields") or []:
        data.setdefault(field, "N/A")
    with open(os.path.join(mdir, "measurements.json"), "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2, sort_keys=True)
        handle.write("\n")
    readme = os.path.join(mdir, "README.md")
    with open(readme, "w", encoding="utf-8") as handle:
        handle.write(
            f"# {rec['model']} {rec['scenario']} on {rec['system']}\n\n"
            "Produced by the fleetbench.mlperf collection (`run_mlperf.yml`).\n"
        )


def check_submission_tree(path, registry, round_=None):
    """The project's own structure checks of a submission tree; returns a list of problems (empty = ok).

    Checks: division folders are allowed names; every ``systems/<system>.json`` has every
    required field non-empty; every results folder has both LoadGen logs in
    ``performance/run_1`` with a VALID verdict, ``accuracy/accuracy.txt`` with a ``hash=`` line
    and ``mlperf_log_accuracy.json``; ``measurements.json`` with its required fields and
    ``user.conf`` exist; every system in ``results/`` has a system description; the code folder
    exists; closed division: the registry's compliance tests exist per benchmark/scenario.
    """
    sub = registry.get("submission") or {}
    round_ = round_ or str(sub.get("round"))
    layout = layout_for(registry, round_)
    required = list(sub.get("system_desc_required_fields") or [])
    meas_required = list(sub.get("measurements_required_fields") or [])
    divisions = list(sub.get("divisions") or [])
    models = {(e.get("mlperf_name") or k): e for k, e in (registry.get("models") or {}).items()}
    problems = []
    if not os.path.isdir(path):
        return [f"{path}: not a directory"]
    found_any = False
    for division in sorted(os.listdir(path)):
        if not os.path.isdir(os.path.join(path, division)):
            continue
        if division not in divisions:
            problems.append(f"{division}: unknown division; allowed: {', '.join(divisions)}")
            continue
        for submitter in sorted(os.listdir(os.path.join(path, division))):
            fmt = {"division": division, "submitter": submitter}
            sys_dir = os.path.join(path, layout["systems"].format(**fmt))
            res_root = os.path.join(path, division, submitter, "results")
            if not os.path.isdir(os.path.join(path, layout["code"].format(**fmt))):
                problems.append(f"{layout['code'].format(**fmt)}: missing code folder")
            systems = sorted(os.listdir(res_root)) if os.path.isdir(res_root) else []
            for system in systems:
                found_any = True
                desc_path = os.path.join(sys_dir, f"{system}.json")
                desc = _report._read_json(desc_path)
                if not isinstance(desc, dict):
                    problems.append(f"{os.path.relpath(desc_path, path)}: missing or not JSON")
                else:
                    for field in required:
                        value = desc.get(field)
                        if value is None or (isinstance(value, str) and not value.strip()):
                            problems.append(
                                f"{os.path.relpath(desc_path, path)}: required field {field} empty"
                            )
                    if desc.get("division") != division:
                        problems.append(
                            f"{os.path.relpath(desc_path, path)}: division {desc.get('division')!r} "
                            f"differs from folder {division!r}"
                        )
                for bench in sorted(os.listdir(os.path.join(res_root, system))):
                    for scenario in sorted(os.listdir(os.path.join(res_root, system, bench))):
                        problems += _check_benchmark(
                            path,
                            layout,
                            meas_required,
                            models,
                            dict(fmt, system=system, benchmark=bench, scenario=scenario),
                        )
    if not found_any:
        problems.append("no results found in the tree")
    return problems


def _check_benchmark(path, layout, meas_required, models, fmt):
    problems = []
    res = os.path.join(path, layout["results"].format(**fmt))
    rel = os.path.relpath(res, path)
    perf = os.path.join(res, "performance", "run_1")
    for name in PERF_FILES:
        if not os.path.isfile(os.path.join(perf, name)):
            problems.append(f"{rel}/performance/run_1: missing {name}")
    if os.path.isdir(perf):
        try:
            parsed = _mlperf_logs.parse_run_dir(perf)
            if parsed["validity"] != "VALID":
                problems.append(
                    f"{rel}/performance/run_1: LoadGen {parsed['validity']}: " + "; ".join(parsed["reasons"])
                )
            if parsed["errors"]:
                problems.append(f"{rel}/performance/run_1: LoadGen logged {parsed['errors']} error(s)")
        except _mlperf_logs.LogParseError as exc:
            problems.append(str(exc))
    acc = os.path.join(res, "accuracy")
    acc_txt = os.path.join(acc, "accuracy.txt")
    if not os.path.isfile(acc_txt):
        problems.append(f"{rel}/accuracy: missing accuracy.txt")
    elif not _accuracy.read_accuracy_file(acc_txt)["hash"]:
        problems.append(f"{rel}/accuracy/accuracy.txt: no hash= line")
    if not os.path.isfile(os.path.join(acc, "mlperf_log_accuracy.json")):
        problems.append(f"{rel}/accuracy: missing mlperf_log_accuracy.json")
    mdir = os.path.join(path, layout["measurements"].format(**fmt))
    mrel = os.path.relpath(mdir, path)
    meas = _report._read_json(os.path.join(mdir, "measurements.json"))
    if not isinstance(meas, dict):
        problems.append(f"{mrel}: missing measurements.json")
    else:
        for field in meas_required:
            if not meas.get(field):
                problems.append(f"{mrel}/measurements.json: required field {field} empty")
    if not os.path.isfile(os.path.join(mdir, "user.conf")):
        problems.append(f"{mrel}: missing user.conf")
    entry = models.get(fmt["benchmark"])
    if fmt["division"] == "closed" and entry:
        cdir = os.path.join(path, layout["compliance"].format(**fmt))
        for test in entry.get("compliance_tests") or []:
            if not os.path.isdir(os.path.join(cdir, test)):
                problems.append(
                    f"{os.path.relpath(cdir, path)}: missing compliance test {test} (closed division)"
                )
    return problems
