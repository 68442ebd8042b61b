"""fleetbench.mlperf filters: model_info, run_matrix, run_dir."""

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.fleetbench.mlperf.plugins.filter.mlperf import FilterModule
from ansible_collections.fleetbench.mlperf.plugins.module_utils._registry import resolve_request

F = FilterModule().filters()


def test_model_info_alias_and_error():
    assert F["model_info"]("efficientnet-lite0")["model"] == "efficientnet"
    with pytest.raises(AnsibleFilterError, match="unknown model 'nope'"):
        F["model_info"]("nope")


def test_run_matrix_order_and_layout():
    req = resolve_request({"scenario": "Offline,SingleStream", "compliance": True})
    runs = F["run_matrix"](req)
    assert [(r["scenario"], r["mode"]) for r in runs] == [
        ("Offline", "performance"),
        ("Offline", "accuracy"),
        ("Offline", "TEST01"),
        ("Offline", "TEST04"),
        ("SingleStream", "performance"),
        ("SingleStream", "accuracy"),
        ("SingleStream", "TEST01"),
        ("SingleStream", "TEST04"),
    ]
    assert runs[0]["subdir"] == "Offline/performance/run_1"
    assert runs[1]["subdir"] == "Offline/accuracy"
    assert runs[2] == {
        "scenario": "Offline",
        "mode": "TEST01",
        "kind": "compliance",
        "subdir": "Offline/TEST01",
    }
    assert (
        F["run_dir"](runs[0], "/r/test_results/sut/resnet50/")
        == "/r/test_results/sut/resnet50/Offline/performance/run_1"
    )


def test_run_matrix_single_mode_and_raw_mode():
    assert [r["mode"] for r in F["run_matrix"](resolve_request({"mode": "accuracy"}))] == ["accuracy"]
    assert [r["mode"] for r in F["run_matrix"]({"scenario": "Server", "mode": "both"})] == [
        "performance",
        "accuracy",
    ]


def test_run_matrix_rejects_non_dict():
    with pytest.raises(AnsibleFilterError):
        F["run_matrix"]("resnet50")
    with pytest.raises(AnsibleFilterError):
        F["run_dir"]({}, "/x")
