# Copyright: fleetbench.mlperf contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Per-round rules of the official submission checker (stdlib only; the registry dict is passed in).

The facts live in the registry's ``rounds`` section (read from mlcommons/inference
``tools/submission/`` at the commit each round names in ``rounds.<round>.source``). This module only
looks them up: which round applies, the checker's name for a model, the detail-log key that scores a
scenario (``RESULT_FIELD_NEW`` + ``RESULT_FIELD_BENCHMARK_OVERWRITE``), accuracy targets, LLM latency
limits, required scenarios and compliance tests.

Round resolution (:func:`resolve_round`), first match wins:

1. the request (``-e round=`` / ``submission_round``);
2. the tree: a path component naming a round (``inference_results_v5.1``, ``v4.1``, ``submission_v5.0``);
3. ``rounds.default`` (the latest round the checker knows).
"""

from __future__ import annotations

import os
import re

_ROUND_IN_NAME = re.compile(r"(?:^|[^0-9a-z])v(\d+\.\d+)(?![0-9])", re.I)
SCENARIOS = ("Offline", "Server", "SingleStream", "MultiStream", "Interactive")
_SCENARIO_BY_LOWER = {s.lower(): s for s in SCENARIOS}


class RoundError(ValueError):
    """Unknown round: names the field and the allowed values."""

    def __init__(self, round_, allowed, field="round", message=None):
        self.round, self.allowed, self.field = round_, allowed, field
        super().__init__(
            message or f"{field}: {round_!r} is not a round the checker knows; allowed: {', '.join(allowed)}"
        )


def canonical_scenario(name):
    """``interactive`` -> ``Interactive`` (folder names of CM/MLC trees are lower case); None stays None."""
    if name is None:
        return None
    return _SCENARIO_BY_LOWER.get(str(name).lower(), str(name))


def round_names(registry):
    """Rounds of the registry's ``rounds`` section, oldest first (``v4.0`` .. ``v6.1``)."""
    rounds = (registry or {}).get("rounds") or {}
    names = [k for k in rounds if k != "default" and isinstance(rounds[k], dict)]
    return sorted(names, key=_round_key)


def _round_key(name):
    match = re.match(r"^v(\d+)\.(\d+)$", str(name))
    return (int(match.group(1)), int(match.group(2))) if match else (0, 0)


def default_round(registry):
    """``rounds.default``: the latest round the checker knows."""
    rounds = (registry or {}).get("rounds") or {}
    return str(rounds.get("default") or (round_names(registry) or [None])[-1])


def round_facts(registry, round_):
    """The ``rounds.<round_>`` dict plus ``name``; raises :class:`RoundError` for an unknown round."""
    names = round_names(registry)
    key = str(round_).strip()
    if key and not key.startswith("v"):
        key = "v" + key
    if key not in names:
        raise RoundError(round_, names)
    return dict(registry["rounds"][key], name=key)


def round_from_path(path):
    """The round named by a component of ``path`` (searching from the end), or None."""
    parts = os.path.abspath(str(path)).split(os.sep)
    for part in reversed(parts):
        match = _ROUND_IN_NAME.search(part)
        if match:
            return "v" + match.group(1)
    return None


def resolve_round(registry, requested=None, tree=None):
    """``(round, origin)``: the round to apply and where it came from (for the report).

    :raises RoundError: when ``requested`` is not a known round. A round named by the tree that the
        registry does not know falls back to the default, and ``origin`` says so.
    """
    if requested:
        return round_facts(registry, requested)["name"], f"request (submission_round / round = {requested})"
    found = round_from_path(tree) if tree else None
    if found:
        if found in round_names(registry):
            return found, f"results tree path ({found} in {tree})"
        return default_round(registry), (
            f"registry default (the tree names {found}, which the checker tables here do not hold)"
        )
    return default_round(registry), "registry default (latest round the checker knows)"


def producible_rounds(registry):
    """Rounds whose runs this project can make: those with a LoadGen pin (``rounds.<r>.loadgen``)."""
    rounds = (registry or {}).get("rounds") or {}
    return [r for r in round_names(registry) if rounds[r].get("loadgen")]


def loadgen_pin(registry, round_=None, field="submission_round"):
    """The LoadGen that makes runs of ``round_`` (None: ``rounds.default``).

    :returns: ``{"package": "mlcommons-loadgen", "version": "5.1.2", "round": "v5.1",
        "default_version": "6.0.17", "venv_suffix": "-loadgen5.1.2"}``; ``venv_suffix`` is "" for the
        default round's LoadGen and names the version otherwise, so that a request of another round
        gets a venv of its own beside the default one (two rounds never flip one venv back and forth,
        and can run at once).
    :raises RoundError: an unknown round, or one without a pin (v4.0), naming ``field`` and the
        rounds whose runs can be made.
    """
    name = round_facts(registry, round_ or default_round(registry))["name"]
    rounds = registry["rounds"]
    version = rounds[name].get("loadgen")
    if not version:
        allowed = producible_rounds(registry)
        raise RoundError(
            name,
            allowed,
            field=field,
            message=(
                f"{field}: runs of round {name} cannot be made here (no LoadGen of that round is pinned, "
                f"registry rounds.{name}.loadgen); rounds whose runs can be made: {', '.join(allowed)}"
                f" (a {name} results tree can still be read and checked)"
            ),
        )
    default_version = str(rounds[default_round(registry)].get("loadgen") or "")
    version = str(version)
    return {
        "package": str(((registry.get("loadgen") or {}).get("package")) or "mlcommons-loadgen"),
        "version": version,
        "round": name,
        "default_version": default_version,
        "venv_suffix": "" if version == default_version else f"-loadgen{version}",
    }


def checker_model(facts, name, registry=None):
    """The checker's name for a submission folder / registry model name in this round, or None.

    Order: the round's own model names, its ``model_mapping``, the registry entry's ``mlperf_name``,
    ``llama3_1-`` spelled ``llama3.1-``, then the checker's own guess for image classifiers
    (``mobilenet*``, ``efficientnet*``, ``resnet50*`` -> ``resnet``; checker ``get_mlperf_model``).
    """
    if not name:
        return None
    models = facts.get("models") or {}
    mapping = facts.get("model_mapping") or {}
    candidates = [str(name)]
    entry = ((registry or {}).get("models") or {}).get(str(name))
    if entry and entry.get("mlperf_name"):
        candidates.append(entry["mlperf_name"])
    for cand in list(candidates):
        candidates.append(cand.replace("llama3_1-", "llama3.1-"))
    for cand in candidates:
        if cand in models:
            return cand
        if mapping.get(cand) in models:
            return mapping[cand]
    lowered = str(name).lower()
    if any(word in lowered for word in ("mobilenet", "efficientnet", "resnet50")) and "resnet" in models:
        return "resnet"
    return None


def model_rules(facts, model):
    """The round's ``models.<model>`` dict ({} when the round does not have the model)."""
    return (facts.get("models") or {}).get(model) or {}


def result_field(facts, model, log_scenario):
    """Detail-log key that scores ``log_scenario`` (the scenario LoadGen ran) for ``model``.

    ``RESULT_FIELD_NEW[round][scenario]``, replaced by ``RESULT_FIELD_BENCHMARK_OVERWRITE[round][model]``
    where the round has one (LLM tokens/s; gptj's inferred tokens/s from v4.1 on).
    """
    overwrite = ((facts.get("result_field_benchmark_overwrite") or {}).get(model) or {}).get(log_scenario)
    if overwrite:
        return overwrite
    return (facts.get("result_field") or {}).get(log_scenario)


def latency_limits_ns(facts, model, scenario):
    """``{"ttft": ns, "tpot": ns}`` of ``model`` in ``scenario`` (Server/Interactive) this round, or None.

    Rounds up to v4.1 key the Server limits ``conversational``; v5.0's ``llama2-70b-interactive-*``
    models carry their interactive limits under ``Server``.
    """
    table = (facts.get("llm_latency_limits_ns") or {}).get(model) or {}
    if scenario in table:
        return table[scenario]
    if scenario == "Server" and "conversational" in table:
        return table["conversational"]
    return None


def _target(value):
    """``[reference, ratio]`` -> reference * ratio; a bare number is the target itself."""
    if isinstance(value, (list, tuple)) and len(value) == 2:
        return float(value[0]) * float(value[1])
    return float(value)


def accuracy_rules(facts, model, scenario=None):
    """Accuracy rules of ``model`` in this round.

    :returns: ``{"targets": {METRIC: float}, "upper": {METRIC: float}, "references": {METRIC:
        [reference, ratio]}, "delta_perc": {METRIC: float}, "dataset_size": int|None}``. METRIC
        names are the checker's (``acc``, ``F1``, ``ROUGE1`` ...). Per-scenario targets (qwen3-vl in
        v6.1) are resolved with ``scenario``.
    """
    rules = model_rules(facts, model)
    targets, references, upper = {}, {}, {}
    acc = rules.get("accuracy") or {}
    if acc and all(isinstance(v, dict) for v in acc.values()):
        acc = acc.get(scenario) or next(iter(acc.values()))
    for metric, value in acc.items():
        targets[metric] = _target(value)
        if isinstance(value, (list, tuple)):
            references[metric] = list(value)
    up = rules.get("accuracy_upper") or {}
    if up and all(isinstance(v, dict) for v in up.values()):
        up = up.get(scenario) or next(iter(up.values()))
    for metric, value in up.items():
        upper[metric] = _target(value)
    size = rules.get("accuracy_sample_count")
    if isinstance(size, dict):
        size = size.get(scenario)
    if size is None:
        size = rules.get("dataset_size")
    delta = {m: float(v) for m, v in (rules.get("accuracy_delta_perc") or {}).items()}
    for metric in targets:
        # checker get_delta_perc: 0.1 % for the high-accuracy (*-99.9) variants, else 1 %
        delta.setdefault(metric, 0.1 if "99.9" in str(model) else 1.0)
    return {
        "targets": targets,
        "upper": upper,
        "references": references,
        "delta_perc": delta,
        "dataset_size": size,
    }


def required_scenarios(facts, model, category):
    """Scenarios ``model`` must have for ``category`` (``datacenter``, ``edge``, ``datacenter,edge``)."""
    required = model_rules(facts, model).get("required") or {}
    key = "datacenter,edge" if category in ("edge,datacenter", "datacenter,edge") else category
    return list(required.get(key) or [])


def optional_scenarios(facts, model, category):
    optional = model_rules(facts, model).get("optional") or {}
    key = "datacenter,edge" if category in ("edge,datacenter", "datacenter,edge") else category
    return list(optional.get(key) or [])


def compliance_tests(facts, model):
    """Compliance tests (``TEST01`` ...) the round requires for ``model`` (closed division)."""
    return list(model_rules(facts, model).get("compliance") or [])


def layout_name(facts):
    return facts.get("layout") or "legacy"


def seed_problems(facts, settings):
    """The round's mlperf.conf RNG seeds against a run's (``parse_run_dir(...)["settings"]``).

    LoadGen takes the seeds from mlperf.conf only, so a run made with another round's LoadGen fails
    the checker of this round (its words: ``qsl_rng_seed is wrong, expected=..., found=...``).
    A run whose logs do not show a seed is not judged on it.
    """
    problems = []
    for key, want in (facts.get("seeds") or {}).items():
        got = (settings or {}).get(key)
        if got is None:
            continue
        try:
            same = int(got) == int(want)
        except (TypeError, ValueError):
            same = False
        if not same:
            problems.append(f"{key} is wrong, expected={want}, found={got}")
    return problems


def run_rules(registry, round_, model):
    """Everything one run of ``model`` is judged by in ``round_``, as a small JSON-able dict.

    For callers without the registry (``mlperf_run`` on a SUT gets it from the controller as a
    module argument): ``{"round", "source", "checker_model", "loadgen" (the pinned LoadGen version,
    None for a round whose runs cannot be made), "facts": {name, source, result_field,
    result_field_benchmark_overwrite, llm_latency_limits_ns, seeds} (enough for
    ``_mlperf_logs.official_metric``), "accuracy": accuracy_rules(...), "latency_limits_ns":
    {scenario: limits}}``; ``checker_model`` is None when the round does not have the model.
    """
    facts = round_facts(registry, round_ or default_round(registry))
    name = checker_model(facts, model, registry)
    small = {
        "name": facts["name"],
        "source": facts.get("source"),
        "result_field": facts.get("result_field") or {},
        "result_field_benchmark_overwrite": {
            k: v for k, v in (facts.get("result_field_benchmark_overwrite") or {}).items() if k == name
        },
        "llm_latency_limits_ns": {
            k: v for k, v in (facts.get("llm_latency_limits_ns") or {}).items() if k == name
        },
        "seeds": facts.get("seeds") or {},
        "models": {name: model_rules(facts, name)} if name else {},
    }
    return {
        "round": facts["name"],
        "source": facts.get("source"),
        "checker_model": name,
        "loadgen": facts.get("loadgen"),
        "facts": small,
        "accuracy": accuracy_rules(facts, name) if name else None,
        "latency_limits_ns": {s: latency_limits_ns(facts, name, s) for s in ("Server", "Interactive")}
        if name
        else {},
    }


def performance_sample_count_problem(facts, model, settings):
    """``performance_sample_count, found N, needs to be >= M`` (the checker's words), or None."""
    need = model_rules(facts, model).get("performance_sample_count")
    got = (settings or {}).get("performance_sample_count")
    if need is None or got is None:
        return None
    try:
        short = int(got) < int(need)
    except (TypeError, ValueError):
        return None
    return f"performance_sample_count, found {got}, needs to be >= {need}" if short else None
