# Copyright: fleetbench.mlperf contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Request validation: the rules that combine resolved fields (controller only).

Called by ``_request_resolution.resolve_request`` with the canonical request: dataset override
and size, category and required scenarios, compliance tests and the modes they need, family
options of other families, stand-ins, target/scenario warnings, the registry's
``invalid_combinations`` and what is implemented (variations, task families, backends and
precisions with artifacts). :func:`submission_problems` checks a ``submission=true`` request.
Problems go to the resolution's collector (``add(field, value, allowed, message)``).
"""

from __future__ import annotations

from typing import Any

from ansible_collections.fleetbench.mlperf.plugins.module_utils import _registry, _request_schema, _rounds

COMPLIANCE_ALL = "all"


def validate(col: Any, reg: dict, req: dict, raw: dict, runs: bool = True) -> None:
    """Check the resolved ``req`` (edited in place: ``dataset_path``, ``compliance``, ``warnings``)
    against the rules that combine fields; problems go to ``col.add(field, value, allowed, message)``.
    ``raw``: the request as given (aliases already folded), for ``compliance``. ``runs``: the request
    makes runs (validate, provision, benchmark), so its round needs a LoadGen pin; False for a step
    that only reads results (collect.yml), where every round the checker knows is fine."""
    if runs:
        _check_round(col, reg, req)
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


def _check_round(col: Any, reg: dict, req: dict) -> None:
    """A round whose runs cannot be made (no ``rounds.<r>.loadgen``: v4.0) fails before anything runs."""
    round_ = req.get("submission_round")
    if not round_ or not reg.get("rounds"):
        return
    try:
        _rounds.loadgen_pin(reg, round_)
    except _rounds.RoundError as exc:
        col.add("submission_round", round_, exc.allowed, str(exc))


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


def _check_model(col: Any, reg: dict, req: dict, entry: dict, raw: dict) -> None:
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
            isinstance(comp, str) and comp.strip().lower() in _request_schema.TRUE | {COMPLIANCE_ALL}
        ):
            wanted = tests
            if not tests:
                col.add("compliance", comp, tests, f"compliance: {model} has no compliance tests")
        elif isinstance(comp, str) and comp.strip().lower() in _request_schema.FALSE:
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
        fams = _registry.family_option_fields(reg)[name]["families"]
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


def _check_implemented(col: Any, reg: dict, req: dict, entry: dict | None) -> None:
    # Every variation group but backend (checked below, per model artifact) and scenario (a list).
    for field, spec in _request_schema.request_schema(reg).items():
        if (
            spec["type"] == "choice"
            and str(spec.get("choices", "")).startswith("variations.")
            and field != "backend"
        ):
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
    if not _registry.family_implemented(fam):
        impl = [m for m, e in reg["models"].items() if _registry.family_implemented(e.get("family"))]
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


def _flag(col: Any, reg: dict, req: dict, field: str) -> None:
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
    if not _request_schema.is_true(values.get("submission", False)):
        return []
    allowed = {
        "submitter": None,
        "division": list(registry["submission"]["divisions"]),
        "category": list(registry["variations"]["category"]["values"]),
        "submission_status": _request_schema.choice_values(
            registry, _request_schema.request_schema(registry)["submission_status"]
        )[0],
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
