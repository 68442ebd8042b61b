"""Runs that cannot collide or leak: request keys, system names, secret handling, honest limits.

Unit level (no playbook): ``_run`` (request record/key, environment redaction), the filters that the
roles use, the "current" comparison of a stored copy with a request (``_run_stamp.request_problem``),
the validate step's no-echo, proxy and output_dir rules, and the test-mode duration cap.
"""

import json
import os

import pytest
from ansible_collections.fleetbench.mlperf.plugins.action import validate_request
from ansible_collections.fleetbench.mlperf.plugins.filter import mlperf as F
from ansible_collections.fleetbench.mlperf.plugins.module_utils import _report, _run, _run_stamp, _user_conf
from fleetbench_testlib import run_action as run_plugin


def run_action(args=None, task_vars=None, extra_vars=()):
    return run_plugin(validate_request, "fleetbench.mlperf.validate_request", args, task_vars, extra_vars)


SECRET = "hf_PLANTEDsecret0123"
REQUEST = {
    "model": "efficientnet",
    "execution_mode": "test",
    "implementation": "reference",
    "backend": "onnxruntime",
    "device": "cpu",
    "precision": "float32",
    "division": "open",
    "category": "edge",
    "test_query_count": 11,
    "target_qps": None,
    "count": None,
    "family_options": {},
    "scenario": ["Offline"],
    "output_dir": "/tmp/A",
    "rerun": False,
}


# --- collision ----------------------------------------------------------------------------------


def test_request_key_separates_requests_and_ignores_controller_fields():
    other = dict(REQUEST, test_query_count=12)
    assert _run.request_key(REQUEST) != _run.request_key(other)
    # where the controller puts results, the scenario list and rerun do not change what a run holds
    same = dict(REQUEST, output_dir="/tmp/B", rerun=True, scenario=["Offline", "SingleStream"])
    assert _run.request_key(REQUEST) == _run.request_key(same)
    # the module's params spell values differently: "11", 11.0, None vs {} are the same request
    params = dict(REQUEST, test_query_count=11.0, family_options=None, target_qps="")
    assert _run.request_key(params) == _run.request_key(REQUEST)
    assert F.request_key(REQUEST).startswith("r-") and len(F.request_key(REQUEST)) == 14


def test_system_name_carries_the_software_stack():
    assert F.system_name(REQUEST, "lab1") == "lab1-reference-cpu-onnxruntime-float32"
    pytorch = F.system_name(dict(REQUEST, backend="pytorch"), "lab1")
    assert pytorch == "lab1-reference-cpu-pytorch-float32"
    assert F.system_name(dict(REQUEST, implementation="my impl"), "h") == "h-my_impl-cpu-onnxruntime-float32"


def _stored(root, subdir, request):
    run_dir = root / subdir
    run_dir.mkdir(parents=True)
    (run_dir / "result.json").write_text(json.dumps({"request": _run.request_record(request)}))


def test_current_check_compares_the_stored_request(tmp_path):
    root = tmp_path / "test_results" / "sut"
    _stored(root, "efficientnet/Offline/performance/run_1", REQUEST)
    assert _run_stamp.request_problem(str(root), REQUEST) is None
    why = _run_stamp.request_problem(str(root), dict(REQUEST, test_query_count=12))
    assert why == (
        "the controller's copy of efficientnet/Offline/performance/run_1 is another request's: "
        "test_query_count 11 -> 12"
    )
    # a run written before result.json recorded its request is never taken as current
    legacy = tmp_path / "legacy"
    (legacy / "x").mkdir(parents=True)
    (legacy / "x" / "result.json").write_text("{}")
    assert "records no request" in _run_stamp.request_problem(str(legacy), REQUEST)


# --- leaks --------------------------------------------------------------------------------------


def test_environment_split_and_redaction():
    env = {
        "HF_TOKEN": SECRET,
        "MY_API_KEY": "k",
        "DB_PASSWORD": "p",
        "OMP_NUM_THREADS": "4",
        "https_proxy": "http://user:pw@proxy:3128",
        "no_proxy": "localhost",
    }
    split = F.split_environment(env)
    assert set(split["secret"]) == {"HF_TOKEN", "MY_API_KEY", "DB_PASSWORD", "https_proxy"}
    assert split["public"] == {"OMP_NUM_THREADS": "4", "no_proxy": "localhost"}
    shown = _run.redact_environment(env)
    assert SECRET not in json.dumps(shown) and "pw" not in shown["https_proxy"]
    assert shown["https_proxy"] == "http://<hidden>@proxy:3128" and shown["OMP_NUM_THREADS"] == "4"


def test_secret_environment_option_is_no_log():
    from ansible_collections.fleetbench.mlperf.plugins.modules import mlperf_run

    assert mlperf_run.ARGUMENT_SPEC["secret_environment"]["no_log"] is True
    assert "secret_environment" not in _run.HASHED_PARAMS


def test_unknown_variable_is_named_never_echoed():
    res = run_action(task_vars={"model": "resnet50"}, extra_vars=[f"hf_tokn={SECRET}"])
    assert res["failed"] and "hf_tokn: unknown variable" in res["msg"]
    assert "hf_token" in res["msg"]  # did you mean
    assert SECRET not in json.dumps(res)


def test_proxy_env_is_a_known_variable_and_credentials_are_refused():
    ok = run_action(
        task_vars={"model": "resnet50", "proxy_env": {"https_proxy": "http://proxy:3128"}},
        extra_vars=['{"proxy_env": {"https_proxy": "http://proxy:3128"}}'],
    )
    assert not ok.get("failed"), ok
    bad = run_action(
        task_vars={"model": "resnet50", "proxy_env": {"https_proxy": "http://u:PW123@proxy:3128"}}
    )
    assert bad["failed"] and "proxy_env: https_proxy carries credentials" in bad["msg"]
    assert "PW123" not in json.dumps(bad)


# --- honest limits ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scenario", "queries", "target", "want_ms"),
    [
        ("MultiStream", 10, 100.0, 30000),  # CM's 30 s cap for a smoke run
        ("MultiStream", 700, 100.0, 140000),  # 700 x 100 ms x 2: the run is not cut at 241 queries
        ("SingleStream", 64, 1000.0, 128000),
        ("Server", 100, 2.0, 100000),
    ],
)
def test_test_mode_cap_follows_the_query_count(scenario, queries, target, want_ms):
    key = "target_qps" if scenario == "Server" else "target_latency"
    settings = dict(
        _user_conf.user_conf_settings("resnet50", scenario, "test", test_query_count=queries, **{key: target})
    )
    assert settings["max_duration"] == want_ms
    assert settings["min_query_count"] == settings["max_query_count"] == queries


def test_read_only_output_dir_fails_in_validate(tmp_path):
    # /proc takes no new files, whoever runs the tests (root included)
    res = run_action(task_vars={"model": "resnet50", "output_dir": "/proc/robust-out/x"})
    assert res["failed"] and "output_dir: /proc/robust-out/x is not writable (its parent /proc)" in res["msg"]
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    res = run_action(task_vars={"model": "resnet50", "output_dir": str(blocked / "out")})
    assert res["failed"] and "is not a directory" in res["msg"]
    fine = run_action(task_vars={"model": "resnet50", "output_dir": str(tmp_path / "new" / "out")})
    assert not fine.get("failed"), fine
    assert not (tmp_path / "new").exists()  # probing creates nothing


def test_report_write_leaves_no_partial_file(tmp_path, monkeypatch):
    target = tmp_path / "report.md"

    class Full(OSError):
        pass

    real_open = open

    def full_disk(path, *args, **kwargs):
        handle = real_open(path, *args, **kwargs)
        if str(path).endswith(".tmp"):

            def write(_text):
                raise Full(28, "No space left on device")

            handle.write = write
        return handle

    monkeypatch.setattr("builtins.open", full_disk)
    with pytest.raises(OSError):
        _report._atomic_write(str(target), "x" * 100)
    monkeypatch.undo()
    assert sorted(os.listdir(tmp_path)) == []
