"""_run_stamp (digests, fingerprints, stamp files)."""

import json
import os
from pathlib import Path

from ansible_collections.fleetbench.mlperf.plugins.module_utils import _run_stamp
from trees import make_digest_tree as _tree


def test_file_digest_follows_size_and_mtime(tmp_path):
    f = tmp_path / "model.onnx"
    f.write_bytes(b"x" * 10)
    first = _run_stamp.path_digest(str(f))
    assert first == _run_stamp.path_digest(str(f))
    os.utime(f, ns=(1, 1))
    assert _run_stamp.path_digest(str(f)) != first
    assert _run_stamp.path_digest(str(tmp_path / "absent")) is None


def test_tree_digest_sees_added_removed_and_touched_files(tmp_path):
    root = _tree(tmp_path / "t")
    first = _run_stamp.path_digest(str(root))
    (root / "m" / "extra.txt").write_text("")
    second = _run_stamp.path_digest(str(root))
    assert second != first
    (root / "m" / "extra.txt").unlink()
    assert _run_stamp.path_digest(str(root)) == first
    os.utime(root / "m" / "summary.txt", ns=(5, 5))
    assert _run_stamp.path_digest(str(root)) != first


def test_names_only_digest_ignores_content_but_not_names(tmp_path):
    site = tmp_path / "lib" / "python3.11" / "site-packages"
    (site / "numpy").mkdir(parents=True)
    (site / "numpy-2.0.dist-info").mkdir()
    pattern = str(tmp_path / "lib" / "python*" / "site-packages")
    first = _run_stamp.path_digest(pattern, names_only=True)
    assert first is not None
    (site / "numpy" / "core.py").write_text("changed")
    assert _run_stamp.path_digest(pattern, names_only=True) == first
    (site / "numpy-2.0.dist-info").rename(site / "numpy-2.1.dist-info")
    assert _run_stamp.path_digest(pattern, names_only=True) != first
    assert _run_stamp.path_digest(str(tmp_path / "nope" / "*"), names_only=True) is None


def test_mismatched_lists_changed_and_missing_keys():
    assert _run_stamp.mismatched({"a": "1", "b": "2"}, {"a": "1", "b": "3", "c": None}) == ["b"]
    assert _run_stamp.mismatched({"a": "1"}, {}) == ["a"]
    assert _run_stamp.mismatched({}, {}) == []


def test_content_digest_skips_caches_and_sees_edits(tmp_path):
    (tmp_path / "roles" / "r" / "tasks").mkdir(parents=True)
    (tmp_path / "roles" / "r" / "tasks" / "main.yml").write_text("---\n")
    (tmp_path / "roles" / "__pycache__").mkdir()
    first = _run_stamp.content_digest(str(tmp_path), ["roles", "missing"])
    (tmp_path / "roles" / "__pycache__" / "x.pyc").write_bytes(b"\0")
    assert _run_stamp.content_digest(str(tmp_path), ["roles", "missing"]) == first
    (tmp_path / "roles" / "r" / "tasks" / "main.yml").write_text("---\n# edit\n")
    assert _run_stamp.content_digest(str(tmp_path), ["roles", "missing"]) != first


def test_fingerprint_names_what_changed():
    old = _run_stamp.fingerprint_parts({"model": "resnet50"}, {"hw_name": "a"}, "c1")
    same = _run_stamp.fingerprint_parts({"model": "resnet50"}, {"hw_name": "a"}, "c1")
    assert _run_stamp.fingerprint(old) == _run_stamp.fingerprint(same)
    new = _run_stamp.fingerprint_parts({"model": "resnet50", "count": 8}, {"hw_name": "b"}, "c2", "h")
    assert _run_stamp.fingerprint(new) != _run_stamp.fingerprint(old)
    assert _run_stamp.changed_parts(old, new) == [
        "the collection's files",
        "harness_source",
        "request field count",
        "hw_name",
    ]
    # values JSON cannot encode are hashed through str(), never an error
    assert _run_stamp.fingerprint_parts({"p": Path("/x")}, {}, "c")["request:p"]
    # an empty input is the same as no input
    assert _run_stamp.fingerprint_parts({}, {"output_dir": ""}, "c") == _run_stamp.fingerprint_parts(
        {}, {}, "c"
    )


def test_stamp_round_trip_is_atomic_and_schema_checked(tmp_path):
    path = str(tmp_path / ".fleetbench-state" / "sut1.json")
    assert _run_stamp.read_stamp(path) is None
    data = {"schema": _run_stamp.SCHEMA, "recorded": "t1", "fingerprint": "f"}
    _run_stamp.write_stamp(path, data)
    assert _run_stamp.read_stamp(path) == data
    assert [p.name for p in (tmp_path / ".fleetbench-state").iterdir()] == ["sut1.json"]
    assert _run_stamp.same_record(data, dict(data, recorded="t2"))
    assert not _run_stamp.same_record(data, dict(data, fingerprint="g"))
    assert not _run_stamp.same_record(None, data)
    Path(path).write_text(json.dumps({"schema": 999}))
    assert _run_stamp.read_stamp(path) is None
    Path(path).write_text("{not json")
    assert _run_stamp.read_stamp(path) is None


def test_compare_digests_without_and_with_expected(tmp_path):
    model = tmp_path / "model.onnx"
    model.write_text("a")
    first = _run_stamp.compare_digests([str(model)])
    assert first["mismatched"] == [] and first["unchanged"] is False and first["changed"] is False
    assert _run_stamp.compare_digests([str(model)], expected=first["digests"])["unchanged"] is True
    model.write_text("ab")
    after = _run_stamp.compare_digests([str(model)], expected=first["digests"])
    assert after["unchanged"] is False and after["mismatched"] == [f"tree:{model}"]


def test_host_status_reads_the_hosts_json_entry(tmp_path):
    hosts = tmp_path / "hosts.json"
    assert _run_stamp.host_status(str(hosts), "sut_b") is None
    hosts.write_text(json.dumps({"sut_b": {"status": "failed", "task": "t"}}))
    assert _run_stamp.host_status(str(hosts), "sut_b")["status"] == "failed"
    assert _run_stamp.host_status(str(hosts), "sut_a") is None
    hosts.write_text("[not json")
    assert _run_stamp.host_status(str(hosts), "sut_b") is None


def test_checksums_match_stat_sha1_and_null_for_missing(tmp_path):
    import hashlib

    marker = tmp_path / "venv" / "fleetbench-requirements.txt"
    marker.parent.mkdir()
    marker.write_text("# pins\nonnxruntime==1.20\n")
    out = _run_stamp.compare_digests(checksums=[str(marker), str(tmp_path / "nope"), str(tmp_path)])
    assert out["checksums"] == {
        str(marker): hashlib.sha1(marker.read_bytes()).hexdigest(),
        str(tmp_path / "nope"): None,
        str(tmp_path): None,  # a directory is not a marker
    }
    assert out["changed"] is False


def test_rerun_is_not_part_of_the_fingerprint():
    # rerun says what to do this time: the plain run after a completed rerun must be current.
    base = {"model": "resnet50", "scenario": ["Offline"]}
    plain = _run_stamp.fingerprint_parts(dict(base, rerun=False), {}, "c")
    rerun = _run_stamp.fingerprint_parts(dict(base, rerun=True, regenerate_files=True), {}, "c")
    assert _run_stamp.fingerprint(plain) == _run_stamp.fingerprint(rerun)
    assert "request:rerun" not in plain
