"""3D-UNet end to end through the real LoadGen on the stand-in (tiny-unet3d, kits19-synthetic).

Every scenario the registry requires for 3d-unet (edge and datacenter) runs in performance and
accuracy mode and leaves complete logs; the accuracy log is scored by the family's DICE script;
LoadGen runs equal-issue mode from mlperf.conf; onnxruntime and PyTorch give the same label
bytes; a TEST01 audit.config (registry compliance) makes LoadGen log responses in performance mode.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from fleetbench_harness import registry
from harness_testlib import last_json, run_cli, write_conf

MODEL = "3d-unet-99"
STAND_IN = "tiny-unet3d"
ENTRY = registry.model(MODEL)
SCENARIOS = sorted({s for group in ENTRY["required_scenarios"].values() for s in group})
DICE_LINE = re.compile(r"Accuracy:\s*mean\s*=\s*([\d.]+)")  # the submission checker's DICE pattern


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """The synthetic set and the generated stand-in, built through the CLI as the roles do."""
    tmp = tmp_path_factory.mktemp("seg3d")
    cache = tmp / "cache"
    res = run_cli(
        "prepare-dataset", "--model", MODEL, "--cache-dir", cache, "--source", "kits19-synthetic",
        "--stand-in-model", STAND_IN,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr[-3000:]
    ds = last_json(res.stdout)
    assert ds["count"] == 4 and ds["source"] == "kits19-synthetic"
    res = run_cli("prepare-model", "--model", MODEL, "--backend", "onnxruntime", "--cache-dir", cache,
                  "--stand-in-model", STAND_IN)  # fmt: skip
    assert res.returncode == 0, res.stderr[-3000:]
    model = last_json(res.stdout)
    assert model["stand_in"] == STAND_IN and Path(model["path"]).is_dir()
    lines = []
    for scen in SCENARIOS:
        lines += [
            f"*.{scen}.min_duration = 0",
            f"*.{scen}.min_query_count = 4",
            f"*.{scen}.max_query_count = 8",
        ]
    conf = write_conf(tmp / "user.conf", lines)
    return {"tmp": tmp, "cache": cache, "dataset": Path(ds["path"]), "model": model["path"], "conf": conf}


def _run(p, scenario: str, mode: str, backend: str = "onnxruntime", *extra: str) -> Path:
    out = p["tmp"] / "-".join([backend, scenario, mode, *(Path(e).name for e in extra)])
    res = run_cli(
        "run", "--model", MODEL, "--backend", backend, "--device", "cpu", "--scenario", scenario,
        "--mode", mode, "--dataset-path", p["dataset"], "--user-conf", p["conf"], "--output-dir", out,
        "--cache-dir", p["cache"], "--stand-in-model", STAND_IN, "--model-path", p["model"], "--threads", "2",
        *extra,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr[-3000:]
    for name in (
        "mlperf_log_summary.txt",
        "mlperf_log_detail.txt",
        "mlperf_log_accuracy.json",
        "harness.json",
    ):
        assert (out / name).is_file(), f"{out / name} missing"
    if mode == "performance":
        assert f"Scenario : {scenario}" in (out / "mlperf_log_summary.txt").read_text()
    return out


def _entries(out: Path) -> dict[int, str]:
    return {e["qsl_idx"]: e["data"] for e in json.loads((out / "mlperf_log_accuracy.json").read_text())}


def _detail(out: Path, key: str):
    for line in (out / "mlperf_log_detail.txt").read_text().splitlines():
        if f'"key": "{key}"' in line:
            return json.loads(line.split(":::MLLOG", 1)[1])["value"]
    return None


@pytest.fixture(scope="module")
def runs(prepared):
    return {(s, m): _run(prepared, s, m) for s in SCENARIOS for m in ("performance", "accuracy")}


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_required_scenarios_leave_complete_logs(runs, scenario):
    perf, acc = runs[(scenario, "performance")], runs[(scenario, "accuracy")]
    info = json.loads((perf / "harness.json").read_text())
    assert info["family"] == "segmentation_3d" and info["loadgen_key"] == "3d-unet"
    assert info["stand_in"]["name"] == STAND_IN and info["stand_in"]["accuracy_comparable"] is False
    assert info["workload"]["response"].startswith("uint8 label volume")
    assert info["samples_processed"] >= 4
    # equal-issue mode comes from mlperf.conf (3d-unet.*.sample_concatenate_permutation = 1)
    assert _detail(perf, "effective_sample_concatenate_permutation") is True
    assert "Result is" in (perf / "mlperf_log_summary.txt").read_text()
    assert sorted(_entries(acc)) == [0, 1, 2, 3]  # every case once in accuracy mode


def test_accuracy_log_scores_as_accuracy_kits(prepared, runs):
    acc = runs[("SingleStream", "accuracy")]
    res = run_cli(
        "accuracy", "--model", MODEL, "--accuracy-log", acc / "mlperf_log_accuracy.json",
        "--dataset-path", prepared["dataset"], "--output", acc / "accuracy.txt",
        "--cache-dir", prepared["cache"], "--stand-in-model", STAND_IN,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr[-3000:]
    out = last_json(res.stdout)
    assert out["metric"] == "DICE" and out["unit"] == "fraction" and out["total"] == 4
    assert 0.0 <= out["value"] <= 1.0 and out["stand_in"] == STAND_IN
    text = (acc / "accuracy.txt").read_text()
    m = DICE_LINE.search(text)
    assert m and float(m.group(1)) == pytest.approx(out["value"], abs=1e-5)
    sizes = {len(v) // 2 for v in _entries(acc).values()}
    assert sizes == {64**3, 96 * 64 * 64}  # label volumes of the preprocessed shapes, uint8
    # the same cases give the same bytes in every scenario
    assert _entries(runs[("Offline", "accuracy")]) == _entries(acc)


def test_pytorch_gives_the_onnxruntime_labels(prepared, runs):
    out = _run(prepared, "SingleStream", "accuracy", "pytorch", "--count", "2")
    ort = _entries(runs[("SingleStream", "accuracy")])
    assert _entries(out) == {i: ort[i] for i in (0, 1)}


def test_test01_audit_logs_responses_in_performance_mode(prepared, runs):
    comp = registry.load()["compliance"]["TEST01"]
    audit = dict(comp["audit"], **comp["audit_overrides"][MODEL])
    assert audit["accuracy_log_sampling_target"] == 64  # compliance/nvidia/TEST01/3d-unet/audit.config
    path = write_conf(prepared["tmp"] / "audit.config", [f"*.*.{k} = {v}" for k, v in audit.items()])
    out = _run(prepared, "Offline", "performance", "onnxruntime", "--audit-config", str(path))
    logged = _entries(out)
    assert logged and set(logged.values()) <= set(_entries(runs[("Offline", "accuracy")]).values())
