# Copyright: fleetbench.mlperf contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Request resolution: names, aliases, values and defaults into the canonical request (controller only).

:func:`resolve_request` reads the request's shape from the registry (``request.schema`` via
``_request_schema``), canonicalises every value (aliases, case, strings for numbers and flags),
applies the defaults and then hands the resolved request to ``_request_validation`` for the rules
that combine several fields (invalid combinations, not-implemented variations, compliance,
stand-ins, dataset size). Every problem is collected and raised at once as :class:`RequestError`.
"""

from __future__ import annotations

import difflib
import re
from typing import Any

from ansible_collections.fleetbench.mlperf.plugins.module_utils import (
    _registry,
    _request_schema,
    _request_validation,
)

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


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


def _allowed_text(values: list[str], aliases: dict[str, str] | None = None) -> str:
    text = ", ".join(values)
    if aliases:
        text += " (aliases: " + ", ".join(f"{a}={c}" for a, c in sorted(aliases.items())) + ")"
    return text


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
    entry = _request_schema.request_schema(reg).get(field) or {"choices": f"variations.{field}"}
    values, default, aliases, _ = _request_schema.choice_values(reg, entry)
    if value is None:
        return default
    if not isinstance(value, str):
        col.add(
            field,
            value,
            values,
            f"{field}: {value!r} is not a string; allowed: {_allowed_text(values, aliases)}",
        )
        return None
    v = value.strip()
    if v in values:
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


def _number(col: _Collector, field: str, spec: dict, value: Any) -> int | float | None:
    """``spec``: the schema entry (``type`` int|float, ``min`` inclusive or ``gt`` exclusive, ``default``)."""
    typ = int if spec["type"] == "int" else float
    inclusive = "gt" not in spec
    minimum = spec.get("min") if inclusive else spec["gt"]
    default = spec.get("default")
    if value is None or value == "":
        return default
    kind = "an integer" if typ is int else "a number"
    bound = (f">= {minimum}" if inclusive else f"> {minimum}") if minimum is not None else kind
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
    if minimum is not None and ((inclusive and num < minimum) or (not inclusive and num <= minimum)):
        col.add(field, value, bound, f"{field}: {value!r} must be {bound}")
        return None
    return num


def _bool(col: _Collector, field: str, default: Any, value: Any) -> bool | None:
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    s = str(value).strip().lower()
    if s in _request_schema.TRUE:
        return True
    if s in _request_schema.FALSE:
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
            f"{field}: {value!r} may only hold letters, digits, '.', '_' and '-', and starts with a letter or"
            " digit (it names directories)",
        )
        return None
    return s


def _suggest(value: str, names: list[str]) -> str:
    """`` (did you mean X?)`` for the closest names (difflib), or ''."""
    close = difflib.get_close_matches(value, names, n=3, cutoff=0.6)
    return f" (did you mean {' or '.join(close)}?)" if close else ""


def did_you_mean(name: str, names: list[str]) -> str:
    close = difflib.get_close_matches(name, names, n=3, cutoff=0.6)
    return f"; did you mean {' or '.join(close)}?" if close else ""


def resolve_request(raw_vars: dict, registry: dict | None = None, runs: bool = True) -> dict:
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

    ``submission_round`` (alias ``round``) stays None when not given (the default round,
    ``rounds.default``, is applied where it is used, so that a results tree can keep its own). ``runs``:
    the request makes runs, so its round must have a LoadGen pin (``rounds.<r>.loadgen``); False for
    collect.yml, which only reads results (a v4.0 tree can be checked).

    Raises :class:`RequestError` with every problem found (unknown names with
    a did-you-mean, unknown values listing allowed values and aliases,
    invalid combinations from ``invalid_combinations`` naming the rule's
    reason, not-implemented variations and artifacts, numeric conflicts).
    """
    reg = registry if registry is not None else _registry.load_registry()
    col = _Collector()
    schema = _request_schema.request_schema(reg)
    field_aliases = _request_schema.field_aliases(reg)
    known = _request_schema.request_names(reg)
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
    models, model_default, model_aliases, _ = _request_schema.choice_values(reg, schema["model"])
    mval = raw.get("model")
    if mval is None:
        mval = model_default
    m = str(mval).strip()
    if not m:
        col.add(
            "model",
            mval,
            models,
            f"model: empty; allowed: {_allowed_text(models, model_aliases)} "
            f"(leave it out for the default, {model_default})",
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

    # 3. every other schema field by type (the schema's order), then the family options.
    for field, spec in schema.items():
        if not spec["resolve"] or field == "model":
            continue
        kind = spec["type"]
        value = raw.get(field)
        if kind == "choice":
            req[field] = _choice(col, reg, field, value)
        elif kind == "choices":
            req[field] = _scenarios(col, reg, value)
        elif kind in ("int", "float"):
            if spec.get("source") == "family":
                if value in (None, ""):
                    continue
                req.setdefault("family_options", {})[field] = _number(col, field, spec, value)
            else:
                req[field] = _number(col, field, spec, value)
        elif kind == "bool":
            req[field] = _bool(col, field, spec.get("default"), value)
        elif kind in ("name", "path", "str"):
            if spec.get("source") == "family":
                if value not in (None, ""):
                    req.setdefault("family_options", {})[field] = str(value)
                continue
            if spec.get("source") == "dataset" and value in (None, ""):
                continue
            req[field] = _text(col, field, value, spec.get("default"), name=kind == "name")
    # A model may name its own defaults for variation choices (registry models.<m>.request_defaults,
    # e.g. the LLMs and SDXL: backend pytorch, llama2-70b: category datacenter); a value the user
    # gives still wins and is validated as usual.
    model_entry = reg["models"].get(req["model"]) if req.get("model") else None
    for field, value in ((model_entry or {}).get("request_defaults") or {}).items():
        spec = schema.get(field) or {}
        if spec.get("type") == "choice" and raw.get(field) is None:
            req[field] = _choice(col, reg, field, str(value))
    if req.get("mode") == "both":
        req["modes"] = ["performance", "accuracy"]
    else:
        req["modes"] = [req["mode"]] if req.get("mode") else []
    req["family_options"] = {k: v for k, v in (req.get("family_options") or {}).items() if v is not None}
    req["warnings"] = []
    req["dataset_path"] = None
    # 4. the rules that combine fields (_request_validation).
    _request_validation.validate(col, reg, req, raw, runs=runs)
    col.raise_if_any()
    return req
