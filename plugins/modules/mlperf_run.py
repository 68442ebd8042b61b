#!/usr/bin/python
# Copyright: fleetbench.mlperf contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""fleetbench.mlperf.mlperf_run: one MLPerf LoadGen run on a SUT, cached by input hash.

The run logic lives in ``plugins/module_utils/_run.py``; this file holds the documentation and the
argument spec.
"""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: mlperf_run
short_description: Run one MLPerf Inference LoadGen run with the fleetbench harness
version_added: "0.1.0"
description:
  - Runs one fully resolved MLPerf Inference run (one model, one scenario, one mode) on the target with the
    C(fleetbench_harness) package installed in O(python)'s environment.
  - Writes C(user.conf) (LoadGen syntax, milliseconds) for the O(execution_mode), runs
    C(python -m fleetbench_harness run ...) as an argv list (no shell), writes its console to C(console.out),
    parses C(mlperf_log_summary.txt) / C(mlperf_log_detail.txt), and in accuracy mode runs
    C(python -m fleetbench_harness accuracy ...) and compares the value with the registry target.
  - Caches by an input hash (sha256 of every input that changes the result - request fields, the registry
    entry, the C(user.conf) text, the model file's sha256, the dataset's label file sha256 and count, the
    harness and LoadGen versions). When C(result.json) in O(run_dir) carries the same hash and every file it
    lists exists, the module returns the stored result with C(changed=false) unless O(rerun=true).
  - The run happens in a staging directory beside O(run_dir); C(result.json) is written last and the directory
    is renamed into place only on success, so a killed or failed run never leaves a complete-looking result
    and a previous complete result stays until a new one replaces it. A failed attempt is kept as
    C(.<run_dir name>.failed) beside O(run_dir) (console.out, logs, no result.json).
  - Compliance tests (O(mode=TEST01), O(mode=TEST04)) run in performance mode with the test's C(audit.config)
    (from C(model_info.compliance_info), i.e. the registry's C(compliance) section) and are verified against
    the scenario's performance run (C(verify_performance.txt); TEST01 within 10 %, TEST04 not more than 10 %
    faster, 20 % for short latencies) and, for TEST01, the accuracy run (C(verify_accuracy.txt); every logged
    result equals the accuracy run's for the same sample). A test the registry does not describe (TEST06) is
    rejected with "not implemented yet".
author:
  - fleetbench.mlperf contributors
options:
  model:
    description: Registry model key (canonical, as resolved by C(fleetbench.mlperf.validate_request)).
    type: str
    required: true
  model_info:
    description:
      - The registry entry of O(model), as returned by the C(fleetbench.mlperf.model_info) filter on the
        controller (targets have no YAML parser). Needs C(loadgen_key), C(mlperf_name),
        C(performance_sample_count), C(accuracy); C(dataset_info.label_file) and C(variants) are used when
        present.
    type: dict
    required: true
  scenario:
    description: LoadGen scenario (LoadGen's spelling).
    type: str
    required: true
    choices: [Offline, Server, SingleStream, MultiStream, Interactive]
  mode:
    description: LoadGen test mode, or a compliance test of the model (C(model_info.compliance_tests)).
    type: str
    default: performance
    choices: [performance, accuracy, TEST01, TEST04, TEST06]
  execution_mode:
    description:
      - C(test) (a few queries, never submittable), C(fast) (shortened) or C(valid) (MLPerf defaults).
      - See C(plugins/module_utils/_user_conf.py) for the user.conf each one produces.
    type: str
    default: test
    choices: [test, fast, valid]
  implementation:
    description: Implementation name (recorded in the result).
    type: str
    default: reference
  backend:
    description: Harness backend.
    type: str
    default: onnxruntime
  device:
    description: Device the backend runs on.
    type: str
    default: cpu
  precision:
    description: Model precision.
    type: str
    default: float32
  division:
    description: MLPerf division (recorded in the result).
    type: str
    default: open
    choices: [open, closed]
  category:
    description: MLPerf system category (recorded in the result).
    type: str
    default: edge
    choices: [edge, datacenter]
  test_query_count:
    description: min_query_count = max_query_count in C(test) execution mode.
    type: int
    default: 10
  target_qps:
    description: Offline/Server target (queries per second). Default 1 (see user.conf rules).
    type: float
  target_latency:
    description: SingleStream/MultiStream target latency in milliseconds.
    type: float
  max_batchsize:
    description: Largest batch the harness sends to the backend (C(--max-batchsize)).
    type: int
  num_threads:
    description: Backend threads (C(--threads)).
    type: int
  count:
    description:
      - Number of dataset samples to load (C(--count)). Below the model's C(performance_sample_count) it is
        also written as C(performance_sample_count_override) (not submittable in the closed division).
    type: int
  python:
    description: Interpreter of the SUT virtual environment that has C(fleetbench_harness) and LoadGen.
    type: path
    required: true
  run_dir:
    description:
      - Final run directory, e.g. C(<output_dir>/test_results/<sut>/<model>/Offline/performance/run_1).
    type: path
    required: true
  model_path:
    description:
      - Model file or folder (as printed by C(fleetbench_harness prepare-model)).
      - Hashed for the result cache (a folder by its manifest of paths, sizes and mtimes).
    type: path
  stand_in_model:
    description:
      - Name of a registered stand-in model (registry C(models.<model>.stand_ins)), run where the real model
        cannot be had; labelled in the result, its accuracy never compared with the target.
    type: str
    aliases: [performance_only_model]
  family_options:
    description:
      - Task-family options passed to the harness as C(--set KEY=VALUE), e.g. C(max_new_tokens) for the LLM
        family (registry C(families.<family>.options)).
    type: dict
    default: {}
  dataset_path:
    description: Prepared dataset (file or folder, as printed by C(fleetbench_harness prepare-dataset)).
    type: path
    required: true
  cache_dir:
    description: Harness cache directory (preprocessed arrays, exported models).
    type: path
    required: true
  sut_name:
    description: System name, unique per host; recorded as C(system).
    type: str
    required: true
  host:
    description: Inventory hostname recorded in the result; defaults to the target's node name.
    type: str
  rerun:
    description: Run even when a cached result with the same input hash exists.
    type: bool
    default: false
  environment:
    description:
      - Extra environment variables for the harness process; hashed into the input hash and recorded in
        C(provenance.environment) (values of secret-looking names and URL credentials shown as C(<hidden>)).
    type: dict
    default: {}
  secret_environment:
    description:
      - Environment variables whose values are secrets (HF_TOKEN, proxy credentials); given to the harness,
        never hashed, recorded or returned (no_log). Only their names appear in C(provenance.secret_names).
    type: dict
    default: {}
  reference_dir:
    description:
      - Compliance tests only - the performance run to compare with.
      - Default C(<run_dir>/../performance/run_1).
    type: path
  accuracy_dir:
    description:
      - Compliance tests only - the accuracy run TEST01 compares with. Default C(<run_dir>/../accuracy).
    type: path
  submission_round:
    description:
      - The MLPerf round the request names (C(-e submission_round=) / C(-e round=)); recorded in the
        request record, so a run of another round has a results directory and a cache entry of its own.
      - Unset means the registry's C(rounds.default).
    type: str
  round_rules:
    description:
      - The rules of the run's round for O(model), as the C(fleetbench.mlperf.round_rules) filter returns them
        on the controller (C(_rounds.run_rules)) - C(round), C(source), C(checker_model), C(loadgen),
        C(facts) (seeds, result fields, the model's rules).
      - The run's verdicts follow them - a performance-mode log whose RNG seeds are not the round's
        mlperf.conf seeds (made with another round's LoadGen), or whose C(performance_sample_count) is below
        the round's least, is not submittable, in the round's checker's words.
      - The harness gets C(--round); result.json names the round (RV(round)).
    type: dict
notes:
  - Supports check mode (reports C(would_run), the argv and the user.conf text; writes nothing) and diff mode
    (user.conf before/after).
  - Latency keys ending in C(_ns) are nanoseconds, C(_ms) milliseconds.
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
"""

EXAMPLES = r"""
- name: Offline performance run in test mode
  fleetbench.mlperf.mlperf_run:
    model: resnet50
    model_info: "{{ 'resnet50' | fleetbench.mlperf.model_info }}"
    scenario: Offline
    mode: performance
    execution_mode: test
    test_query_count: 10
    python: "{{ mlperf_work_dir }}/venvs/onnxruntime-cpu/bin/python"
    run_dir: "{{ mlperf_work_dir }}/results/test_results/{{ sut_name }}/resnet50/Offline/performance/run_1"
    model_path: "{{ mlperf_work_dir }}/models/resnet50_v1.onnx"
    dataset_path: "{{ mlperf_work_dir }}/datasets/imagenet"
    cache_dir: "{{ mlperf_work_dir }}/cache"
    sut_name: "{{ sut_name }}"
    host: "{{ inventory_hostname }}"
    # judged by the rules of the request's round (-e round=v5.1; default rounds.default)
    submission_round: "{{ mlperf_request['submission_round'] | default(omit, true) }}"
    round_rules: "{{ mlperf_request | fleetbench.mlperf.round_rules }}"
  register: perf

- name: Accuracy run, forced even when cached
  fleetbench.mlperf.mlperf_run:
    model: efficientnet
    model_info: "{{ 'efficientnet' | fleetbench.mlperf.model_info }}"
    backend: pytorch
    scenario: SingleStream
    mode: accuracy
    count: 8
    python: /opt/fb/venvs/pytorch-cpu/bin/python
    run_dir: /opt/fb/results/test_results/lab1/efficientnet/SingleStream/accuracy
    dataset_path: /opt/fb/datasets/smoke
    cache_dir: /opt/fb/cache
    sut_name: lab1
    rerun: true
"""

RETURN = r"""
schema:
  description: Result schema version.
  returned: success
  type: int
  sample: 1
system:
  description: O(sut_name).
  returned: success
  type: str
host:
  description: O(host) or the node name.
  returned: success
  type: str
model:
  description: Registry model key.
  returned: success
  type: str
mlperf_model:
  description: Official MLPerf model name (registry C(mlperf_name)).
  returned: success
  type: str
loadgen_key:
  description: Model key used in user.conf (registry C(loadgen_key)).
  returned: success
  type: str
scenario:
  description: LoadGen scenario.
  returned: success
  type: str
mode:
  description: performance or accuracy.
  returned: success
  type: str
execution_mode:
  description: test, fast or valid.
  returned: success
  type: str
implementation:
  description: Implementation.
  returned: success
  type: str
backend:
  description: Backend.
  returned: success
  type: str
device:
  description: Device.
  returned: success
  type: str
precision:
  description: Precision.
  returned: success
  type: str
division:
  description: Division.
  returned: success
  type: str
category:
  description: Category.
  returned: success
  type: str
round:
  description:
    - The round the run was made and judged for, C({name, source, checker_model, loadgen, requested}) -
      C(loadgen) the version pinned for it, C(requested) the O(submission_round) as given (null - default).
      Null when neither O(round_rules) nor O(submission_round) was given.
  returned: success
  type: dict
loadgen:
  description:
    - Parsed LoadGen logs (C(parse_run_dir) of C(_mlperf_logs)) - validity, reasons, metric, value, unit,
      latency_ns / latency_ms (min, max, mean, p50 ... p99.9), settings used, warnings, errors,
      loadgen_version.
  returned: success
  type: dict
accuracy:
  description:
    - In accuracy mode, C(check_accuracy) of C(_accuracy) - metric, value, unit, target, met (null when no
      target is published), checks, good, total, reasons. Null in performance mode.
  returned: success
  type: dict
compliance:
  description:
    - Compliance tests only - C({test, passed, performance, accuracy, reference_dir, accuracy_dir});
      C(performance) has C(passed, check, threshold, reference, test, unit, source, reasons), C(accuracy) has
      C(passed, compared, mismatched, missing, reasons). Null for performance and accuracy runs.
  returned: success
  type: dict
verdict:
  description: LoadGen verdict C({validity, reasons}).
  returned: success
  type: dict
submittable:
  description: Whether the run could enter a submission, C({ok, reasons}) (test/fast runs never are).
  returned: success
  type: dict
model_label:
  description: Label of the model used (from harness.json), e.g. the untrained stand-in's warning.
  returned: success
  type: str
performance_only_model:
  description: True when a stand-in model ran (kept for older readers; see RV(stand_in)).
  returned: success
  type: bool
stand_in:
  description:
    - The stand-in that ran, C({name, label, accuracy_comparable}), or null for the benchmark's model.
  returned: success
  type: dict
family_options:
  description: The task-family options of the run (e.g. C(max_new_tokens)); non-default options are never
    submittable.
  returned: success
  type: dict
run_dir:
  description: Final run directory.
  returned: always
  type: str
files:
  description:
    - Name -> absolute path of every file of the run (user.conf, console.out, LoadGen logs,
      harness.json, accuracy.txt, result.json).
  returned: success
  type: dict
provenance:
  description: harness.json content, versions (harness, LoadGen, python), argv of each command, environment.
  returned: success
  type: dict
input_hash:
  description: sha256 of the canonical JSON of every input that changes the result.
  returned: always
  type: str
started:
  description: Start time, ISO 8601 UTC.
  returned: success
  type: str
duration_s:
  description: Wall time of the harness commands in seconds.
  returned: success
  type: float
cached:
  description: True when the stored result was returned without running.
  returned: success
  type: bool
cache_reason:
  description:
    - Why the cache held or not ("cache hit", "inputs changed", "no stored result", "rerun requested").
  returned: always
  type: str
would_run:
  description: Check mode only - true when a real run would execute.
  returned: check mode
  type: bool
argv:
  description: Check mode only - the harness argv that would run (output dir shown as C(<staging>)).
  returned: check mode
  type: list
  elements: str
user_conf:
  description: The user.conf text of this run.
  returned: always
  type: str
console_tail:
  description: On failure, the last lines of the harness console.
  returned: failure
  type: str
failed_dir:
  description: On failure, the directory kept for debugging (console.out, logs; no result.json).
  returned: failure
  type: str
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.fleetbench.mlperf.plugins.module_utils import _run

ARGUMENT_SPEC = dict(
    model=dict(type="str", required=True),
    model_info=dict(type="dict", required=True),
    scenario=dict(
        type="str", required=True, choices=["Offline", "Server", "SingleStream", "MultiStream", "Interactive"]
    ),
    mode=dict(type="str", default="performance", choices=["performance", "accuracy", *_run.COMPLIANCE_MODES]),
    execution_mode=dict(type="str", default="test", choices=["test", "fast", "valid"]),
    implementation=dict(type="str", default="reference"),
    backend=dict(type="str", default="onnxruntime"),
    device=dict(type="str", default="cpu"),
    precision=dict(type="str", default="float32"),
    division=dict(type="str", default="open", choices=["open", "closed"]),
    category=dict(type="str", default="edge", choices=["edge", "datacenter"]),
    test_query_count=dict(type="int", default=10),
    target_qps=dict(type="float"),
    target_latency=dict(type="float"),
    max_batchsize=dict(type="int"),
    num_threads=dict(type="int"),
    count=dict(type="int"),
    python=dict(type="path", required=True),
    run_dir=dict(type="path", required=True),
    model_path=dict(type="path"),
    stand_in_model=dict(type="str", aliases=["performance_only_model"]),
    family_options=dict(type="dict", default={}),
    dataset_path=dict(type="path", required=True),
    cache_dir=dict(type="path", required=True),
    sut_name=dict(type="str", required=True),
    host=dict(type="str"),
    rerun=dict(type="bool", default=False),
    environment=dict(type="dict", default={}),
    secret_environment=dict(type="dict", default={}, no_log=True),
    reference_dir=dict(type="path"),
    accuracy_dir=dict(type="path"),
    submission_round=dict(type="str"),
    round_rules=dict(type="dict"),
)


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    try:
        result = _run.run(module)
    except _run.ModuleFailure as exc:
        module.fail_json(msg=exc.msg, **exc.fields)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
