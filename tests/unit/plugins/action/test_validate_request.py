"""validate_request action plugin on real Ansible objects (task, loader, templar, CLI context)."""

import pytest
from ansible.template import trust_as_template
from ansible_collections.fleetbench.mlperf.plugins.action import validate_request as V
from fleetbench_testlib import run_action as run_plugin


def run_action(args=None, task_vars=None, extra_vars=()):
    return run_plugin(V, "fleetbench.mlperf.validate_request", args, task_vars, extra_vars)


def test_resolves_task_vars_with_templates():
    # inventory and extra vars are trusted templates in a real run
    tv = {"framework": trust_as_template("{{ 'onnx' }}"), "scenario": "offline", "model": "resnet50", "x": 1}
    res = run_action(task_vars=tv)
    assert not res.get("failed"), res
    assert res["changed"] is False
    req = res["request"]
    assert req["backend"] == "onnxruntime" and req["scenario"] == ["Offline"]


def test_explicit_request_argument():
    res = run_action(
        args={"request": {"model": "efficientnet", "backend": "torch"}, "check_extra_vars": False}
    )
    assert res["request"]["backend"] == "pytorch"


def test_request_argument_must_be_dict():
    res = run_action(args={"request": "resnet50"})
    assert res["failed"] and "request must be a dict" in res["msg"]


def test_unknown_extra_var_with_did_you_mean():
    res = run_action(task_vars={"model": "resnet50"}, extra_vars=["modle=resnet50 sceanrio=Offline"])
    assert res["failed"]
    assert "modle: unknown variable; did you mean mode or model?" in res["msg"]
    assert "sceanrio: unknown variable; did you mean scenario" in res["msg"]
    assert "request variables: " in res["msg"]
    assert {p["field"] for p in res["problems"]} == {"modle", "sceanrio"}


def test_extra_vars_from_json_and_file(tmp_path):
    f = tmp_path / "vars.yml"
    f.write_text("badname: 1\n")
    res = run_action(task_vars={"model": "resnet50"}, extra_vars=['{"target_qps": 5}', "@" + str(f)])
    assert res["failed"] and "badname: unknown variable" in res["msg"]
    assert [p["field"] for p in res["problems"]] == ["badname"]


def test_allowed_extra_vars():
    names = V.role_input_names()
    assert names, "roles declare inputs in meta/argument_specs.yml"
    role_input = sorted(names)[0]
    res = run_action(
        args={"allow": ["my_site_var"]},
        task_vars={"model": "resnet50"},
        extra_vars=[f"{role_input}=1 ansible_user=me mlperf_hosts=all my_site_var=2 backend=onnx"],
    )
    assert not res.get("failed"), res
    assert res["extra_vars_checked"] == sorted(
        ["ansible_user", "backend", "mlperf_hosts", "my_site_var", role_input]
    )


def test_role_inputs_read_from_argument_specs(tmp_path):
    spec = tmp_path / "newrole" / "meta"
    spec.mkdir(parents=True)
    (spec / "argument_specs.yml").write_text(
        "argument_specs:\n  main:\n    options:\n      newrole_knob: {type: str}\n  other:\n    options:\n"
        "      newrole_other: {type: int}\n"
    )
    assert V.role_input_names(tmp_path) == {"newrole_knob", "newrole_other"}


def test_all_problems_in_one_failure():
    res = run_action(
        task_vars={"model": "resnet50", "backend": "tflite", "target_qps": 0}, extra_vars=["oops=1"]
    )
    assert res["failed"]
    assert res["msg"].startswith("invalid MLPerf request (3 problems):")
    assert "backend tflite is not implemented for model resnet50 yet" in res["msg"]
    assert "target_qps: 0 must be > 0" in res["msg"]


def test_warnings_are_returned():
    res = run_action(task_vars={"model": "resnet50", "scenario": "Server"})
    assert any("not required for resnet50 in category edge" in w for w in res["warnings"])


def test_bad_template_names_the_field():
    res = run_action(task_vars={"model": trust_as_template("{{ nope_undefined }}")})
    assert res["failed"] and "model: cannot template" in res["msg"]


@pytest.mark.parametrize("value", [False, "no"])
def test_extra_var_check_can_be_disabled(value):
    res = run_action(args={"check_extra_vars": value}, task_vars={"model": "resnet50"}, extra_vars=["oops=1"])
    assert not res.get("failed"), res


def test_a_role_switch_given_with_e_must_be_a_boolean():
    res = run_action(task_vars={"model": "efficientnet"}, extra_vars=["mlperf_skip_current=maybe"])
    assert res["failed"]
    assert "mlperf_skip_current: 'maybe' is not a boolean; allowed: true, false" in res["msg"]
    # Named once, not again by the role argument-spec check of the same value.
    res = run_action(
        args={"role_inputs": True},
        task_vars={"model": "efficientnet", "mlperf_skip_current": "maybe"},
        extra_vars=["mlperf_skip_current=maybe"],
    )
    assert "(1 problem)" in res["msg"], res["msg"]
    ok = run_action(task_vars={"model": "efficientnet"}, extra_vars=["mlperf_verify_current=yes"])
    assert not ok.get("failed"), ok


def test_relative_output_dir_is_made_absolute_against_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    res = run_action(task_vars={"model": "efficientnet", "output_dir": "relout"})
    assert res["request"]["output_dir"] == str(tmp_path / "relout")


def test_role_inputs_are_checked_once_against_every_role_spec():
    # An inventory value of the wrong type fails in the validate step, naming the field and its role.
    tv = {"model": "resnet50", "dataset_probe_timeout": "soon", "sut_facts_probe_timeout": "30"}
    res = run_action(args={"role_inputs": True}, task_vars=tv)
    assert res["failed"], res
    assert "dataset_probe_timeout: " in res["msg"] and "(role dataset, entry point main)" in res["msg"]
    # "30" converts to an int: not a problem; nor is a value whose template names a later fact.
    assert "sut_facts_probe_timeout" not in res["msg"]
    tv = {"model": "resnet50", "dataset_probe_timeout": trust_as_template("{{ not_yet_set }}")}
    res = run_action(args={"role_inputs": True}, task_vars=tv)
    assert not res.get("failed"), res
    # Without role_inputs the roles' own argument-spec tasks are left to check it.
    res = run_action(task_vars={"model": "resnet50", "dataset_probe_timeout": "soon"})
    assert not res.get("failed"), res


def test_a_role_default_is_not_checked_again_but_a_host_value_is(monkeypatch):
    from ansible_collections.fleetbench.mlperf.plugins.action import validate_request as V

    defaults = V.role_default_values()
    assert defaults["dataset_probe_timeout"] == [5] and defaults["results_skip_current"]
    # A role's own default of the wrong type (as a test stands in for one) is the collection's: left out.
    monkeypatch.setattr(V, "role_default_values", lambda: dict(defaults, dataset_probe_timeout=["soon"]))
    tv = {"model": "resnet50", "dataset_probe_timeout": "soon"}
    assert not run_action(args={"role_inputs": True}, task_vars=tv).get("failed")
    res = run_action(args={"role_inputs": True}, task_vars=dict(tv, dataset_probe_timeout="later"))
    assert res["failed"] and "dataset_probe_timeout: " in res["msg"], res


def test_a_wheelhouse_that_is_not_a_controller_directory_fails_in_the_validate_step(tmp_path):
    tv = {"model": "resnet50", "python_env_wheelhouse": 5}
    res = run_action(args={"role_inputs": True}, task_vars=tv)
    assert res["failed"], res
    assert "python_env_wheelhouse: '5' is not a directory on the controller (role python_env)" in res["msg"]
    res = run_action(args={"role_inputs": True}, task_vars=dict(tv, python_env_wheelhouse=str(tmp_path)))
    assert not res.get("failed"), res
    res = run_action(args={"role_inputs": True}, task_vars=dict(tv, python_env_wheelhouse=""))
    assert not res.get("failed"), res


@pytest.mark.parametrize("value", ["relative/dir", "~nosuchuser/x", "./wd"])
def test_a_relative_sut_work_dir_fails_in_the_validate_step(value):
    res = run_action(args={"role_inputs": True}, task_vars={"model": "resnet50", "mlperf_work_dir": value})
    assert res["failed"], res
    assert f"mlperf_work_dir: '{value}' must be an absolute path on the SUT or start with ~/" in res["msg"]


@pytest.mark.parametrize("value", ["/srv/mlperf", "~/fleetbench_mlperf", "~", ""])
def test_absolute_or_home_sut_work_dirs_pass(value):
    res = run_action(args={"role_inputs": True}, task_vars={"model": "resnet50", "mlperf_work_dir": value})
    assert not res.get("failed"), res


def test_role_entry_specs_leave_out_internal_roles_and_options():
    specs = V.role_entry_specs()
    assert "python_env:main" in specs and "results:fetch" in specs
    assert not any(key.startswith("_") for key in specs)
    assert not any(name.startswith("__") for options in specs.values() for name in options)
    assert not any(option.get("required") for options in specs.values() for option in options.values())
