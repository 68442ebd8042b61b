"""Unit tests of the harness pieces: registry, dataset, accuracy, artifacts."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from fleetbench_harness import artifacts, registry
from fleetbench_harness.errors import InputError
from fleetbench_harness.tasks.image_classification import accuracy, dataset
from fleetbench_harness.tasks.image_classification.export import export_onnx


def _model_of_pending_family() -> str:
    """A registry model whose task family has no folder yet (families land one by one)."""
    from fleetbench_harness import tasks

    done = set(tasks.implemented())
    return next((m for m, e in registry.load()["models"].items() if e["family"] not in done), "resnet51")


def test_registry_lookups():
    assert registry.loadgen_version() == "6.0.17"
    # the LoadGen of each round (rounds.<round>.loadgen: the wheel whose mlperf.conf has its seeds)
    assert registry.default_round() == "v6.1"
    assert registry.loadgen_version("v5.1") == "5.1.2"
    assert registry.loadgen_version("v4.1") == "4.1.30"
    with pytest.raises(InputError, match=r"runs of round v4\.0 cannot be made") as err:
        registry.loadgen_version("v4.0")
    assert err.value.field == "round" and "v5.1" in err.value.allowed
    assert {"resnet50", "efficientnet", "mobilenet"} <= set(registry.supported_models())
    assert registry.check_choice("backend", "onnx") == "onnxruntime"
    assert registry.check_choice("precision", "fp32") == "float32"
    spec = registry.preprocessing(registry.model("efficientnet"))
    assert spec["crop"] == 224 and spec["name"] == "efficientnet_lite"


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: registry.model("resnet51"), "model"),
        (lambda: registry.model(_model_of_pending_family()), "model"),
        (lambda: registry.check_choice("backend", "tf"), "backend"),
        (lambda: registry.check_choice("backend", "caffe"), "backend"),
        (lambda: registry.check_choice("device", "tpu"), "device"),
    ],
)
def test_registry_errors_name_field_and_allowed(call, field):
    with pytest.raises(InputError) as ei:
        call()
    assert ei.value.field == field
    assert ei.value.allowed


def _dataset(tmp_path: Path, lines: str, images: dict[str, bytes] | None = None) -> Path:
    d = tmp_path / "ds"
    d.mkdir()
    (d / "val_map.txt").write_text(lines)
    for name, data in (images or {}).items():
        (d / name).write_bytes(data)
    return d


def test_val_map_missing(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match=r"dataset_path: .*val_map.txt does not exist"):
        dataset.read_val_map(tmp_path / "empty", 1000)


def test_val_map_label_out_of_range_names_file(tmp_path):
    d = _dataset(tmp_path, "a.jpg 3\nb.jpg 1000\n")
    with pytest.raises(
        InputError, match=r"val_map.txt:2: label 1000 of b.jpg is out of range; allowed: 0..999"
    ):
        dataset.read_val_map(d, 1000)


def test_val_map_malformed_line(tmp_path):
    d = _dataset(tmp_path, "a.jpg three\n")
    with pytest.raises(InputError, match=r"val_map.txt:1"):
        dataset.read_val_map(d, 1000)


def test_unreadable_image_names_file(tmp_path):
    d = _dataset(tmp_path, "broken.jpg 1\n", {"broken.jpg": b"not a jpeg"})
    spec = registry.preprocessing(registry.model("resnet50"))
    with pytest.raises(InputError, match=r"cannot read image .*broken.jpg"):
        dataset.load_preprocessed(d, spec, tmp_path / "cache", 1000, progress=False)


def test_listed_image_missing(tmp_path):
    d = _dataset(tmp_path, "gone.jpg 1\n")
    spec = registry.preprocessing(registry.model("resnet50"))
    with pytest.raises(InputError, match=r"gone.jpg listed in val_map.txt does not exist"):
        dataset.load_preprocessed(d, spec, tmp_path / "cache", 1000, progress=False)


def test_preprocessing_shapes_values_and_cache(tmp_path):
    pytest.importorskip("skimage")
    d, n, changed = dataset.build_skimage_smoke(tmp_path / "smoke")
    assert changed and n == len(dataset.smoke_labels()) >= 1
    assert dataset.build_skimage_smoke(tmp_path / "smoke")[2] is False
    spec = registry.preprocessing(registry.model("efficientnet"))
    data, labels, info = dataset.load_preprocessed(d, spec, tmp_path / "c", 1000, progress=False)
    assert data.shape == (n, 3, 224, 224) and data.dtype == np.float32 and data.flags["C_CONTIGUOUS"]
    assert info["changed"] is True
    # (x - 127) / 128 of 8-bit pixels lies in [-0.9922, 1.0]
    assert data.min() >= -127 / 128 - 1e-6 and data.max() <= 1.0 + 1e-6
    assert list(labels) == [c for _, c in dataset.smoke_labels()]
    again = dataset.load_preprocessed(d, spec, tmp_path / "c", 1000, progress=False)
    assert again[2]["changed"] is False and again[2]["path"] == info["path"]
    # resnet50 spec: mean subtraction only, so values reach beyond +-1
    rspec = registry.preprocessing(registry.model("resnet50"))
    rdata, _, _ = dataset.load_preprocessed(d, rspec, tmp_path / "c", 1000, count=1, progress=False)
    assert rdata.shape == (1, 3, 224, 224) and rdata.max() > 100


def _acc_log(path: Path, preds: dict[int, float]) -> Path:
    entries = [
        {"seq_id": i, "qsl_idx": k, "data": np.asarray([v], np.float32).tobytes().hex()}
        for i, (k, v) in enumerate(preds.items())
    ]
    entries.append({"seq_id": 99, "qsl_idx": 0, "data": np.asarray([5], np.float32).tobytes().hex()})  # dup
    path.write_text(json.dumps(entries))
    return path


def test_accuracy_top1_and_format(tmp_path):
    d = _dataset(tmp_path, "a.jpg 1\nb.jpg 2\nc.jpg 3\n")
    log = _acc_log(tmp_path / "acc.json", {0: 1, 1: 2, 2: 7})
    res = accuracy.top1("resnet50", log, d)
    assert res == {
        "metric": "top1",
        "value": 66.667,
        "unit": "%",
        "metrics": {"top1": 66.667},
        "good": 2,
        "total": 3,
    }
    out = tmp_path / "accuracy.txt"
    accuracy.write(res, out)
    first = out.read_text().splitlines()[0]
    assert first == "accuracy=66.667%, good=2, total=3"
    # label_offset: a log of raw 1001-class argmaxes
    raw = _acc_log(tmp_path / "raw.json", {0: 2, 1: 3, 2: 4})
    assert accuracy.top1("resnet50", raw, d, label_offset=1)["good"] == 3


def test_accuracy_bad_log(tmp_path):
    d = _dataset(tmp_path, "a.jpg 1\n")
    (tmp_path / "bad.json").write_text("{nope")
    with pytest.raises(InputError, match=r"accuracy_log: .*is not JSON"):
        accuracy.top1("resnet50", tmp_path / "bad.json", d)


def test_light_resnet50_is_labelled_performance_only(tmp_path):
    pytest.importorskip("onnx")
    art = artifacts.prepare("resnet50", "onnxruntime", "float32", tmp_path, None, "light_resnet50")
    entry = registry.model("resnet50")["stand_ins"]["light_resnet50"]
    assert art.stand_in == "light_resnet50" and not art.accuracy_comparable
    assert art.label == entry["label"]
    assert art.extra["derived_from_sha256"] == entry["sha256"]
    assert Path(art.path).is_file() and art.changed is True
    again = artifacts.prepare("resnet50", "onnxruntime", "float32", tmp_path, None, "light_resnet50")
    assert again.changed is False and again.sha256 == art.sha256


def test_wrong_checksum_and_missing_file(tmp_path):
    junk = tmp_path / "resnet50_v1.onnx"
    junk.write_bytes(b"not the model")
    with pytest.raises(
        InputError, match=r"model_path: .*md5 .* does not match the registry; allowed: md5 f6a4"
    ):
        artifacts.prepare("resnet50", "onnxruntime", "float32", tmp_path, str(junk))
    with pytest.raises(InputError, match=r"model_path: model file .*nope.onnx does not exist"):
        artifacts.prepare("resnet50", "onnxruntime", "float32", tmp_path, str(tmp_path / "nope.onnx"))


def test_null_checksum_warns(tmp_path):
    f = tmp_path / "mobilenet_v1_1.0_224.onnx"
    f.write_bytes(b"whatever")
    art = artifacts.prepare("mobilenet", "onnxruntime", "float32", tmp_path, str(f))
    if registry.model("mobilenet")["artifacts"]["onnxruntime"]["float32"].get("md5") is None:
        assert "NOT verified" in art.checksum_warning


def test_resnet50_v15_definition_matches_torchvision_names():
    torch = pytest.importorskip("torch")
    from fleetbench_harness.tasks.image_classification.models import ResNet50

    m = ResNet50().eval()
    sd = m.state_dict()
    assert sum(p.numel() for p in m.parameters()) == 25_557_032  # torchvision resnet50
    assert "layer4.2.bn3.running_var" in sd and "layer1.0.downsample.0.weight" in sd
    assert m.layer2[0].conv2.stride == (2, 2) and m.layer2[0].conv1.stride == (1, 1)  # v1.5
    with torch.inference_mode():
        assert m(torch.zeros(2, 3, 224, 224)).shape == (2, 1000)


def test_prepared_paths_round_trip_as_model_path(tmp_path):
    """prepare-model prints a derived file; passing it back as --model-path is accepted as ours."""
    pytest.importorskip("onnx")
    art = artifacts.prepare("resnet50", "onnxruntime", "float32", tmp_path, None, "light_resnet50")
    again = artifacts.prepare("resnet50", "onnxruntime", "float32", tmp_path, art.path, "light_resnet50")
    assert (
        again.sha256 == art.sha256 and again.stand_in == "light_resnet50" and again.checksum_warning is None
    )
    assert again.extra["derived_from_sha256"] == art.extra["derived_from_sha256"]
    # a tampered derived file is no longer ours: it is checked against the registry and rejected
    Path(art.path).write_bytes(Path(art.path).read_bytes() + b"\0")
    with pytest.raises(InputError, match=r"stand_in_model: .*sha256 .* does not match"):
        artifacts.prepare("resnet50", "onnxruntime", "float32", tmp_path, art.path, "light_resnet50")


@pytest.mark.slow
def test_efficientnet_export_round_trip(cache_dir):
    pytest.importorskip("torch")
    art = artifacts.prepare("efficientnet", "onnxruntime", "float32", cache_dir, exporter=export_onnx)
    again = artifacts.prepare(
        "efficientnet", "onnxruntime", "float32", cache_dir, art.path, exporter=export_onnx
    )
    assert again.label == art.label and again.checksum_warning is None and again.changed is False
    assert (
        again.extra["weights_sha256"]
        == registry.model("efficientnet")["artifacts"]["pytorch"]["float32"]["sha256"]
    )


def test_nhwc_layout_and_artifact_layout_override(tmp_path):
    pytest.importorskip("skimage")
    d, n, _ = dataset.build_skimage_smoke(tmp_path / "smoke")
    spec = registry.preprocessing(registry.model("mobilenet"))
    assert spec["layout"] == "NHWC"
    data, _, _ = dataset.load_preprocessed(d, spec, tmp_path / "c", 1000, progress=False)
    assert data.shape == (n, 224, 224, 3)
    f = tmp_path / "mobilenet_v1_1.0_224.onnx"
    f.write_bytes(b"placeholder")
    art = artifacts.prepare("mobilenet", "onnxruntime", "float32", tmp_path, str(f))
    assert (
        art.spec["input_layout"]
        == registry.model("mobilenet")["artifacts"]["onnxruntime"]["float32"]["input_layout"]
    )
    assert art.spec.get("output", registry.model("mobilenet")["output"])["label_offset"] == 1


def test_harness_exits_when_its_parent_dies(tmp_path):
    """An orphaned harness (its module killed) stops instead of loading the CPUs."""
    import os
    import subprocess
    import sys
    import time

    from harness_testlib import HARNESS

    marker = tmp_path / "child.pid"
    child = (
        f"import os, sys, time; sys.path.insert(0, {str(HARNESS)!r}); "
        "from fleetbench_harness.runner import exit_with_parent; "
        f"open({str(marker)!r}, 'w').write(str(os.getpid())); exit_with_parent(0.1); time.sleep(30)"
    )
    # The intermediate shell starts the harness-like child, outlives its start-up, then exits:
    # the child is orphaned.
    subprocess.run(["sh", "-c", f'"{sys.executable}" -c "{child}" & sleep 2'], check=True, timeout=30)
    deadline = time.monotonic() + 20
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    pid = int(marker.read_text())
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    os.kill(pid, 9)
    raise AssertionError("orphaned child kept running")


def test_harness_exits_at_once_when_its_parent_died_during_start_up(tmp_path):
    """The module's pid comes in FLEETBENCH_PARENT_PID; a different parent means it is gone already."""
    import os
    import subprocess
    import sys

    from harness_testlib import HARNESS

    env = dict(os.environ, FLEETBENCH_PARENT_PID="1", PYTHONPATH=str(HARNESS))
    code = (
        "import sys; from fleetbench_harness.runner import exit_with_parent; "
        "exit_with_parent(0.1); import time; time.sleep(30)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 3, proc
    assert "parent process ended" in proc.stderr


def test_audit_settings_loadgen_ignored_are_named(tmp_path):
    """LoadGen 4.1.30 logs effective_accuracy_log_sampling_target 0 under TEST01's audit.config (it reads
    the accuracy_log_* keys from its mlperf.conf only): the harness names what was not applied."""
    from fleetbench_harness.loadgen import session

    def rec(key, value):
        return ":::MLLOG " + json.dumps({"key": key, "value": value}) + "\n"

    (tmp_path / "mlperf_log_detail.txt").write_text(
        rec("effective_accuracy_log_rng_seed", 0)
        + rec("effective_accuracy_log_sampling_target", 0)
        + rec("effective_mode", "PerformanceOnly")
    )
    audit = {
        "mode": 2.0,
        "accuracy_log_rng_seed": 720381539243781796.0,
        "accuracy_log_sampling_target": 1024.0,
    }
    assert session.audit_not_applied(tmp_path, audit) == [
        "accuracy_log_rng_seed = 720381539243781760 in audit.config, LoadGen used 0",
        "accuracy_log_sampling_target = 1024 in audit.config, LoadGen used 0",
    ]
    (tmp_path / "mlperf_log_detail.txt").write_text(
        rec("effective_accuracy_log_rng_seed", 720381539243781796)
        + rec("effective_accuracy_log_sampling_target", 1024)
    )
    assert session.audit_not_applied(tmp_path, audit) == []
