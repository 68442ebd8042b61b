"""_pack: deterministic archive of a results tree, skip when unchanged, safe unpack."""

import io
import os
import tarfile

import pytest
from ansible_collections.fleetbench.mlperf.plugins.module_utils import _pack
from trees import make_pack_tree as make_tree


def test_pack_is_deterministic_and_skips_hidden(tmp_path):
    tree = make_tree(tmp_path / "tree")
    draft = tmp_path / "draft.json"
    draft.write_text("{}")
    first = _pack.pack(tree, dest=tmp_path / "a.tar", extra={"system_desc_draft.json": str(draft)})
    os.utime(tree / "m" / "Offline" / "accuracy" / "accuracy.txt", (1, 1))
    second = _pack.pack(tree, dest=tmp_path / "b.tar", extra={"system_desc_draft.json": str(draft)})
    assert first["checksum"] == second["checksum"]
    assert first["changed"] and first["archive"] == str(tmp_path / "a.tar")
    assert (tmp_path / "a.tar").read_bytes() == (tmp_path / "b.tar").read_bytes()
    with tarfile.open(tmp_path / "a.tar") as tar:
        names = tar.getnames()
        assert all(m.mtime == 0 and m.uid == 0 and m.uname == "" for m in tar.getmembers())
    assert names == sorted(names)
    assert names == [
        "m/Offline/accuracy/accuracy.txt",
        "m/Offline/performance/run_1/result.json",
        "system_desc_draft.json",
    ]
    assert _pack.file_sha256(tmp_path / "a.tar") == first["checksum"]


def test_pack_unchanged_writes_nothing(tmp_path):
    tree = make_tree(tmp_path / "tree")
    known = _pack.pack(tree)["checksum"]
    again = _pack.pack(tree, dest=tmp_path / "x.tar", known_checksum=known)
    assert again == {"checksum": known, "files": 2, "archive": None, "changed": False}
    assert not (tmp_path / "x.tar").exists()
    (tree / "m" / "Offline" / "accuracy" / "accuracy.txt").write_text("accuracy=2.0%\n")
    changed = _pack.pack(tree, dest=tmp_path / "x.tar", known_checksum=known)
    assert changed["changed"] and changed["checksum"] != known and (tmp_path / "x.tar").is_file()


def test_unpack_writes_only_changed_files_and_marker(tmp_path):
    tree = make_tree(tmp_path / "tree")
    res = _pack.pack(tree, dest=tmp_path / "a.tar")
    dest = tmp_path / "out"
    (dest / "keep").mkdir(parents=True)
    (dest / "keep" / "old.txt").write_text("kept")
    first = _pack.unpack(tmp_path / "a.tar", dest, checksum=res["checksum"])
    assert first["changed"] and len(first["written"]) == 2
    assert (dest / "m" / "Offline" / "performance" / "run_1" / "result.json").read_text() == '{"a": 1}'
    assert (dest / "keep" / "old.txt").read_text() == "kept"
    marker = _pack.read_marker(dest)
    assert marker["checksum"] == res["checksum"] and len(marker["names"]) == 2
    mtime = (dest / "m" / "Offline" / "accuracy" / "accuracy.txt").stat().st_mtime_ns
    again = _pack.unpack(tmp_path / "a.tar", dest, checksum=res["checksum"])
    assert not again["changed"] and again["written"] == []
    assert (dest / "m" / "Offline" / "accuracy" / "accuracy.txt").stat().st_mtime_ns == mtime
    with pytest.raises(_pack.PackError, match="differs"):
        _pack.unpack(tmp_path / "a.tar", dest, checksum="0" * 64)


def test_unpack_check_mode_writes_nothing(tmp_path):
    tree = make_tree(tmp_path / "tree")
    _pack.pack(tree, dest=tmp_path / "a.tar")
    res = _pack.unpack(tmp_path / "a.tar", tmp_path / "out", check_mode=True)
    assert res["changed"] and len(res["written"]) == 2
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("name", ["../evil", "/abs", "a/../../b"])
def test_unpack_refuses_unsafe_members(tmp_path, name):
    archive = tmp_path / "bad.tar"
    with tarfile.open(archive, "w") as tar:
        info = tarfile.TarInfo(name)
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    with pytest.raises(_pack.PackError):
        _pack.unpack(archive, tmp_path / "out")
    assert not (tmp_path / "evil").exists()


def test_unpack_refuses_links(tmp_path):
    archive = tmp_path / "bad.tar"
    with tarfile.open(archive, "w") as tar:
        info = tarfile.TarInfo("link")
        info.type = tarfile.SYMTYPE
        info.linkname = "/etc/passwd"
        tar.addfile(info)
    with pytest.raises(_pack.PackError, match="not a regular file"):
        _pack.unpack(archive, tmp_path / "out")


def test_copy_problem_sees_gone_and_edited_files(tmp_path):
    tree = make_tree(tmp_path / "tree")
    packed = _pack.pack(str(tree), str(tmp_path / "a.tar"))
    dest = tmp_path / "controller"
    _pack.unpack(str(tmp_path / "a.tar"), str(dest), packed["checksum"])
    checksum = packed["checksum"]
    assert _pack.copy_problem(str(dest), checksum) is None
    assert _pack.intact_checksum(str(dest)) == checksum
    assert "later or other run" in _pack.copy_problem(str(dest), "other")
    result = dest / "m" / "Offline" / "performance" / "run_1" / "result.json"
    result.write_text('{"a": 777777}')  # same size class, new content and mtime
    assert "were changed" in _pack.copy_problem(str(dest), checksum)
    assert _pack.intact_checksum(str(dest)) == ""
    # unpacking the same archive again repairs the copy
    again = _pack.unpack(str(tmp_path / "a.tar"), str(dest), checksum)
    assert again["written"] == ["m/Offline/performance/run_1/result.json"]
    assert _pack.copy_problem(str(dest), checksum) is None
    result.unlink()
    assert "are gone" in _pack.copy_problem(str(dest), checksum)
    assert "no unpacked copy" in _pack.copy_problem(str(tmp_path / "none"))
