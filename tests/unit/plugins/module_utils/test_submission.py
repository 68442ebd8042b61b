"""Submission tree from a valid-style run structure: structure checks, system JSON, hash, checker."""

import hashlib
import json
import shutil

import pytest
import trees
from ansible_collections.fleetbench.mlperf.plugins.module_utils import (
    _checker,
    _registry,
    _report,
    _submission,
)

REG = _registry.load_registry()
REQUIRED = REG["submission"]["system_desc_required_fields"]
REQ = trees.SUBMISSION_REQUEST
ONE_OF = trees.LLAMA_ONE_OF
OVERRIDES = trees.LLAMA_OVERRIDES


@pytest.mark.parametrize(("round_", "compliance"), [("v5.1", "compliance"), ("v6.0", "results")])
def test_valid_tree_passes_structure_checks(valid_tree, tmp_path, round_, compliance):
    results, scen = valid_tree
    out = tmp_path / "submission"
    res = _submission.build_submission(
        results, out, REG, round_=round_, **REQ, system_desc_overrides=OVERRIDES
    )
    if round_ == "v5.1":
        assert res["problems"] == [ONE_OF], res["problems"]
    else:
        # the published logs were made with v5.1's LoadGen: the v6.0 checker rejects their seeds, and so do we
        assert res["problems"][-1] == ONE_OF
        assert [p.split(" ")[1] for p in res["problems"][:-1]] == [
            "qsl_rng_seed",
            "sample_index_rng_seed",
            "schedule_rng_seed",
        ], res["problems"]
    assert res["systems"] == ["sut-b"] and res["benchmarks"] == ["llama2-70b-99"]
    base = out / "closed" / "Fleet"
    desc = json.loads((base / "systems" / "sut-b.json").read_text())
    assert len(REQUIRED) == 35
    for field in REQUIRED:
        assert field in desc, field
    for field in REG["submission"]["system_desc_meaningful_fields"]:
        assert desc[field], field
    assert desc["cooling"] == "air"  # override beats the draft's empty value
    # renamed field moved to the checker's name, its string value kept as given
    assert desc["host_network_card_count"] == "0" and "host_networking_card_count" not in desc
    assert res["system_desc"]["sut-b"]["renamed"] == ["host_networking_card_count -> host_network_card_count"]
    assert desc["host_processor_model_name"] == "AMD EPYC 9575F"  # from the facts draft
    assert (desc["division"], desc["submitter"], desc["status"], desc["system_type"]) == (
        "closed",
        "Fleet",
        "available",
        "datacenter",
    )
    assert res["filled_na"] == {} and "hw_notes" in res["system_desc"]["sut-b"]["left_empty"]
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
    # v5.1 checker: <system>_<implementation>_<scenario>.json; v6.0: measurements.json
    meas_file = "sut-b_reference_Offline.json" if round_ == "v5.1" else "measurements.json"
    meas = json.loads((base / meas_dir / "sut-b" / "llama2-70b-99" / "Offline" / meas_file).read_text())
    assert set(REG["submission"]["measurements_required_fields"]) <= set(meas)
    assert meas["starting_weights_filename"] == "llama2-70b.onnx"  # from harness.json
    assert desc["framework"] == "onnxruntime 1.20.1"


def test_structure_checks_find_problems(valid_tree, tmp_path):
    results, _ = valid_tree
    out = tmp_path / "submission"
    _submission.build_submission(results, out, REG, round_="v5.1", **REQ, system_desc_overrides=OVERRIDES)
    base = out / "closed" / "Fleet"
    (base / "results" / "sut-b" / "llama2-70b-99" / "Offline" / "accuracy" / "accuracy.txt").write_text("x\n")
    desc_path = base / "systems" / "sut-b.json"
    desc = json.loads(desc_path.read_text())
    desc["cooling"] = ""
    desc_path.write_text(json.dumps(desc))
    (base / "compliance" / "sut-b" / "llama2-70b-99" / "Offline" / "TEST06" / "verify_accuracy.txt").unlink()
    (base / "compliance" / "sut-b" / "llama2-70b-99" / "Offline" / "TEST06").rmdir()
    problems = _submission.check_submission_tree(out, REG, "v5.1")
    text = "\n".join(problems)
    assert "accuracy.txt: no hash= line" in text
    assert "field cooling requires a meaningful response but is empty" in text
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


def test_checker_exit_0_on_an_empty_tree_is_not_a_pass(tmp_path):
    script = tmp_path / "inference" / "tools" / "submission" / "submission_checker.py"
    script.parent.mkdir(parents=True)
    script.write_text("import sys\nprint('SUMMARY: submission looks OK')\nsys.exit(0)\n")
    tree = tmp_path / "submission"
    (tree / "closed" / "Fleet" / "systems").mkdir(parents=True)
    res = _checker.run_checker(str(tmp_path / "inference"), tree, "v5.1", "Fleet")
    assert res["rc"] == 0 and res["checked"] == 0 and res["verdict"] == "NOTHING CHECKED"
    assert "nothing was checked, this is not a pass" in _report._checker_text(res)


def test_checker_package_of_v6_is_run_as_a_module(tmp_path):
    main = tmp_path / "inference" / "tools" / "submission" / "submission_checker" / "main.py"
    main.parent.mkdir(parents=True)
    main.write_text("")
    argv = _checker.checker_argv(str(tmp_path / "inference"), "T", "v6.1", "Fleet", "c.csv")
    assert argv[1:3] == ["-m", "submission_checker.main"]


def test_lowercase_interactive_lands_in_interactive_not_server(valid_tree, tmp_path):
    results, scen = valid_tree
    server = scen.parent / "Server"
    shutil.copytree(scen, server)
    shutil.copytree(scen, scen.parent / "interactive")
    trees._put(server / "performance" / "run_1", "llama_server", "mlperf_log_summary.txt")
    trees._put(
        scen.parent / "interactive" / "performance" / "run_1", "llama_server", "mlperf_log_summary.txt"
    )
    out = tmp_path / "submission"
    _submission.build_submission(results, out, REG, round_="v5.1", **REQ, system_desc_overrides=OVERRIDES)
    bench = out / "closed" / "Fleet" / "results" / "sut-b" / "llama2-70b-99"
    assert sorted(p.name for p in bench.iterdir()) == ["Interactive", "Offline", "Server"]


def test_test01_folder_in_the_checkers_shape(tmp_path):
    scen = tmp_path / "results" / "valid_results" / "sut-c" / "resnet50" / "Offline"
    test01 = scen / "TEST01"
    trees._put(test01, "off_valid", "mlperf_log_summary.txt")
    (test01 / "mlperf_log_detail.txt").write_text(":::MLLOG {}\n")
    (test01 / "verify_accuracy.txt").write_text("Accuracy check pass: True\nTEST PASS\n")
    (test01 / "verify_performance.txt").write_text("TEST PASS\n")
    (test01 / "mlperf_log_accuracy.json").write_text("[]")
    out = tmp_path / "submission"
    _submission.build_submission(tmp_path / "results", out, REG, round_="v5.1", **REQ)
    dest = out / "closed" / "Fleet" / "compliance" / "sut-c" / "resnet50" / "Offline" / "TEST01"
    assert (dest / "performance" / "run_1" / "mlperf_log_detail.txt").is_file()
    assert (dest / "performance" / "run_1" / "mlperf_log_summary.txt").is_file()
    assert (dest / "verify_accuracy.txt").read_text().splitlines()[-1] == "TEST PASS"
    assert not (dest / "accuracy").exists()  # TEST PASS: the checker does not look for accuracy/


def test_closed_division_writes_calibration_md(valid_tree, tmp_path):
    out = tmp_path / "submission"
    res = _submission.build_submission(
        valid_tree[0], out, REG, round_="v5.1", **REQ, system_desc_overrides=OVERRIDES
    )
    text = (out / "closed" / "Fleet" / "calibration.md").read_text()
    assert "float32: llama2-70b-99 on sut-b: no quantization" in text
    assert res["calibration"].endswith("closed/Fleet/calibration.md")
    (out / "closed" / "Fleet" / "calibration.md").unlink()
    problems = _submission.check_submission_tree(out, REG, "v5.1")
    assert "closed/Fleet has not calibration file" in problems  # the v5.1 checker's words


def test_quantized_run_without_calibration_fails_the_build(valid_tree, tmp_path):
    result = valid_tree[1] / "performance" / "run_1" / "result.json"
    result.write_text(json.dumps({"precision": "int8", "mode": "performance"}))
    with pytest.raises(_submission.SubmissionError, match="calibration: runs at int8"):
        _submission.build_submission(valid_tree[0], tmp_path / "s", REG, round_="v5.1", **REQ)


def test_empty_tree_is_a_problem_not_a_pass(tmp_path):
    (tmp_path / "results" / "test_results" / "sut-a").mkdir(parents=True)
    res = _submission.build_submission(tmp_path / "results", tmp_path / "s", REG, round_="v5.1", **REQ)
    assert res["problems"] == ["no results found in the tree: nothing to submit or check"]


def test_number_zero_is_empty_for_the_checker_string_zero_is_not():
    required = ["host_network_card_count"]
    assert (
        _submission.system_desc_problems("s.json", {"host_network_card_count": "0"}, required, required) == []
    )
    assert _submission.system_desc_problems("s.json", {"host_network_card_count": 0}, required, required) == [
        "s.json, field host_network_card_count requires a meaningful response but is empty"
    ]
    assert _submission.system_desc_problems("s.json", {}, required, required) == [
        "s.json, field host_network_card_count is missing"
    ]


@pytest.mark.parametrize(
    ("name", "card_count"),
    [
        # accelerators_per_node "0" (CPU systems) and the card count stay strings, as published
        ("71_system_desc_v5.1_Cisco_C240M8_accelerators_zero_string.json", "1"),
        ("72_system_desc_v4.1_Cisco_C240M7_accelerators_zero_string.json", "2"),
    ],
)
def test_published_cpu_system_descriptions_pass_as_given(name, card_count):
    published = json.loads((trees.FIX / name).read_text())
    meaningful = REG["submission"]["system_desc_meaningful_fields"]
    assert _submission.system_desc_problems(name, published, REQUIRED, meaningful) == []
    desc, notes = _submission.system_description(
        published,
        None,
        division=published["division"],
        submitter=published["submitter"],
        status=published["status"],
        category="datacenter",
        framework=None,
        required_fields=REQUIRED,
        meaningful_fields=meaningful,
        renamed_fields=REG["submission"]["system_desc_renamed_fields"],
    )
    assert desc["accelerators_per_node"] == "0" and desc["host_network_card_count"] == card_count
    assert notes == {"missing": [], "empty": [], "left_empty": [], "renamed": []}


def test_old_field_name_is_moved_with_a_note():
    # host_networking_card_count: the spelling of older system-description templates
    desc, notes = _submission.system_description(
        {"host_networking_card_count": "0"},
        None,
        division="open",
        submitter="Fleet",
        status="available",
        category="edge",
        framework=None,
        required_fields=["host_network_card_count"],
        meaningful_fields=["host_network_card_count"],
        renamed_fields=REG["submission"]["system_desc_renamed_fields"],
    )
    assert desc["host_network_card_count"] == "0" and "host_networking_card_count" not in desc
    assert notes["renamed"] == ["host_networking_card_count -> host_network_card_count"]


def test_checker_traceback_is_a_crash_not_a_verdict(tmp_path):
    script = tmp_path / "inference" / "tools" / "submission" / "submission_checker.py"
    script.parent.mkdir(parents=True)
    script.write_text(
        "import sys\nsys.stderr.write('Traceback (most recent call last):\\n  File x\\n"
        "TypeError: NoneType object is not iterable\\n')\nsys.exit(1)\n"
    )
    tree = tmp_path / "submission"
    (tree / "open" / "Fleet" / "results" / "s" / "resnet" / "Offline").mkdir(parents=True)
    res = _checker.run_checker(str(tmp_path / "inference"), tree, "v6.1", "Fleet")
    assert res["verdict"] == "CRASHED" and res["traceback"].startswith("Traceback")
    assert "crashed (exit code 1): TypeError: NoneType object is not iterable" in _report._checker_text(res)


def test_model_without_scenarios_for_the_system_type_is_named(valid_tree, tmp_path):
    # llama2-70b-99 has no edge scenarios in v5.1 (the v6.x checker crashes on such a folder)
    out = tmp_path / "submission"
    req = dict(REQ, category="edge")
    res = _submission.build_submission(
        valid_tree[0], out, REG, round_="v5.1", **req, system_desc_overrides=OVERRIDES
    )
    assert (
        "sut-b/llama2-70b-99: llama2-70b-99 is not a benchmark for edge systems in round v5.1"
        in res["problems"]
    )


def test_inputs_hash_follows_the_results_and_options_not_the_submission_tree(tmp_path):
    results = tmp_path / "results"
    trees.make_project_tree(results, sut="sut-a")
    params = dict.fromkeys(_submission.HASHED_OPTIONS)
    sub = results / "submission"
    first = _submission.inputs_hash(params, results, sub)
    sub.mkdir()
    (sub / "closed.txt").write_text("the tree being built")
    (results / "notes").mkdir()
    (results / "notes" / "n.txt").write_text("not a *_results folder")
    (results / "report.md").write_text("top-level files are not results")
    assert _submission.inputs_hash(params, results, sub) == first
    assert _submission.inputs_hash(dict(params, submitter="Other"), results, sub) != first
    summary = next((results / "test_results").rglob("mlperf_log_summary.txt"))
    summary.write_text(summary.read_text() + "\n")
    assert _submission.inputs_hash(params, results, sub) != first


def test_record_lies_beside_the_submission_tree():
    assert _submission.record_path("/data/r/submission") == "/data/r/.submission.fleetbench.json"
