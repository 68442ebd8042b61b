"""Request resolution and validation rules (plugins/module_utils/_registry.py)."""

import shutil

import pytest
import yaml
from ansible_collections.fleetbench.mlperf.plugins.module_utils import _registry as R
from ansible_collections.fleetbench.mlperf.plugins.module_utils._registry import RequestError, resolve_request


def fails(raw):
    with pytest.raises(RequestError) as ei:
        resolve_request(raw)
    return ei.value


def test_registry_loads_from_collection():
    reg = R.load_registry()
    assert "resnet50" in reg["models"]
    assert R.registry_path() == R.COLLECTION_ROOT / "files/harness/fleetbench_harness/registry.yml"


def test_registry_env_override(tmp_path, monkeypatch):
    copy = tmp_path / "registry.yml"
    data = yaml.safe_load(R.registry_path().read_text())
    data["request"]["schema"]["model"]["default"] = "efficientnet"
    copy.write_text(yaml.safe_dump(data))
    monkeypatch.setenv(R.REGISTRY_ENV, str(copy))
    assert R.registry_path() == copy
    assert resolve_request({})["model"] == "efficientnet"


def test_registry_not_a_registry(tmp_path):
    bad = tmp_path / "r.yml"
    bad.write_text("a: 1\n")
    with pytest.raises(ValueError, match="not a fleetbench registry"):
        R.load_registry(bad)


def test_defaults_from_registry():
    req = resolve_request({})
    reg = R.load_registry()
    assert req["model"] == reg["request"]["schema"]["model"]["default"]
    for field in (
        "implementation",
        "backend",
        "device",
        "precision",
        "execution_mode",
        "mode",
        "division",
        "category",
    ):
        assert req[field] == reg["variations"][field]["default"]
    assert req["scenario"] == [reg["variations"]["scenario"]["default"]]
    assert req["modes"] == ["performance", "accuracy"]
    assert req["test_query_count"] == 10
    assert req["rerun"] is False and req["regenerate_files"] is False
    assert req["compliance"] == []


def test_aliases_canonicalised():
    req = resolve_request(
        {
            "framework": "onnx",
            "precision": "fp32",
            "scenario": "singlestream",
            "mode": "perf",
            "device": "CPU",
        }
    )
    assert req["backend"] == "onnxruntime"
    assert req["precision"] == "float32"
    assert req["scenario"] == ["SingleStream"]
    assert req["modes"] == ["performance"]
    assert req["device"] == "cpu"
    assert "framework" not in req


def test_implementation_alias_nvidia_original_then_combination():
    err = fails({"implementation": "nvidia-original"})
    assert "the NVIDIA implementation runs TensorRT only" in str(err)
    assert "implementation=nvidia" in str(err)


def test_model_alias():
    assert resolve_request({"model": "efficientnet-lite0", "backend": "pytorch"})["model"] == "efficientnet"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Offline", ["Offline"]),
        ("offline,server", ["Offline", "Server"]),
        (" multi-stream , Offline ", ["MultiStream", "Offline"]),
        (["SingleStream", "singlestream", "Server"], ["SingleStream", "Server"]),
    ],
)
def test_scenario_forms(value, expected):
    assert resolve_request({"scenario": value})["scenario"] == expected


def test_unknown_scenario_lists_allowed_and_aliases():
    err = fails({"scenario": "Offline,Batch"})
    assert err.field == "scenario"
    assert "'Batch'" in str(err)
    assert "Offline, Server, SingleStream, MultiStream" in str(err)
    assert "single-stream=SingleStream" in str(err)


def test_unknown_variable_did_you_mean():
    err = fails({"modle": "resnet50"})
    assert err.field == "modle"
    assert "did you mean" in str(err) and "model" in str(err)


def test_unknown_variable_without_suggestion():
    err = fails({"zzzzzz": 1})
    assert "zzzzzz: unknown variable" in str(err)
    assert "did you mean" not in str(err)


def test_alias_and_canonical_conflict():
    err = fails({"framework": "pytorch", "backend": "onnxruntime"})
    assert "alias of backend" in str(err)


def test_alias_and_canonical_agree():
    assert resolve_request({"framework": "pytorch", "backend": "pytorch"})["backend"] == "pytorch"


@pytest.mark.parametrize(
    "field", ["implementation", "backend", "device", "precision", "execution_mode", "mode"]
)
def test_unknown_value_lists_allowed(field):
    err = fails({field: "nonsense"})
    allowed = R.load_registry()["variations"][field]["values"]
    assert err.field == field
    assert err.allowed == list(allowed)
    for v in allowed:
        assert v in str(err)


def test_unknown_value_did_you_mean():
    assert (
        "backend: unknown value 'onnxrt' (did you mean onnx or onnxruntime?); allowed: onnxruntime,"
        in str(fails({"backend": "onnxrt"}))
    )


def test_unknown_model_lists_models():
    err = fails({"model": "resnet51"})
    assert err.field == "model"
    assert "did you mean resnet50" in str(err)
    assert "resnet50" in str(err) and "bert-99" in str(err)


def test_invalid_combination_names_rule_and_reason():
    err = fails({"model": "retinanet", "backend": "tf"})
    assert "invalid combination (model=retinanet, backend=tf)" in str(err)
    assert "no TensorFlow model" in str(err)


def test_invalid_combination_valid_accuracy():
    err = fails({"execution_mode": "valid", "mode": "accuracy"})
    assert "use mode=both" in str(err)


def test_invalid_combination_cuda_tflite():
    err = fails({"device": "gpu", "backend": "tflite"})
    assert "no CUDA execution path" in str(err)
    # the stronger statement only: no extra "not implemented" line
    assert len(err.problems) == 1


def test_backend_not_implemented_for_model():
    err = fails({"backend": "tflite"})
    assert str(err).endswith(
        "backend tflite is not implemented for model resnet50 yet; implemented: onnxruntime, pytorch"
    )


def test_backend_without_artifact_for_model():
    err = fails({"model": "mobilenet", "backend": "pytorch"})
    assert "backend pytorch is not implemented for model mobilenet yet; implemented: onnxruntime" in str(err)


def test_precision_without_artifact():
    err = fails({"precision": "fp16"})
    assert err.field == "precision"
    assert "precision float16 is not implemented for model resnet50 with backend onnxruntime yet" in str(err)


def test_precision_not_implemented_at_all():
    err = fails({"precision": "int8"})
    assert "precision int8 is not implemented yet" in str(err)


def test_implementation_not_implemented():
    err = fails({"implementation": "cpp"})
    assert "implementation cpp is not implemented yet; implemented: reference" in str(err)


def test_device_not_implemented():
    err = fails({"device": "rocm"})
    assert "device rocm is not implemented yet" in str(err)


def test_model_without_artifacts(tmp_path, monkeypatch):
    # a model of an implemented family with no artifact and no stand-in (a registry copy)
    copy = tmp_path / "registry.yml"
    data = yaml.safe_load(R.registry_path().read_text())
    data["models"]["3d-unet-99"]["artifacts"] = {}
    data["models"]["3d-unet-99"].pop("stand_ins", None)
    copy.write_text(yaml.safe_dump(data))
    monkeypatch.setenv(R.REGISTRY_ENV, str(copy))
    err = fails({"model": "3d-unet-99", "category": "datacenter"})
    assert "model 3d-unet-99 is not implemented yet" in str(err)


def test_model_of_unimplemented_family():
    # the first registry model whose task family has no harness folder yet (families land one by one)
    reg = R.load_registry()
    tasks = R.COLLECTION_ROOT / "files/harness/fleetbench_harness/tasks"
    pending = [(m, e["family"]) for m, e in reg["models"].items() if not (tasks / e["family"]).is_dir()]
    if not pending:
        pytest.skip("every task family is implemented")
    model, family = pending[0]
    err = fails({"model": model})
    assert f"model {model} is not implemented yet (task family {family})" in str(err)


def test_category_not_applicable():
    err = fails({"model": "bert-99.9"})
    assert "bert-99.9 is not a edge benchmark; allowed: datacenter" in str(err)


def test_scenario_not_required_warns():
    req = resolve_request({"scenario": "Server"})
    assert any("not required for resnet50 in category edge" in w for w in req["warnings"])


@pytest.mark.parametrize(
    ("field", "value", "msg"),
    [
        ("target_qps", 0, "must be > 0"),
        ("target_qps", "-3", "must be > 0"),
        ("target_qps", "fast", "is not a number"),
        ("target_qps", "nan", "is not a number"),
        ("target_latency", 0, "must be > 0"),
        ("target_latency", -1.5, "must be > 0"),
        ("test_query_count", 0, "must be >= 1"),
        ("test_query_count", "2.5", "is not an integer"),
        ("test_query_count", 2.5, "is not an integer"),
        ("test_query_count", True, "is not an integer"),
        ("max_batchsize", 0, "must be >= 1"),
        ("max_batchsize", "big", "is not an integer"),
        ("num_threads", 0, "must be >= 1"),
        ("num_threads", "1.0x", "is not an integer"),
        ("count", 0, "must be >= 1"),
        ("count", "ten", "is not an integer"),
    ],
)
def test_numeric_rules(field, value, msg):
    err = fails({field: value})
    assert err.field == field
    assert msg in str(err)


def test_numeric_strings_accepted():
    req = resolve_request(
        {"target_qps": "12.5", "test_query_count": "20", "max_batchsize": 8.0, "count": "16"}
    )
    assert req["target_qps"] == 12.5
    assert req["test_query_count"] == 20
    assert req["max_batchsize"] == 8
    assert req["count"] == 16


def test_count_above_dataset_size():
    err = fails({"count": 50001})
    assert "exceeds the imagenet dataset size (50000)" in str(err)


@pytest.mark.parametrize(("value", "expected"), [("yes", True), ("False", False), (1, True), (True, True)])
def test_booleans(value, expected):
    assert resolve_request({"rerun": value})["rerun"] is expected


def test_bad_boolean():
    err = fails({"regenerate_files": "maybe"})
    assert err.field == "regenerate_files"
    assert "allowed: true, false" in str(err)


def test_names_must_be_path_safe():
    err = fails({"hw_name": "my box/1"})
    assert err.field == "hw_name"
    assert "letters, digits" in str(err)
    assert resolve_request({"hw_name": "lab-01.cpu"})["hw_name"] == "lab-01.cpu"


def test_dataset_override_var_from_registry():
    req = resolve_request({"imagenet_path": "/data/imagenet"})
    assert req["imagenet_path"] == "/data/imagenet"
    assert req["dataset_path"] == "/data/imagenet"
    assert "openimages_path" in R.request_names()


def test_compliance_true_expands_to_model_tests():
    assert resolve_request({"compliance": True})["compliance"] == ["TEST01", "TEST04"]
    assert resolve_request({"compliance": "yes"})["compliance"] == ["TEST01", "TEST04"]
    assert resolve_request({"compliance": "no"})["compliance"] == []


def test_compliance_list():
    assert resolve_request({"compliance": "test04"})["compliance"] == ["TEST04"]
    assert resolve_request({"compliance": ["TEST01", "TEST04"]})["compliance"] == ["TEST01", "TEST04"]


def test_compliance_test_not_for_model():
    err = fails({"compliance": "TEST06"})
    assert "resnet50 has no compliance test 'TEST06'; allowed: TEST01, TEST04" in str(err)


def test_compliance_model_without_tests(tmp_path, monkeypatch):
    data = yaml.safe_load(R.registry_path().read_text())
    data["models"]["resnet50"]["compliance_tests"] = []
    p = tmp_path / "registry.yml"
    p.write_text(yaml.safe_dump(data))
    monkeypatch.setenv(R.REGISTRY_ENV, str(p))
    err = fails({"compliance": True})
    assert "resnet50 has no compliance tests" in str(err)


def test_compliance_needs_its_reference_runs():
    err = fails({"compliance": True, "mode": "accuracy"})
    assert "compliance: TEST01 compares against the performance run; needs mode both" in str(err)
    assert "compliance: TEST04 compares against the performance run; needs mode performance or both" in str(
        err
    )
    err = fails({"compliance": "TEST01", "mode": "performance"})
    assert "TEST01 compares against the accuracy run; needs mode both (mode is performance)" in str(err)
    assert resolve_request({"compliance": "TEST04", "mode": "performance"})["compliance"] == ["TEST04"]


def test_compliance_test_not_described_is_not_implemented(tmp_path, monkeypatch):
    data = yaml.safe_load(R.registry_path().read_text())
    del data["compliance"]["TEST04"]
    p = tmp_path / "registry.yml"
    p.write_text(yaml.safe_dump(data))
    monkeypatch.setenv(R.REGISTRY_ENV, str(p))
    err = fails({"compliance": "TEST04"})
    assert "compliance test TEST04 is not implemented yet" in str(err)


def test_model_info_compliance_info():
    info = R.model_info("resnet50")["compliance_info"]
    assert sorted(info) == ["TEST01", "TEST04"]
    assert info["TEST04"]["audit"]["performance_issue_same"] == 1
    assert info["TEST01"]["audit"]["accuracy_log_sampling_target"] == 1024
    assert info["TEST01"]["relaxed_threshold"]["at_most_ns"]["SingleStream"] == 200000
    assert (
        R.model_info("dlrm-v2-99")["compliance_info"]["TEST01"]["audit"]["accuracy_log_sampling_target"]
        == 4096
    )


def test_stand_in_model():
    req = resolve_request({"stand_in_model": "light_resnet50", "mode": "performance"})
    assert req["stand_in_model"] == "light_resnet50"
    assert req["warnings"] == []
    # the old name is an alias
    assert resolve_request({"performance_only_model": "light_resnet50", "mode": "performance"})[
        "stand_in_model"
    ]
    err = fails({"stand_in_model": "heavy"})
    assert "allowed: light_resnet50" in str(err)
    err = fails({"stand_in_model": "light_resnet50", "backend": "pytorch", "mode": "performance"})
    assert "runs on onnxruntime only" in str(err)
    err = fails({"stand_in_model": "light_resnet50"})  # mode both: a performance-only stand-in
    assert "stand-in light_resnet50 is for performance runs only" in str(err) and "mode=performance" in str(
        err
    )


def test_target_for_other_scenario_warns():
    req = resolve_request({"scenario": "SingleStream", "target_qps": 5})
    assert any("target_qps is used by Offline and Server only" in w for w in req["warnings"])


def test_all_problems_reported_together():
    err = fails({"modle": "x", "backend": "nonsense", "target_qps": -1, "count": 0, "scenario": "Batch"})
    fields = {p["field"] for p in err.problems}
    assert {"modle", "backend", "target_qps", "count", "scenario"} <= fields
    text = str(err)
    assert text.startswith("invalid request (")
    assert text.count("\n  - ") == len(err.problems)


def test_model_info_targets():
    info = R.model_info("resnet50")
    assert info["model"] == "resnet50"
    assert info["loadgen_key"] == "resnet50"
    assert info["accuracy_targets"] == {"99": round(76.456 * 0.99, 6)}
    assert info["dataset_info"]["label_file"] == "val_map.txt"
    assert R.model_info("efficientnet")["accuracy_targets"] == {}
    with pytest.raises(KeyError):
        R.model_info("nope")


def test_registry_copy_is_not_mutated(tmp_path):
    src = R.registry_path()
    shutil.copy(src, tmp_path / "r.yml")
    reg = R.load_registry(tmp_path / "r.yml")
    R.model_info("resnet50", reg)
    assert "accuracy_targets" not in reg["models"]["resnet50"]


def test_empty_model_or_scenario_is_an_error_not_the_default():
    """`-e scenario=` (an unset shell variable, say) must not silently mean Offline."""
    for raw in ({"scenario": ""}, {"scenario": []}, {"scenario": " , "}, {"model": ""}, {"model": "  "}):
        err = fails(raw)
        field = next(iter(raw))
        assert err.field == field, raw
        assert f"{field}: empty; allowed:" in err.problems[0]["message"]
        assert "leave it out for the default" in err.problems[0]["message"]


def test_regenerate_files_is_accepted_with_a_warning():
    req = resolve_request({"regenerate_files": True})
    assert req["regenerate_files"] is True
    assert any(w.startswith("regenerate_files: accepted for CM compatibility") for w in req["warnings"])
    assert not any("regenerate_files" in w for w in resolve_request({})["warnings"])


def test_too_few_test_queries_for_early_stopping_are_warned_about():
    req = resolve_request({"scenario": "SingleStream,Offline,MultiStream"})
    warned = [w for w in req["warnings"] if "early-stopping" in w]
    assert [w.split(":")[0] for w in warned] == ["scenario SingleStream", "scenario MultiStream"]
    assert "test_query_count=10 is below the 64 queries" in warned[0]
    assert not [w for w in resolve_request({"scenario": "SingleStream", "test_query_count": 64})["warnings"]]
    assert not [w for w in resolve_request({"scenario": "Offline"})["warnings"]]


def test_registry_option_errors_name_the_option_and_the_payload_case(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match=r"^registry_path: .*none\.yml'$"):
        R.load_registry_option(str(tmp_path / "none.yml"))
    # As under AnsiballZ: the module_utils sit in a payload without the collection's files.
    monkeypatch.setattr(R, "COLLECTION_ROOT", tmp_path / "payload.zip")
    monkeypatch.delenv(R.REGISTRY_ENV, raising=False)
    with pytest.raises(ValueError, match="pass registry_path or set FLEETBENCH_REGISTRY"):
        R.load_registry_option(None)
    (tmp_path / "bad.yml").write_text("models: [unclosed\n")
    with pytest.raises(ValueError, match=r"^registry_path: "):
        R.load_registry_option(str(tmp_path / "bad.yml"))
