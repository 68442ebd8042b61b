"""Controller-side registry loader and request resolution/validation.

Runs on the controller only (PyYAML allowed). Every fact about models,
datasets and variation values comes from the one registry,
``files/harness/fleetbench_harness/registry.yml`` (found relative to the
collection root from this file; override with the environment variable
``FLEETBENCH_REGISTRY=/path/to/registry.yml``). This module only holds the
*schema* of the request (which variable is a number, a flag, a path) and the
rules that combine registry facts.

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
    Every accepted request variable name (canonical names, field aliases and
    the dataset path overrides named in the registry).
"""

from __future__ import annotations

import difflib
import os
import re
from pathlib import Path
from typing import Any

import yaml

# plugins/module_utils/_registry.py -> collection root is parents[2].
COLLECTION_ROOT = Path(__file__).resolve().parents[2]
REGISTRY_RELPATH = Path("files/harness/fleetbench_harness/registry.yml")
REGISTRY_ENV = "FLEETBENCH_REGISTRY"
TASKS_RELPATH = Path("files/harness/fleetbench_harness/tasks")

# Variation groups whose values, defaults and aliases live in the registry's
# `variations:` section. `scenario` is a variation group too but takes a list.
CHOICE_FIELDS = (
    "implementation",
    "backend",
    "device",
    "precision",
    "execution_mode",
    "mode",
    "division",
    "category",
)

# Numeric request fields: (python type, minimum, minimum inclusive?, default).
# target_latency is in milliseconds (LoadGen user.conf unit).
NUMERIC_FIELDS: dict[str, tuple[type, float, bool, Any]] = {
    "test_query_count": (int, 1, True, 10),
    "target_qps": (float, 0, False, None),
    "target_latency": (float, 0, False, None),
    "max_batchsize": (int, 1, True, None),
    "num_threads": (int, 1, True, None),
    "count": (int, 1, True, None),
}
BOOL_FIELDS = {"rerun": False, "regenerate_files": False}
# Free-text fields; NAME_FIELDS end up in directory names.
NAME_FIELDS = {"hw_name": None, "submitter": "fleetbench"}
PATH_FIELDS = {"output_dir": None, "model_path": None}
OTHER_FIELDS = ("scenario", "model", "compliance", "stand_in_model")

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_TRUE = {"true", "yes", "on", "1", "y"}
_FALSE = {"false", "no", "off", "0", "n", ""}
COMPLIANCE_ALL = "all"


class RequestError(ValueError):
    """One or more problems with a request.

    ``field``, ``value``, ``allowed`` and ``message`` describe the first
    problem (the contract's shape); ``problems`` lists every problem as dicts
    with the same keys, and ``str(err)`` renders all of them, one per line.
    """

    def __init__(
        self, field: str, value: Any, allowed: Any, message: str, problems: list[dict] | None = None
    ):
        self.field = field
        self.value = value
        self.allowed = allowed
        self.message = message
        self.problems = problems or [{"field": field, "value": value, "allowed": allowed, "message": message}]
        super().__init__(self.render())

    def render(self) -> str:
        if len(self.problems) == 1:
            return f"invalid request: {self.problems[0]['message']}"
        lines = [f"invalid request ({len(self.problems)} problems):"]
        lines += [f"  - {p['message']}" for p in self.problems]
        return "\n".join(lines)


_CACHE: dict[str, dict] = {}


def registry_path() -> Path:
    """Path of the registry: ``$FLEETBENCH_REGISTRY`` or the collection's copy."""
    env = os.environ.get(REGISTRY_ENV)
    return Path(env) if env else COLLECTION_ROOT / REGISTRY_RELPATH


def load_registry(path: str | os.PathLike | None = None) -> dict:
    """Parse and cache the registry. Raises FileNotFoundError / yaml.YAMLError."""
    p = Path(path) if path else registry_path()
    key = str(p.resolve())
    if key not in _CACHE:
        with open(p, encoding="utf-8") as fh:
            data = yaml.safe_load(fh)
        if not isinstance(data, dict) or "models" not in data or "variations" not in data:
            raise ValueError(f"{p}: not a fleetbench registry (needs 'models' and 'variations')")
        _CACHE[key] = data
    return _CACHE[key]


def _reg(registry: dict | None) -> dict:
    return registry if registry is not None else load_registry()


def _request_section(reg: dict) -> dict:
    return reg.get("request") or {}


def dataset_override_vars(registry: dict | None = None) -> list[str]:
    """Dataset path variables (``imagenet_path``, …) named by ``datasets.*.override_var``."""
    reg = _reg(registry)
    return sorted({d["override_var"] for d in reg.get("datasets", {}).values() if d.get("override_var")})


def request_names(registry: dict | None = None) -> list[str]:
    """Every accepted request variable name (canonical + field aliases + dataset overrides)."""
    reg = _reg(registry)
    names = set(CHOICE_FIELDS) | set(NUMERIC_FIELDS) | set(BOOL_FIELDS) | set(NAME_FIELDS)
    names |= set(PATH_FIELDS) | set(OTHER_FIELDS)
    names |= set((_request_section(reg).get("field_aliases") or {}).keys())
    names |= set(dataset_override_vars(reg))
    names |= set(family_option_fields(reg))
    return sorted(names)


def _allowed_text(values: list[str], aliases: dict[str, str] | None = None) -> str:
    text = ", ".join(values)
    if aliases:
        text += " (aliases: " + ", ".join(f"{a}={c}" for a, c in sorted(aliases.items())) + ")"
    return text


def model_info(model: str, registry: dict | None = None) -> dict:
    """Registry entry of ``model`` (canonical key or alias) for the run module.

    Returns a copy of ``models[model]`` plus ``model`` (key), ``dataset_info``
    (the registry's dataset entry) and ``accuracy_targets``: variant ->
    ``reference * target_ratio`` (same unit as ``accuracy.unit``), empty when
    MLPerf publishes no target. Raises KeyError for an unknown model.
    """
    reg = _reg(registry)
    aliases = _request_section(reg).get("model_aliases") or {}
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
    """Request variables that are task-family options (registry ``families.<f>.options``): name -> spec
    (``type``: int|float|str, ``min``, ``families``: the families that take it)."""
    out: dict[str, dict] = {}
    for fam, spec in (_reg(registry).get("families") or {}).items():
        for name, opt in ((spec or {}).get("options") or {}).items():
            entry = out.setdefault(name, dict(opt or {}, families=[]))
            entry["families"].append(fam)
    return out


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


class _Collector:
    def __init__(self):
        self.problems: list[dict] = []

    def add(self, field: str, value: Any, allowed: Any, message: str) -> None:
        self.problems.append({"field": field, "value": value, "allowed": allowed, "message": message})

    def raise_if_any(self) -> None:
        if self.problems:
            p = self.problems[0]
            raise RequestError(p["field"], p["value"], p["allowed"], p["message"], self.problems)


def _choice(col: _Collector, reg: dict, field: str, value: Any) -> str | None:
    group = reg["variations"][field]
    values = list(group["values"])
    aliases = group.get("aliases") or {}
    if value is None:
        return group.get("default")
    if not isinstance(value, str):
        col.add(
            field,
            value,
            values,
            f"{field}: {value!r} is not a string; allowed: {_allowed_text(values, aliases)}",
        )
        return None
    v = value.strip()
    if v in group["values"]:
        return v
    if v in aliases:
        return aliases[v]
    low = {k.lower(): k for k in values} | {k.lower(): c for k, c in aliases.items()}
    if v.lower() in low:
        return low[v.lower()]
    col.add(
        field,
        value,
        values,
        f"{field}: unknown value {value!r}{_suggest(v, [*values, *aliases])}; "
        f"allowed: {_allowed_text(values, aliases)}",
    )
    return None


def _scenarios(col: _Collector, reg: dict, value: Any) -> list[str]:
    group = reg["variations"]["scenario"]
    if value is None:
        return [group["default"]]
    if isinstance(value, str):
        items = [s.strip() for s in value.split(",") if s.strip()]
    elif isinstance(value, (list, tuple)):
        items = list(value)
    else:
        items = [value]
    out: list[str] = []
    for item in items:
        s = _choice(col, reg, "scenario", item)
        if s and s not in out:
            out.append(s)
    if not items:
        col.add(
            "scenario",
            value,
            list(group["values"]),
            "scenario: empty; allowed: "
            + ", ".join(group["values"])
            + f" (leave it out for the default, {group['default']})",
        )
    return out


def _number(col: _Collector, field: str, value: Any) -> int | float | None:
    typ, minimum, inclusive, default = NUMERIC_FIELDS[field]
    if value is None or value == "":
        return default
    kind = "an integer" if typ is int else "a number"
    bound = f">= {minimum}" if inclusive else f"> {minimum}"
    if isinstance(value, bool):
        col.add(field, value, bound, f"{field}: {value!r} is not {kind} ({bound})")
        return None
    num: int | float | None = None
    try:
        if typ is int:
            if isinstance(value, float):
                if not value.is_integer():
                    raise ValueError
                num = int(value)
            else:
                num = int(str(value).strip())
        else:
            num = float(str(value).strip())
            if num != num or num in (float("inf"), float("-inf")):
                raise ValueError
    except (TypeError, ValueError):
        col.add(field, value, bound, f"{field}: {value!r} is not {kind} ({bound})")
        return None
    if (inclusive and num < minimum) or (not inclusive and num <= minimum):
        col.add(field, value, bound, f"{field}: {value!r} must be {bound}")
        return None
    return num


def _bool(col: _Collector, field: str, value: Any) -> bool | None:
    if value is None:
        return BOOL_FIELDS[field]
    if isinstance(value, bool):
        return value
    s = str(value).strip().lower()
    if s in _TRUE:
        return True
    if s in _FALSE:
        return False
    col.add(field, value, ["true", "false"], f"{field}: {value!r} is not a boolean; allowed: true, false")
    return None


def _text(col: _Collector, field: str, value: Any, default: Any, name: bool) -> str | None:
    if value is None or value == "":
        return default
    if not isinstance(value, (str, int)) or isinstance(value, bool):
        col.add(field, value, "string", f"{field}: {value!r} is not a string")
        return None
    s = str(value).strip()
    if name and not NAME_RE.match(s):
        col.add(
            field,
            value,
            NAME_RE.pattern,
            f"{field}: {value!r} may only hold letters, digits, '.', '_' and '-' (it names directories)",
        )
        return None
    return s


def _matches(rule_when: dict, req: dict) -> bool:
    for key, want in rule_when.items():
        have = req.get(key)
        wants = want if isinstance(want, list) else [want]
        if isinstance(have, list):
            if not any(h in wants for h in have):
                return False
        elif have not in wants:
            return False
    return True


def _suggest(value: str, names: list[str]) -> str:
    """`` (did you mean X?)`` for the closest names (difflib), or ''."""
    close = difflib.get_close_matches(value, names, n=3, cutoff=0.6)
    return f" (did you mean {' or '.join(close)}?)" if close else ""


def did_you_mean(name: str, names: list[str]) -> str:
    close = difflib.get_close_matches(name, names, n=3, cutoff=0.6)
    return f"; did you mean {' or '.join(close)}?" if close else ""


def resolve_request(raw_vars: dict, registry: dict | None = None) -> dict:
    """Canonicalise, default and validate a request.

    ``raw_vars``: request variables only (names from :func:`request_names`),
    values as typed on the command line (strings are accepted for numbers and
    booleans). Returns::

        {model, implementation, backend, device, precision,
         scenario: [LoadGen scenario names], mode: performance|accuracy|both,
         modes: [performance, accuracy] (expanded), execution_mode,
         division, category, test_query_count: int, target_qps: float|None,
         target_latency: float|None (ms), max_batchsize, num_threads, count,
         hw_name, submitter, output_dir, model_path, performance_only_model,
         rerun: bool, regenerate_files: bool, compliance: [TEST01, …],
         dataset_path: str|None (the model's dataset override, e.g. imagenet_path),
         <every dataset override var given>, warnings: [str]}

    Raises :class:`RequestError` with every problem found (unknown names with
    a did-you-mean, unknown values listing allowed values and aliases,
    invalid combinations from ``invalid_combinations`` naming the rule's
    reason, not-implemented variations and artifacts, numeric conflicts).
    """
    reg = _reg(registry)
    col = _Collector()
    rsec = _request_section(reg)
    field_aliases = rsec.get("field_aliases") or {}
    known = request_names(reg)
    raw = dict(raw_vars or {})

    # 1. names: unknown names and alias/canonical clashes.
    for alias, canonical in field_aliases.items():
        if alias in raw:
            if canonical in raw and raw[canonical] != raw[alias]:
                col.add(
                    alias,
                    raw[alias],
                    canonical,
                    f"{alias}: alias of {canonical}; both given with different values "
                    f"({raw[alias]!r} vs {raw[canonical]!r}); give only one",
                )
            raw.setdefault(canonical, raw[alias])
            del raw[alias]
    for name in sorted(raw):
        if name not in known:
            col.add(name, raw[name], known, f"{name}: unknown variable{did_you_mean(name, known)}")

    req: dict[str, Any] = {}
    # 2. model
    models = list(reg["models"])
    model_aliases = rsec.get("model_aliases") or {}
    mval = raw.get("model")
    if mval is None:
        mval = rsec.get("model_default", models[0])
    m = str(mval).strip()
    if not m:
        col.add(
            "model",
            mval,
            models,
            f"model: empty; allowed: {_allowed_text(models, model_aliases)} "
            f"(leave it out for the default, {rsec.get('model_default', models[0])})",
        )
        req["model"] = None
    elif m in reg["models"]:
        req["model"] = m
    elif m in model_aliases:
        req["model"] = model_aliases[m]
    elif m.lower() in {k.lower() for k in models}:
        req["model"] = next(k for k in models if k.lower() == m.lower())
    else:
        col.add(
            "model",
            mval,
            models,
            f"model: unknown value {mval!r}{_suggest(m, [*models, *model_aliases])}; "
            f"allowed: {_allowed_text(models, model_aliases)}",
        )
        req["model"] = None

    # 3. variation choices, scenarios
    for field in CHOICE_FIELDS:
        req[field] = _choice(col, reg, field, raw.get(field))
    # A model whose artifacts exist for one backend only names it (registry models.<m>.default_backend);
    # it replaces the global default when the request gives no backend.
    model_default_backend = (reg["models"].get(req["model"] or "") or {}).get("default_backend")
    if raw.get("backend") is None and model_default_backend:
        req["backend"] = model_default_backend
    req["scenario"] = _scenarios(col, reg, raw.get("scenario"))
    if req["mode"] == "both":
        req["modes"] = ["performance", "accuracy"]
    else:
        req["modes"] = [req["mode"]] if req["mode"] else []

    # 4. numbers, flags, names, paths
    for field in NUMERIC_FIELDS:
        req[field] = _number(col, field, raw.get(field))
    for field in BOOL_FIELDS:
        req[field] = _bool(col, field, raw.get(field))
    for field, default in NAME_FIELDS.items():
        req[field] = _text(col, field, raw.get(field), default, name=True)
    for field, default in PATH_FIELDS.items():
        req[field] = _text(col, field, raw.get(field), default, name=False)
    for var in dataset_override_vars(reg):
        if raw.get(var) not in (None, ""):
            req[var] = _text(col, var, raw.get(var), None, name=False)
    req["stand_in_model"] = _text(col, "stand_in_model", raw.get("stand_in_model"), None, True)
    req["family_options"] = {}
    for name, opt in family_option_fields(reg).items():
        value = raw.get(name)
        if value in (None, ""):
            continue
        kind = {"int": int, "float": float}.get(str(opt.get("type", "str")))
        if kind is None:
            req["family_options"][name] = str(value)
            continue
        try:
            number = kind(str(value).strip())
        except ValueError:
            col.add(name, value, [f"a number >= {opt.get('min', 1)}"], f"{name}: {value!r} is not a number")
            continue
        if opt.get("min") is not None and number < opt["min"]:
            col.add(name, value, [f">= {opt['min']}"], f"{name}: {value} is below {opt['min']}")
            continue
        req["family_options"][name] = number
    req["warnings"] = []
    scenario_values = reg["variations"]["scenario"]["values"]
    if req.get("execution_mode") == "test" and req.get("test_query_count"):
        for scen in req.get("scenario") or []:
            needed = (scenario_values.get(scen) or {}).get("early_stopping_min_queries")
            if needed and req["test_query_count"] < needed:
                req["warnings"].append(
                    f"scenario {scen}: test_query_count={req['test_query_count']} is below the {needed} "
                    "queries LoadGen's early-stopping estimate needs, so the run will be INVALID without a "
                    f"latency figure; use -e test_query_count={needed} or more"
                )
    if req.get("regenerate_files"):
        # CM's flag; here nothing is cached that it would refresh, so say so instead of ignoring it.
        req["warnings"].append(
            "regenerate_files: accepted for CM compatibility and has no effect here - the report and the "
            "submission tree are rebuilt from the results on every run (rerun=true measures again)"
        )
    req["dataset_path"] = None

    entry = reg["models"].get(req["model"]) if req["model"] else None
    if entry is not None:
        _check_model(col, reg, req, entry, raw)

    # 5. invalid combinations (registry), checked before "implemented".
    combo_failed = False
    for rule in reg.get("invalid_combinations") or []:
        when = rule.get("when") or {}
        if when and _matches(when, req):
            combo_failed = True
            cond = ", ".join(f"{k}={'|'.join(v) if isinstance(v, list) else v}" for k, v in when.items())
            fields = list(when)
            col.add(
                fields[-1],
                {k: req.get(k) for k in fields},
                None,
                f"invalid combination ({cond}): {rule.get('reason', 'not allowed')}",
            )

    # 6. implemented flags and artifacts (only when the combination is possible).
    if not combo_failed:
        _check_implemented(col, reg, req, entry)

    col.raise_if_any()
    return req


def _check_model(col: _Collector, reg: dict, req: dict, entry: dict, raw: dict) -> None:
    model = req["model"]
    # dataset override for this model's dataset
    ds_name = entry.get("dataset")
    ds = reg.get("datasets", {}).get(ds_name, {})
    var = ds.get("override_var")
    req["dataset_path"] = req.get(var) if var else None
    # count vs dataset size
    full = ds.get("full_size")
    if req["count"] is not None and full and req["count"] > int(full):
        col.add(
            "count",
            req["count"],
            f"1..{full}",
            f"count: {req['count']} exceeds the {ds_name} dataset size ({full})",
        )
    # category applicability and required scenarios
    required = (entry.get("required_scenarios") or {}).get(req["category"]) if req["category"] else None
    if req["category"] and required is not None and not required:
        cats = [c for c, s in (entry.get("required_scenarios") or {}).items() if s]
        col.add(
            "category",
            req["category"],
            cats,
            f"category: {model} is not a {req['category']} benchmark; allowed: {', '.join(cats)}",
        )
    elif required:
        extra = [s for s in req["scenario"] if s not in required]
        if extra:
            req["warnings"].append(
                f"scenario {', '.join(extra)} is not required for {model} in category {req['category']} "
                f"(required: {', '.join(required)}); results cannot be submitted as {req['category']}"
            )
    # compliance
    tests = list(entry.get("compliance_tests") or [])
    comp = raw.get("compliance")
    req["compliance"] = []
    if comp not in (None, "", [], False):
        if isinstance(comp, bool) or (
            isinstance(comp, str) and comp.strip().lower() in _TRUE | {COMPLIANCE_ALL}
        ):
            wanted = tests
            if not tests:
                col.add("compliance", comp, tests, f"compliance: {model} has no compliance tests")
        elif isinstance(comp, str) and comp.strip().lower() in _FALSE:
            wanted = []
        else:
            items = comp if isinstance(comp, list) else [c.strip() for c in str(comp).split(",") if c.strip()]
            wanted = []
            for t in items:
                tu = str(t).strip().upper()
                if tu in tests:
                    if tu not in wanted:
                        wanted.append(tu)
                else:
                    col.add(
                        "compliance",
                        t,
                        tests,
                        f"compliance: {model} has no compliance test {t!r}; allowed: "
                        f"{', '.join(tests) if tests else 'none'} (or true for all)",
                    )
        req["compliance"] = wanted
        described = reg.get("compliance") or {}
        for test in wanted:
            if test not in described:
                col.add("compliance", test, list(described), f"compliance test {test} is not implemented yet")
                continue
            needs = list(described[test].get("needs") or [])
            missing = [m for m in needs if m not in req["modes"]]
            if missing and req["modes"]:
                modes_ok = ["both"] if len(needs) > 1 else [*needs, "both"]
                col.add(
                    "compliance",
                    test,
                    modes_ok,
                    f"compliance: {test} compares against the {' and '.join(missing)} run; "
                    f"needs mode {' or '.join(modes_ok)} (mode is {req['mode']})",
                )
    # family options apply to their families only
    for name in req.get("family_options") or {}:
        fams = family_option_fields(reg)[name]["families"]
        if entry.get("family") not in fams:
            col.add(
                name,
                req["family_options"][name],
                None,
                f"{name}: applies to the {', '.join(fams)} family only, "
                f"not to {model} ({entry.get('family')})",
            )
    # stand-in model
    sim = req.get("stand_in_model")
    if sim:
        available = entry.get("stand_ins") or {}
        if sim not in available:
            col.add(
                "stand_in_model",
                sim,
                list(available),
                f"stand_in_model: {model} has no stand-in {sim!r}; allowed: "
                + (", ".join(available) or "none"),
            )
        elif "accuracy" in req["modes"] and not available[sim].get("accuracy", False):
            col.add(
                "mode",
                req["mode"],
                ["performance"],
                f"mode: stand-in {sim} is for performance runs only "
                f"({available[sim].get('label', 'untrained')}); "
                "use -e mode=performance",
            )
    # targets vs scenarios
    if req["target_qps"] is not None and not {"Offline", "Server"} & set(req["scenario"]):
        req["warnings"].append(
            "target_qps is used by Offline and Server only; ignored for " + ", ".join(req["scenario"])
        )
    if req["target_latency"] is not None and not {"SingleStream", "MultiStream"} & set(req["scenario"]):
        req["warnings"].append(
            "target_latency is used by SingleStream and MultiStream only; ignored for "
            + ", ".join(req["scenario"])
        )


def _check_implemented(col: _Collector, reg: dict, req: dict, entry: dict | None) -> None:
    for field in ("implementation", "device", "precision", "execution_mode", "mode", "division", "category"):
        _flag(col, reg, req, field)
    for s in req["scenario"]:
        if not reg["variations"]["scenario"]["values"][s].get("implemented", False):
            col.add("scenario", s, None, f"scenario {s} is not implemented yet")
    backend = req.get("backend")
    if not backend or entry is None:
        return
    model = req["model"]
    artifacts = entry.get("artifacts") or {}
    perf_only = entry.get("stand_ins") or {}
    impl_backends = [b for b, v in reg["variations"]["backend"]["values"].items() if v.get("implemented")]
    model_backends = [b for b in artifacts if b in impl_backends]
    if not artifacts and not perf_only:
        col.add(
            "model", model, None, f"model {model} is not implemented yet (no model artifacts in the registry)"
        )
        return
    fam = entry.get("family")
    if not family_implemented(fam):
        impl = [m for m, e in reg["models"].items() if family_implemented(e.get("family"))]
        col.add(
            "model",
            model,
            impl,
            f"model {model} is not implemented yet (task family {fam}); implemented: {', '.join(impl)}",
        )
        return
    if not reg["variations"]["backend"]["values"][backend].get("implemented", False):
        col.add(
            "backend",
            backend,
            model_backends,
            f"backend {backend} is not implemented for model {model} yet; implemented: "
            + (", ".join(model_backends) or "none"),
        )
        return
    pom = req.get("stand_in_model")
    if pom and pom in perf_only:
        pb = list(perf_only[pom].get("backends") or [])
        if pb and backend not in pb:
            col.add(
                "backend",
                backend,
                pb,
                f"backend {backend}: stand-in {pom} runs on {', '.join(pb)} only",
            )
        return
    if backend not in artifacts:
        col.add(
            "backend",
            backend,
            model_backends,
            f"backend {backend} is not implemented for model {model} yet; implemented: "
            + (", ".join(model_backends) or "none"),
        )
        return
    prec = req.get("precision")
    if prec and prec not in (artifacts[backend] or {}):
        have = list(artifacts[backend] or {})
        col.add(
            "precision",
            prec,
            have,
            f"precision {prec} is not implemented for model {model} with backend {backend} yet; "
            f"implemented: {', '.join(have) or 'none'}",
        )


def _flag(col: _Collector, reg: dict, req: dict, field: str) -> None:
    value = req.get(field)
    if not value:
        return
    values = reg["variations"][field]["values"]
    if not values.get(value, {}).get("implemented", False):
        impl = [k for k, v in values.items() if v.get("implemented")]
        col.add(field, value, impl, f"{field} {value} is not implemented yet; implemented: {', '.join(impl)}")


SUBMISSION_FIELDS = ("submitter", "division", "category", "submission_status")


def submission_problems(values: dict, registry: dict) -> list[dict]:
    """Problems of a ``submission=true`` request, found before anything runs.

    ``values`` holds the variables as the user set them (absent = not set: ``division``,
    ``category`` and ``submission_status`` are never defaulted for a submission). Allowed values come
    from the registry (``submission.divisions``, ``submission.statuses``, ``variations.category``).
    Returns ``[{field, value, allowed, message}]``; empty when ``submission`` is false or unset.
    """
    if str(values.get("submission", False)).strip().lower() not in ("true", "yes", "1", "on"):
        return []
    allowed = {
        "submitter": None,
        "division": list(registry["submission"]["divisions"]),
        "category": list(registry["variations"]["category"]["values"]),
        "submission_status": list(registry["submission"]["statuses"]),
    }
    problems = []
    for field in SUBMISSION_FIELDS:
        value = values.get(field)
        choices = allowed[field]
        if value in (None, ""):
            hint = f"; allowed: {', '.join(choices)}" if choices else " (your organisation's name)"
            problems.append(
                {
                    "field": field,
                    "value": value,
                    "allowed": choices,
                    "message": f"{field}: required with submission=true (never defaulted){hint}",
                }
            )
        elif choices and str(value) not in choices:
            problems.append(
                {
                    "field": field,
                    "value": value,
                    "allowed": choices,
                    "message": f"{field}: {value!r} is not allowed; allowed: {', '.join(choices)}",
                }
            )
    return problems


# ---------------------------------------------------------------------------
# Role inputs (the options of every roles/*/meta/argument_specs.yml entry point)
# ---------------------------------------------------------------------------
_ROLE_INPUTS: dict[str, dict[str, str]] = {}


def role_input_types(roles_dir: Path | None = None) -> dict[str, str]:
    """``{option: type}`` of every ``roles/*/meta/argument_specs.yml`` entry point (cached per directory).

    The type is the spec's ``type`` (``str`` when none is given); an option declared by several
    entry points keeps its first declared type. Raises ValueError when a spec cannot be read.
    """
    roles = Path(roles_dir) if roles_dir else COLLECTION_ROOT / "roles"
    key = str(roles)
    if key not in _ROLE_INPUTS:
        types: dict[str, str] = {}
        for spec in sorted(roles.glob("*/meta/argument_specs.yml")):
            try:
                data = yaml.safe_load(spec.read_text(encoding="utf-8")) or {}
            except (OSError, yaml.YAMLError) as exc:
                raise ValueError(f"cannot read {spec}: {exc}") from exc
            for entry in (data.get("argument_specs") or {}).values():
                for name, option in ((entry or {}).get("options", {}) or {}).items():
                    types.setdefault(name, str((option or {}).get("type") or "str"))
        _ROLE_INPUTS[key] = types
    return _ROLE_INPUTS[key]


def role_input_names(roles_dir: Path | None = None) -> frozenset:
    """Option names of every ``roles/*/meta/argument_specs.yml`` entry point (cached per directory)."""
    return frozenset(role_input_types(roles_dir))
