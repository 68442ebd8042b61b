"""Read the package's ``registry.yml`` (the project's one registry).

The registry ships inside this package (``fleetbench_harness/registry.yml``)
and is read with :mod:`importlib.resources`, so an installed harness carries
the same facts the controller validated against. Nothing here duplicates a
registry fact; functions only look things up and raise :class:`InputError`
naming the field and the allowed values.
"""

from __future__ import annotations

import functools
from importlib import resources
from typing import Any

from fleetbench_harness.errors import InputError


@functools.lru_cache(maxsize=1)
def load() -> dict[str, Any]:
    """Return the parsed registry (a dict; cached for the process)."""
    import yaml

    text = resources.files("fleetbench_harness").joinpath("registry.yml").read_text(encoding="utf-8")
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return yaml.load(text, Loader=loader)


def default_round() -> str:
    """``rounds.default``: the MLPerf round whose rules apply when a request names none."""
    return str(load()["rounds"]["default"])


def loadgen_version(round_: str | None = None) -> str:
    """The LoadGen version pinned for ``round_`` (``rounds.<round>.loadgen``; default ``rounds.default``).

    Raises:
        InputError(round): an unknown round, or one whose runs cannot be made (no pin, v4.0).
    """
    rounds = load()["rounds"]
    name = round_ or default_round()
    producible = [r for r, facts in rounds.items() if isinstance(facts, dict) and facts.get("loadgen")]
    if name not in rounds or not isinstance(rounds[name], dict):
        raise InputError("round", f"unknown round {name!r}", producible)
    if not rounds[name].get("loadgen"):
        raise InputError("round", f"runs of round {name} cannot be made (no LoadGen pinned)", producible)
    return str(rounds[name]["loadgen"])


def supported_models() -> list[str]:
    """Registered models whose family the harness implements (a ``tasks/<family>`` folder; sorted)."""
    from fleetbench_harness import tasks

    families = set(tasks.implemented())
    return sorted(m for m, e in load()["models"].items() if e.get("family") in families)


def all_loadgen_keys() -> set[str]:
    """Every ``loadgen_key`` (and per-scenario ``loadgen_keys``): the model part of user.conf keys."""
    keys = set()
    for e in load()["models"].values():
        keys.add(str(e["loadgen_key"]))
        keys.update(str(k) for k in e.get("loadgen_keys", {}).values())
    return keys


def _canonical(group: str, value: str) -> str:
    var = load()["variations"][group]
    return var.get("aliases", {}).get(value, value)


def implemented_values(group: str) -> list[str]:
    """Canonical values of a variation group marked ``implemented: true``."""
    return [k for k, v in load()["variations"][group]["values"].items() if v.get("implemented")]


def check_choice(group: str, value: str) -> str:
    """Resolve aliases of a variation group and check the value is implemented.

    Raises:
        InputError: ``group`` names the field; allowed = implemented values.
    """
    canon = _canonical(group, value)
    allowed = implemented_values(group)
    if canon not in allowed:
        known = load()["variations"][group]["values"]
        why = f"{value!r} is registered but not implemented" if canon in known else f"unknown {value!r}"
        raise InputError(group, why, allowed)
    return canon


def model(name: str) -> dict[str, Any]:
    """The registry entry of a model the harness can run.

    Raises:
        InputError(model): unknown model, or a family this harness lacks.
    """
    models = load()["models"]
    allowed = supported_models()
    if name not in models:
        raise InputError("model", f"unknown model {name!r}", allowed)
    entry = models[name]
    from fleetbench_harness import tasks

    if entry.get("family") not in tasks.implemented():
        raise InputError(
            "model", f"{name!r} (family {entry.get('family')}) has no implementation in this harness", allowed
        )
    return entry


def preprocessing(model_entry: dict[str, Any]) -> dict[str, Any]:
    """The ``preprocessing`` spec a model names (dict of resize/crop/mean/std/layout)."""
    name = model_entry["preprocessing"]
    spec = dict(load()["preprocessing"][name])
    spec["name"] = name
    return spec


def dataset(model_entry: dict[str, Any]) -> dict[str, Any]:
    """The registry's dataset entry for a model."""
    return load()["datasets"][model_entry["dataset"]]


def loadgen_scenario(scenario: str) -> str:
    """The LoadGen ``TestScenario`` a request scenario runs as
    (``variations.scenario.values.<s>.loadgen_scenario``,
    e.g. Interactive -> Server; default: the same name)."""
    values = load()["variations"]["scenario"]["values"]
    return str(values.get(scenario, {}).get("loadgen_scenario", scenario))


def loadgen_key(entry: dict[str, Any], scenario: str) -> str:
    """The model part of user.conf keys for a scenario (``loadgen_keys.<scenario>`` overrides ``loadgen_key``;
    a model's Interactive scenario runs under its own key in mlperf.conf)."""
    return str(entry.get("loadgen_keys", {}).get(scenario, entry["loadgen_key"]))
