"""Compliance helpers (plugins/module_utils/_compliance.py): audit.config text and verify rules."""

import json

import pytest
from ansible_collections.fleetbench.mlperf.plugins.module_utils import _compliance as C
from ansible_collections.fleetbench.mlperf.plugins.module_utils._registry import model_info

INFO = model_info("resnet50")["compliance_info"]


def parsed(scenario, value=None, value_ns=None, p90=None, p99=None, validity="VALID"):
    return {
        "scenario": scenario,
        "validity": validity,
        "value": value,
        "value_ns": value_ns,
        "unit": "samples/s" if scenario in ("Offline", "Server") else "ms",
        "metric": "m",
        "latency_ns": {"p90": p90, "p99": p99},
    }


def test_audit_config_text_from_registry():
    assert C.audit_config_text(INFO["TEST04"]) == (
        "*.*.mode = 2\n*.*.performance_issue_unique = 0\n*.*.performance_issue_same = 1\n"
        "*.*.performance_issue_same_index = 3\n"
    )
    assert "*.*.accuracy_log_rng_seed = 720381539243781796\n" in C.audit_config_text(INFO["TEST01"])
    with pytest.raises(ValueError):
        C.audit_config_text({})


@pytest.mark.parametrize(
    ("test", "ref", "new", "passed"),
    [
        ("TEST04", 100.0, 109.0, True),
        ("TEST04", 100.0, 111.0, False),  # more than 10 % faster with the same sample: caching
        ("TEST04", 100.0, 50.0, True),  # one-sided
        ("TEST01", 100.0, 91.0, True),
        ("TEST01", 100.0, 89.0, False),  # two-sided
        ("TEST01", 100.0, 111.0, False),
    ],
)
def test_throughput_thresholds(test, ref, new, passed):
    res = C.verify_performance(test, INFO[test], parsed("Offline", ref), parsed("Offline", new), "Offline")
    assert res["passed"] is passed
    assert res["threshold"] == 0.10
    assert res["text"].rstrip().endswith("TEST PASS" if passed else "TEST FAIL")


def test_latency_threshold_relaxed_for_short_latencies():
    # SingleStream reference 150 us (<= 200000 ns): 20 %
    ref, new = parsed("SingleStream", value_ns=150000), parsed("SingleStream", value_ns=175000)
    res = C.verify_performance("TEST04", INFO["TEST04"], ref, new, "SingleStream")
    assert res["threshold"] == 0.20 and res["passed"] is True
    ref, new = parsed("SingleStream", value_ns=5e6), parsed("SingleStream", value_ns=5.6e6)
    res = C.verify_performance("TEST04", INFO["TEST04"], ref, new, "SingleStream")
    assert res["threshold"] == 0.10 and res["passed"] is False


def test_latency_falls_back_to_percentile_without_early_stopping():
    res = C.verify_performance(
        "TEST04",
        INFO["TEST04"],
        parsed("MultiStream", p99=2e6),
        parsed("MultiStream", p99=2.1e6),
        "MultiStream",
    )
    assert res["passed"] is True
    assert res["source"] == "p99 latency (no early-stopping estimate)"


def test_invalid_or_missing_reference_fails():
    res = C.verify_performance("TEST04", INFO["TEST04"], {}, parsed("Offline", 10.0), "Offline")
    assert res["passed"] is False and "no score" in res["reasons"][0]
    res = C.verify_performance(
        "TEST04",
        INFO["TEST04"],
        parsed("Offline", 10.0, validity="INVALID"),
        parsed("Offline", 10.0),
        "Offline",
    )
    assert res["passed"] is False and "reference (performance) run is INVALID" in res["reasons"]


def _log(path, entries):
    path.write_text(json.dumps([{"seq_id": i, "qsl_idx": q, "data": d} for i, (q, d) in enumerate(entries)]))
    return str(path)


def test_verify_accuracy(tmp_path):
    acc = _log(tmp_path / "acc.json", [(0, "0A"), (1, "0B"), (2, "0C")])
    good = _log(tmp_path / "good.json", [(2, "0C"), (0, "0A"), (2, "0C")])
    res = C.verify_accuracy(acc, good)
    assert res["passed"] is True and res["compared"] == 3
    assert "Accuracy check pass: True" in res["text"]
    bad = _log(tmp_path / "bad.json", [(1, "FF"), (7, "00")])
    res = C.verify_accuracy(acc, bad)
    assert res["passed"] is False
    assert res["mismatched"] == 1 and res["missing"] == 1
    empty = _log(tmp_path / "empty.json", [])
    assert C.verify_accuracy(acc, empty)["passed"] is False
    (tmp_path / "notlist.json").write_text("{}")
    with pytest.raises(ValueError):
        C.verify_accuracy(acc, str(tmp_path / "notlist.json"))
