"""Submission tree from a valid-style run structure: structure checks, system JSON, hash, checker."""

import hashlib
import json
import sys
from pathlib import Path

import pytest
from ansible_collections.fleetbench.mlperf.plugins.module_utils import _checker, _registry, _submission
from ansible_collections.fleetbench.mlperf.plugins.modules import mlperf_submission

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fixtures"))
import trees
from fleetbench_testlib import Fail, run_module

REG = _registry.load_registry()
REQUIRED = REG["submission"]["system_desc_required_fields"]
REQ = {"division": "closed", "submitter": "Fleet", "category": "datacenter", "status": "available"}


@pytest.fixture
def valid_tree(tmp_path):
    scen = trees.make_llama_valid(tmp_path / "results", "sut-b")
    return tmp_path / "results", scen


@pytest.mark.parametrize(("round_", "compliance"), [("v5.1", "compliance"), ("v6.0", "results")])
def test_valid_tree_passes_structure_checks(valid_tree, tmp_path, round_, compliance):
    results, scen = valid_tree
    out = tmp_path / "submission"
    res = _submission.build_submission(
        results, out, REG, round_=round_, **REQ, system_desc_overrides={"sut-b": {"cooling": "air"}}
    )
    assert res["problems"] == [], res["problems"]
    assert res["systems"] == ["sut-b"] and res["benchmarks"] == ["llama2-70b-99"]
    base = out / "closed" / "Fleet"
    desc = json.loads((base / "systems" / "sut-b.json").read_text())
    assert len(REQUIRED) == 35
    for field in REQUIRED:
        assert str(desc[field]).strip(), field
    assert desc["cooling"] == "air"  # override beats the draft's empty value
    assert desc["host_processor_model_name"] == "AMD EPYC 9575F"  # from the facts draft
    assert (desc["division"], desc["submitter"], desc["status"], desc["system_type"]) == (
        "closed",
        "Fleet",
        "available",
        "datacenter",
    )
    assert "cooling" not in res["filled_na"]["sut-b"] and "hw_notes" in res["filled_na"]["sut-b"]
    acc = base / "results" / "sut-b" / "llama2-70b-99" / "Offline" / "accuracy"
    full = (scen / "accuracy" / "mlperf_log_accuracy.json").read_bytes()
    assert len(full) > REG["submission"]["accuracy_log_max_bytes"]
    text = (acc / "accuracy.txt").read_text()
    assert text.rstrip().endswith("hash=" + hashlib.sha256(full).hexdigest())
    assert "'rouge1': 44.4465" in text
    assert (acc / "mlperf_log_accuracy.json").stat().st_size < len(full)  # truncated
    assert (
        base / compliance / "sut-b" / "llama2-70b-99" / "Offline" / "TEST06" / "verify_accuracy.txt"
    ).is_file()
    code = "code" if round_ == "v5.1" else "src"
    assert (base / code / "llama2-70b-99" / "README.md").is_file()
    meas_dir = "measurements" if round_ == "v5.1" else "results"
    meas = json.loads(
        (base / meas_dir / "sut-b" / "llama2-70b-99" / "Offline" / "measurements.json").read_text()
    )
    assert set(REG["submission"]["measurements_required_fields"]) <= set(meas)
    assert meas["starting_weights_filename"] == "llama2-70b.onnx"  # from harness.json
    assert desc["framework"] == "onnxruntime 1.20.1"


def test_structure_checks_find_problems(valid_tree, tmp_path):
    results, _ = valid_tree
    out = tmp_path / "submission"
    _submission.build_submission(results, out, REG, **REQ)
    base = out / "closed" / "Fleet"
    (base / "results" / "sut-b" / "llama2-70b-99" / "Offline" / "accuracy" / "accuracy.txt").write_text("x\n")
    desc_path = base / "systems" / "sut-b.json"
    desc = json.loads(desc_path.read_text())
    desc["cooling"] = ""
    desc_path.write_text(json.dumps(desc))
    (base / "compliance" / "sut-b" / "llama2-70b-99" / "Offline" / "TEST06" / "verify_accuracy.txt").unlink()
    (base / "compliance" / "sut-b" / "llama2-70b-99" / "Offline" / "TEST06").rmdir()
    problems = _submission.check_submission_tree(out, REG)
    text = "\n".join(problems)
    assert "accuracy.txt: no hash= line" in text
    assert "required field cooling empty" in text
    assert "missing compliance test TEST06" in text


@pytest.mark.parametrize(
    ("field", "value", "allowed"),
    [
        ("division", "", "closed, open, network"),
        ("status", None, "available, preview, rdi"),
        ("category", "mobile", "edge, datacenter"),
    ],
)
def test_request_never_defaulted(valid_tree, tmp_path, field, value, allowed):
    results, _ = valid_tree
    req = dict(REQ, **{field: value})
    with pytest.raises(_submission.SubmissionError, match=rf"{field}: .*allowed: {allowed}"):
        _submission.build_submission(results, tmp_path / "s", REG, **req)
    assert not (tmp_path / "s").exists()


def test_unknown_round(valid_tree, tmp_path):
    with pytest.raises(_submission.SubmissionError, match=r"submission_round: 'v0\.5'"):
        _submission.build_submission(valid_tree[0], tmp_path / "s", REG, round_="v0.5", **REQ)


def test_checker_not_run_reasons(tmp_path):
    assert "not set" in _checker.run_checker(None, tmp_path, "v5.1", "X")["reason"]
    assert "not found" in _checker.run_checker(str(tmp_path), tmp_path, "v5.1", "X")["reason"]


def test_checker_runs_a_checkout(tmp_path):
    # A stand-in checkout whose checker prints like the real one; the argv and verdict handling are tested.
    script = tmp_path / "inference" / "tools" / "submission" / "submission_checker.py"
    script.parent.mkdir(parents=True)
    script.write_text(
        "import sys\nprint('[2025] main.py:1 ERROR closed/X/results: missing file')\n"
        "print('SUMMARY: submission has errors')\nsys.exit(1)\n"
    )
    tree = tmp_path / "submission"
    tree.mkdir()
    res = _checker.run_checker(str(tmp_path / "inference"), tree, "v5.1", "Fleet")
    assert res["ran"] and res["verdict"] == "FAIL" and res["rc"] == 1
    assert res["summary"] == "SUMMARY: submission has errors"
    assert res["argv"][2:] == [
        "--input",
        str(tree),
        "--version",
        "v5.1",
        "--submitter",
        "Fleet",
        "--csv",
        str(tmp_path / "checker_summary.csv"),
    ]


def test_module_build_idempotent_check_mode(valid_tree, tmp_path):
    results, _ = valid_tree
    args = dict(REQ, results_dir=str(results))
    res = run_module(mlperf_submission, args, check_mode=True)
    assert res["changed"] and not (results / "submission").exists()
    res = run_module(mlperf_submission, args)
    assert res["changed"] and res["problems"] == [] and res["checker"]["ran"] is False
    assert "mlperf_inference_src is not set" in res["checker"]["reason"]
    res = run_module(mlperf_submission, args)
    assert res["changed"] is False and res["problems"] == []


def test_module_names_bad_field(valid_tree):
    with pytest.raises(Fail, match="division"):
        run_module(mlperf_submission, dict(REQ, division="secret", results_dir=str(valid_tree[0])))


@pytest.mark.parametrize(
    "name",
    [
        "19_system_desc_v4.1_NVIDIA_H200-SXM-141GBx8_TRT.json",
        "20_system_desc_v5.1_AMD_8xMI300X_2xEPYC_9575F.json",
    ],
)
def test_required_fields_match_published_system_descriptions(name):
    desc = json.loads((trees.FIX / name).read_text())
    assert set(REQUIRED) <= set(desc), set(REQUIRED) - set(desc)


def test_measurements_fields_match_published_file():
    meas = json.loads((trees.FIX / "21_measurements_json_v5.1_AMD_llama2-70b-99_offline.json").read_text())
    assert set(REG["submission"]["measurements_required_fields"]) == set(meas)
