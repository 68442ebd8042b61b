# Copyright: fleetbench.mlperf contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Jinja filters for the roles (controller side; facts from the one registry).

``fleetbench.mlperf.model_info``
    ``'resnet50' | fleetbench.mlperf.model_info`` -> the registry entry the
    ``mlperf_run`` module needs (see ``_registry.model_info``).
``fleetbench.mlperf.run_matrix``
    ``mlperf_request | fleetbench.mlperf.run_matrix`` -> ordered list of runs,
    one dict per (scenario, mode) and per (scenario, compliance test):
    ``{scenario, mode, kind: performance|accuracy|compliance, subdir}`` where
    ``subdir`` is the run directory below ``<model>/`` as the results tree
    in docs/contracts.md lays it out (``Offline/performance/run_1``,
    ``Offline/accuracy``, ``Offline/TEST01``). Per scenario the performance
    run comes first, then accuracy, then the compliance tests (TEST04
    compares against the performance run, TEST01 against the accuracy run).
``fleetbench.mlperf.run_dir``
    ``item | fleetbench.mlperf.run_dir(tree)`` -> ``tree ~ '/' ~ item.subdir``.
``fleetbench.mlperf.request_key``
    ``mlperf_request | fleetbench.mlperf.request_key`` -> ``r-<12 hex>``, the SUT-side results
    directory of this request (``_run.request_key``): two requests that differ in what a run
    holds (test_query_count, count, targets, threads, ...) never share one.
``fleetbench.mlperf.system_name``
    ``mlperf_request | fleetbench.mlperf.system_name(hw_name)`` ->
    ``<hw_name>-<implementation>-<device>-<backend>-<precision>`` (CM's system name: the
    hardware plus the software stack), characters outside ``[A-Za-z0-9._-]`` as ``_``.
``fleetbench.mlperf.split_environment``
    ``benchmark_environment | fleetbench.mlperf.split_environment`` ->
    ``{public: {...}, secret: {...}}``: names that look like a token, key, password or secret
    (and values with URL credentials) go to ``secret`` (passed with no_log, never recorded).
``fleetbench.mlperf.round_rules``
    ``mlperf_request | fleetbench.mlperf.round_rules`` -> the rules of the request's round
    (``submission_round``, default ``rounds.default``) for its model: the ``mlperf_run`` module's
    ``round_rules`` (``_rounds.run_rules``).
``fleetbench.mlperf.loadgen_pin``
    ``mlperf_request | fleetbench.mlperf.loadgen_pin`` -> ``{package, version, round,
    default_version, venv_suffix}``: the LoadGen of the request's round (``rounds.<r>.loadgen``) and the
    suffix of its venv (``""`` for the default round's LoadGen, ``-loadgen<version>`` otherwise).
``fleetbench.mlperf.registry_entry``
    ``['models', 'resnet50'] | fleetbench.mlperf.registry_entry`` -> a copy of the registry value at
    that key path, ``{}`` when a key is missing: the roles read the registry through the module_utils
    loader (libyaml, parsed once per process) instead of ``lookup('file') | from_yaml``, which parsed
    the 140 kB file in pure Python in every task that named it (0.3-1.2 s per task and host).
``fleetbench.mlperf.venv_plan``
    ``mlperf_request | fleetbench.mlperf.venv_plan(settings)`` -> the venvs the python_env role builds
    and their pinned requirements (``_venv_plan.venv_plan``; ``settings`` are the role's inputs).
``fleetbench.mlperf.source_checksum``
    ``harness_source | fleetbench.mlperf.source_checksum`` -> the harness role's checksum of a source
    tree (``_source_checksum.source_checksum``: the same value as its earlier find | sha256sum pipeline).
``fleetbench.mlperf.intact_copy_checksum``
    ``local_root | fleetbench.mlperf.intact_copy_checksum`` -> the pack checksum of the
    controller's unpacked copy when it is intact (``_pack.copy_problem``), else ``""``.
"""

from __future__ import annotations

import copy
import re

from ansible.errors import AnsibleFilterError
from ansible_collections.fleetbench.mlperf.plugins.module_utils import _rounds, _run, _venv_plan
from ansible_collections.fleetbench.mlperf.plugins.module_utils._pack import intact_checksum
from ansible_collections.fleetbench.mlperf.plugins.module_utils._registry import load_registry
from ansible_collections.fleetbench.mlperf.plugins.module_utils._registry import model_info as _model_info
from ansible_collections.fleetbench.mlperf.plugins.module_utils._source_checksum import (
    source_checksum as _source_checksum,
)

MODE_ORDER = ("performance", "accuracy")


def model_info(model):
    """Registry entry of ``model`` (key or alias) plus ``model``, ``dataset_info``, ``accuracy_targets``."""
    try:
        return _model_info(str(model))
    except KeyError as exc:
        raise AnsibleFilterError(f"fleetbench.mlperf.model_info: {exc.args[0]}") from exc


def registry_entry(path):
    """Deep copy of the registry value at the key path ``path`` (list of keys); ``{}`` when one is missing."""
    if isinstance(path, str) or not isinstance(path, (list, tuple)):
        raise AnsibleFilterError("fleetbench.mlperf.registry_entry: expects a list of registry keys")
    node = load_registry()
    for key in path:
        if not isinstance(node, dict) or not isinstance(key, (str, int)) or key not in node:
            return {}
        node = node[key]
    return copy.deepcopy(node)


def _subdir(scenario, mode):
    if mode == "performance":
        return f"{scenario}/performance/run_1"
    return f"{scenario}/{mode}"


def run_matrix(request):
    """Expand a resolved request (``validate_request``'s ``request``) into the ordered run list."""
    if not isinstance(request, dict):
        raise AnsibleFilterError("fleetbench.mlperf.run_matrix: expects the resolved request (a dict)")
    scenarios = request.get("scenario") or []
    if isinstance(scenarios, str):
        scenarios = [scenarios]
    modes = request.get("modes")
    if modes is None:
        mode = request.get("mode")
        modes = list(MODE_ORDER) if mode == "both" else [mode] if mode else []
    modes = [m for m in MODE_ORDER if m in modes]
    tests = list(request.get("compliance") or [])
    runs = []
    for scenario in scenarios:
        for mode in modes:
            runs.append({"scenario": scenario, "mode": mode, "kind": mode, "subdir": _subdir(scenario, mode)})
        for test in tests:
            runs.append(
                {"scenario": scenario, "mode": test, "kind": "compliance", "subdir": _subdir(scenario, test)}
            )
    return runs


def run_dir(run, tree):
    """Absolute run directory of one run_matrix item below ``tree`` (``.../<sut>/<model>``)."""
    if not isinstance(run, dict) or "subdir" not in run:
        raise AnsibleFilterError("fleetbench.mlperf.run_dir: expects an item of fleetbench.mlperf.run_matrix")
    return str(tree).rstrip("/") + "/" + run["subdir"]


def intact_copy_checksum(local_root):
    """Pack checksum of the controller's copy in ``local_root`` when it is intact, else ``""``."""
    return intact_checksum(str(local_root))


def request_key(request):
    """``r-<12 hex>`` naming the SUT-side results directory of the resolved ``request``."""
    if not isinstance(request, dict):
        raise AnsibleFilterError("fleetbench.mlperf.request_key: expects the resolved request (a dict)")
    return _run.request_key(request)


def system_name(request, hw_name):
    """``<hw_name>-<implementation>-<device>-<backend>-<precision>`` of the resolved ``request``."""
    if not isinstance(request, dict):
        raise AnsibleFilterError("fleetbench.mlperf.system_name: expects the resolved request (a dict)")
    parts = [str(hw_name)] + [
        str(request.get(k) or "") for k in ("implementation", "device", "backend", "precision")
    ]
    return re.sub(r"[^A-Za-z0-9._-]", "_", "-".join(p for p in parts if p))


def split_environment(env):
    """``{"public": {...}, "secret": {...}}`` of an environment mapping (see ``_run.is_secret``)."""
    if not isinstance(env, dict):
        raise AnsibleFilterError("fleetbench.mlperf.split_environment: expects a mapping of names to values")
    out = {"public": {}, "secret": {}}
    for name, value in env.items():
        out["secret" if _run.is_secret(name, value) else "public"][str(name)] = value
    return out


def _request_round(request, name):
    if not isinstance(request, dict):
        raise AnsibleFilterError(f"fleetbench.mlperf.{name}: expects the resolved request (a dict)")
    return request.get("submission_round") or None


def round_rules(request):
    """``_rounds.run_rules`` of the request's round and model (the ``mlperf_run`` ``round_rules``)."""
    round_ = _request_round(request, "round_rules")
    try:
        return _rounds.run_rules(load_registry(), round_, request.get("model"))
    except _rounds.RoundError as exc:
        raise AnsibleFilterError(f"fleetbench.mlperf.round_rules: {exc}") from exc


def loadgen_pin(request):
    """The LoadGen of the request's round (``_rounds.loadgen_pin``)."""
    round_ = _request_round(request, "loadgen_pin")
    try:
        return _rounds.loadgen_pin(load_registry(), round_)
    except _rounds.RoundError as exc:
        raise AnsibleFilterError(f"fleetbench.mlperf.loadgen_pin: {exc}") from exc


def venv_plan(request, settings):
    """The python_env role's venvs for ``request`` (``_venv_plan.venv_plan``)."""
    if not isinstance(request, dict) or not isinstance(settings, dict):
        raise AnsibleFilterError(
            "fleetbench.mlperf.venv_plan: expects the resolved request and a settings dict"
        )
    try:
        return _venv_plan.venv_plan(request, load_registry(), settings)
    except (_venv_plan.VenvPlanError, _rounds.RoundError) as exc:
        raise AnsibleFilterError(str(exc)) from exc
    except KeyError as exc:
        raise AnsibleFilterError(f"fleetbench.mlperf.venv_plan: missing {exc.args[0]!r}") from exc


def source_checksum(root):
    """The harness role's checksum of the source tree ``root`` (``_source_checksum.source_checksum``)."""
    try:
        return _source_checksum(str(root))
    except OSError as exc:
        raise AnsibleFilterError(f"fleetbench.mlperf.source_checksum: {exc}") from exc


class FilterModule:
    """fleetbench.mlperf filters."""

    def filters(self):
        return {
            "model_info": model_info,
            "registry_entry": registry_entry,
            "run_matrix": run_matrix,
            "run_dir": run_dir,
            "intact_copy_checksum": intact_copy_checksum,
            "request_key": request_key,
            "system_name": system_name,
            "split_environment": split_environment,
            "round_rules": round_rules,
            "loadgen_pin": loadgen_pin,
            "venv_plan": venv_plan,
            "source_checksum": source_checksum,
        }
