"""Every scenario through the real LoadGen (small settings), accuracy mode, audit.config."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from harness_testlib import last_json, run_cli, write_conf

pytestmark = pytest.mark.slow


def _run(tmp_path, smoke_dataset, cache_dir, conf, scenario, mode="performance", *extra):
    out = tmp_path / f"{scenario}-{mode}"
    res = run_cli(
        "run",
        "--model",
        "efficientnet",
        "--backend",
        "onnxruntime",
        "--device",
        "cpu",
        "--precision",
        "fp32",
        "--scenario",
        scenario,
        "--mode",
        mode,
        "--dataset-path",
        smoke_dataset,
        "--cache-dir",
        cache_dir,
        "--user-conf",
        conf,
        "--output-dir",
        out,
        "--threads",
        "2",
        *extra,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    return out, res


def _summary(out: Path) -> dict[str, str]:
    kv = {}
    for line in (out / "mlperf_log_summary.txt").read_text().splitlines():
        if ":" in line:
            k, _, v = line.partition(":")
            kv[k.strip()] = v.strip()
    return kv


@pytest.mark.parametrize("scenario", ["Offline", "Server", "SingleStream", "MultiStream"])
def test_scenario_performance_complete_logs(tmp_path, smoke_dataset, cache_dir, small_conf, scenario):
    out, _ = _run(tmp_path, smoke_dataset, cache_dir, small_conf, scenario)
    s = _summary(out)
    assert s["Scenario"] == scenario
    assert s["Mode"] == "PerformanceOnly"
    assert s["Result is"] in ("VALID", "INVALID")
    detail = (out / "mlperf_log_detail.txt").read_text()
    assert '"key": "result_validity"' in detail
    assert '"key": "loadgen_version", "value": "6.0.17' in detail or "6.0.17" in detail
    hj = json.loads((out / "harness.json").read_text())
    assert hj["scenario"] == scenario and hj["stand_in"] is None
    assert hj["loadgen"]["version"] == "6.0.17"
    assert hj["backend"]["name"] == "onnxruntime" and hj["backend"]["threads"]["intra_op"] == 2
    assert hj["samples_processed"] > 0
    if scenario == "MultiStream":
        assert s["samples_per_query"] == "8"  # mlperf.conf, compiled into LoadGen
        assert hj["max_batchsize"] == 8


def test_server_overload_is_invalid_not_a_crash(tmp_path, smoke_dataset, cache_dir):
    conf = write_conf(
        tmp_path / "user.conf",
        [
            "*.Server.min_duration = 0",
            "*.Server.min_query_count = 200",
            "*.Server.max_query_count = 200",
            "*.Server.target_qps = 100000",
        ],
    )
    out, _ = _run(
        tmp_path, smoke_dataset, cache_dir, conf, "Server", "performance", "--server-batch-timeout-ms", "1"
    )
    s = _summary(out)
    assert s["Result is"] == "INVALID"
    hj = json.loads((out / "harness.json").read_text())
    assert hj["server_batch_timeout_ms"] == 1.0
    assert hj["batches"] < hj["samples_processed"], "dynamic batching should have merged queued samples"


def test_accuracy_mode_and_accuracy_txt(tmp_path, smoke_dataset, cache_dir, small_conf):
    out, _ = _run(tmp_path, smoke_dataset, cache_dir, small_conf, "Offline", "accuracy")
    log = out / "mlperf_log_accuracy.json"
    entries = json.loads(log.read_text())
    n = len((smoke_dataset / "val_map.txt").read_text().splitlines())
    assert sorted({e["qsl_idx"] for e in entries}) == list(range(n))
    res = run_cli(
        "accuracy",
        "--model",
        "efficientnet",
        "--accuracy-log",
        log,
        "--dataset-path",
        smoke_dataset,
        "--output",
        out / "accuracy.txt",
    )
    assert res.returncode == 0, res.stderr
    first = (out / "accuracy.txt").read_text().splitlines()[0]
    # the submission checker's ImageNet regex
    assert re.fullmatch(r"accuracy=([\d.]+)%, good=(\d+), total=(\d+)", first)
    js = last_json(res.stdout)
    assert js["total"] == n and js["metric"] == "top1" and js["unit"] == "%"


def test_audit_config_is_picked_up(tmp_path, smoke_dataset, cache_dir, small_conf):
    audit = write_conf(
        tmp_path / "my-audit.config",
        [
            "*.*.mode = 2",
            "*.*.accuracy_log_rng_seed = 720381539243781796",
            "*.*.accuracy_log_sampling_target = 64",
        ],
    )
    out, _ = _run(
        tmp_path, smoke_dataset, cache_dir, small_conf, "SingleStream", "performance", "--audit-config", audit
    )
    assert (out / "audit.config").read_text() == audit.read_text()
    assert "Found Audit Config file" in (out / "mlperf_log_detail.txt").read_text()
    assert json.loads((out / "mlperf_log_accuracy.json").read_text()), "TEST01-style sampling logs responses"
    # a later run without --audit-config must not inherit the stale file
    res = run_cli(*json.loads((out / "harness.json").read_text())["argv"][3:-2])
    assert res.returncode == 0, res.stderr[-2000:]
    assert not (out / "audit.config").exists()
    assert "Found Audit Config file" not in (out / "mlperf_log_detail.txt").read_text()


def test_performance_only_model_light_resnet50(tmp_path, smoke_dataset, cache_dir, small_conf):
    out = tmp_path / "light"
    res = run_cli(
        "run",
        "--model",
        "resnet50",
        "--backend",
        "onnxruntime",
        "--device",
        "cpu",
        "--precision",
        "fp32",
        "--scenario",
        "SingleStream",
        "--mode",
        "performance",
        "--dataset-path",
        smoke_dataset,
        "--cache-dir",
        cache_dir,
        "--user-conf",
        small_conf,
        "--output-dir",
        out,
        "--performance-only-model",
        "light_resnet50",
    )
    assert res.returncode == 0, res.stderr[-3000:]
    hj = json.loads((out / "harness.json").read_text())
    assert hj["stand_in"]["name"] == "light_resnet50" and hj["stand_in"]["accuracy_comparable"] is False
    assert hj["model_label"].startswith("untrained ResNet50")
    assert hj["model_file"]["derived_from_sha256"].startswith("05e77a5c")
