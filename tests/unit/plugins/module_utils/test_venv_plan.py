"""python_env's venv plan (``_venv_plan``) on the real registry and the role's default package sets."""

import pytest
import yaml
from ansible.errors import AnsibleFilterError
from ansible_collections.fleetbench.mlperf.plugins.filter.mlperf import FilterModule
from ansible_collections.fleetbench.mlperf.plugins.module_utils import _venv_plan
from ansible_collections.fleetbench.mlperf.plugins.module_utils._registry import resolve_request
from fleetbench_testlib import REGISTRY_FILE, REPO

REGISTRY = yaml.safe_load(REGISTRY_FILE.read_text())
DEFAULTS = yaml.safe_load((REPO / "roles" / "python_env" / "defaults" / "main.yml").read_text())
SETTINGS = {
    "work_dir": "/srv/wd",
    "packages": DEFAULTS["python_env_packages"],
    "extra_packages": [],
    "device_index_urls": DEFAULTS["python_env_device_index_urls"],
    "device_index_packages": DEFAULTS["python_env_device_index_packages"],
    "wheelhouse": "",
    "index_url": "",
    "pip_extra_args": "",
}
LOADGEN = "mlcommons-loadgen==" + str(REGISTRY["rounds"][REGISTRY["rounds"]["default"]]["loadgen"])


def test_efficientnet_onnxruntime_cpu_exports_in_a_pytorch_venv_without_torch_in_the_benchmark_venv():
    plan = _venv_plan.venv_plan(resolve_request({"model": "efficientnet"}), REGISTRY, SETTINGS)
    bench, export = plan["venvs"]
    assert (bench["key"], bench["path"]) == ("onnxruntime-cpu", "/srv/wd/venvs/onnxruntime-cpu")
    assert (export["key"], export["path"]) == ("pytorch-cpu", "/srv/wd/venvs/pytorch-cpu")
    assert plan["venv_python"] == "/srv/wd/venvs/onnxruntime-cpu/bin/python"
    assert plan["export_python"] == "/srv/wd/venvs/pytorch-cpu/bin/python"
    packages = SETTINGS["packages"]
    family = REGISTRY["families"]["image_classification"]["packages"]
    assert bench["requirements"] == [
        LOADGEN,
        *packages["common"],
        *packages["onnxruntime-cpu"],
        *family["common"],
    ]
    assert export["requirements"][-len(family["pytorch"]) :] == family["pytorch"]
    assert not any(r.startswith("torch==") for r in bench["requirements"])
    # The CPU index serves torch: only the venv that pins it installs from there.
    assert (bench["index_url"], export["index_url"]) == ("", "https://download.pytorch.org/whl/cpu")
    assert (
        bench["text"]
        == "\n".join(["# fleetbench.mlperf python_env (managed by Ansible)", *bench["requirements"]]) + "\n"
    )
    assert plan["requirements_text"] == bench["text"] and plan["pip_args"] == ""


def test_model_path_exports_nothing_and_pip_args_follow_the_settings():
    settings = dict(
        SETTINGS, wheelhouse="/ctl/wheels", index_url="https://mirror/simple", pip_extra_args="--no-cache-dir"
    )
    plan = _venv_plan.venv_plan(
        resolve_request({"model": "efficientnet", "model_path": "/m/model.onnx"}), REGISTRY, settings
    )
    assert [v["key"] for v in plan["venvs"]] == ["onnxruntime-cpu"] and plan["export_python"] == ""
    assert (
        plan["pip_args"]
        == "--no-index --find-links /srv/wd/wheelhouse --index-url https://mirror/simple --no-cache-dir"
    )


def test_another_rounds_loadgen_gets_its_own_benchmark_venv_and_data_wheels_install_without_deps():
    plan = _venv_plan.venv_plan(
        resolve_request({"model": "bert-99", "stand_in_model": "minilm-l6", "submission_round": "v5.1"}),
        REGISTRY,
        SETTINGS,
    )
    (bench,) = plan["venvs"]
    assert bench["path"].endswith("/venvs/onnxruntime-cpu-loadgen5.1.2")
    assert bench["requirements"][0] == "mlcommons-loadgen==5.1.2"
    assert bench["data_requirements"] == REGISTRY["families"]["language"]["packages"]["data"]
    assert bench["text"].endswith("# --no-deps\n" + "\n".join(bench["data_requirements"]) + "\n")


def test_unknown_package_set_names_the_allowed_ones():
    settings = dict(SETTINGS, packages={"common": [], "onnxruntime-cpu": []})
    with pytest.raises(_venv_plan.VenvPlanError, match=r"'pytorch-cpu'; allowed: onnxruntime-cpu$"):
        _venv_plan.venv_plan(resolve_request({"backend": "pytorch"}), REGISTRY, settings)
    with pytest.raises(AnsibleFilterError, match="no package set for backend/device 'pytorch-cpu'"):
        FilterModule().filters()["venv_plan"](resolve_request({"backend": "pytorch"}), settings)
