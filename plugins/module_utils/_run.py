# Copyright: fleetbench.mlperf contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The run logic of the ``fleetbench.mlperf.mlperf_run`` module (stdlib only: it runs on the SUTs).

:func:`run` is the whole module: input checks, the input hash, the result cache, the harness steps
in a staging directory (``fleetbench_harness run`` / ``accuracy`` as argv lists), compliance
verification and the atomic commit of ``result.json``. The module file keeps its documentation
and argument spec and calls :func:`run`; a failure is a :class:`ModuleFailure`.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import platform
import re
import shutil
import time

from ansible_collections.fleetbench.mlperf.plugins.module_utils import _rounds
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
from ansible_collections.fleetbench.mlperf.plugins.module_utils._test06 import verify_test06
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


class ModuleFailure(Exception):
    """The module fails with ``msg`` and the extra return ``fields`` (``fail_json``'s arguments)."""

    def __init__(self, msg, **fields):
        super().__init__(msg)
        self.msg = msg
        self.fields = fields


# Request fields recorded in result.json ("request") that decide what a run directory holds besides
# its place in the tree: the controller compares them with a new request (run_stamp "current"), and
# they key the SUT's results directory (request_key), so two requests never share one.
REQUEST_RECORD_FIELDS = (
    "model",
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
    # the MLPerf round (None = rounds.default): its LoadGen, seeds and rules; a round of its own
    # gets its own SUT results directory, so two rounds never share (or flip) one
    "submission_round",
)
# Request fields that change the result (enter the input hash; canonical JSON, so order is free).
HASHED_PARAMS = ("scenario", "mode", *REQUEST_RECORD_FIELDS, "sut_name", "environment")
NUMERIC_FIELDS = frozenset(
    {"test_query_count", "target_qps", "target_latency", "max_batchsize", "num_threads", "count"}
)


def _normal(field, value):
    """One spelling per value: None for unset ("", {}, None), 1 for 1.0 and "1" in numeric fields."""
    if value in (None, "") or value == {}:
        return None
    if field in NUMERIC_FIELDS:
        try:
            number = float(value)
        except (TypeError, ValueError):
            return value
        return int(number) if number.is_integer() else number
    if isinstance(value, dict):
        return {str(k): str(v) for k, v in sorted(value.items()) if v not in (None, "")} or None
    return value


def request_record(request):
    """``{field: value}`` of :data:`REQUEST_RECORD_FIELDS` in ``request`` (the resolved request or the
    module's params), normalised so that the two compare equal for the same request."""
    return {field: _normal(field, request.get(field)) for field in REQUEST_RECORD_FIELDS}


def request_key(request):
    """Directory name for the SUT-side results of ``request``: ``r-<12 hex>`` of :func:`request_record`.

    Two requests that differ in any recorded field (e.g. test_query_count 11 and 12) get two
    directories; the same request always gets the same one (its cached runs are found again).
    """
    record = request_record(request)
    if record.get("submission_round") is None:
        # the default round: the key requests had before the round was recorded (their cached runs stay)
        del record["submission_round"]
    text = json.dumps(record, sort_keys=True, separators=(",", ":"), default=str)
    return "r-" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def record_differences(stored, request):
    """Human list "field stored -> requested" where a stored result's ``request`` record differs."""
    wanted = request_record(request)
    stored = {field: _normal(field, (stored or {}).get(field)) for field in REQUEST_RECORD_FIELDS}
    return [f"{k} {stored[k]} -> {wanted[k]}" for k in REQUEST_RECORD_FIELDS if stored[k] != wanted[k]]


# Environment names whose values are secrets (HF_TOKEN, AWS_SECRET_ACCESS_KEY, API_KEY, PASSWORD ...).
SECRET_NAME = re.compile(r"token|secret|passw|passwd|key|credential|auth|cookie", re.IGNORECASE)
# user:password@ in a URL value (http_proxy=http://user:pw@proxy:3128).
URL_CREDENTIALS = re.compile(r"(?<=://)[^/@\s]+@")
HIDDEN = "<hidden>"


def is_secret(name, value=""):
    """True when an environment entry must never be written down: a secret-looking name, or a value
    with URL credentials (``http://user:pw@proxy``)."""
    return bool(SECRET_NAME.search(str(name)) or URL_CREDENTIALS.search(str(value)))


def redact_environment(env):
    """``env`` as it may be written down: values of secret-looking names hidden, URL credentials cut."""
    return {
        str(k): HIDDEN if SECRET_NAME.search(str(k)) else URL_CREDENTIALS.sub(HIDDEN + "@", str(v))
        for k, v in (env or {}).items()
    }


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
    run_round = run_round_name(p)
    if run_round:
        argv += ["--round", run_round]
    return argv


def run_round_name(params):
    """The round a run is made and judged for: ``round_rules["round"]``, else ``submission_round``
    (None when neither is given: the harness then takes ``rounds.default``)."""
    return (params.get("round_rules") or {}).get("round") or params.get("submission_round") or None


def round_problems(rules, parsed):
    """Why the checker of the run's round would reject this run's performance logs (its wording).

    :param rules: ``_rounds.run_rules(registry, round, model)`` (the module's ``round_rules``), or None.
    :param parsed: :func:`parse_run_dir` output of a performance-mode run (seeds and
        ``performance_sample_count`` from the detail log's settings).
    :returns: ``[str]``: the round's mlperf.conf seeds (``qsl_rng_seed is wrong, expected=...,
        found=...``, a LoadGen of another round) and a ``performance_sample_count`` below the
        round's least; [] without rules or for a model the round does not have.
    """
    if not rules or not parsed or parsed.get("mode") != "performance":
        return []
    facts = rules.get("facts") or {}
    settings = parsed.get("settings") or {}
    problems = [
        f"round {rules.get('round')}: {p} (the LoadGen of another round?)"
        for p in _rounds.seed_problems(facts, settings)
    ]
    model = rules.get("checker_model")
    short = _rounds.performance_sample_count_problem(facts, model, settings) if model else None
    if short:
        problems.append(f"round {rules.get('round')}: {short}")
    return problems


def round_record(params):
    """result.json ``round``: the round a run was made and judged for, and where its rules come from."""
    rules = params.get("round_rules") or {}
    name = run_round_name(params)
    if not name:
        return None
    return {
        "name": name,
        "source": rules.get("source"),
        "checker_model": rules.get("checker_model"),
        "loadgen": rules.get("loadgen"),
        "requested": params.get("submission_round"),
    }


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


def check_inputs(params, check_mode=False):
    """Fail before anything expensive: compliance modes, model_info shape, numbers (ModuleFailure).

    Outside check mode also the interpreter, dataset and model paths on this machine.
    """
    p = params
    info = p["model_info"]
    if p["mode"] in COMPLIANCE_MODES:
        tests = info.get("compliance_tests") or []
        described = info.get("compliance_info") or {}
        if p["mode"] not in tests:
            raise ModuleFailure(
                msg=f"mode: model {p['model']} has no compliance test {p['mode']}; allowed: "
                + ", ".join(["performance", "accuracy", *tests])
            )
        if p["mode"] not in described:
            raise ModuleFailure(
                msg=f"mode: compliance test {p['mode']} is not implemented yet; allowed: "
                + ", ".join(["performance", "accuracy", *described])
            )
    missing = [k for k in ("loadgen_key", "mlperf_name") if not info.get(k)]
    if missing:
        raise ModuleFailure(
            msg="model_info: missing "
            + ", ".join(missing)
            + ' (pass the registry entry: "{{ model | fleetbench.mlperf.model_info }}")'
        )
    if info.get("model") not in (None, p["model"]):
        raise ModuleFailure(msg=f"model_info: entry is for model {info.get('model')!r}, not {p['model']!r}")
    for key, minimum in (("test_query_count", 1), ("max_batchsize", 1), ("num_threads", 1), ("count", 1)):
        if p[key] is not None and p[key] < minimum:
            raise ModuleFailure(msg=f"{key}: {p[key]} must be >= {minimum}")
    for key in ("target_qps", "target_latency"):
        if p[key] is not None and p[key] <= 0:
            raise ModuleFailure(msg=f"{key}: {p[key]} must be > 0")
    rules = p.get("round_rules")
    if rules:
        if not rules.get("round") or not isinstance(rules.get("facts"), dict):
            raise ModuleFailure(
                msg='round_rules: needs "round" and "facts" (pass "{{ mlperf_request | '
                'fleetbench.mlperf.round_rules }}")'
            )
        if p.get("submission_round") and p["submission_round"] != rules["round"]:
            raise ModuleFailure(
                msg=f"round_rules: the rules are of round {rules['round']}, "
                f"submission_round is {p['submission_round']}"
            )
    if not check_mode:
        if not (os.path.isfile(p["python"]) and os.access(p["python"], os.X_OK)):
            raise ModuleFailure(msg=f"python: {p['python']} is not an executable file (SUT venv interpreter)")
        if not os.path.exists(p["dataset_path"]):  # a folder, or one file (registry `kind: file` sources)
            raise ModuleFailure(msg=f"dataset_path: {p['dataset_path']} is missing (a dataset file/folder)")
        if p["model_path"] and not os.path.exists(p["model_path"]):  # a file, or a model folder
            raise ModuleFailure(msg=f"model_path: {p['model_path']} does not exist (a model file or folder)")


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
    if "test06" in (info.get("verify") or []):
        # TEST06 (LLMs): first token, EOS and sample length of this run's own accuracy log.
        lg_scenarios = params["model_info"].get("loadgen_scenario") or {}
        scenario = lg_scenarios.get(params["scenario"], params["scenario"])
        eos_token_id, eos_source = test06_eos(params, info, read_harness_json(staging))
        try:
            res = verify_test06(
                os.path.join(staging, "mlperf_log_accuracy.json"),
                scenario=scenario,
                eos_token_id=eos_token_id,
                dtype=info.get("dtype", "int32"),
            )
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise RunFailed(f"{test} verification: {exc}") from exc
        with open(os.path.join(staging, "verify_accuracy.txt"), "w", encoding="utf-8") as fh:
            fh.write(res.pop("text"))
        res.update(eos_token_id=eos_token_id, eos_source=eos_source)
        out["accuracy"] = res
        checks.append(res["passed"])
    out["passed"] = bool(checks) and all(checks)
    return out


def test06_eos(params, info, harness):
    """(EOS id, where it came from) for TEST06's EOS check of this run.

    The benchmark checkpoint's id is the registry's (``compliance.TEST06.eos_token_id.<model>``, what
    run_verification.py is given). A stand-in has its own tokenizer (SmolLM2's EOS is not Llama 3.1's
    128009), so its run is checked with the EOS the harness loaded (harness.json ``workload``).
    Raises RunFailed when neither is known.
    """
    registered = (info.get("eos_token_id") or {}).get(params["model"])
    loaded = ((harness or {}).get("workload") or {}).get("eos_token_id")
    if params.get("stand_in_model") and loaded is not None:
        return int(loaded), "stand-in tokenizer (harness.json)"
    if registered is None:
        raise RunFailed(
            f"TEST06: no EOS token id for {params['model']} (registry compliance.TEST06.eos_token_id)"
        )
    return int(registered), "registry compliance.TEST06.eos_token_id"


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


def hash_inputs(module, params, dataset, user_conf):
    """(input hash, versions, model sha256) of a run: every input that changes the result.

    Raises ModuleFailure when a compliance test's reference runs are missing (outside check mode).
    """
    p = params
    versions = _probe_versions(module, p["python"])
    model_sha = model_digest(p["model_path"]) if p["model_path"] else None
    inputs = {
        "schema": SCHEMA,
        "request": {k: p[k] for k in HASHED_PARAMS},
        "model_info": p["model_info"],
        "user_conf": user_conf,
        "model_sha256": model_sha,
        "dataset": dataset,
        "versions": versions,
        # the verdicts follow the round's rules: new rules, a new judgement
        "round_rules": p.get("round_rules") or None,
    }
    if p["mode"] in COMPLIANCE_MODES:
        needed, dirs = _needed_results(p)
        absent = [need for need, res in needed.items() if res is None]
        if absent and not module.check_mode:
            raise ModuleFailure(
                f"mode {p['mode']}: needs the {' and '.join(absent)} run of {p['scenario']} first "
                f"(no result.json in {', '.join(dirs[a] for a in absent)}); "
                "run mode both before the compliance tests",
                run_dir=p["run_dir"],
            )
        inputs["compliance"] = {
            "audit_config": audit_config_text(p["model_info"]["compliance_info"][p["mode"]]),
            # a re-run reference (same inputs, new measurements) must invalidate the verification
            "references": {
                need: [(res or {}).get("input_hash"), (res or {}).get("started")]
                for need, res in needed.items()
            },
        }
    return input_hash(inputs), versions, model_sha


def warn_replaced_config(module, params):
    """Warn when the stored result in run_dir came from another software configuration."""
    previous = read_result(params["run_dir"]) or {}
    changed_config = [
        f"{k} {previous[k]} -> {params[k]}"
        for k in ("implementation", "backend", "device", "precision")
        if previous.get(k) is not None and previous.get(k) != params[k]
    ]
    if changed_config:
        module.warn(
            f"replacing the stored result in {params['run_dir']} ({', '.join(changed_config)}); to keep "
            "both, give each configuration its own system name (-e hw_name=...)"
        )


def read_harness_json(staging):
    """harness.json of a run ({} when absent; {"unparsed": text} when not JSON)."""
    text = _read_text(os.path.join(staging, "harness.json"))
    if not text:
        return {}
    try:
        return json.loads(text)
    except ValueError:
        return {"unparsed": text[:2000]}


def run_submittable(params, parsed, accuracy, compliance, perf_only):
    """``{ok, reasons}``: whether this run could enter a submission (see ``_verdict.submittable_verdict``)."""
    p = params
    info = p["model_info"]
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
        # The checker of the run's round: its seeds and its least performance_sample_count.
        for problem in round_problems(p.get("round_rules"), parsed):
            submittable["reasons"].append(problem)
            submittable["ok"] = False
    # A family option (e.g. max_new_tokens) changes the benchmark: such a run is never submittable.
    changing = (info.get("family_info") or {}).get("options") or {}
    for key, value in sorted((p["family_options"] or {}).items()):
        if value not in (None, "") and (changing.get(key) or {}).get("changes_benchmark", True):
            submittable["reasons"].append(f"{key}={value} changes the benchmark (a test setting)")
            submittable["ok"] = False
    return submittable


def build_result(params, staging, run, harness, provenance):
    """The result.json record of a finished run in ``staging`` (shape: the module's RETURN)."""
    p = params
    info = p["model_info"]
    run_dir = p["run_dir"]
    parsed, accuracy, compliance = run["loadgen"], run["accuracy"], run["compliance"]
    # Every stand-in is labelled; its accuracy is never compared with the benchmark's target.
    stand_in = harness.get("stand_in") or (
        {"name": p["stand_in_model"], "label": harness.get("model_label"), "accuracy_comparable": False}
        if p["stand_in_model"]
        else None
    )
    perf_only = stand_in is not None
    if perf_only and accuracy:
        # Measured, never judged: a stand-in is not the benchmark's model (its target does not apply).
        accuracy = dict(accuracy, met=None, comparable=False, judged_against=accuracy.get("target"))
        accuracy["reasons"] = [f"stand-in {stand_in.get('name')}: not comparable with the target"]
    names = [*sorted(os.listdir(staging)), "result.json"]
    files = {name: os.path.join(run_dir, name) for name in names if not name.startswith(".")}
    return {
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
        "round": round_record(p),
        "loadgen": parsed,
        "accuracy": accuracy,
        "compliance": compliance,
        "verdict": loadgen_verdict(parsed),
        "submittable": run_submittable(p, parsed, accuracy, compliance, perf_only),
        "model_label": harness.get("model_label") or harness.get("label") or p["model"],
        "performance_only_model": perf_only,
        "stand_in": stand_in,
        "family_options": dict(p["family_options"] or {}),
        "request": request_record(p),
        "run_dir": run_dir,
        "files": files,
        # sha256 of each run file (result.json aside): a later cache check re-runs when one changed.
        "file_sha256": {
            name: file_sha256(os.path.join(staging, name))
            for name in files
            if name != "result.json" and os.path.isfile(os.path.join(staging, name))
        },
        "provenance": dict(provenance, harness=harness, staging_dir=staging),
        "input_hash": run["input_hash"],
        "started": run["started"],
        "duration_s": run["duration_s"],
    }


def run(module):
    """The whole module: check, hash, return a cached result or run the harness and commit the result.

    ``module`` is the AnsibleModule (params as in ``ARGUMENT_SPEC``; its ``run_command``, ``warn``
    and ``check_mode`` are used). Returns the ``exit_json`` keyword arguments; raises
    :class:`ModuleFailure` with the ``fail_json`` ones.
    """
    p = module.params
    p["run_dir"] = os.path.abspath(p["run_dir"])
    check_inputs(p, module.check_mode)
    run_dir = p["run_dir"]

    dataset = _dataset_identity(p) if os.path.exists(p["dataset_path"]) else {"path": p["dataset_path"]}
    try:
        user_conf = _user_conf_text(p, dataset)
    except ValueError as exc:
        raise ModuleFailure(f"user.conf: {exc}") from exc
    h, versions, model_sha = hash_inputs(module, p, dataset, user_conf)

    diff = {
        "before": _read_text(os.path.join(run_dir, USER_CONF)) or "",
        "after": user_conf,
        "before_header": os.path.join(run_dir, USER_CONF),
        "after_header": os.path.join(run_dir, USER_CONF),
    }
    cached, why = (None, "rerun requested") if p["rerun"] else cached_result(run_dir, h)
    if cached is not None:
        return dict(cached, changed=False, cached=True, cache_reason=why, user_conf=user_conf)
    if module.check_mode:
        return {
            "changed": True,
            "would_run": True,
            "cached": False,
            "cache_reason": why,
            "argv": _run_argv(p, STAGING_PLACEHOLDER, p["mode"]),
            "user_conf": user_conf,
            "input_hash": h,
            "run_dir": run_dir,
            "diff": diff,
        }
    warn_replaced_config(module, p)

    env = {"PYTHONUNBUFFERED": "1"}
    env.update({str(k): str(v) for k, v in (p["environment"] or {}).items()})
    secrets = {str(k): str(v) for k, v in (p.get("secret_environment") or {}).items()}
    # From here on this run may wait for the lock and then run for hours: stop if the controller goes.
    _exit_when_controller_gone()
    # Held through the commit of result.json.
    what = f"mlperf_run {p['model']} {p['scenario']} {p['mode']}"
    try:
        lock = run_lock().__enter__()
    except RunLockTimeout as exc:
        raise ModuleFailure(f"{what}: {exc}", run_dir=run_dir) from exc
    try:
        if lock.waited_s >= 1:
            module.warn(f"waited {lock.waited_s:.0f} s for another benchmark on this machine ({lock.path})")
        started = _now_iso()
        clean_stale_staging(run_dir)
        staging = make_staging_dir(run_dir)
        try:
            with open(os.path.join(staging, USER_CONF), "w", encoding="utf-8") as fh:
                fh.write(user_conf)
            parsed, accuracy, compliance, commands, duration = _execute(
                module, p, staging, user_conf, dict(env, **secrets)
            )
        except RunFailed as exc:
            console = _read_text(os.path.join(staging, CONSOLE)) or ""
            failed = _keep_failed(staging, run_dir)
            raise ModuleFailure(
                f"{what} failed: {exc.reason}",
                reason=exc.reason,
                console_tail=_tail(console),
                failed_dir=failed,
                run_dir=run_dir,
                input_hash=h,
                cache_reason=why,
                user_conf=user_conf,
            ) from exc
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise

        harness = read_harness_json(staging)
        for warning in harness.get("warnings") or []:
            module.warn(f"harness ({p['model']} {p['scenario']} {p['mode']}): {warning}")
        outcome = {
            "loadgen": parsed,
            "accuracy": accuracy,
            "compliance": compliance,
            "input_hash": h,
            "started": started,
            "duration_s": duration,
        }
        provenance = {
            "versions": versions,
            "commands": commands,
            "environment": redact_environment(env),
            "secret_names": sorted(secrets),
            "model_sha256": model_sha,
            "dataset": dataset,
        }
        result = build_result(p, staging, outcome, harness, provenance)
        try:
            commit_run_dir(staging, run_dir, result)
        except OSError as exc:
            failed = _keep_failed(staging, run_dir) if os.path.isdir(staging) else None
            raise ModuleFailure(
                f"run_dir: cannot commit the run into {run_dir}: {exc}", failed_dir=failed
            ) from exc
        return dict(result, changed=True, cached=False, cache_reason=why, user_conf=user_conf, diff=diff)
    finally:
        # Released once result.json is committed (the same as at process exit for a module run; in one
        # process, unit tests, the next run on this machine need not wait for the test session to end).
        lock.__exit__(None, None, None)
