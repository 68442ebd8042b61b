# Copyright: fleetbench.mlperf contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller-side registry loader and the facts the run module receives.

Runs on the controller only (PyYAML allowed). Every fact about models, datasets, variation values
and the request's shape comes from the one registry,
``files/harness/fleetbench_harness/registry.yml`` (found relative to the collection root from this
file; override with the environment variable ``FLEETBENCH_REGISTRY=/path/to/registry.yml``).
The request is split by job: its shape in ``_request_schema``, resolution (names, aliases,
defaults) in ``_request_resolution`` and the rules that combine fields in ``_request_validation``;
the public names of those files are re-exported here, so ``from ..._registry import
resolve_request`` keeps working.

Public API
----------
``load_registry(path=None) -> dict``
    The parsed registry (cached per path).
``resolve_request(raw_vars, registry=None) -> dict``
    Canonical, defaulted request (shape documented on the function).
    Raises :class:`RequestError` listing *every* problem of the request.
``model_info(model, registry=None) -> dict``
    The registry's model entry plus ``model`` (the key), ``dataset_info`` and
    ``accuracy_targets`` (variant -> absolute target value), the dict the
    ``mlperf_run`` module receives.
``request_names(registry=None) -> list[str]``
    Every request variable the resolution takes (canonical names, field aliases, the dataset
    path overrides and the task-family options named in the registry).
``role_input_types(roles_dir=None)`` / ``role_input_names(roles_dir=None)``
    The options of every ``roles/*/meta/argument_specs.yml`` entry point.
"""

from __future__ import annotations

import os
from pathlib import Path

import yaml
from ansible_collections.fleetbench.mlperf.plugins.module_utils import _request_schema

# plugins/module_utils/_registry.py -> collection root is parents[2].
COLLECTION_ROOT = Path(__file__).resolve().parents[2]
REGISTRY_RELPATH = Path("files/harness/fleetbench_harness/registry.yml")
REGISTRY_ENV = "FLEETBENCH_REGISTRY"
TASKS_RELPATH = Path("files/harness/fleetbench_harness/tasks")

_CACHE: dict[str, dict] = {}

# libyaml's safe loader when PyYAML has it (parses the registry in ~1/7 of the pure-Python time; every
# validate_request task runs in a fresh worker process and parses it again).
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _safe_load(stream):
    return yaml.load(stream, Loader=_SAFE_LOADER)


def registry_path() -> Path:
    """Path of the registry: ``$FLEETBENCH_REGISTRY`` or the collection's copy."""
    env = os.environ.get(REGISTRY_ENV)
    return Path(env) if env else COLLECTION_ROOT / REGISTRY_RELPATH


def load_registry(path: str | os.PathLike | None = None) -> dict:
    """Parse and cache the registry (per process; the ``preload`` callback parses it before Ansible forks).

    Raises FileNotFoundError / yaml.YAMLError, and ValueError for a file that is not a registry.
    """
    p = Path(path) if path else registry_path()
    key = str(p.resolve())
    if key not in _CACHE:
        with open(p, encoding="utf-8") as fh:
            data = _safe_load(fh)
        if not isinstance(data, dict) or "models" not in data or "variations" not in data:
            raise ValueError(f"{p}: not a fleetbench registry (needs 'models' and 'variations')")
        _CACHE[key] = data
    return _CACHE[key]


def load_registry_option(path: str | None) -> dict:
    """:func:`load_registry` for a module's ``registry_path`` option (``None``: the default).

    Raises ValueError naming the option. Ansible runs a module from a payload zip that holds its
    module_utils but not the collection's files, so without ``registry_path`` and
    ``$FLEETBENCH_REGISTRY`` the default exists only when the code runs from the collection itself
    (tests, the Python API); the message then says what to pass.
    """
    try:
        return load_registry(path)
    except (OSError, ValueError, yaml.YAMLError) as exc:
        hint = ""
        if not path and not os.environ.get(REGISTRY_ENV):
            hint = (
                "; no registry_path given and the collection's registry.yml is not beside the module's code"
                " (Ansible runs modules from a payload zip): pass registry_path or set FLEETBENCH_REGISTRY"
            )
        raise ValueError(f"registry_path: {exc}{hint}") from exc


def _reg(registry: dict | None) -> dict:
    return registry if registry is not None else load_registry()


def dataset_override_vars(registry: dict | None = None) -> list[str]:
    """Dataset path variables (``imagenet_path``, …) named by ``datasets.*.override_var``."""
    schema = _request_schema.request_schema(_reg(registry))
    return sorted(name for name, entry in schema.items() if entry.get("source") == "dataset")


def request_names(registry: dict | None = None) -> list[str]:
    """Every request variable the resolution takes (registry ``request.schema``, aliases, dataset overrides,
    family options)."""
    return _request_schema.request_names(_reg(registry))


def model_info(model: str, registry: dict | None = None) -> dict:
    """Registry entry of ``model`` (canonical key or alias) for the run module.

    Returns a copy of ``models[model]`` plus ``model`` (key), ``dataset_info``
    (the registry's dataset entry) and ``accuracy_targets``: variant ->
    ``reference * target_ratio`` (same unit as ``accuracy.unit``), empty when
    MLPerf publishes no target. Raises KeyError for an unknown model.
    """
    reg = _reg(registry)
    aliases = (reg.get("request") or {}).get("model_aliases") or {}
    key = aliases.get(model, model)
    if key not in reg["models"]:
        raise KeyError(f"unknown model {model!r}; allowed: {', '.join(reg['models'])}")
    entry = dict(reg["models"][key])
    entry["model"] = key
    entry["dataset_info"] = dict(reg.get("datasets", {}).get(entry.get("dataset"), {}))
    acc = entry.get("accuracy") or {}
    targets: dict[str, float] = {}
    ratios = acc.get("target_ratio") or {}
    if acc.get("reference") is not None:
        for variant, ratio in ratios.items():
            targets[str(variant)] = round(float(acc["reference"]) * float(ratio), 6)
    entry["accuracy_targets"] = targets
    entry["compliance_info"] = compliance_info(key, reg)
    entry["family_info"] = dict((reg.get("families") or {}).get(entry.get("family")) or {})
    entry["loadgen_scenario"] = {
        s: str(v.get("loadgen_scenario", s)) for s, v in reg["variations"]["scenario"]["values"].items()
    }
    return entry


def family_implemented(family: str | None) -> bool:
    """A task family is implemented when the harness has its folder (``tasks/<family>/__init__.py``)."""
    if not family:
        return False
    # The collection's harness (not a $FLEETBENCH_REGISTRY copy's folder): what the SUTs get installed.
    return (COLLECTION_ROOT / TASKS_RELPATH / family / "__init__.py").is_file()


def family_option_fields(registry: dict | None = None) -> dict[str, dict]:
    """Request variables that are task-family options (registry ``families.<f>.options``): name -> schema
    entry (``type``: int|float|str, ``min``, ``families``: the families that take it)."""
    schema = _request_schema.request_schema(_reg(registry))
    return {name: entry for name, entry in schema.items() if entry.get("source") == "family"}


def compliance_info(model: str, registry: dict | None = None) -> dict:
    """Per compliance test of ``model`` that the registry describes: the test's entry with
    ``audit`` (model overrides applied) and ``relaxed_threshold``. Tests the model lists but the
    registry does not describe are left out (they are "not implemented yet")."""
    reg = _reg(registry)
    section = reg.get("compliance") or {}
    out: dict[str, dict] = {}
    for test in reg["models"][model].get("compliance_tests") or []:
        if test not in section:
            continue
        info = {k: v for k, v in section[test].items() if k != "audit_overrides"}
        audit = dict(section[test].get("audit") or {})
        audit.update((section[test].get("audit_overrides") or {}).get(model) or {})
        info["audit"] = audit
        info["relaxed_threshold"] = section.get("relaxed_threshold")
        out[test] = info
    return out


# ---------------------------------------------------------------------------
# Role inputs (the options of every roles/*/meta/argument_specs.yml entry point)
# ---------------------------------------------------------------------------
_ROLE_ARGUMENT_SPECS: dict[str, dict[str, dict]] = {}


def _role_argument_specs(roles_dir: Path | None = None) -> dict[str, dict]:
    """``{role: argument_specs}`` of every ``roles/*/meta/argument_specs.yml``, parsed once per directory.

    Raises ValueError when a spec cannot be read.
    """
    roles = Path(roles_dir) if roles_dir else COLLECTION_ROOT / "roles"
    key = str(roles)
    if key not in _ROLE_ARGUMENT_SPECS:
        parsed: dict[str, dict] = {}
        for spec in sorted(roles.glob("*/meta/argument_specs.yml")):
            try:
                data = _safe_load(spec.read_text(encoding="utf-8")) or {}
            except (OSError, yaml.YAMLError) as exc:
                raise ValueError(f"cannot read {spec}: {exc}") from exc
            parsed[spec.parent.parent.name] = data.get("argument_specs") or {}
        _ROLE_ARGUMENT_SPECS[key] = parsed
    return _ROLE_ARGUMENT_SPECS[key]


def role_input_types(roles_dir: Path | None = None) -> dict[str, str]:
    """``{option: type}`` of every ``roles/*/meta/argument_specs.yml`` entry point.

    The type is the spec's ``type`` (``str`` when none is given); an option declared by several
    entry points keeps its first declared type. Raises ValueError when a spec cannot be read.
    """
    types: dict[str, str] = {}
    for entries in _role_argument_specs(roles_dir).values():
        for entry in entries.values():
            for name, option in ((entry or {}).get("options", {}) or {}).items():
                types.setdefault(name, str((option or {}).get("type") or "str"))
    return types


def role_entry_specs(roles_dir: Path | None = None) -> dict[str, dict]:
    """``{"<role>:<entry point>": options}`` of every public role (not ``_``-prefixed).

    ``options`` is the entry point's ``argument_spec`` as ``ArgumentSpecValidator`` takes it, with
    ``required`` dropped and internal (``__``-prefixed) options left out: it checks the inputs a host
    gives (inventory, extra vars) up front, where a role's defaults and the earlier roles' facts do not
    exist yet. Raises ValueError when a spec cannot be read.
    """
    specs: dict[str, dict] = {}
    for role, entries in _role_argument_specs(roles_dir).items():
        if role.startswith("_"):
            continue
        for entry, body in entries.items():
            specs[f"{role}:{entry}"] = {
                name: {k: v for k, v in (option or {}).items() if k not in ("required", "description")}
                for name, option in ((body or {}).get("options") or {}).items()
                if not name.startswith("__")
            }
    return specs


_ROLE_DEFAULTS: dict[str, dict[str, list]] = {}


def role_default_values(roles_dir: Path | None = None) -> dict[str, list]:
    """``{variable: [raw value, ...]}`` of every ``roles/*/defaults/main.yml`` (parsed once per directory).

    Raw: as written (a template stays a string with ``{{ }}``); a name that several roles default
    lists each role's value. ``validate_request`` leaves a role input whose value is its role's own
    default unchecked: it is the collection's, not the host's. Raises ValueError when a file cannot be read.
    """
    roles = Path(roles_dir) if roles_dir else COLLECTION_ROOT / "roles"
    key = str(roles)
    if key not in _ROLE_DEFAULTS:
        values: dict[str, list] = {}
        for defaults in sorted(roles.glob("*/defaults/main.yml")):
            try:
                data = _safe_load(defaults.read_text(encoding="utf-8")) or {}
            except (OSError, yaml.YAMLError) as exc:
                raise ValueError(f"cannot read {defaults}: {exc}") from exc
            for name, value in data.items():
                values.setdefault(name, []).append(value)
        _ROLE_DEFAULTS[key] = values
    return _ROLE_DEFAULTS[key]


def role_input_names(roles_dir: Path | None = None) -> frozenset:
    """Option names of every ``roles/*/meta/argument_specs.yml`` entry point (cached per directory)."""
    return frozenset(role_input_types(roles_dir))


# The request's public names, split by job into their own files (see the module docstring).
from ansible_collections.fleetbench.mlperf.plugins.module_utils._request_resolution import (
    NAME_RE,
    RequestError,
    did_you_mean,
    resolve_request,
)
from ansible_collections.fleetbench.mlperf.plugins.module_utils._request_validation import (
    COMPLIANCE_ALL,
    SUBMISSION_FIELDS,
    submission_problems,
)

__all__ = [
    "COLLECTION_ROOT",
    "COMPLIANCE_ALL",
    "NAME_RE",
    "REGISTRY_ENV",
    "SUBMISSION_FIELDS",
    "RequestError",
    "compliance_info",
    "dataset_override_vars",
    "did_you_mean",
    "family_implemented",
    "family_option_fields",
    "load_registry",
    "model_info",
    "registry_path",
    "request_names",
    "resolve_request",
    "role_default_values",
    "role_entry_specs",
    "role_input_names",
    "role_input_types",
    "submission_problems",
]
