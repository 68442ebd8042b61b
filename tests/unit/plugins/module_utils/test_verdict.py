"""Two verdicts per run: LoadGen's and submittable."""

from ansible_collections.fleetbench.mlperf.plugins.module_utils import _mlperf_logs as logs
from ansible_collections.fleetbench.mlperf.plugins.module_utils import _verdict as verdict
from fleetbench_testlib import MLPERF_LOGS as FIX

GOOD_ACC = {"met": True, "reasons": [], "hash": "a" * 64, "value": 76.1}
MODEL = {"offline_min_samples": 24576}


def parsed(name):
    return logs.parse_summary((FIX / name).read_text())


def test_valid_offline_run_is_submittable():
    lg = parsed("01_offline_VALID_summary_v4.0_NVIDIA_DGX-H100x1_resnet50.txt")
    assert verdict.loadgen_verdict(lg) == {"validity": "VALID", "reasons": []}
    res = verdict.submittable_verdict("valid", lg, GOOD_ACC, model_entry=MODEL)
    assert res == {"ok": True, "reasons": []}


def test_test_and_fast_runs_never_submittable():
    lg = parsed("01_offline_VALID_summary_v4.0_NVIDIA_DGX-H100x1_resnet50.txt")
    for mode in ("test", "fast"):
        res = verdict.submittable_verdict(mode, lg, GOOD_ACC)
        assert not res["ok"] and f"execution_mode={mode}" in res["reasons"][0]


def test_invalid_and_min_duration_zero():
    lg = parsed("06_singlestream_INVALID_summary_issue1666_bert99_earlystop_10queries.txt")
    res = verdict.submittable_verdict("valid", lg, GOOD_ACC)
    assert not res["ok"]
    assert any("INVALID" in r and "early stopping" in r for r in res["reasons"])
    assert any("min_duration 0" in r for r in res["reasons"])


def test_offline_samples_per_query_below_minimum():
    lg = parsed("07_offline_INVALID_summary_CM_tutorial_resnet50_min_duration_NO.txt")  # 660 samples
    res = verdict.submittable_verdict("valid", lg, GOOD_ACC, model_entry=MODEL)
    assert any("samples_per_query 660 below the minimum 24576" in r for r in res["reasons"])


def test_missing_accuracy_perf_only_and_errors():
    lg = parsed("01_offline_VALID_summary_v4.0_NVIDIA_DGX-H100x1_resnet50.txt")
    lg["errors"], lg["error_messages"] = 1, ["error_runtime: boom"]
    res = verdict.submittable_verdict("valid", lg, None, performance_only_model=True)
    text = " | ".join(res["reasons"])
    assert "missing accuracy run" in text
    assert "stand-in model" in text and "not comparable with the target" in text
    assert "1 error(s): error_runtime: boom" in text
    assert lg["validity"] == "VALID"  # errors do not change LoadGen's own verdict


def test_accuracy_target_missed():
    lg = parsed("01_offline_VALID_summary_v4.0_NVIDIA_DGX-H100x1_resnet50.txt")
    res = verdict.submittable_verdict("valid", lg, {"met": False, "reasons": ["top1=70 does not meet"]})
    assert res["reasons"] == ["accuracy target not met: top1=70 does not meet"]


def test_accuracy_met_on_part_of_the_dataset_is_not_a_missed_target():
    lg = parsed("01_offline_VALID_summary_v4.0_NVIDIA_DGX-H100x1_resnet50.txt")
    accuracy = {
        "met": False,
        "checks": [{"name": "acc", "ok": True}],
        "coverage": {"samples": 1, "dataset_size": 50000, "full": False},
        "reasons": ["accuracy run covered 1 of 50000 samples (the whole dataset is required)"],
    }
    res = verdict.submittable_verdict("valid", lg, accuracy)
    assert res["reasons"] == [
        "accuracy not measured on the whole dataset: accuracy run covered 1 of 50000 samples"
        " (the whole dataset is required)"
    ]


def test_unknown_execution_mode_named():
    res = verdict.submittable_verdict("quick", None, None)
    assert "allowed: test, fast, valid" in res["reasons"][0]
