#!/usr/bin/python
# Copyright: fleetbench.mlperf contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ansible module: write the MLPerf results report (controller side)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: mlperf_report
short_description: Write report.md, report.json, report.html and plots for an MLPerf results tree
version_added: 0.1.0
description:
  - "Runs on the controller (C(delegate_to: localhost) or a localhost play); needs Jinja2,
    matplotlib and PyYAML, which the controller requirements provide."
  - Scans O(results_dir) for runs in this project's layout
    (C(<execution_mode>_results/<sut>/<model>/<Scenario>/...) with C(result.json)), in CM/MLC trees
    (lower-case scenario folders, logs only) and in submission trees, and writes one report.
  - The tables show per SUT and across SUTs Model, Scenario, Mode, Accuracy, the official metric with
    its unit, LoadGen validity with every reason, and whether the run is submittable (with reasons).
  - Hosts recorded as failed or unreachable in O(hosts_file) (written by the
    C(fleetbench.mlperf.mlperf_hosts) callback) are listed with their reasons.
  - Idempotent - when the runs, failed hosts, checker and submission records equal those of the
    existing C(report.json), nothing is written and RV(ignore:changed) is false.
options:
  results_dir:
    description: Results tree to scan.
    type: path
    required: true
  output_dir:
    description: Where to write the report files; defaults to O(results_dir).
    type: path
  hosts_file:
    description:
      - Per-host status file; defaults to C(<output_dir>/hosts.json).
      - A missing file means no fleet record.
    type: path
  fetch_errors:
    description:
      - "Hosts whose results could not be fetched (C({host: reason})); shown with the failed hosts of
        O(hosts_file) (status C(failed), task C(collect: fetch results))."
    type: dict
    default: {}
  checker:
    description: Official submission checker record (RV(fleetbench.mlperf.mlperf_submission#module:checker)).
    type: dict
  submission:
    description: Submission tree record with keys C(path) and C(problems).
    type: dict
  title:
    description: Report title; defaults to the name of O(results_dir).
    type: str
  registry_path:
    description: Registry file; defaults to the collection's C(registry.yml).
    type: path
  round:
    description:
      - Checker round whose rules score the runs (metric per scenario and benchmark, accuracy targets,
        Interactive limits, compliance tests), one of the registry's C(rounds).
      - Default - the round a path component of O(results_dir) names (C(inference_results_v5.1)),
        else C(rounds.default), the latest round the checker knows. The report names the round and
        where it came from.
    type: str
author: fleetbench.mlperf contributors
attributes:
  check_mode:
    support: full
    description: Computes the report without writing anything.
  diff_mode:
    support: none
  platform:
    platforms: posix
"""

EXAMPLES = r"""
- name: Report on the fetched results
  fleetbench.mlperf.mlperf_report:
    results_dir: "{{ output_dir }}"
  delegate_to: localhost
  run_once: true

- name: Report on an imported CM tree, written elsewhere
  fleetbench.mlperf.mlperf_report:
    results_dir: /data/cm/valid_results
    output_dir: /tmp/cm-report
    title: CM import
"""

RETURN = r"""
files:
  description: Paths of the files written (report.md, report.json, report.html and each plot).
  returned: success
  type: dict
  sample: {"report.md": "/r/report.md", "report.json": "/r/report.json", "report.html": "/r/report.html"}
runs:
  description: >-
    One record per run (system, model, scenario, mode, validity, reasons, metric, value, unit,
    accuracy, submittable, ...).
  returned: success
  type: list
  elements: dict
systems:
  description: System (SUT) names found.
  returned: success
  type: list
  elements: str
failed_hosts:
  description: Hosts not ok in the hosts file, each with host, status, task, reason.
  returned: success
  type: list
  elements: dict
summary:
  description: Counts of runs, VALID performance runs and submittable runs.
  returned: success
  type: dict
  sample: {"runs": 4, "valid": 2, "submittable": 1}
"""

import json
import os

from ansible.module_utils.basic import AnsibleModule


def _comparable(payload):
    return {k: payload.get(k) for k in ("runs", "failed_hosts", "checker", "submission", "systems")}


def main():
    module = AnsibleModule(
        argument_spec={
            "results_dir": {"type": "path", "required": True},
            "output_dir": {"type": "path"},
            "hosts_file": {"type": "path"},
            "fetch_errors": {"type": "dict", "default": {}},
            "checker": {"type": "dict"},
            "submission": {"type": "dict"},
            "title": {"type": "str"},
            "registry_path": {"type": "path"},
            "round": {"type": "str"},
        },
        supports_check_mode=True,
    )
    p = module.params
    try:
        from ansible_collections.fleetbench.mlperf.plugins.module_utils import _registry, _report, _rounds
    except ImportError as exc:  # pragma: no cover - controller requirements missing
        module.fail_json(
            msg=f"mlperf_report needs the controller requirements (PyYAML, Jinja2, matplotlib): {exc}"
        )
    if not os.path.isdir(p["results_dir"]):
        module.fail_json(msg=f"results_dir: {p['results_dir']} is not a directory")
    output_dir = p["output_dir"] or p["results_dir"]
    hosts_file = p["hosts_file"] or os.path.join(output_dir, "hosts.json")
    try:
        registry = _registry.load_registry(p["registry_path"])
    except (OSError, ValueError) as exc:
        module.fail_json(msg=f"registry_path: {exc}")
    try:
        if p["round"]:
            _rounds.round_facts(registry, p["round"])
    except _rounds.RoundError as exc:
        module.fail_json(msg=str(exc), field="round", allowed=exc.allowed)

    def build(write):
        return _report.build_report(
            p["results_dir"],
            output_dir,
            registry=registry,
            hosts_file=hosts_file,
            checker=p["checker"],
            submission=p["submission"],
            title=p["title"],
            fetch_errors=p["fetch_errors"],
            write=write,
            round_=p["round"],
        )

    # Built once without writing to compare with the report on disk (idempotence), then written.
    report = build(write=False)
    new = json.loads(json.dumps(_comparable(report), default=str))
    old_path = os.path.join(output_dir, "report.json")
    old = None
    if os.path.isfile(old_path):
        try:
            with open(old_path, encoding="utf-8") as handle:
                old = _comparable(json.load(handle))
        except ValueError:
            old = None
    present = all(os.path.isfile(os.path.join(output_dir, n)) for n in _report.REPORT_FILES)
    changed = not (present and old == new)
    if changed and not module.check_mode:
        report = build(write=True)
    if not report["runs"]:
        # Never an empty table without a word: usually results_dir points one level too deep or high.
        module.warn(
            f"no MLPerf runs found under {p['results_dir']}: expected <execution_mode>_results/<system>/"
            "<model>/<scenario>/... (this project, CM/MLC) or a submission tree "
            "(<division>/<submitter>/results)"
        )
    files = report.get("files") or {n: os.path.join(output_dir, n) for n in _report.REPORT_FILES}
    perf = [r for r in report["runs"] if r["mode"] == "performance"]
    summary = {
        "runs": len(report["runs"]),
        "valid": sum(r["validity"] == "VALID" for r in perf),
        "submittable": sum(bool((r.get("submittable") or {}).get("ok")) for r in perf),
    }
    module.exit_json(
        changed=changed,
        files=files,
        runs=json.loads(json.dumps(report["runs"], default=str)),
        systems=report["systems"],
        failed_hosts=report["failed_hosts"],
        summary=summary,
    )


if __name__ == "__main__":
    main()
