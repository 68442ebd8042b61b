#!/usr/bin/python
# Copyright: fleetbench.mlperf contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""fleetbench.mlperf.mlperf_run: one MLPerf LoadGen run on a SUT, cached by input hash."""

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
      - Hashed for the result cache (a folder by its listing).
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
    description: Extra environment variables for the harness process.
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

import datetime
import json
import os
import platform
import shutil
import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.fleetbench.mlperf.plugins.module_utils._accuracy import (
    AccuracyError,
    check_accuracy,
    read_accuracy_file,
)
from ansible_collections.fleetbench.mlperf.plugins.module_utils._compliance import (
    audit_config_text,
    verify_accuracy,
    verify_performance,
)
from ansible_collections.fleetbench.mlperf.plugins.module_utils._mlperf_logs import (
    LogParseError,
    parse_run_dir,
)
from ansible_collections.fleetbench.mlperf.plugins.module_utils._user_conf import (
    RunLockTimeout,
    cached_result,
    clean_stale_staging,
    commit_run_dir,
    file_sha256,
    input_hash,
    make_staging_dir,
    model_digest,
    read_result,
    render_user_conf,
    run_lock,
)
from ansible_collections.fleetbench.mlperf.plugins.module_utils._verdict import (
    loadgen_verdict,
    submittable_verdict,
)

SCHEMA = 1
COMPLIANCE_MODES = ("TEST01", "TEST04", "TEST06")
HARNESS_MODULE = "fleetbench_harness"
STAGING_PLACEHOLDER = "<staging>"
CONSOLE = "console.out"
USER_CONF = "user.conf"
AUDIT_CONFIG = "audit.config"
TAIL_LINES = 40
# Distribution names whose versions enter the input hash.
VERSION_PROBE = (
    "import importlib.metadata as m, json, sys\n"
    "v = {'python': sys.version.split()[0]}\n"
    "for d in ('fleetbench-harness', 'mlcommons-loadgen', 'onnxruntime', 'onnxruntime-gpu', 'torch'):\n"
    "    try:\n"
    "        v[d] = m.version(d)\n"
    "    except m.PackageNotFoundError:\n"
    "        v[d] = None\n"
    "print(json.dumps(v))\n"
)

ARGUMENT_SPEC = dict(
    model=dict(type="str", required=True),
    model_info=dict(type="dict", required=True),
    scenario=dict(
        type="str", required=True, choices=["Offline", "Server", "SingleStream", "MultiStream", "Interactive"]
    ),
    mode=dict(type="str", default="performance", choices=["performance", "accuracy", *COMPLIANCE_MODES]),
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
    reference_dir=dict(type="path"),
    accuracy_dir=dict(type="path"),
)

# Request fields that change the result (enter the input hash).
HASHED_PARAMS = (
    "model",
    "scenario",
    "mode",
    "execution_mode",
    "implementation",
    "backend",
    "device",
    "precision",
    "division",
    "category",
    "test_query_count",
    "target_qps",
    "target_latency",
    "max_batchsize",
    "num_threads",
    "count",
    "stand_in_model",
    "family_options",
    "sut_name",
    "environment",
)


def _now_iso():
    now = datetime.datetime.now(datetime.timezone.utc)  # noqa: UP017 (targets may run Python < 3.11)
    return now.replace(microsecond=0).isoformat()


def _tail(text, lines=TAIL_LINES):
    return "\n".join((text or "").rstrip().splitlines()[-lines:])


def _harness_reason(rc, stderr):
    """One-line reason: the harness's ``fleetbench_harness: error:`` line (exit 2) or the last stderr line."""
    lines = [ln.strip() for ln in (stderr or "").splitlines() if ln.strip()]
    for ln in reversed(lines):
        if ln.startswith(HARNESS_MODULE + ": error:"):
            return ln
    if lines:
        return lines[-1]
    return f"harness exited with status {rc}"


def _label_file(params):
    """The dataset's label/index file named by the registry (``datasets.<d>.label_file``), if present."""
    info = params["model_info"].get("dataset_info") or {}
    name = info.get("label_file")
    if not name:
        return None
    path = os.path.join(params["dataset_path"], name)
    return path if os.path.isfile(path) else None


def _dataset_identity(params):
    """Dataset part of the input hash: path, count, and the label file's sha256 and line count (samples)
    where the registry names one, else the sha256 of a dataset file or a stat listing of a folder."""
    path = params["dataset_path"]
    ident = {"path": path, "count": params["count"], "label_sha256": None, "samples": None}
    label = _label_file(params)
    if label:
        ident["label_sha256"] = file_sha256(label)
        with open(label, encoding="utf-8", errors="replace") as fh:
            ident["samples"] = sum(1 for line in fh if line.strip())
    elif os.path.isfile(path):
        ident["file_sha256"] = file_sha256(path)
    elif os.path.isdir(path):
        ident["listing_sha256"] = model_digest(path)  # a folder: its stat manifest
    return ident


def _model_argv(params):
    """The model/family flags shared by ``run`` and ``accuracy``."""
    p = params
    argv = ["--backend", p["backend"], "--precision", p["precision"], "--cache-dir", p["cache_dir"]]
    for flag, key in (
        ("--model-path", "model_path"),
        ("--stand-in-model", "stand_in_model"),
        ("--count", "count"),
    ):
        if p.get(key) not in (None, ""):
            argv += [flag, str(p[key])]
    for key, value in sorted((p.get("family_options") or {}).items()):
        if value not in (None, ""):
            argv += ["--set", f"{key}={value}"]
    return argv


def _run_argv(params, output_dir, mode):
    """argv of ``fleetbench_harness run``; a compliance test runs in performance mode + its audit.config."""
    p = params
    audit = None
    if mode in COMPLIANCE_MODES:
        audit = os.path.join(output_dir, AUDIT_CONFIG)
        mode = "performance"
    argv = [
        p["python"],
        "-m",
        HARNESS_MODULE,
        "run",
        "--model",
        p["model"],
        *_model_argv(p),
        "--device",
        p["device"],
        "--scenario",
        p["scenario"],
        "--mode",
        mode,
        "--dataset-path",
        p["dataset_path"],
        "--user-conf",
        os.path.join(output_dir, USER_CONF),
        "--output-dir",
        output_dir,
    ]
    for flag, key in (
        ("--max-batchsize", "max_batchsize"),
        ("--threads", "num_threads"),
    ):
        if p.get(key) not in (None, ""):
            argv += [flag, str(p[key])]
    if audit:
        argv += ["--audit-config", audit]
    return argv


def _accuracy_argv(params, output_dir):
    return [
        params["python"],
        "-m",
        HARNESS_MODULE,
        "accuracy",
        "--model",
        params["model"],
        *_model_argv(params),
        "--accuracy-log",
        os.path.join(output_dir, "mlperf_log_accuracy.json"),
        "--dataset-path",
        params["dataset_path"],
        "--output",
        os.path.join(output_dir, "accuracy.txt"),
    ]


def _probe_versions(module, python):
    """Versions of the SUT venv's packages (importlib.metadata; no heavy imports). None when unusable."""
    if not (os.path.isfile(python) and os.access(python, os.X_OK)):
        return None
    rc, out, _err = module.run_command([python, "-c", VERSION_PROBE], expand_user_and_vars=False)
    if rc != 0:
        return None
    try:
        return json.loads(out.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return None


def _user_conf_text(params, dataset):
    info = params["model_info"]
    samples = params["count"] if params["count"] is not None else dataset.get("samples")
    # A request scenario may run as another LoadGen scenario under its own key (Interactive: the
    # model's interactive key, LoadGen Server; registry loadgen_keys / loadgen_scenario).
    scenario = params["scenario"]
    return render_user_conf(
        (info.get("loadgen_keys") or {}).get(scenario, info["loadgen_key"]),
        (info.get("loadgen_scenario") or {}).get(scenario, scenario),
        params["execution_mode"],
        target_qps=params["target_qps"],
        target_latency=params["target_latency"],
        test_query_count=params["test_query_count"],
        count=samples,
        performance_sample_count=info.get("performance_sample_count"),
    )


def _check_inputs(module, params):
    """Fail before anything expensive: compliance modes, model_info shape, numbers."""
    p = params
    info = p["model_info"]
    if p["mode"] in COMPLIANCE_MODES:
        tests = info.get("compliance_tests") or []
        described = info.get("compliance_info") or {}
        if p["mode"] not in tests:
            module.fail_json(
                msg=f"mode: model {p['model']} has no compliance test {p['mode']}; allowed: "
                + ", ".join(["performance", "accuracy", *tests])
            )
        if p["mode"] not in described:
            module.fail_json(
                msg=f"mode: compliance test {p['mode']} is not implemented yet; allowed: "
                + ", ".join(["performance", "accuracy", *described])
            )
    missing = [k for k in ("loadgen_key", "mlperf_name") if not info.get(k)]
    if missing:
        module.fail_json(
            msg="model_info: missing "
            + ", ".join(missing)
            + ' (pass the registry entry: "{{ model | fleetbench.mlperf.model_info }}")'
        )
    if info.get("model") not in (None, p["model"]):
        module.fail_json(msg=f"model_info: entry is for model {info.get('model')!r}, not {p['model']!r}")
    for key, minimum in (("test_query_count", 1), ("max_batchsize", 1), ("num_threads", 1), ("count", 1)):
        if p[key] is not None and p[key] < minimum:
            module.fail_json(msg=f"{key}: {p[key]} must be >= {minimum}")
    for key in ("target_qps", "target_latency"):
        if p[key] is not None and p[key] <= 0:
            module.fail_json(msg=f"{key}: {p[key]} must be > 0")
    if not module.check_mode:
        if not (os.path.isfile(p["python"]) and os.access(p["python"], os.X_OK)):
            module.fail_json(msg=f"python: {p['python']} is not an executable file (SUT venv interpreter)")
        if not os.path.exists(p["dataset_path"]):
            module.fail_json(msg=f"dataset_path: {p['dataset_path']} does not exist (a dataset file/folder)")
        if p["model_path"] and not os.path.exists(p["model_path"]):
            module.fail_json(msg=f"model_path: {p['model_path']} does not exist (a model file or folder)")


def _read_text(path):
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read()
    except OSError:
        return None


class RunFailed(Exception):
    """A harness step failed: ``reason`` is the one-line cause."""

    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason


def _exit_when_controller_gone(poll_s=1.0):
    """End this module when the controller is gone (ansible-playbook interrupted or killed).

    The module's stdout is the pipe or socket back to the controller (the local worker, or sshd
    for an SSH connection; an interrupted controller leaves a remote module running otherwise, and
    with it the harness and the machine's run lock). When the other end is closed, ``poll`` on
    stdout reports POLLERR/POLLHUP: a daemon thread checks every ``poll_s`` seconds and then exits
    at once (status 1). The harness follows (it watches this process), the run lock goes with this
    process, and the next run removes the staging directory (``clean_stale_staging``). On a
    terminal or a regular file (tests) nothing is ever reported, so nothing happens.
    """
    import select
    import threading

    try:
        watcher = select.poll()
        watcher.register(1, select.POLLERR | select.POLLHUP)
    except (AttributeError, OSError, ValueError):
        return  # no poll() on this platform, or no stdout

    def watch():
        while True:
            time.sleep(poll_s)
            if any(ev & (select.POLLERR | select.POLLHUP) for _fd, ev in watcher.poll(0)):
                os._exit(1)

    threading.Thread(target=watch, name="controller-gone", daemon=True).start()


def _execute(module, params, staging, user_conf, env):
    """Run the harness steps inside ``staging``; return (parsed, accuracy, commands, duration_s)."""
    console_path = os.path.join(staging, CONSOLE)
    commands = []
    t0 = time.monotonic()
    run_mode = params["mode"]
    if run_mode in COMPLIANCE_MODES:
        with open(os.path.join(staging, AUDIT_CONFIG), "w", encoding="utf-8") as fh:
            fh.write(audit_config_text(params["model_info"]["compliance_info"][run_mode]))
    steps = [_run_argv(params, staging, run_mode)]
    if run_mode == "accuracy":
        steps.append(_accuracy_argv(params, staging))
    accuracy_line = None
    with open(console_path, "w", encoding="utf-8") as console:
        for argv in steps:
            console.write("$ " + " ".join(argv) + "\n")
            console.flush()
            # The harness ends itself when this process dies (fleetbench_harness.runner.exit_with_parent).
            rc, out, err = module.run_command(
                argv,
                cwd=staging,
                environ_update=dict(env, FLEETBENCH_PARENT_PID=str(os.getpid())),
                expand_user_and_vars=False,
            )
            console.write(out or "")
            console.write(err or "")
            console.write(f"[exit status {rc}]\n")
            console.flush()
            commands.append({"argv": argv, "rc": rc})
            if rc != 0:
                raise RunFailed(f"{argv[3]} step: {_harness_reason(rc, err)}")
            if argv[3] == "accuracy":
                for line in reversed((out or "").splitlines()):
                    line = line.strip()
                    if line.startswith("{"):
                        try:
                            accuracy_line = json.loads(line)
                        except ValueError:
                            continue
                        break
    duration = round(time.monotonic() - t0, 3)
    try:
        parsed = parse_run_dir(
            staging,
            model_tokens=params["model_info"].get("token_latencies"),
            dir_scenario=params["scenario"],
        )
    except LogParseError as exc:
        raise RunFailed(f"LoadGen logs: {exc}") from exc
    parsed["dir"] = params["run_dir"]  # parsed in staging; report the final place
    accuracy = None
    if run_mode == "accuracy":
        variants = params["model_info"].get("variants") or []
        try:
            acc_parsed = read_accuracy_file(os.path.join(staging, "accuracy.txt"))
            variant = variants[0] if variants else None
            accuracy = check_accuracy(acc_parsed, params["model_info"], variant=variant)
        except AccuracyError as exc:
            raise RunFailed(f"accuracy: {exc}") from exc
        accuracy["path"] = os.path.join(params["run_dir"], "accuracy.txt")
        if accuracy_line:
            accuracy["harness"] = accuracy_line
    compliance = None
    if run_mode in COMPLIANCE_MODES:
        compliance = _verify_compliance(params, staging, parsed)
    return parsed, accuracy, compliance, commands, duration


def _reference_dirs(params):
    """(performance run dir, accuracy run dir) a compliance test compares against.

    Defaults follow the results tree: ``<scenario>/TEST01`` -> ``<scenario>/performance/run_1`` and
    ``<scenario>/accuracy``.
    """
    scenario_dir = os.path.dirname(params["run_dir"])
    perf = params["reference_dir"] or os.path.join(scenario_dir, "performance", "run_1")
    acc = params["accuracy_dir"] or os.path.join(scenario_dir, "accuracy")
    return perf, acc


def _needed_results(params):
    """{"performance": result, "accuracy": result} the compliance test needs; missing ones are None."""
    info = params["model_info"]["compliance_info"][params["mode"]]
    perf, acc = _reference_dirs(params)
    dirs = {"performance": perf, "accuracy": acc}
    return {need: read_result(dirs[need]) for need in info.get("needs") or []}, dirs


def _verify_compliance(params, staging, parsed):
    """Verify steps of a compliance run; writes verify_*.txt into staging; returns the summary dict."""
    test = params["mode"]
    info = params["model_info"]["compliance_info"][test]
    results, dirs = _needed_results(params)
    out = {"test": test, "reference_dir": dirs["performance"], "accuracy_dir": dirs["accuracy"]}
    checks = []
    if "performance" in (info.get("verify") or []):
        ref = (results.get("performance") or {}).get("loadgen") or {}
        perf = verify_performance(test, info, ref, parsed, params["scenario"])
        with open(os.path.join(staging, "verify_performance.txt"), "w", encoding="utf-8") as fh:
            fh.write(perf.pop("text"))
        out["performance"] = perf
        checks.append(perf["passed"])
    if "accuracy" in (info.get("verify") or []):
        try:
            acc = verify_accuracy(
                os.path.join(dirs["accuracy"], "mlperf_log_accuracy.json"),
                os.path.join(staging, "mlperf_log_accuracy.json"),
            )
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise RunFailed(f"{test} accuracy verification: {exc}") from exc
        with open(os.path.join(staging, "verify_accuracy.txt"), "w", encoding="utf-8") as fh:
            fh.write(acc.pop("text"))
        out["accuracy"] = acc
        checks.append(acc["passed"])
    out["passed"] = bool(checks) and all(checks)
    return out


def _keep_failed(staging, run_dir):
    """Keep a failed attempt as ``.<name>.failed`` beside run_dir (replacing an older one)."""
    failed = os.path.join(os.path.dirname(run_dir), "." + os.path.basename(run_dir) + ".failed")
    shutil.rmtree(failed, ignore_errors=True)
    try:
        os.rename(staging, failed)
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)
        return None
    return failed


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    p = module.params
    p["run_dir"] = os.path.abspath(p["run_dir"])
    _check_inputs(module, p)
    info = p["model_info"]
    run_dir = p["run_dir"]

    dataset = _dataset_identity(p) if os.path.exists(p["dataset_path"]) else {"path": p["dataset_path"]}
    try:
        user_conf = _user_conf_text(p, dataset)
    except ValueError as exc:
        module.fail_json(msg=f"user.conf: {exc}")
    versions = _probe_versions(module, p["python"])
    model_sha = model_digest(p["model_path"]) if p["model_path"] else None
    hash_inputs = {
        "schema": SCHEMA,
        "request": {k: p[k] for k in HASHED_PARAMS},
        "model_info": info,
        "user_conf": user_conf,
        "model_sha256": model_sha,
        "dataset": dataset,
        "versions": versions,
    }
    if p["mode"] in COMPLIANCE_MODES:
        needed, dirs = _needed_results(p)
        absent = [need for need, res in needed.items() if res is None]
        if absent and not module.check_mode:
            module.fail_json(
                msg=f"mode {p['mode']}: needs the {' and '.join(absent)} run of {p['scenario']} first "
                f"(no result.json in {', '.join(dirs[a] for a in absent)}); "
                "run mode both before the compliance tests",
                run_dir=run_dir,
            )
        hash_inputs["compliance"] = {
            "audit_config": audit_config_text(info["compliance_info"][p["mode"]]),
            # a re-run reference (same inputs, new measurements) must invalidate the verification
            "references": {
                need: [(res or {}).get("input_hash"), (res or {}).get("started")]
                for need, res in needed.items()
            },
        }
    h = input_hash(hash_inputs)

    old_conf = _read_text(os.path.join(run_dir, USER_CONF)) or ""
    diff = {
        "before": old_conf,
        "after": user_conf,
        "before_header": os.path.join(run_dir, USER_CONF),
        "after_header": os.path.join(run_dir, USER_CONF),
    }

    if p["rerun"]:
        cached, why = None, "rerun requested"
    else:
        cached, why = cached_result(run_dir, h)
    if cached is not None:
        out = dict(cached)
        out.update(changed=False, cached=True, cache_reason=why, user_conf=user_conf)
        module.exit_json(**out)

    if module.check_mode:
        module.exit_json(
            changed=True,
            would_run=True,
            cached=False,
            cache_reason=why,
            argv=_run_argv(p, STAGING_PLACEHOLDER, p["mode"]),
            user_conf=user_conf,
            input_hash=h,
            run_dir=run_dir,
            diff=diff,
        )

    # One results directory per system: a request with another software configuration replaces the
    # stored result. Say so (MLPerf names one system per hardware + software stack: use hw_name).
    previous = read_result(run_dir) or {}
    changed_config = [
        f"{k} {previous[k]} -> {p[k]}"
        for k in ("implementation", "backend", "device", "precision")
        if previous.get(k) is not None and previous.get(k) != p[k]
    ]
    if changed_config:
        module.warn(
            f"replacing the stored result in {run_dir} ({', '.join(changed_config)}); to keep both, "
            "give each configuration its own system name (-e hw_name=...)"
        )

    env = {"PYTHONUNBUFFERED": "1"}
    env.update({str(k): str(v) for k, v in (p["environment"] or {}).items()})
    # From here on this run may wait for the lock and then run for hours: stop if the controller goes.
    _exit_when_controller_gone()
    # Held until this process exits (exit_json/fail_json end it), so through the commit of result.json.
    try:
        lock = run_lock().__enter__()
    except RunLockTimeout as exc:
        module.fail_json(msg=f"mlperf_run {p['model']} {p['scenario']} {p['mode']}: {exc}", run_dir=run_dir)
    if lock.waited_s >= 1:
        module.warn(f"waited {lock.waited_s:.0f} s for another benchmark on this machine ({lock.path})")
    started = _now_iso()
    clean_stale_staging(run_dir)
    staging = make_staging_dir(run_dir)
    try:
        with open(os.path.join(staging, USER_CONF), "w", encoding="utf-8") as fh:
            fh.write(user_conf)
        parsed, accuracy, compliance, commands, duration = _execute(module, p, staging, user_conf, env)
    except RunFailed as exc:
        console = _read_text(os.path.join(staging, CONSOLE)) or ""
        failed = _keep_failed(staging, run_dir)
        module.fail_json(
            msg=f"mlperf_run {p['model']} {p['scenario']} {p['mode']} failed: {exc.reason}",
            reason=exc.reason,
            console_tail=_tail(console),
            failed_dir=failed,
            run_dir=run_dir,
            input_hash=h,
            cache_reason=why,
            user_conf=user_conf,
        )
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise

    harness = {}
    harness_text = _read_text(os.path.join(staging, "harness.json"))
    if harness_text:
        try:
            harness = json.loads(harness_text)
        except ValueError:
            harness = {"unparsed": harness_text[:2000]}
    for warning in harness.get("warnings") or []:
        module.warn(f"harness ({p['model']} {p['scenario']} {p['mode']}): {warning}")
    # Every stand-in is labelled; its accuracy is never compared with the benchmark's target.
    stand_in = harness.get("stand_in") or (
        {"name": p["stand_in_model"], "label": harness.get("model_label"), "accuracy_comparable": False}
        if p["stand_in_model"]
        else None
    )
    perf_only = stand_in is not None
    verdict = loadgen_verdict(parsed)
    if p["mode"] == "accuracy":
        submittable = submittable_verdict(
            p["execution_mode"],
            loadgen=None,
            accuracy=accuracy,
            performance_only_model=perf_only,
            model_entry=info,
            scenario=p["scenario"],
        )
        # An accuracy run is judged on its own: "no performance run" is the performance run's business.
        submittable["reasons"] = [r for r in submittable["reasons"] if r != "no performance run"]
        submittable["ok"] = not submittable["reasons"]
    else:
        submittable = submittable_verdict(
            p["execution_mode"],
            loadgen=parsed,
            performance_only_model=perf_only,
            model_entry=info,
            scenario=p["scenario"],
            accuracy_required=False,
        )
        if compliance is not None and not compliance["passed"]:
            submittable["reasons"].append(f"{p['mode']} verification failed")
            submittable["ok"] = False

    # A family option (e.g. max_new_tokens) changes the benchmark: such a run is never submittable.
    changing = (info.get("family_info") or {}).get("options") or {}
    for key, value in sorted((p["family_options"] or {}).items()):
        if value not in (None, "") and (changing.get(key) or {}).get("changes_benchmark", True):
            submittable["reasons"].append(f"{key}={value} changes the benchmark (a test setting)")
            submittable["ok"] = False

    names = [*sorted(os.listdir(staging)), "result.json"]
    files = {name: os.path.join(run_dir, name) for name in names if not name.startswith(".")}
    result = {
        "schema": SCHEMA,
        "system": p["sut_name"],
        "host": p["host"] or platform.node(),
        "model": p["model"],
        "mlperf_model": info.get("mlperf_name"),
        "loadgen_key": info.get("loadgen_key"),
        "scenario": p["scenario"],
        "mode": p["mode"],
        "execution_mode": p["execution_mode"],
        "implementation": p["implementation"],
        "backend": p["backend"],
        "device": p["device"],
        "precision": p["precision"],
        "division": p["division"],
        "category": p["category"],
        "loadgen": parsed,
        "accuracy": accuracy,
        "compliance": compliance,
        "verdict": verdict,
        "submittable": submittable,
        "model_label": harness.get("model_label") or harness.get("label") or p["model"],
        "performance_only_model": perf_only,
        "stand_in": stand_in,
        "family_options": dict(p["family_options"] or {}),
        "run_dir": run_dir,
        "files": files,
        # sha256 of each run file (result.json aside): a later cache check re-runs when one changed.
        "file_sha256": {
            name: file_sha256(os.path.join(staging, name))
            for name in files
            if name != "result.json" and os.path.isfile(os.path.join(staging, name))
        },
        "provenance": {
            "harness": harness,
            "versions": versions,
            "commands": commands,
            "staging_dir": staging,
            "environment": env,
            "model_sha256": model_sha,
            "dataset": dataset,
        },
        "input_hash": h,
        "started": started,
        "duration_s": duration,
    }
    try:
        commit_run_dir(staging, run_dir, result)
    except OSError as exc:
        failed = _keep_failed(staging, run_dir) if os.path.isdir(staging) else None
        module.fail_json(msg=f"run_dir: cannot commit the run into {run_dir}: {exc}", failed_dir=failed)
    module.exit_json(changed=True, cached=False, cache_reason=why, user_conf=user_conf, diff=diff, **result)


if __name__ == "__main__":
    main()
