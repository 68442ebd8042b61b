# Copyright: fleetbench.mlperf contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Documentation stub: the work is done by the action plugin plugins/action/validate_request.py."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: validate_request
short_description: Resolve and validate an MLPerf request on the controller
version_added: "0.1.0"
description:
  - Action plugin (runs on the controller, never connects to the host). Reads the request variables visible to
    the task (extra vars and inventory vars such as a GPU group's C(device=cuda)), canonicalises aliases
    (C(framework) is C(backend), C(fp32) is C(float32), C(offline) is C(Offline), ...), applies the registry's
    defaults and validates them against C(files/harness/fleetbench_harness/registry.yml).
  - Fails with one message listing every problem, each with the allowed values - unknown variable names
    (with a did-you-mean), unknown values, the registry's invalid combinations (naming the rule and its
    reason), variations or models that are not implemented yet, numbers out of range or not numbers,
    compliance tests the model does not have.
  - Checks the names given with C(-e) (read from the command line, so it works for ansible-playbook and
    ansible-runner) - each must be a request variable, start with C(ansible_), be an option declared in any
    C(roles/*/meta/argument_specs.yml), be C(mlperf_hosts) or C(mlperf_request), or be listed in O(allow).
  - Request variables - C(model), C(implementation), C(backend) (alias C(framework)), C(device), C(precision),
    C(scenario) (string, comma string or list), C(mode) (performance, accuracy, both), C(execution_mode),
    C(test_query_count), C(target_qps), C(target_latency) (ms), C(max_batchsize), C(num_threads), C(count),
    C(hw_name), C(submitter), C(output_dir), C(model_path), C(performance_only_model), C(rerun),
    C(regenerate_files), C(compliance) (true or a list of tests), C(division), C(category),
    C(submission_round) (alias C(round)) and the dataset path overrides the registry names
    (C(imagenet_path), ...).
  - With O(runs=true) (the steps that make runs) a C(submission_round) whose runs cannot be made - no
    LoadGen of that round is pinned (registry C(rounds.<round>.loadgen), v4.0) - fails, naming the field
    and the rounds that can be produced.
author: fleetbench.mlperf developers
extends_documentation_fragment:
  - fleetbench.mlperf.attributes
options:
  request:
    description:
      - Validate this dict instead of the task's variables (e.g. from the Python API).
    type: dict
  check_extra_vars:
    description: Check the names of the command line's extra vars.
    type: bool
    default: true
  allow:
    description: Further extra-var names to accept.
    type: list
    elements: str
    default: []
  runs:
    description:
      - The step makes runs (validate, provision, benchmark) - its C(submission_round) needs a pinned LoadGen.
      - C(false) for a step that only reads results (collect.yml) - every round the checker knows is accepted.
    type: bool
    default: true
  role_inputs:
    description:
      - Also check the host's inputs of every public role (inventory and extra vars named in the roles'
        C(meta/argument_specs.yml)) against those specs, once, before any role runs; the collection's
        playbooks then import their roles with C(rolespec_validate=false).
      - Options that are not given, internal (C(__)-prefixed) options and values that cannot be templated
        yet (they name a fact of a later step) are left to the roles.
    type: bool
    default: false
notes:
  - Runs in check mode like in normal mode (it changes nothing).
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  action:
    support: full
    description: The work happens in the action plugin on the controller; no module runs on the host.
"""

EXAMPLES = r"""
- name: Resolve and validate the request
  fleetbench.mlperf.validate_request:
  register: mlperf_validated

- name: Keep the resolved request
  ansible.builtin.set_fact:
    mlperf_request: "{{ mlperf_validated['request'] }}"

- name: Validate an explicit request
  fleetbench.mlperf.validate_request:
    request:
      model: resnet50
      framework: onnx
      scenario: offline,singlestream
      mode: both
    check_extra_vars: false
"""

RETURN = r"""
request:
  description:
    - The canonical request - every request variable with its default, C(scenario) as a list of LoadGen names,
      C(modes) (C(both) expanded to performance, accuracy), C(compliance) as a list of tests, C(dataset_path)
      (the model's dataset override or null) and C(warnings).
  returned: success
  type: dict
  sample:
    model: resnet50
    backend: onnxruntime
    scenario: [Offline]
    mode: both
    modes: [performance, accuracy]
    execution_mode: test
    test_query_count: 10
extra_vars_checked:
  description: The extra-var names that were checked.
  returned: success
  type: list
  elements: str
problems:
  description: Each problem as C(field) and C(value); RV(msg) has the messages and the allowed values.
  returned: failure
  type: list
  elements: dict
"""
