"""EfficientNet-Lite0 on 1000 real ImageNet images through the full LoadGen accuracy path."""

from __future__ import annotations

import pytest
from fleetbench_harness.tasks.image_classification.accuracy import predictions
from harness_testlib import last_json, run_cli, write_conf

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def accuracy_runs(tmp_path_factory, imagenet_sample, cache_dir):
    """Offline accuracy runs on all images: onnxruntime and PyTorch (CPU)."""
    tmp = tmp_path_factory.mktemp("imagenet")
    conf = write_conf(tmp / "user.conf", ["*.Offline.min_duration = 0"])
    outs = {}
    for backend in ("onnxruntime", "pytorch"):
        out = tmp / backend
        res = run_cli(
            "run",
            "--model",
            "efficientnet",
            "--backend",
            backend,
            "--device",
            "cpu",
            "--precision",
            "float32",
            "--scenario",
            "Offline",
            "--mode",
            "accuracy",
            "--dataset-path",
            imagenet_sample,
            "--cache-dir",
            cache_dir,
            "--user-conf",
            conf,
            "--output-dir",
            out,
            "--max-batchsize",
            "16",
        )
        assert res.returncode == 0, res.stderr[-3000:]
        outs[backend] = out
    return outs


def test_efficientnet_onnxruntime_top1(accuracy_runs, imagenet_sample):
    out = accuracy_runs["onnxruntime"]
    res = run_cli(
        "accuracy",
        "--model",
        "efficientnet",
        "--accuracy-log",
        out / "mlperf_log_accuracy.json",
        "--dataset-path",
        imagenet_sample,
        "--output",
        out / "accuracy.txt",
    )
    assert res.returncode == 0, res.stderr
    js = last_json(res.stdout)
    n = len((imagenet_sample / "val_map.txt").read_text().split("\n")) - 1
    assert js["total"] == n
    assert js["value"] >= 85.0, js


def test_pytorch_agrees_with_onnxruntime(accuracy_runs):
    a = predictions(accuracy_runs["onnxruntime"] / "mlperf_log_accuracy.json")
    b = predictions(accuracy_runs["pytorch"] / "mlperf_log_accuracy.json")
    assert a.keys() == b.keys()
    agree = sum(a[k] == b[k] for k in a) / len(a)
    assert agree >= 0.99, agree
