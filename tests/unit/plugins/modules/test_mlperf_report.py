"""mlperf_report module end to end through main() (idempotence, check mode, failures)."""

import json
from pathlib import Path

import pytest
import trees
from ansible_collections.fleetbench.mlperf.plugins.modules import mlperf_report
from fleetbench_testlib import Fail, run_module


def test_module_idempotent_and_check_mode(tmp_path):
    trees.make_cm_tree(tmp_path)
    out = tmp_path / "out"
    res = run_module(mlperf_report, {"results_dir": str(tmp_path), "output_dir": str(out)}, check_mode=True)
    assert res["changed"] is True and not out.exists()
    res = run_module(mlperf_report, {"results_dir": str(tmp_path), "output_dir": str(out)})
    assert res["changed"] is True and res["summary"]["runs"] == 4
    assert Path(res["files"]["report.html"]).is_file()
    res = run_module(mlperf_report, {"results_dir": str(tmp_path), "output_dir": str(out)})
    assert res["changed"] is False


def test_module_rewrites_an_unreadable_report_json(tmp_path):
    trees.make_project_tree(tmp_path, sut="sut-a", exec_mode="test")
    out = tmp_path / "out"
    run_module(mlperf_report, {"results_dir": str(tmp_path), "output_dir": str(out)})
    (out / "report.json").write_text("[not, a report")
    res = run_module(mlperf_report, {"results_dir": str(tmp_path), "output_dir": str(out)})
    assert res["changed"] is True and json.loads((out / "report.json").read_text())["runs"]


def test_module_bad_dir(tmp_path):
    with pytest.raises(Fail, match="results_dir"):
        run_module(mlperf_report, {"results_dir": str(tmp_path / "nope")})
