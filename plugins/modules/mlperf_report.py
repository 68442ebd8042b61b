#!/usr/bin/python
# Copyright: fleetbench.mlperf contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""fleetbench.mlperf.mlperf_report: write the MLPerf results report (controller side).

The logic lives in ``plugins/module_utils/_report.py`` (:func:`run`); this file holds the
documentation and the argument spec.
"""

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
extends_documentation_fragment:
  - fleetbench.mlperf.attributes
  - fleetbench.mlperf.results_tree
options:
  results_dir:
    description:
      - The results tree to scan, in this project's layout (the playbooks' C(output_dir)), a CM/MLC tree
        or a submission tree.
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
  round:
    description:
      - Checker round whose rules score the runs (metric per scenario and benchmark, accuracy targets,
        Interactive limits, compliance tests), one of the registry's C(rounds).
      - Default - the round a path component of O(results_dir) names (C(inference_results_v5.1)),
        else C(rounds.default), the latest round the checker knows. The report names the round and
        where it came from.
    type: str
author: fleetbench.mlperf developers
attributes:
  check_mode:
    support: full
    description: Computes the report without writing anything.
  diff_mode:
    support: none
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

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.fleetbench.mlperf.plugins.module_utils import _report
from ansible_collections.fleetbench.mlperf.plugins.module_utils._module import ModuleFailure

ARGUMENT_SPEC = {
    "results_dir": {"type": "path", "required": True},
    "output_dir": {"type": "path"},
    "hosts_file": {"type": "path"},
    "fetch_errors": {"type": "dict", "default": {}},
    "checker": {"type": "dict"},
    "submission": {"type": "dict"},
    "title": {"type": "str"},
    "registry_path": {"type": "path"},
    "round": {"type": "str"},
}


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    try:
        result = _report.run(module)
    except ModuleFailure as exc:
        module.fail_json(msg=exc.msg, **exc.fields)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
