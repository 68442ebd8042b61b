"""CLI contract: --help documents every flag; bad input exits 2 before LoadGen starts."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fleetbench_harness.cli import build_parser
from harness_testlib import run_cli, write_conf


def _subparsers():
    ap = build_parser()
    action = next(a for a in ap._actions if a.__class__.__name__ == "_SubParsersAction")
    return action.choices


@pytest.mark.parametrize("command", ["run", "accuracy", "prepare-model", "prepare-dataset"])
def test_help_documents_every_flag(command):
    sub = _subparsers()[command]
    flags = [o for a in sub._actions for o in a.option_strings if o.startswith("--") and o != "--help"]
    res = run_cli(command, "--help")
    assert res.returncode == 0
    for flag in flags:
        assert flag in res.stdout, flag
    for a in sub._actions:
        if a.option_strings and a.option_strings[0] != "-h":
            assert a.help, f"{command} {a.option_strings} has no help"


def test_top_level_help():
    res = run_cli("--help")
    assert res.returncode == 0
    for cmd in ("run", "accuracy", "prepare-model", "prepare-dataset"):
        assert cmd in res.stdout


@pytest.fixture
def base(tmp_path, smoke_dataset, cache_dir):
    conf = write_conf(tmp_path / "user.conf", ["*.Offline.min_duration = 0"])
    return {
        "--model": "efficientnet",
        "--backend": "onnxruntime",
        "--device": "cpu",
        "--precision": "float32",
        "--scenario": "Offline",
        "--mode": "performance",
        "--dataset-path": smoke_dataset,
        "--cache-dir": cache_dir,
        "--user-conf": conf,
        "--output-dir": tmp_path / "out",
    }


def _run(opts: dict, **override) -> tuple[int, str, Path]:
    o = dict(opts)
    for k, v in override.items():
        key = "--" + k.replace("_", "-")
        if v is None:
            o.pop(key, None)
        else:
            o[key] = v
    argv = ["run"]
    for k, v in o.items():
        argv += [k] if v is True else [k, str(v)]
    res = run_cli(*argv)
    return res.returncode, res.stderr, Path(o["--output-dir"])


def _assert_bad(rc, err, out, field, needle):
    lines = [ln for ln in err.splitlines() if ln.startswith("fleetbench_harness: error:")]
    assert rc == 2, err
    assert len(lines) == 1, err
    assert lines[0].startswith(f"fleetbench_harness: error: {field}: "), lines[0]
    assert needle in lines[0], lines[0]
    assert "; allowed: " in lines[0]
    assert not (out / "mlperf_log_summary.txt").exists(), "LoadGen must not have started"


@pytest.mark.parametrize(
    ("override", "field", "needle"),
    [
        ({"model": "resnet51"}, "model", "unknown model 'resnet51'"),
        ({"model": "dlrm-v2-99"}, "model", "no implementation in this harness"),
        ({"backend": "caffe"}, "backend", "unknown 'caffe'"),
        ({"backend": "tvm-onnx"}, "backend", "registered but not implemented"),
        ({"scenario": "offline"}, "scenario", "did you mean 'Offline'"),
        ({"scenario": "Batch"}, "scenario", "unknown scenario 'Batch'"),
        ({"mode": "fast"}, "mode", "unknown mode"),
        ({"device": "tpu"}, "device", "registered but not implemented"),
        ({"model_path": "/nonexistent/efficientnet-lite0.pth"}, "model_path", "does not exist"),
        ({"count": "0"}, "count", "must be at least 1"),
        ({"audit_config": "/nonexistent/audit.config"}, "audit_config", "does not exist"),
        ({"user_conf": "/nonexistent/user.conf"}, "user_conf", "does not exist"),
        (
            {"performance_only_model": "light_resnet50"},
            "stand_in_model",
            "is not a registered stand-in for efficientnet",
        ),
    ],
)
def test_bad_input_exits_2_before_loadgen(base, override, field, needle):
    _assert_bad(*_run(base, **override), field, needle)


def test_wrong_checksum(base, tmp_path):
    bad = tmp_path / "efficientnet-lite0-57934424.pth"
    bad.write_bytes(b"not the weights")
    _assert_bad(*_run(base, model_path=bad), "model_path", "does not match the registry")


def test_dataset_without_val_map(base, tmp_path):
    (tmp_path / "noval").mkdir()
    _assert_bad(*_run(base, dataset_path=tmp_path / "noval"), "dataset_path", "val_map.txt does not exist")


def test_unreadable_image(base, tmp_path):
    d = tmp_path / "broken"
    d.mkdir()
    (d / "val_map.txt").write_text("x.JPEG 1\n")
    (d / "x.JPEG").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    rc, err, out = _run(base, dataset_path=d)
    _assert_bad(rc, err, out, "dataset_path", "cannot read image")
    assert str(d / "x.JPEG") in err


@pytest.mark.parametrize(
    ("line", "needle"),
    [
        ("efficientnet.Offline.target_qps=5", "spaces around '='"),
        ("resnet50.Offline.target_qps = 5 # five", "trailing comment"),
        ("resnet50.offline.target_qps = 5", "unknown scenario 'offline'"),
        ("efficientnet.Offline.target_qps = 5", "unknown model key 'efficientnet'"),
    ],
)
def test_bad_user_conf_lines(base, tmp_path, line, needle):
    conf = write_conf(tmp_path / "bad.conf", ["*.Offline.min_duration = 0", line])
    rc, err, out = _run(base, user_conf=conf)
    _assert_bad(rc, err, out, "user_conf", needle)
    assert re.search(re.escape(str(conf)) + r":2\b", err)


def test_prepare_model_json(cache_dir):
    res = run_cli(
        "prepare-model",
        "--model",
        "resnet50",
        "--backend",
        "onnxruntime",
        "--precision",
        "fp32",
        "--cache-dir",
        cache_dir,
        "--performance-only-model",
        "light_resnet50",
    )
    assert res.returncode == 0, res.stderr
    import json

    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert set(out) >= {"path", "sha256", "label", "stand_in", "changed"}
    assert out["stand_in"] == "light_resnet50" and "untrained" in out["label"]
