#!/usr/bin/python
# Copyright: fleetbench.mlperf contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""fleetbench.mlperf.mlperf_submission: build an MLPerf submission tree, optionally run the official checker.

The logic lives in ``plugins/module_utils/_submission.py`` (:func:`run`); this file holds the
documentation and the argument spec.
"""

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
extends_documentation_fragment:
  - fleetbench.mlperf.attributes
  - fleetbench.mlperf.results_tree
options:
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
author: fleetbench.mlperf developers
attributes:
  check_mode:
    support: full
    description: Validates the request and reports the runs that would be copied; writes nothing.
  diff_mode:
    support: none
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

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.fleetbench.mlperf.plugins.module_utils import _submission
from ansible_collections.fleetbench.mlperf.plugins.module_utils._module import ModuleFailure

ARGUMENT_SPEC = {
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
}


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    try:
        result = _submission.run(module)
    except ModuleFailure as exc:
        module.fail_json(msg=exc.msg, **exc.fields)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
