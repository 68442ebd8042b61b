#!/usr/bin/python
# Copyright: fleetbench.mlperf contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ansible module: build an MLPerf submission tree and optionally run the official checker."""

from __future__ import annotations

DOCUMENTATION = r"""
module: mlperf_submission
short_description: Build the MLPerf Inference submission tree from a results tree (controller side)
version_added: 0.1.0
description:
  - Runs on the controller. Copies the runs of O(execution_modes) found in O(results_dir) into the
    layout the submission checker of O(submission_round) expects (registry C(submission.layouts)),
    writes C(systems/<system>.json), the measurements file of the round
    (C(<system>_<implementation>_<scenario>.json) up to v5.1, C(measurements.json) from v6.0), C(user.conf),
    the code README, compliance runs in the checker's shape (C(verify_*.txt), C(performance/run_1/)),
    C(calibration.md) for the closed division, truncates accuracy logs and appends C(hash=<sha256>) to
    each C(accuracy.txt).
  - The system description merges the SUT's C(system_desc_draft.json) (sut_facts role), the inventory
    O(system_desc_overrides) and the request (O(division), O(submitter), O(status), O(category)).
    Nothing is invented - a required field no source gave is reported as the checker reports it
    (RV(problems), RV(system_desc)); values are kept as given (a string C("0") stays a string); old field
    names are moved to the checker's (C(host_networking_card_count) to C(host_network_card_count)).
  - Then runs the project's structure checks (RV(problems)) and, when O(mlperf_inference_src) points at
    a checkout of mlcommons/inference, its checker (C(tools/submission/submission_checker.py), or the
    C(submission_checker) package from v6.0) (RV(checker)). An exit status 0 on a tree without results
    is reported as C(NOTHING CHECKED), never PASS.
  - Division, category and status are never defaulted; a bad value fails before anything is copied,
    naming the field and the allowed values.
  - Idempotent - the tree is rebuilt only when an input (request or any source file's size/mtime) changed.
options:
  results_dir:
    description: Controller results tree (C(<execution_mode>_results/<sut>/...)).
    type: path
    required: true
  submission_dir:
    description: Submission root; defaults to C(<results_dir>/submission). Replaced on rebuild.
    type: path
  submitter:
    description: Submitting organisation (folder name and system-description field).
    type: str
    required: true
  division:
    description: MLPerf division.
    type: str
    required: true
    choices: [closed, open, network]
  category:
    description: System category, written as C(system_type).
    type: str
    required: true
    choices: [edge, datacenter]
  status:
    description: Availability status of the systems.
    type: str
    required: true
    choices: [available, preview, rdi]
  submission_round:
    description: MLPerf round (e.g. C(v5.1)); defaults to the registry's C(submission.round).
    type: str
  execution_modes:
    description: Which result trees to include.
    type: list
    elements: str
    default: [valid]
  system_desc_overrides:
    description: "Per system, fields that replace the facts draft (C({system: {field: value}}))."
    type: dict
    default: {}
  mlperf_inference_src:
    description: Checkout of mlcommons/inference on the controller; when set, its submission checker is run.
    type: path
  checker_args:
    description:
      - Extra arguments for the official checker, e.g. C(--skip-dataset-size-check) (current checker) for runs
        on a dataset sample. They are returned in RV(checker) (C(argv)) so the report shows what was relaxed.
    type: list
    elements: str
    default: []
  fail_on_problems:
    description: Fail when the structure checks or the official checker report problems.
    type: bool
    default: false
  registry_path:
    description: Registry file; defaults to the collection's C(registry.yml).
    type: path
author: fleetbench.mlperf contributors
attributes:
  check_mode:
    support: full
    description: Validates the request and reports the runs that would be copied; writes nothing.
  diff_mode:
    support: none
  platform:
    platforms: posix
"""

EXAMPLES = r"""
- name: Build the submission tree and run the official checker
  fleetbench.mlperf.mlperf_submission:
    results_dir: "{{ output_dir }}"
    submitter: MyOrg
    division: open
    category: edge
    status: available
    mlperf_inference_src: /opt/mlcommons-inference
    system_desc_overrides:
      sut-a: {cooling: air, host_storage_type: NVMe SSD}
  delegate_to: localhost
  run_once: true
"""

RETURN = r"""
path:
  description: Submission root.
  returned: success
  type: str
round:
  description: Round used.
  returned: success
  type: str
  sample: v5.1
layout:
  description: Registry layout name used (legacy or unified).
  returned: success
  type: str
systems:
  description: Systems written.
  returned: success
  type: list
  elements: str
benchmarks:
  description: Benchmarks (MLPerf names) written.
  returned: success
  type: list
  elements: str
filled_na:
  description: Always empty - kept for callers of earlier versions; nothing is filled with N/A any more.
  returned: success
  type: dict
system_desc:
  description: >-
    Per system - missing (meaningful fields no source gave), empty (meaningful fields given empty),
    left_empty (other required fields written as empty strings), renamed (old -> new field names).
  returned: success
  type: dict
calibration:
  description: Path of the calibration.md written for the closed division, or null.
  returned: success
  type: str
problems:
  description: Problems found by the project's structure checks (empty = the tree passed).
  returned: success
  type: list
  elements: str
skipped:
  description: Runs left out or copied incompletely, with reasons.
  returned: success
  type: list
  elements: str
checker:
  description: >-
    Official checker record - ran, reason (why not run), verdict (PASS/FAIL/NOTHING CHECKED), rc,
    checked (result folders in the tree), messages, argv.
  returned: success
  type: dict
"""

import hashlib
import json
import os

from ansible.module_utils.basic import AnsibleModule

# Kept beside (not inside) the submission tree so the checker sees no extra files.
RECORD_SUFFIX = ".fleetbench.json"


def _inputs_hash(params, results_dir, submission_dir):
    digest = hashlib.sha256()
    keys = (
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
    digest.update(json.dumps({k: params[k] for k in keys}, sort_keys=True, default=str).encode())
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


def main():
    module = AnsibleModule(
        argument_spec={
            "results_dir": {"type": "path", "required": True},
            "submission_dir": {"type": "path"},
            "submitter": {"type": "str", "required": True},
            "division": {"type": "str", "required": True, "choices": ["closed", "open", "network"]},
            "category": {"type": "str", "required": True, "choices": ["edge", "datacenter"]},
            "status": {"type": "str", "required": True, "choices": ["available", "preview", "rdi"]},
            "submission_round": {"type": "str"},
            "execution_modes": {"type": "list", "elements": "str", "default": ["valid"]},
            "system_desc_overrides": {"type": "dict", "default": {}},
            "mlperf_inference_src": {"type": "path"},
            "checker_args": {"type": "list", "elements": "str", "default": []},
            "fail_on_problems": {"type": "bool", "default": False},
            "registry_path": {"type": "path"},
        },
        supports_check_mode=True,
    )
    p = module.params
    try:
        from ansible_collections.fleetbench.mlperf.plugins.module_utils import (
            _checker,
            _registry,
            _report,
            _submission,
        )
    except ImportError as exc:  # pragma: no cover
        module.fail_json(msg=f"mlperf_submission needs the controller requirements: {exc}")
    if not os.path.isdir(p["results_dir"]):
        module.fail_json(msg=f"results_dir: {p['results_dir']} is not a directory")
    try:
        registry = _registry.load_registry(p["registry_path"])
    except (OSError, ValueError) as exc:
        module.fail_json(msg=f"registry_path: {exc}")
    round_ = p["submission_round"] or str((registry.get("submission") or {}).get("round"))
    try:
        _submission.validate_request(
            registry, p["division"], p["submitter"], p["category"], p["status"], round_
        )
    except _submission.SubmissionError as exc:
        module.fail_json(msg=str(exc), field=exc.field, allowed=exc.allowed)
    bad_modes = [m for m in p["execution_modes"] if m not in ("test", "fast", "valid")]
    if bad_modes:
        module.fail_json(msg=f"execution_modes: {bad_modes} not allowed; allowed: test, fast, valid")
    sub_dir = p["submission_dir"] or os.path.join(p["results_dir"], "submission")
    inputs = _inputs_hash(p, p["results_dir"], sub_dir)
    record_path = os.path.join(
        os.path.dirname(os.path.abspath(sub_dir)),
        "." + os.path.basename(os.path.abspath(sub_dir)) + RECORD_SUFFIX,
    )
    if os.path.isdir(sub_dir) and os.path.isfile(record_path):
        try:
            with open(record_path, encoding="utf-8") as handle:
                stored = json.load(handle)
        except ValueError:
            stored = {}
        if stored.get("inputs") == inputs:
            module.exit_json(changed=False, **stored["result"])
    if module.check_mode:
        runs = [
            r
            for r in _report.discover_runs(p["results_dir"], registry)
            if r["execution_mode"] in p["execution_modes"] and r["tree"] == "results"
        ]
        module.exit_json(
            changed=True,
            path=sub_dir,
            round=round_,
            layout=_submission.layout_for(registry, round_)["name"],
            systems=sorted({r["system"] for r in runs}),
            benchmarks=[],
            filled_na={},
            system_desc={},
            calibration=None,
            problems=[],
            skipped=[],
            checker=_checker.not_run("check mode"),
            msg=f"would copy {len(runs)} run(s)",
        )
    result = _submission.build_submission(
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

    checker = _checker.run_checker(
        p["mlperf_inference_src"],
        sub_dir,
        round_,
        p["submitter"],
        run_command=run_command,
        extra_args=tuple(p["checker_args"]),
    )
    result["checker"] = checker
    if not result["systems"]:
        # Only test/fast runs (or none): the tree holds nothing to submit, whatever the checker's exit status.
        module.warn(
            f"the submission tree holds no results: no run of execution_modes {p['execution_modes']} "
            f"under {p['results_dir']} (test and fast runs are never submitted)"
        )
    with open(record_path, "w", encoding="utf-8") as handle:
        json.dump({"inputs": inputs, "result": result}, handle, indent=2, sort_keys=True, default=str)
    if p["fail_on_problems"] and (result["problems"] or checker.get("verdict") == "FAIL"):
        module.fail_json(msg="submission tree has problems: " + "; ".join(result["problems"][:20]), **result)
    module.exit_json(changed=True, **result)


if __name__ == "__main__":
    main()
