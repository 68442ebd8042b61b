"""Runs of a round: its LoadGen pin, the request's round, and mlperf_run's verdicts under its rules.

Facts: the registry's ``rounds.<round>.loadgen`` (the PyPI mlcommons-loadgen wheel whose compiled
mlperf.conf holds the round's seeds) and ``rounds.<round>.seeds`` (mlcommons/inference mlperf.conf of
the round). The checker's words are those of tools/submission/submission_checker.py @ 6776245e (v5.1.1),
``check_performance_dir``: "qsl_rng_seed is wrong, expected=..., found=..." and
"performance_sample_count, found N, needs to be >= M".
"""

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.fleetbench.mlperf.plugins.filter.mlperf import FilterModule
from ansible_collections.fleetbench.mlperf.plugins.module_utils import _registry, _rounds, _run
from ansible_collections.fleetbench.mlperf.plugins.module_utils._request_resolution import RequestError

REGISTRY = _registry.load_registry()
F = FilterModule().filters()
# rounds.v5.1.seeds / rounds.v6.1.seeds (mlperf.conf of LoadGen 5.1.2 / 6.0.17)
SEEDS_V51 = {
    "qsl_rng_seed": 1780908523862526354,
    "sample_index_rng_seed": 14771362308971278857,
    "schedule_rng_seed": 18209322760996052031,
}
SEEDS_V61 = {
    "qsl_rng_seed": 2085463073848966840,
    "sample_index_rng_seed": 2747215439041700203,
    "schedule_rng_seed": 16159082839903944936,
}


# --- the LoadGen of a round ---------------------------------------------------------------------
def test_each_producible_round_pins_the_loadgen_with_its_seeds():
    pins = {r: REGISTRY["rounds"][r].get("loadgen") for r in _rounds.round_names(REGISTRY)}
    assert pins == {
        "v4.0": None,
        "v4.1": "4.1.30",
        "v5.0": "5.0.20",
        "v5.1": "5.1.2",
        "v6.0": "6.0.14",
        "v6.1": "6.0.17",
    }
    assert _rounds.producible_rounds(REGISTRY) == ["v4.1", "v5.0", "v5.1", "v6.0", "v6.1"]
    # one pin per round: the old single loadgen.version is gone
    assert "version" not in REGISTRY["loadgen"]


def test_default_round_keeps_the_plain_venv_other_rounds_get_their_own():
    assert _rounds.loadgen_pin(REGISTRY) == {
        "package": "mlcommons-loadgen",
        "version": "6.0.17",
        "round": "v6.1",
        "default_version": "6.0.17",
        "venv_suffix": "",
    }
    v51 = _rounds.loadgen_pin(REGISTRY, "v5.1")
    assert (v51["version"], v51["venv_suffix"]) == ("5.1.2", "-loadgen5.1.2")
    assert _rounds.loadgen_pin(REGISTRY, "v6.0")["venv_suffix"] == "-loadgen6.0.14"


def test_a_round_without_loadgen_names_the_field_and_the_rounds_that_can_be_made():
    with pytest.raises(_rounds.RoundError) as err:
        _rounds.loadgen_pin(REGISTRY, "v4.0")
    text = str(err.value)
    assert text.startswith("submission_round: runs of round v4.0 cannot be made")
    assert "v4.1, v5.0, v5.1, v6.0, v6.1" in text
    assert err.value.allowed == ["v4.1", "v5.0", "v5.1", "v6.0", "v6.1"]
    with pytest.raises(_rounds.RoundError, match=r"'v3\.1' is not a round the checker knows"):
        _rounds.loadgen_pin(REGISTRY, "v3.1")


# --- the request's round ------------------------------------------------------------------------
def test_round_is_an_alias_of_submission_round():
    req = _registry.resolve_request({"model": "efficientnet", "round": "v5.1"}, REGISTRY)
    assert req["submission_round"] == "v5.1"
    # not given: None (rounds.default applies where it is used; a tree keeps the round it names)
    assert _registry.resolve_request({"model": "efficientnet"}, REGISTRY)["submission_round"] is None


def test_v40_run_fails_validation_naming_the_field_but_a_v40_tree_can_be_read():
    with pytest.raises(RequestError) as err:
        _registry.resolve_request({"model": "efficientnet", "round": "v4.0"}, REGISTRY)
    assert err.value.field == "submission_round"
    assert "runs of round v4.0 cannot be made" in err.value.message
    assert "v4.1, v5.0, v5.1, v6.0, v6.1" in err.value.message
    req = _registry.resolve_request({"model": "efficientnet", "round": "v4.0"}, REGISTRY, runs=False)
    assert req["submission_round"] == "v4.0"
    with pytest.raises(RequestError, match=r"submission_round: unknown value 'v9\.9'"):
        _registry.resolve_request({"submission_round": "v9.9"}, REGISTRY, runs=False)


def test_two_rounds_never_share_a_results_directory_and_the_default_key_is_kept():
    base = _registry.resolve_request({"model": "efficientnet"}, REGISTRY)
    v51 = _registry.resolve_request({"model": "efficientnet", "round": "v5.1"}, REGISTRY)
    assert _run.request_key(base) != _run.request_key(v51)
    # the default round's key is the one requests had before the round was recorded
    old_record = {k: v for k, v in _run.request_record(base).items() if k != "submission_round"}
    import hashlib
    import json

    text = json.dumps(old_record, sort_keys=True, separators=(",", ":"), default=str)
    assert _run.request_key(base) == "r-" + hashlib.sha256(text.encode()).hexdigest()[:12]


# --- the filters the roles use ------------------------------------------------------------------
def test_filters_give_the_pin_and_the_rules_of_the_requests_round():
    req = _registry.resolve_request({"model": "3d-unet-99", "round": "v5.1"}, REGISTRY)
    assert F["loadgen_pin"](req)["venv_suffix"] == "-loadgen5.1.2"
    rules = F["round_rules"](req)
    assert (rules["round"], rules["checker_model"], rules["loadgen"]) == ("v5.1", "3d-unet-99", "5.1.2")
    assert rules["facts"]["seeds"] == SEEDS_V51
    assert rules["facts"]["models"]["3d-unet-99"]["performance_sample_count"] == 43
    default = F["round_rules"](_registry.resolve_request({"model": "efficientnet"}, REGISTRY))
    # efficientnet is scored as the checker's "resnet" (checker get_mlperf_model guess)
    assert (default["round"], default["checker_model"]) == ("v6.1", "resnet")
    with pytest.raises(AnsibleFilterError, match=r"runs of round v4\.0 cannot be made"):
        F["loadgen_pin"]({"model": "efficientnet", "submission_round": "v4.0"})


# --- mlperf_run's verdicts follow the round -----------------------------------------------------
def _perf(seeds, psc=1024):
    """A parsed VALID performance run (parse_run_dir shape) with these detail-log settings."""
    return {
        "mode": "performance",
        "validity": "VALID",
        "reasons": [],
        "errors": 0,
        "settings": dict(
            seeds, performance_sample_count=psc, samples_per_query=24576, min_duration_ms=600000
        ),
    }


def _params(round_, model="efficientnet", mode="performance"):
    return {
        "mode": mode,
        "execution_mode": "valid",
        "scenario": "Offline",
        "model_info": {"offline_min_samples": 24576},
        "family_options": {},
        "submission_round": round_,
        "round_rules": _rounds.run_rules(REGISTRY, round_, model),
    }


def test_a_run_with_another_rounds_seeds_is_not_submittable_in_the_checkers_words():
    p = _params("v5.1")
    verdict = _run.run_submittable(p, _perf(SEEDS_V61), None, None, False)
    assert verdict["ok"] is False
    assert (
        "round v5.1: qsl_rng_seed is wrong, expected=1780908523862526354, found=2085463073848966840"
        " (the LoadGen of another round?)"
    ) in verdict["reasons"]
    assert len([r for r in verdict["reasons"] if "is wrong" in r]) == 3
    # the round's own LoadGen: nothing to say
    assert _run.run_submittable(p, _perf(SEEDS_V51), None, None, False) == {"ok": True, "reasons": []}


def test_a_short_performance_sample_count_is_not_submittable():
    p = _params("v6.1")
    verdict = _run.run_submittable(p, _perf(SEEDS_V61, psc=17), None, None, False)
    assert verdict["reasons"] == ["round v6.1: performance_sample_count, found 17, needs to be >= 1024"]


def test_accuracy_runs_and_runs_without_rules_are_not_judged_on_seeds():
    assert _run.round_problems(_params("v5.1")["round_rules"], dict(_perf(SEEDS_V61), mode="accuracy")) == []
    assert _run.round_problems(None, _perf(SEEDS_V61)) == []
    # a log that shows no seed is not judged on it
    assert _run.round_problems(_params("v5.1")["round_rules"], dict(_perf({}), settings={})) == []


def test_result_names_the_round_and_the_harness_gets_it():
    p = _params("v5.1", model="3d-unet-99")
    assert _run.round_record(p) == {
        "name": "v5.1",
        "source": REGISTRY["rounds"]["v5.1"]["source"],
        "checker_model": "3d-unet-99",
        "loadgen": "5.1.2",
        "requested": "v5.1",
    }
    default = dict(p, submission_round=None, round_rules=_rounds.run_rules(REGISTRY, None, "3d-unet-99"))
    assert _run.round_record(default)["name"] == "v6.1" and _run.round_record(default)["requested"] is None
    assert _run.run_round_name({"submission_round": None, "round_rules": None}) is None
    assert _run.round_record({"submission_round": None, "round_rules": None}) is None


def test_round_rules_must_match_the_requested_round():
    p = {
        "mode": "performance",
        "model": "efficientnet",
        "model_info": {"loadgen_key": "resnet50", "mlperf_name": "efficientnet", "model": "efficientnet"},
        "test_query_count": 10,
        "max_batchsize": None,
        "num_threads": None,
        "count": None,
        "target_qps": None,
        "target_latency": None,
        "submission_round": "v6.1",
        "round_rules": _rounds.run_rules(REGISTRY, "v5.1", "efficientnet"),
    }
    with pytest.raises(
        _run.ModuleFailure, match=r"round_rules: the rules are of round v5\.1, submission_round is v6\.1"
    ):
        _run.check_inputs(p, check_mode=True)
    with pytest.raises(_run.ModuleFailure, match=r'round_rules: needs "round" and "facts"'):
        _run.check_inputs(dict(p, round_rules={"round": "v6.1"}), check_mode=True)
    _run.check_inputs(dict(p, submission_round="v5.1"), check_mode=True)
