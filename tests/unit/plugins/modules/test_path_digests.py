"""path_digests module end to end through main() (digests, then a comparison with them)."""

from ansible_collections.fleetbench.mlperf.plugins.modules import path_digests
from fleetbench_testlib import run_module
from trees import make_digest_tree as _tree


def test_path_digests_module_reports_and_compares(tmp_path):
    root = _tree(tmp_path / "results")
    site = tmp_path / "venv" / "lib" / "python3.11" / "site-packages"
    site.mkdir(parents=True)
    args = {
        "paths": [str(root), str(tmp_path / "absent")],
        "names_only": [str(tmp_path / "venv/lib/python*/site-packages")],
    }
    first = run_module(path_digests, args, check_mode=True)
    assert first["changed"] is False and first["mismatched"] == [] and first["unchanged"] is False
    assert first["digests"][f"tree:{tmp_path / 'absent'}"] is None
    again = run_module(path_digests, dict(args, expected=first["digests"]))
    assert again["unchanged"] is True
    (site / "onnxruntime-1.20.dist-info").mkdir()
    changed = run_module(path_digests, dict(args, expected=first["digests"]))
    assert changed["unchanged"] is False
    assert changed["mismatched"] == [f"names:{tmp_path / 'venv/lib/python*/site-packages'}"]
