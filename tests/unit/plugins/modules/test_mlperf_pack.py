"""mlperf_pack module end to end through main() (both states, check mode, an empty tree)."""

import json

import pytest
from ansible_collections.fleetbench.mlperf.plugins.module_utils import _pack
from ansible_collections.fleetbench.mlperf.plugins.modules import mlperf_pack
from fleetbench_testlib import Fail, run_module
from trees import make_pack_tree as make_tree


def test_module_pack_and_unpack(tmp_path):
    tree = make_tree(tmp_path / "tree")
    packed = run_module(mlperf_pack, {"path": str(tree), "dest": str(tmp_path / "a.tar")})
    assert packed["changed"] and packed["files"] == 2
    check = run_module(mlperf_pack, {"path": str(tree), "dest": str(tmp_path / "c.tar")}, check_mode=True)
    assert check["changed"] and check["archive"] is None and not (tmp_path / "c.tar").exists()
    same = run_module(
        mlperf_pack,
        {"path": str(tree), "dest": str(tmp_path / "b.tar"), "known_checksum": packed["checksum"]},
    )
    assert not same["changed"] and not (tmp_path / "b.tar").exists()
    out = tmp_path / "out"
    unpacked = run_module(
        mlperf_pack,
        {"state": "unpacked", "path": packed["archive"], "dest": str(out), "checksum": packed["checksum"]},
    )
    assert unpacked["changed"] and unpacked["files"] == 2
    assert json.loads((out / _pack.MARKER).read_text())["checksum"] == packed["checksum"]


def test_module_fails_on_empty_tree(tmp_path):
    with pytest.raises(Fail, match="no files under"):
        run_module(mlperf_pack, {"path": str(tmp_path / "missing")})
