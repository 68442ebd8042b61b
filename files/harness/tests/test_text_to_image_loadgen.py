"""SDXL end to end through the real LoadGen on the tiny-sdxl stand-in (CLI subprocesses, nothing mocked).

One stand-in build (prepare-model) and the bundled captions smoke set, shared by the module;
then: accuracy mode (response bytes = the engine's image, accuracy step says what is missing
and keeps the checker's images), every scenario the registry requires for sdxl leaves complete
logs, TEST01/TEST04 audit runs, and bad input that fails before LoadGen.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from fleetbench_harness import registry
from harness_testlib import last_json, run_cli, write_conf

MODEL = "sdxl"
STAND_IN = ["--stand-in-model", "tiny-sdxl"]


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    cache = tmp_path_factory.mktemp("t2i-cache")
    res = run_cli("prepare-model", "--model", MODEL, "--backend", "pytorch", "--cache-dir", cache, *STAND_IN)
    assert res.returncode == 0, res.stderr
    art = last_json(res.stdout)
    assert art["stand_in"] == "tiny-sdxl" and art["changed"] is True
    again = run_cli(
        "prepare-model",
        "--model",
        MODEL,
        "--backend",
        "pytorch",
        "--cache-dir",
        cache,
        *STAND_IN,
        "--model-path",
        art["path"],
    )
    assert again.returncode == 0, again.stderr
    assert last_json(again.stdout)["changed"] is False and last_json(again.stdout)["path"] == art["path"]
    ds = run_cli("prepare-dataset", "--model", MODEL, "--cache-dir", cache, "--source", "captions-smoke")
    assert ds.returncode == 0, ds.stderr
    return {"cache": cache, "model": art["path"], "captions": last_json(ds.stdout)["path"]}


def _conf(tmp: Path) -> Path:
    key = registry.model(MODEL)["loadgen_key"]
    lines = []
    for scen in ("Offline", "Server", "SingleStream"):
        lines += [f"{key}.{scen}.min_duration = 0", f"{key}.{scen}.min_query_count = 2"]
    lines += [
        f"{key}.Offline.target_qps = 1",
        f"{key}.Server.target_qps = 0.5",
        f"{key}.SingleStream.target_latency = 2000",
        f"{key}.Server.target_latency = 60000",
    ]
    return write_conf(tmp / "user.conf", lines)


def _run(p, tmp, scenario, mode, *extra):
    out = tmp / f"{scenario}-{mode}"
    res = run_cli(
        "run",
        "--model",
        MODEL,
        "--backend",
        "pytorch",
        "--device",
        "cpu",
        "--scenario",
        scenario,
        "--mode",
        mode,
        "--dataset-path",
        p["captions"],
        "--user-conf",
        _conf(tmp),
        "--output-dir",
        out,
        "--cache-dir",
        p["cache"],
        *STAND_IN,
        "--model-path",
        p["model"],
        "--count",
        "2",
        "--threads",
        "2",
        *extra,
    )
    return res, out


def test_accuracy_mode_images_and_missing_scorer(prepared, tmp_path):
    res, out = _run(prepared, tmp_path, "Offline", "accuracy")
    assert res.returncode == 0, res.stderr
    info = json.loads((out / "harness.json").read_text())
    assert info["stand_in"]["name"] == "tiny-sdxl" and info["loadgen_key"] == "stable-diffusion-xl"
    assert info["workload"]["steps"] == 20 and info["workload"]["guidance"] == 8.0
    log = json.loads((out / "mlperf_log_accuracy.json").read_text())
    assert sorted({e["qsl_idx"] for e in log}) == [0, 1]
    first = next(e for e in log if e["qsl_idx"] == 0)
    img = np.frombuffer(bytes.fromhex(first["data"]), np.uint8)
    assert img.size == 64 * 64 * 3

    # The response bytes are the bare engine's image for the same caption (fixed latents: deterministic).
    import torch
    from fleetbench_harness.backends.diffusers_pipeline import DiffusersPipeline
    from fleetbench_harness.tasks.text_to_image import dataset, model

    pipe_dir, sched_dir = model.layout(prepared["model"])
    eng = DiffusersPipeline("cpu", "float32", 2)
    eng.load(pipe_dir, "StableDiffusionXLPipeline", "EulerDiscreteScheduler", sched_dir)
    gen = registry.model(MODEL)["generation"]
    bare = eng.generate(
        dataset.read_captions(prepared["captions"], 1),
        latents=torch.load(Path(prepared["model"]) / "latents.pt"),
        negative_prompt=gen["negative_prompt"],
        steps=gen["steps"],
        guidance=gen["guidance"],
        height=64,
        width=64,
    )
    assert bytes(bare[0].tobytes()) == img.tobytes()

    acc = run_cli(
        "accuracy",
        "--model",
        MODEL,
        "--backend",
        "pytorch",
        "--cache-dir",
        prepared["cache"],
        *STAND_IN,
        "--model-path",
        prepared["model"],
        "--accuracy-log",
        out / "mlperf_log_accuracy.json",
        "--dataset-path",
        prepared["captions"],
        "--output",
        out / "accuracy.txt",
    )
    assert acc.returncode == 0, acc.stderr
    line = last_json(acc.stdout)
    assert line["value"] is None and line["measured"] is False
    for name in ("pt_inception-2015-12-05-6726825d.pth", "val2014.npz", "ViT-B-32.pt"):
        assert name in line["not_measured"] and name in (out / "accuracy.txt").read_text()
    assert (out / "images" / "0.png").is_file()
    assert (out / "images" / "captions.txt").read_text().startswith("0  ")


def test_required_scenarios_leave_complete_logs(prepared, tmp_path):
    req = registry.model(MODEL)["required_scenarios"]
    scenarios = sorted({s for cat in req.values() for s in cat})
    assert scenarios == ["Offline", "Server", "SingleStream"]
    for scen in scenarios:
        res, out = _run(prepared, tmp_path, scen, "performance")
        assert res.returncode == 0, f"{scen}: {res.stderr[-2000:]}"
        summary = (out / "mlperf_log_summary.txt").read_text()
        detail = (out / "mlperf_log_detail.txt").read_text()
        assert "Result is" in summary and f"Scenario : {scen}" in summary
        assert '"key": "effective_scenario"' in detail and '"key": "requested_scenario"' in detail
        assert json.loads((out / "harness.json").read_text())["samples_processed"] >= 2


@pytest.mark.parametrize("test", ["TEST01", "TEST04"])
def test_compliance_audit_runs(prepared, tmp_path, test):
    assert test in registry.model(MODEL)["compliance_tests"]
    spec = registry.load()["compliance"][test]
    audit = dict(spec["audit"], **(spec.get("audit_overrides") or {}).get(MODEL, {}))
    conf = write_conf(tmp_path / "audit.config", [f"*.*.{k} = {v}" for k, v in audit.items()])
    # TEST04 issues loaded sample #3 (performance_issue_same_index): four samples at least.
    res, out = _run(prepared, tmp_path, "SingleStream", "performance", "--audit-config", conf, "--count", "4")
    assert res.returncode == 0, res.stderr[-2000:]
    assert "Result is" in (out / "mlperf_log_summary.txt").read_text()
    if test == "TEST01":  # performance mode with logged samples: the accuracy log is not empty
        assert json.loads((out / "mlperf_log_accuracy.json").read_text())


def test_bad_captions_fail_before_loadgen(prepared, tmp_path):
    bad = tmp_path / "captions_source.tsv"
    bad.write_text("id\timage_id\tcaption\n0\t1\ta cat\n")
    p = dict(prepared, captions=str(bad))
    res, out = _run(p, tmp_path, "Offline", "performance")
    assert res.returncode == 2
    assert "missing column(s) height, width, file_name, coco_url" in res.stderr
    assert not (out / "mlperf_log_summary.txt").exists()


def test_incomplete_checkpoint_fails_before_loadgen(prepared, tmp_path):
    import shutil

    ckpt = tmp_path / "ckpt"
    shutil.copytree(prepared["model"], ckpt)
    shutil.rmtree(ckpt / "text_encoder_2")
    out = tmp_path / "out"
    res = run_cli(
        "run",
        "--model",
        MODEL,
        "--backend",
        "pytorch",
        "--device",
        "cpu",
        "--scenario",
        "Offline",
        "--mode",
        "performance",
        "--dataset-path",
        prepared["captions"],
        "--user-conf",
        _conf(tmp_path),
        "--output-dir",
        out,
        "--cache-dir",
        prepared["cache"],
        "--model-path",
        ckpt,
    )
    assert res.returncode == 2
    assert "model_path" in res.stderr and "text_encoder_2/config.json" in res.stderr
    assert not (out / "mlperf_log_summary.txt").exists()
