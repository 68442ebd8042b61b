"""user.conf golden outputs per execution mode x scenario, input hash, atomic commit."""

import json
import os

import pytest
from ansible_collections.fleetbench.mlperf.plugins.module_utils import _user_conf as U

# Golden outputs, request without targets (defaults apply), no count override.
GOLDEN_DEFAULT = {
    ("test", "Offline"): """\
resnet50.Offline.target_qps = 1
resnet50.Offline.min_query_count = 10
resnet50.Offline.max_query_count = 10
resnet50.Offline.min_duration = 0
resnet50.Offline.sample_concatenate_permutation = 0
""",
    ("test", "Server"): """\
resnet50.Server.target_qps = 1
resnet50.Server.min_query_count = 10
resnet50.Server.max_query_count = 10
resnet50.Server.min_duration = 0
resnet50.Server.sample_concatenate_permutation = 0
resnet50.Server.max_duration = 30000
""",
    ("test", "SingleStream"): """\
resnet50.SingleStream.target_latency = 1000
resnet50.SingleStream.min_query_count = 10
resnet50.SingleStream.max_query_count = 10
resnet50.SingleStream.min_duration = 0
resnet50.SingleStream.sample_concatenate_permutation = 0
resnet50.SingleStream.max_duration = 30000
""",
    ("test", "MultiStream"): """\
resnet50.MultiStream.target_latency = 100
resnet50.MultiStream.min_query_count = 10
resnet50.MultiStream.max_query_count = 10
resnet50.MultiStream.min_duration = 0
resnet50.MultiStream.sample_concatenate_permutation = 0
resnet50.MultiStream.max_duration = 30000
""",
    ("fast", "Offline"): """\
resnet50.Offline.target_qps = 0.2
resnet50.Offline.sample_concatenate_permutation = 0
""",
    ("fast", "Server"): """\
resnet50.Server.target_qps = 1
resnet50.Server.sample_concatenate_permutation = 0
resnet50.Server.max_duration = 120000
resnet50.Server.max_query_count = 132
""",
    ("fast", "SingleStream"): """\
resnet50.SingleStream.target_latency = 500
resnet50.SingleStream.sample_concatenate_permutation = 0
""",
    ("fast", "MultiStream"): """\
resnet50.MultiStream.target_latency = 500
resnet50.MultiStream.sample_concatenate_permutation = 0
""",
    ("valid", "Offline"): "resnet50.Offline.target_qps = 1\n",
    ("valid", "Server"): "resnet50.Server.target_qps = 1\n",
    ("valid", "SingleStream"): "resnet50.SingleStream.target_latency = 100\n",
    ("valid", "MultiStream"): "resnet50.MultiStream.target_latency = 100\n",
}

# Same with target_qps=250, target_latency=12.5 ms, test_query_count=64, count=8 (< 1024).
GOLDEN_TARGETS = {
    ("test", "Offline"): """\
resnet50.Offline.target_qps = 250
resnet50.Offline.min_query_count = 64
resnet50.Offline.max_query_count = 64
resnet50.Offline.min_duration = 0
resnet50.Offline.sample_concatenate_permutation = 0
resnet50.Offline.performance_sample_count_override = 8
""",
    ("test", "SingleStream"): """\
resnet50.SingleStream.target_latency = 12.5
resnet50.SingleStream.min_query_count = 64
resnet50.SingleStream.max_query_count = 64
resnet50.SingleStream.min_duration = 0
resnet50.SingleStream.sample_concatenate_permutation = 0
resnet50.SingleStream.max_duration = 30000
resnet50.SingleStream.performance_sample_count_override = 8
""",
    ("fast", "Offline"): """\
resnet50.Offline.target_qps = 50
resnet50.Offline.sample_concatenate_permutation = 0
resnet50.Offline.performance_sample_count_override = 8
""",
    ("fast", "Server"): """\
resnet50.Server.target_qps = 250
resnet50.Server.sample_concatenate_permutation = 0
resnet50.Server.max_duration = 120000
resnet50.Server.max_query_count = 33000
resnet50.Server.performance_sample_count_override = 8
""",
    ("fast", "MultiStream"): """\
resnet50.MultiStream.target_latency = 62.5
resnet50.MultiStream.sample_concatenate_permutation = 0
resnet50.MultiStream.performance_sample_count_override = 8
""",
    ("valid", "Server"): """\
resnet50.Server.target_qps = 250
resnet50.Server.performance_sample_count_override = 8
""",
    ("valid", "MultiStream"): """\
resnet50.MultiStream.target_latency = 12.5
resnet50.MultiStream.performance_sample_count_override = 8
""",
}


@pytest.mark.parametrize(("mode", "scenario"), sorted(GOLDEN_DEFAULT))
def test_golden_defaults(mode, scenario):
    assert U.render_user_conf("resnet50", scenario, mode) == GOLDEN_DEFAULT[(mode, scenario)]


@pytest.mark.parametrize(("mode", "scenario"), sorted(GOLDEN_TARGETS))
def test_golden_with_targets(mode, scenario):
    text = U.render_user_conf(
        "resnet50",
        scenario,
        mode,
        target_qps=250,
        target_latency=12.5,
        test_query_count=64,
        count=8,
        performance_sample_count=1024,
    )
    assert text == GOLDEN_TARGETS[(mode, scenario)]


@pytest.mark.parametrize(("mode", "scenario"), sorted(GOLDEN_DEFAULT))
def test_syntax_is_loadgen_syntax(mode, scenario):
    for line in U.render_user_conf(
        "bert", scenario, mode, count=5, performance_sample_count=10833
    ).splitlines():
        key, eq, value = line.split(" ")
        assert eq == "="
        model, scen, _setting = key.split(".")
        assert (model, scen) == ("bert", scenario)
        float(value)  # numeric, no trailing comment
        assert "#" not in line


def test_no_override_when_count_covers_performance_sample_count():
    assert "override" not in U.render_user_conf(
        "resnet50", "Offline", "test", count=1024, performance_sample_count=1024
    )
    assert "override" not in U.render_user_conf("resnet50", "Offline", "test", count=8)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"scenario": "offline"}, "scenario"),
        ({"execution_mode": "quick"}, "execution_mode"),
        ({"target_qps": 0}, "target_qps"),
        ({"target_latency": -1}, "target_latency"),
        ({"test_query_count": 0}, "test_query_count"),
        ({"loadgen_key": "res net"}, "loadgen_key"),
    ],
)
def test_bad_input_names_field(kwargs, field):
    args = {"loadgen_key": "resnet50", "scenario": "Offline", "execution_mode": "test"}
    args.update(kwargs)
    with pytest.raises(ValueError, match=field):
        U.render_user_conf(args.pop("loadgen_key"), args.pop("scenario"), args.pop("execution_mode"), **args)


def test_value_formatting():
    assert U._fmt(3) == "3"
    assert U._fmt(3.0) == "3"
    assert U._fmt(0.1 + 0.2) == repr(0.1 + 0.2)
    with pytest.raises(TypeError):
        U._fmt(True)


def test_input_hash_is_canonical_and_sensitive():
    a = {"model": "resnet50", "user_conf": "x = 1\n", "n": [1, 2]}
    b = {"n": [1, 2], "user_conf": "x = 1\n", "model": "resnet50"}
    assert U.input_hash(a) == U.input_hash(b)
    assert len(U.input_hash(a)) == 64
    assert U.input_hash(a) != U.input_hash({**a, "user_conf": "x = 2\n"})


def test_file_sha256(tmp_path):
    p = tmp_path / "f"
    p.write_bytes(b"abc")
    assert U.file_sha256(str(p)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def _stage(run_dir, text="new"):
    staging = U.make_staging_dir(str(run_dir))
    with open(os.path.join(staging, "log.txt"), "w") as fh:
        fh.write(text)
    return staging


def test_commit_and_cache(tmp_path):
    run_dir = tmp_path / "Offline" / "performance" / "run_1"
    staging = _stage(run_dir)
    assert os.path.basename(staging).startswith(".run_1.tmp-")
    result = {"input_hash": "h1", "files": {"log": str(run_dir / "log.txt")}}
    U.commit_run_dir(staging, str(run_dir), result)
    assert json.loads((run_dir / "result.json").read_text())["input_hash"] == "h1"
    assert not os.path.exists(staging)
    assert U.cached_result(str(run_dir), "h1")[0]["input_hash"] == "h1"
    assert U.cached_result(str(run_dir), "h2") == (None, "inputs changed")
    (run_dir / "log.txt").unlink()
    assert U.cached_result(str(run_dir), "h1") == (None, "file log missing")


def test_cache_rejects_a_run_file_changed_since_the_run(tmp_path):
    run_dir = tmp_path / "run_1"
    staging = _stage(run_dir)
    digest = U.file_sha256(os.path.join(staging, "log.txt"))
    files = {"log.txt": str(run_dir / "log.txt")}
    U.commit_run_dir(
        staging, str(run_dir), {"input_hash": "h", "files": files, "file_sha256": {"log.txt": digest}}
    )
    assert U.cached_result(str(run_dir), "h")[1] == "cache hit"
    (run_dir / "log.txt").write_text("tampered")
    assert U.cached_result(str(run_dir), "h") == (None, "file log.txt changed since the run")


def test_commit_replaces_previous_run(tmp_path):
    run_dir = tmp_path / "run_1"
    U.commit_run_dir(_stage(run_dir, "old"), str(run_dir), {"input_hash": "old"})
    (run_dir / "stale_only_in_old.txt").write_text("x")
    U.commit_run_dir(_stage(run_dir, "new"), str(run_dir), {"input_hash": "new"})
    assert (run_dir / "log.txt").read_text() == "new"
    assert not (run_dir / "stale_only_in_old.txt").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["run_1"]


def test_killed_run_leaves_previous_result_and_no_complete_staging(tmp_path):
    run_dir = tmp_path / "run_1"
    U.commit_run_dir(_stage(run_dir, "old"), str(run_dir), {"input_hash": "old"})
    staging = _stage(run_dir, "half")  # a run killed here never reaches commit
    assert not os.path.exists(os.path.join(staging, "result.json"))
    assert U.read_result(str(run_dir))["input_hash"] == "old"
    removed = U.clean_stale_staging(str(run_dir))
    assert removed == [staging]
    assert [p.name for p in tmp_path.iterdir()] == ["run_1"]


def test_read_result_tolerates_garbage(tmp_path):
    (tmp_path / "result.json").write_text("{not json")
    assert U.read_result(str(tmp_path)) is None
    (tmp_path / "result.json").write_text("[1]")
    assert U.read_result(str(tmp_path)) is None
    assert U.cached_result(str(tmp_path / "nope"), "h") == (None, "no stored result")
