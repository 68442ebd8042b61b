# Copyright: fleetbench.mlperf contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The request's shape, read from the registry's ``request.schema`` (controller only).

One table (``files/harness/fleetbench_harness/registry.yml``, ``request.schema``) names every
request variable with its type, default, aliases, range, unit, the steps that read it and whether
it is a secret. This module turns that table, the dataset path overrides
(``datasets.*.override_var``) and the task-family options (``families.*.options``) into one
mapping, :func:`request_schema`, that the resolution (``_request_resolution``), the validate
step's name check, the README table (``tools/readme_request_table.py``) and the schema tests read.

Public API
----------
``request_schema(registry) -> {name: entry}``
    Every schema entry (a copy) plus one ``{type: path, source: dataset, ...}`` entry per dataset
    override and one ``{type: int|float|str, min, families: [...], source: family}`` entry per
    family option. Each entry has ``type``, ``aliases`` (list), ``steps`` (list), ``resolve``
    (bool: part of the resolved request), ``secret`` (bool).
``choice_values(registry, entry) -> (values, default, value_aliases, implemented)``
    The allowed values of a ``choice``/``choices`` entry, from ``entry['choices']``:
    ``variations.<group>``, ``models`` or ``submission.<list>``.
``field_aliases(registry) -> {alias: name}``, ``request_names(registry)``, ``accepted_names(registry)``,
``secret_names(registry)``.
``TRUE`` / ``FALSE``: the one truthy/falsy word set of a request flag (what ``-e flag=WORD`` means).
"""

from __future__ import annotations

from typing import Any

# The words a request flag accepts (case-insensitive); "" (an empty -e value) counts as false.
TRUE = frozenset({"true", "yes", "on", "1", "y"})
FALSE = frozenset({"false", "no", "off", "0", "n", ""})

SCHEMA_TYPES = frozenset(
    {"choice", "choices", "int", "float", "bool", "name", "path", "str", "compliance", "dict"}
)


def is_true(value: Any) -> bool:
    """``True`` for a bool True or a word of :data:`TRUE` (the submission switch and friends)."""
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in TRUE


def _entry(name: str, raw: dict) -> dict:
    entry = dict(raw or {})
    if entry.get("type") not in SCHEMA_TYPES:
        raise ValueError(
            f"registry request.schema.{name}: type {entry.get('type')!r}; "
            f"allowed: {', '.join(sorted(SCHEMA_TYPES))}"
        )
    entry["aliases"] = list(entry.get("aliases") or [])
    entry["steps"] = list(entry.get("steps") or [])
    entry["resolve"] = bool(entry.get("resolve", True))
    entry["secret"] = bool(entry.get("secret", False))
    return entry


_MEMO: dict[int, tuple[dict, dict]] = {}


def request_schema(registry: dict) -> dict[str, dict]:
    """Every request variable: the registry's ``request.schema``, the dataset path overrides and the
    task-family options (see the module docstring); computed once per registry object (do not edit
    the result). Raises ValueError for a malformed entry."""
    memo = _MEMO.get(id(registry))
    if memo is not None and memo[0] is registry:
        return memo[1]
    out = _build_schema(registry)
    _MEMO[id(registry)] = (registry, out)
    return out


def _build_schema(registry: dict) -> dict[str, dict]:
    out = {
        name: _entry(name, raw) for name, raw in ((registry.get("request") or {}).get("schema") or {}).items()
    }
    for ds_name, ds in sorted((registry.get("datasets") or {}).items()):
        var = (ds or {}).get("override_var")
        if var and var not in out:
            out[var] = _entry(
                var,
                {
                    "type": "path",
                    "steps": ["provision"],
                    "source": "dataset",
                    "datasets": [],
                    "doc": "local copy of the dataset on the SUT",
                },
            )
        if var and out[var].get("source") == "dataset":
            out[var]["datasets"].append(ds_name)
    for fam, spec in (registry.get("families") or {}).items():
        for name, opt in ((spec or {}).get("options") or {}).items():
            if name not in out:
                opt = dict(opt or {})
                out[name] = _entry(
                    name,
                    dict(
                        opt,
                        type=str(opt.get("type", "str")),
                        steps=["provision", "benchmark"],
                        source="family",
                        families=[],
                    ),
                )
            if out[name].get("source") == "family":
                out[name]["families"].append(fam)
    return out


def choice_values(registry: dict, entry: dict) -> tuple[list[str], Any, dict[str, str], list[str]]:
    """``(values, default, value_aliases, implemented)`` of a ``choice``/``choices`` entry.

    ``entry['choices']`` is ``variations.<group>`` (values, default and aliases of the group;
    implemented = values with ``implemented: true``), ``models`` (the registry's models, the entry's
    ``default``, ``request.model_aliases``; implemented = every model: the family check is
    the validation's) or ``submission.<list>`` (a plain list; no default)."""
    where = str(entry.get("choices") or "")
    if where.startswith("variations."):
        group = registry["variations"][where.split(".", 1)[1]]
        values = list(group["values"])
        implemented = [v for v, meta in group["values"].items() if (meta or {}).get("implemented")]
        return values, group.get("default"), dict(group.get("aliases") or {}), implemented
    if where == "models":
        values = list(registry["models"])
        aliases = dict((registry.get("request") or {}).get("model_aliases") or {})
        return values, entry.get("default", values[0] if values else None), aliases, values
    if where.startswith("submission."):
        values = [str(v) for v in registry["submission"][where.split(".", 1)[1]]]
        return values, entry.get("default"), {}, values
    raise ValueError(
        f"registry request.schema: choices {where!r}; allowed: variations.<group>, models, submission.<list>"
    )


def field_aliases(registry: dict) -> dict[str, str]:
    """``{alias: canonical name}`` of every schema entry's ``aliases``."""
    return {alias: name for name, entry in request_schema(registry).items() for alias in entry["aliases"]}


def request_names(registry: dict) -> list[str]:
    """Names the resolution takes (``resolve`` entries, their aliases, overrides, family options)."""
    schema = request_schema(registry)
    names = {n for n, e in schema.items() if e["resolve"]}
    names |= {a for n, e in schema.items() if e["resolve"] for a in e["aliases"]}
    return sorted(names)


def accepted_names(registry: dict) -> list[str]:
    """Every schema name and alias, including those passed on unresolved (``resolve: false``)."""
    schema = request_schema(registry)
    return sorted(set(schema) | {a for e in schema.values() for a in e["aliases"]})


def secret_names(registry: dict) -> list[str]:
    """Schema variables marked ``secret: true`` (never in a file or a log line)."""
    return sorted(n for n, e in request_schema(registry).items() if e["secret"])
