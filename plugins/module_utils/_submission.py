# Copyright: fleetbench.mlperf contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller-side MLPerf submission tree builder and structure checks.

The layout per round, the system-description fields, the measurements fields and the
accuracy-log truncation rule come from the registry's ``submission`` block (sources named
there: mlcommons/inference tools/submission/submission_checker.py and
truncate_accuracy_log.py). The builder and the checks read no YAML; callers pass the registry dict.
:func:`run` is the ``fleetbench.mlperf.mlperf_submission`` module (it loads the registry, caches the
build by an inputs hash and runs the official checker, ``_checker``).

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

from ansible_collections.fleetbench.mlperf.plugins.module_utils import (
    _accuracy,
    _checker,
    _compliance,
    _mlperf_logs,
    _registry,
    _results_tree,
    _rounds,
    _user_conf,
)
from ansible_collections.fleetbench.mlperf.plugins.module_utils._module import ModuleFailure

LOADGEN_FILES = ("mlperf_log_summary.txt", "mlperf_log_detail.txt", "mlperf_log_accuracy.json")
PERF_FILES = ("mlperf_log_summary.txt", "mlperf_log_detail.txt")
ACC_FILES = ("mlperf_log_summary.txt", "mlperf_log_detail.txt", "mlperf_log_accuracy.json", "accuracy.txt")
#: REQUIRED_ACC_FILES of the checker (v4.0 .. v6.1)
REQUIRED_ACC_FILES = (
    "mlperf_log_summary.txt",
    "mlperf_log_detail.txt",
    "accuracy.txt",
    "mlperf_log_accuracy.json",
)
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
    draft,
    overrides,
    *,
    system=None,
    division,
    submitter,
    status,
    category,
    framework,
    required_fields,
    meaningful_fields=(),
    renamed_fields=None,
):
    """Merge a facts draft, inventory overrides and the request into a system description.

    Precedence (low -> high): ``draft`` (sut_facts role), ``framework`` (from the run provenance),
    ``overrides`` (``system_desc_overrides``), request fields ``division``, ``submitter``,
    ``status``, ``system_type`` (= ``category``). Values are kept as given: a string ``"0"`` stays a
    string (the checker tests truthiness, and ``"0"`` is an answer where ``0`` is not). Old field
    names (``renamed_fields``, e.g. ``host_networking_card_count``) are moved to the checker's name.
    Nothing is invented: a required field no source gave is left out when the checker wants a
    meaningful answer (SYSTEM_DESC_MEANINGFUL_RESPONSE_REQUIRED_FIELDS) and written empty otherwise.

    :returns: ``(description, notes)``; ``notes`` = ``{"missing": [meaningful fields no source gave],
        "empty": [meaningful fields given empty], "left_empty": [other required fields written ""],
        "renamed": ["old -> new"]}``.
    """
    desc = dict(draft or {})
    if system and not desc.get("system_name"):
        desc["system_name"] = system
    if framework and not desc.get("framework"):
        desc["framework"] = framework
    desc.update(overrides or {})
    renamed = []
    for old, new in (renamed_fields or {}).items():
        if old in desc:
            value = desc.pop(old)
            if new not in desc or desc[new] in (None, ""):
                desc[new] = value
            renamed.append(f"{old} -> {new}")
    desc.update(
        {
            "division": division,
            "submitter": submitter,
            "status": status,
            "system_type": CATEGORY_SYSTEM_TYPE[category],
        }
    )
    meaningful = set(meaningful_fields or ())
    notes = {"missing": [], "empty": [], "left_empty": [], "renamed": renamed}
    for field in required_fields:
        if field not in desc or desc[field] is None:
            if field in meaningful:
                desc.pop(field, None)
                notes["missing"].append(field)
            else:
                desc[field] = ""
                notes["left_empty"].append(field)
        elif field in meaningful and not desc[field]:
            notes["empty"].append(field)
    return desc, notes


def system_desc_problems(rel_path, desc, required_fields, meaningful_fields):
    """The checker's complaints about one system description (its wording, v5.1 .. v6.1)."""
    problems = []
    meaningful = set(meaningful_fields or ())
    for field in required_fields:
        if field not in desc:
            problems.append(f"{rel_path}, field {field} is missing")
        elif field in meaningful and not desc[field]:
            problems.append(f"{rel_path}, field {field} requires a meaningful response but is empty")
    return problems


def _harness(results_root, rec):
    """The run's harness.json (provenance written by the harness), or {}."""
    data = _user_conf.read_json_dict(os.path.join(results_root, rec["run_dir"], "harness.json"))
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

    :param results_root: the controller results tree (``_results_tree.discover_runs`` layout).
    :param out_dir: submission root (``<output_dir>/submission``); replaced on each call.
    :param round_: checker round (default ``submission.round`` = ``rounds.default``).
    :param system_desc_overrides: ``{system: {field: value}}`` (inventory ``system_desc_overrides``).
    :param drafts: ``{system: draft dict}``; default: ``<exec>_results/<system>/system_desc_draft.json``.
    :raises SubmissionError: bad division/submitter/category/status/round (before copying).
    :returns: ``{"path", "round", "layout", "systems": [...], "benchmarks": [...], "system_desc":
        {system: notes of :func:`system_description`}, "filled_na": {} (nothing is filled any more),
        "calibration": str|None, "problems": [...], "skipped": [str]}`` (``problems`` from
        :func:`check_submission_tree`, worded like the official checker).
    """
    sub = registry.get("submission") or {}
    round_ = round_ or str(sub.get("round"))
    validate_request(registry, division, submitter, category, status, round_)
    layout = layout_for(registry, round_)
    models = _results_tree.model_index(registry)
    records = [
        r
        for r in _results_tree.discover_runs(
            results_root, registry, round_=round_ if registry.get("rounds") else None
        )
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
        if rec.get("old"):
            skipped.append(f"{rec['run_dir']}: old run ({rec['old']}), not copied")
            continue
        entry = models.get(rec["model"])
        if entry is None:
            skipped.append(f"{rec['run_dir']}: model {rec['model']!r} not in the registry")
            continue
        bench = entry.get("mlperf_name") or rec["model"]
        # the folder's scenario, canonical: a lower-case interactive/ run is Interactive, never Server
        scenario = _rounds.canonical_scenario(rec.get("dir_scenario")) or rec["scenario"]
        fmt = {
            "division": division,
            "submitter": submitter,
            "system": rec["system"],
            "benchmark": bench,
            "scenario": scenario,
            "implementation": implementation,
        }
        src = os.path.join(results_root, rec["run_dir"])
        systems.setdefault(rec["system"], []).append(rec)
        benchmarks.add(bench)
        if rec["mode"] == "performance":
            dest = os.path.join(out_dir, layout["results"].format(**fmt), "performance", "run_1")
            _copy(src, dest, PERF_FILES)
            user_conf = _find_user_conf(results_root, rec)
            mdir = os.path.join(out_dir, layout["measurements"].format(**fmt))
            os.makedirs(mdir, exist_ok=True)
            if user_conf:
                shutil.copyfile(user_conf, os.path.join(mdir, "user.conf"))
            _write_measurements(
                mdir,
                layout.get("measurements_file", "measurements.json").format(**fmt),
                rec,
                entry,
                registry,
                src,
            )
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
            _copy_compliance(src, dest, rec["mode"], max_bytes, keep)
    required = list(sub.get("system_desc_required_fields") or [])
    meaningful = list(sub.get("system_desc_meaningful_fields") or [])
    notes_by_system = {}
    for system, recs in systems.items():
        draft = (drafts or {}).get(system)
        if draft is None:
            draft = _load_draft(results_root, recs)
        desc, notes = system_description(
            draft,
            (system_desc_overrides or {}).get(system),
            system=system,
            division=division,
            submitter=submitter,
            status=status,
            category=category,
            framework=_framework(results_root, recs),
            required_fields=required,
            meaningful_fields=meaningful,
            renamed_fields=sub.get("system_desc_renamed_fields"),
        )
        notes_by_system[system] = notes
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
    calibration = None
    if division == "closed" and records and layout.get("calibration"):
        calibration = _write_calibration(
            out_dir, layout["calibration"].format(division=division, submitter=submitter), records
        )
    problems = check_submission_tree(out_dir, registry, round_, category=category)
    return {
        "path": str(out_dir),
        "round": round_,
        "layout": layout["name"],
        "systems": sorted(systems),
        "benchmarks": sorted(benchmarks),
        "system_desc": notes_by_system,
        "filled_na": {},
        "calibration": calibration,
        "problems": problems,
        "skipped": skipped,
    }


QUANTIZED_PRECISIONS = ("int8", "int4", "uint8", "fp8")


def _write_calibration(out_dir, rel_path, records):
    """Write calibration.md from what the runs used; raise :class:`SubmissionError` for a quantized
    precision without a recorded calibration set (the closed division must document it)."""
    lines = ["# Calibration", ""]
    for precision in sorted({str(r.get("precision") or "float32") for r in records}):
        users = sorted(
            {
                f"{r['model']} on {r['system']}"
                for r in records
                if str(r.get("precision") or "float32") == precision
            }
        )
        if precision in QUANTIZED_PRECISIONS:
            raise SubmissionError(
                "calibration",
                precision,
                ["float32", "float16", "bfloat16"],
                f"calibration: runs at {precision} ({', '.join(users)}) record no calibration set; "
                "the closed division needs calibration.md naming it",
            )
        lines.append(
            f"- {precision}: {', '.join(users)}: no quantization and no calibration "
            "(the weights were used as published, only converted to the listed data type)."
        )
    path = os.path.join(out_dir, rel_path)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    return path


def _copy_compliance(src, dest, test, max_bytes, keep):
    """A compliance run in the checker's shape: ``verify_*.txt``, ``performance/run_1/`` logs and, when
    the accuracy verification did not pass, ``accuracy/`` with the (truncated) accuracy log."""
    os.makedirs(dest, exist_ok=True)
    _copy(src, dest, ("verify_accuracy.txt", "verify_performance.txt", "verify_output_len.txt"))
    if test in ("TEST01", "TEST04", "TEST05"):
        _copy(src, os.path.join(dest, "performance", "run_1"), PERF_FILES)
    if test in ("TEST06", "TEST07", "TEST08"):
        log = os.path.join(src, "mlperf_log_accuracy.json")
        if os.path.isfile(log):
            os.makedirs(os.path.join(dest, "accuracy"), exist_ok=True)
            truncate_accuracy_log(
                log, os.path.join(dest, "accuracy", "mlperf_log_accuracy.json"), max_bytes, keep
            )
    verify = os.path.join(src, "verify_accuracy.txt")
    if test == "TEST01" and os.path.isfile(verify):
        with open(verify, encoding="utf-8", errors="replace") as handle:
            passed = _compliance.read_verify_text("verify_accuracy.txt", handle.read())["verdict"] == "PASS"
        if not passed:
            acc_dir = os.path.join(dest, "accuracy")
            os.makedirs(acc_dir, exist_ok=True)
            log = os.path.join(src, "mlperf_log_accuracy.json")
            if os.path.isfile(log):
                truncate_accuracy_log(log, os.path.join(acc_dir, "mlperf_log_accuracy.json"), max_bytes, keep)
            _copy(src, acc_dir, ("accuracy.txt", "baseline_accuracy.txt", "compliance_accuracy.txt"))


def _load_draft(results_root, recs):
    for rec in recs:
        parts = rec["run_dir"].split(os.sep)
        # <exec>_results/<system>/<model>/<scenario>/... -> <exec>_results/<system>/system_desc_draft.json
        if len(parts) >= 2:
            path = os.path.join(results_root, parts[0], parts[1], "system_desc_draft.json")
            data = _user_conf.read_json_dict(path)
            if isinstance(data, dict):
                return data
    return {}


def _write_measurements(mdir, file_name, rec, entry, registry, run_dir):
    harness = _user_conf.read_json_dict(os.path.join(run_dir, "harness.json")) or {}
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
    with open(os.path.join(mdir, file_name), "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2, sort_keys=True)
        handle.write("\n")
    readme = os.path.join(mdir, "README.md")
    with open(readme, "w", encoding="utf-8") as handle:
        handle.write(
            f"# {rec['model']} {rec['scenario']} on {rec['system']}\n\n"
            "Produced by the fleetbench.mlperf collection (`run_mlperf.yml`).\n"
        )


def check_submission_tree(path, registry, round_=None, category=None):
    """The project's structure checks of a submission tree, agreeing with the official checker of
    ``round_`` on what it rejects; returns a list of problems (empty = ok), worded like the checker.

    Checks: division folders; ``systems/<system>.json`` for every system with results, its required
    fields present and the meaningful ones non-empty, its division; per results folder: both LoadGen
    logs in ``performance/run_1`` with a VALID verdict and no LoadGen error, ``accuracy/accuracy.txt``
    with a ``hash=`` line, the round's accuracy targets met (closed) on the whole dataset,
    ``mlperf_log_accuracy.json`` at most the truncation size; the measurements file of the round's
    layout (``<system>_<implementation>_<scenario>.json`` up to v5.1, ``measurements.json`` from v6.0)
    with its fields, ``user.conf`` and ``README.md``; the code folder; closed division: the round's
    compliance tests per benchmark/scenario with a passing verdict (:func:`_compliance.compliance_verdict`),
    the required scenarios of the system type, and ``calibration.md`` (legacy rounds). A tree without
    any result is a problem, never a pass.
    """
    sub = registry.get("submission") or {}
    round_ = round_ or str(sub.get("round"))
    layout = layout_for(registry, round_)
    facts = _rounds.round_facts(registry, round_) if registry.get("rounds") else {}
    required = list(sub.get("system_desc_required_fields") or [])
    meaningful = list(sub.get("system_desc_meaningful_fields") or [])
    meas_required = list(sub.get("measurements_required_fields") or [])
    divisions = list(sub.get("divisions") or [])
    ctx = {
        "layout": layout,
        "facts": facts,
        "registry": registry,
        "meas_required": meas_required,
        "max_bytes": int(sub.get("accuracy_log_max_bytes", 10240)),
    }
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
            if systems and division == "closed" and layout.get("calibration"):
                calib = os.path.join(path, layout["calibration"].format(**fmt))
                alt = os.path.join(path, division, submitter, "calibration.md")
                if not os.path.isfile(calib) and not os.path.isfile(alt):
                    problems.append(f"{division}/{submitter} has not calibration file")
            for system in systems:
                found_any = True
                desc_path = os.path.join(sys_dir, f"{system}.json")
                desc = _user_conf.read_json_dict(desc_path)
                rel = os.path.relpath(desc_path, path)
                if not isinstance(desc, dict):
                    problems.append(f"{rel}: missing or not JSON")
                    desc = {}
                else:
                    problems += system_desc_problems(rel, desc, required, meaningful)
                    if desc.get("division") != division:
                        problems.append(
                            f"{rel}: division {desc.get('division')!r} differs from folder {division!r}"
                        )
                system_type = category or desc.get("system_type")
                for bench in sorted(os.listdir(os.path.join(res_root, system))):
                    scen_dirs = sorted(os.listdir(os.path.join(res_root, system, bench)))
                    for scenario in scen_dirs:
                        problems += _check_benchmark(
                            path, ctx, dict(fmt, system=system, benchmark=bench, scenario=scenario)
                        )
                    problems += _check_scenarios(ctx, division, system, bench, scen_dirs, system_type)
    if not found_any:
        problems.append("no results found in the tree: nothing to submit or check")
    return problems


def _check_scenarios(ctx, division, system, bench, scen_dirs, system_type):
    facts = ctx["facts"]
    if not facts or division != "closed" or not system_type:
        return []
    model = _rounds.checker_model(facts, bench, ctx["registry"])
    if model is None:
        return [f"{system}/{bench}: not a benchmark of round {facts['name']}"]
    present = {_rounds.canonical_scenario(s) for s in scen_dirs}
    problems = []
    rules = _rounds.model_rules(facts, model).get("required") or {}
    key = "datacenter,edge" if system_type in ("edge,datacenter", "datacenter,edge") else system_type
    if key not in rules and not _rounds.optional_scenarios(facts, model, system_type):
        # the v6.x checker crashes on this (TypeError in check_scenarios); say it in words
        return [
            f"{system}/{bench}: {model} is not a benchmark for {system_type} systems in round {facts['name']}"
        ]
    missing = [s for s in _rounds.required_scenarios(facts, model, system_type) if s not in present]
    if missing:
        problems.append(
            f"{system}/{bench} does not have all required scenarios, missing {missing} ({facts['name']})"
        )
    optional = set(_rounds.optional_scenarios(facts, model, system_type))
    if {"Server", "Interactive"} <= optional and not optional & present:
        # v5.1 checker: a closed LLM result needs one of the two
        problems.append(
            f"{system}/{bench} does not have all required scenarios, one of [Server, Interactive] is required"
        )
    return problems


def _check_benchmark(path, ctx, fmt):
    layout = ctx["layout"]
    facts = ctx["facts"]
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
            if facts:
                problems += [
                    f"{rel}/performance/run_1/mlperf_log_detail.txt {p} (LoadGen of another round?)"
                    for p in _rounds.seed_problems(facts, parsed.get("settings"))
                ]
                bench_model = _rounds.checker_model(facts, fmt["benchmark"], ctx["registry"])
                psc = _rounds.performance_sample_count_problem(facts, bench_model, parsed.get("settings"))
                if psc:
                    problems.append(f"{rel}/performance/run_1/mlperf_log_detail.txt {psc}")
        except _mlperf_logs.LogParseError as exc:
            problems.append(str(exc))
    model = _rounds.checker_model(facts, fmt["benchmark"], ctx["registry"]) if facts else None
    rules = _rounds.accuracy_rules(facts, model, fmt["scenario"]) if model else {}
    acc = os.path.join(res, "accuracy")
    for name in REQUIRED_ACC_FILES:
        if name != "accuracy.txt" and not os.path.isfile(os.path.join(acc, name)):
            problems.append(f"{rel}/accuracy: missing {name}")
    acc_txt = os.path.join(acc, "accuracy.txt")
    if not os.path.isfile(acc_txt):
        problems.append(f"{rel}/accuracy: missing accuracy.txt")
    else:
        with open(acc_txt, encoding="utf-8", errors="replace") as handle:
            read = _accuracy.read_metrics(handle.read())
        if not read["hash"]:
            problems.append(f"{rel}/accuracy/accuracy.txt: no hash= line")
        samples = None
        if os.path.isfile(os.path.join(acc, _mlperf_logs.DETAIL_LOG)):
            try:
                values = _mlperf_logs.parse_run_dir(acc).get("log_values") or {}
                samples = values.get(
                    "effective_accuracy_sample_count", values.get("qsl_reported_total_count")
                )
            except _mlperf_logs.LogParseError:
                samples = None
        if rules:
            checked = _accuracy.check_round_accuracy(read, rules, samples=samples)
            coverage = checked["coverage"]
            if coverage.get("full") is False:
                problems.append(
                    f"{rel}/accuracy: accuracy run does not cover all dataset, accuracy samples: "
                    f"{coverage['samples']}, dataset size: {coverage['dataset_size']}"
                )
            if fmt["division"] == "closed":
                problems += [f"{rel}/accuracy: {r}" for r in checked["reasons"] if "covered" not in r]
    acc_log = os.path.join(acc, "mlperf_log_accuracy.json")
    if os.path.isfile(acc_log) and os.path.getsize(acc_log) > ctx["max_bytes"]:
        problems.append(f"{rel}/accuracy/mlperf_log_accuracy.json is not truncated")
    mdir = os.path.join(path, layout["measurements"].format(**fmt))
    mrel = os.path.relpath(mdir, path)
    meas_name = _measurements_file(mdir, layout, fmt)
    meas = _user_conf.read_json_dict(os.path.join(mdir, meas_name)) if meas_name else None
    if not isinstance(meas, dict):
        problems.append(f"{mrel}: measurements json file not found ({layout.get('measurements_file')})")
    else:
        for field in ctx["meas_required"]:
            if not meas.get(field):
                problems.append(f"{mrel}/{meas_name}: required field {field} empty")
    for name in ("user.conf", "README.md"):
        if not os.path.isfile(os.path.join(mdir, name)):
            problems.append(f"{mrel}: missing {name}")
    if fmt["division"] == "closed" and model:
        cdir = os.path.join(path, layout["compliance"].format(**fmt))
        for test in _rounds.compliance_tests(facts, model):
            test_dir = os.path.join(cdir, test)
            crel = os.path.relpath(test_dir, path)
            if not os.path.isdir(test_dir):
                problems.append(f"{crel}: missing compliance test {test} (closed division)")
                continue
            verdict = _compliance.compliance_verdict(test_dir, test, rules)
            if not verdict["ok"]:
                problems.append(f"{crel}: " + "; ".join(verdict["reasons"] or verdict["lines"]))
    return problems


def _measurements_file(mdir, layout, fmt):
    """The measurements file the checker would find: the layout's name, else ``<system>*_<scenario>.json``
    or ``<system>*.json`` (checker loader ``get_measurement_path``)."""
    wanted = layout.get("measurements_file", "measurements.json").format(**dict(fmt, implementation="*"))
    names = sorted(os.listdir(mdir)) if os.path.isdir(mdir) else []
    if "*" not in wanted:
        return wanted if wanted in names else None
    for name in names:
        if name.startswith(fmt["system"]) and name.endswith("_" + fmt["scenario"] + ".json"):
            return name
    for name in names:
        if name.startswith(fmt["system"]) and name.endswith(".json"):
            return name
    return None


# --- the mlperf_submission module -------------------------------------------------------------------
# Kept beside (not inside) the submission tree so the checker sees no extra files.
RECORD_SUFFIX = ".fleetbench.json"
# The module options that change the tree or the checker's verdict (the inputs hash).
HASHED_OPTIONS = (
    "submitter",
    "division",
    "category",
    "status",
    "submission_round",
    "execution_modes",
    "system_desc_overrides",
    "mlperf_inference_src",
    "checker_args",
)


def inputs_hash(params, results_dir, submission_dir):
    """sha256 hex of the :data:`HASHED_OPTIONS` of ``params`` and of every file's relative path,
    size and mtime (ns) in the ``*_results`` folders of ``results_dir`` (``submission_dir`` below it
    left out)."""
    digest = hashlib.sha256()
    digest.update(json.dumps({k: params[k] for k in HASHED_OPTIONS}, sort_keys=True, default=str).encode())
    sub_abs = os.path.abspath(submission_dir)
    for dirpath, dirnames, filenames in os.walk(results_dir):
        rel = os.path.relpath(dirpath, results_dir)
        top = rel.split(os.sep)[0]
        if os.path.abspath(dirpath).startswith(sub_abs) or (rel != "." and not top.endswith("_results")):
            dirnames[:] = []
            continue
        dirnames.sort()
        if rel == ".":
            continue
        for name in sorted(filenames):
            path = os.path.join(dirpath, name)
            st = os.stat(path)
            digest.update(f"{os.path.relpath(path, results_dir)}:{st.st_size}:{st.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def record_path(submission_dir):
    """The build record ``.<name>.fleetbench.json`` beside ``submission_dir``."""
    sub_abs = os.path.abspath(submission_dir)
    return os.path.join(os.path.dirname(sub_abs), "." + os.path.basename(sub_abs) + RECORD_SUFFIX)


def _stored_result(sub_dir, record, inputs):
    """The result stored in ``record`` when ``sub_dir`` exists and the record has ``inputs``; else None."""
    if not (os.path.isdir(sub_dir) and os.path.isfile(record)):
        return None
    try:
        with open(record, encoding="utf-8") as handle:
            stored = json.load(handle)
    except ValueError:
        return None
    return stored.get("result") if isinstance(stored, dict) and stored.get("inputs") == inputs else None


def run(module):
    """The ``mlperf_submission`` module: ``module.params`` (its argument spec) -> the ``exit_json`` dict.

    Validates the request against the registry (never defaulted), returns the stored result with
    ``changed=False`` when :func:`inputs_hash` equals the record's, lists the runs it would copy in
    check mode, else builds the tree (:func:`build_submission`), runs the official checker when
    ``mlperf_inference_src`` is set and writes the record. Raises :class:`ModuleFailure`.
    """
    p = module.params
    if not os.path.isdir(p["results_dir"]):
        raise ModuleFailure(f"results_dir: {p['results_dir']} is not a directory")
    try:
        registry = _registry.load_registry_option(p["registry_path"])
    except ValueError as exc:
        raise ModuleFailure(str(exc), field="registry_path") from exc
    round_ = p["submission_round"] or str((registry.get("submission") or {}).get("round"))
    try:
        validate_request(registry, p["division"], p["submitter"], p["category"], p["status"], round_)
    except SubmissionError as exc:
        raise ModuleFailure(str(exc), field=exc.field, allowed=exc.allowed) from exc
    allowed_modes = list(registry["variations"]["execution_mode"]["values"])
    bad_modes = [m for m in p["execution_modes"] if m not in allowed_modes]
    if bad_modes:
        raise ModuleFailure(
            f"execution_modes: {bad_modes} not allowed; allowed: {', '.join(allowed_modes)}",
            field="execution_modes",
            allowed=allowed_modes,
        )
    sub_dir = p["submission_dir"] or os.path.join(p["results_dir"], "submission")
    inputs = inputs_hash(p, p["results_dir"], sub_dir)
    record = record_path(sub_dir)
    stored = _stored_result(sub_dir, record, inputs)
    if stored is not None:
        return dict(stored, changed=False)
    if module.check_mode:
        runs = [
            r
            for r in _results_tree.discover_runs(p["results_dir"], registry)
            if r["execution_mode"] in p["execution_modes"] and r["tree"] == "results"
        ]
        return {
            "changed": True,
            "path": sub_dir,
            "round": round_,
            "layout": layout_for(registry, round_)["name"],
            "systems": sorted({r["system"] for r in runs}),
            "benchmarks": [],
            "filled_na": {},
            "system_desc": {},
            "calibration": None,
            "problems": [],
            "skipped": [],
            "checker": _checker.not_run("check mode"),
            "msg": f"would copy {len(runs)} run(s)",
        }
    result = build_submission(
        p["results_dir"],
        sub_dir,
        registry,
        division=p["division"],
        submitter=p["submitter"],
        category=p["category"],
        status=p["status"],
        round_=round_,
        system_desc_overrides=p["system_desc_overrides"],
        execution_modes=tuple(p["execution_modes"]),
    )

    def run_command(argv, cwd=None):
        return module.run_command(argv, cwd=cwd)

    result["checker"] = _checker.run_checker(
        p["mlperf_inference_src"],
        sub_dir,
        round_,
        p["submitter"],
        run_command=run_command,
        extra_args=tuple(p["checker_args"]),
    )
    if not result["systems"]:
        # Only test/fast runs (or none): the tree holds nothing to submit, whatever the checker's exit status.
        module.warn(
            f"the submission tree holds no results: no run of execution_modes {p['execution_modes']} "
            f"under {p['results_dir']} (test and fast runs are never submitted)"
        )
    with open(record, "w", encoding="utf-8") as handle:
        json.dump({"inputs": inputs, "result": result}, handle, indent=2, sort_keys=True, default=str)
    if p["fail_on_problems"] and (result["problems"] or result["checker"].get("verdict") == "FAIL"):
        raise ModuleFailure("submission tree has problems: " + "; ".join(result["problems"][:20]), **result)
    return dict(result, changed=True)
