"""mlperf_submission module end to end through main() (cache, check mode, bad fields, warnings)."""

import pytest
import trees
from ansible_collections.fleetbench.mlperf.plugins.modules import mlperf_submission
from fleetbench_testlib import Fail, run_module

REQ = trees.SUBMISSION_REQUEST
ONE_OF = trees.LLAMA_ONE_OF
OVERRIDES = trees.LLAMA_OVERRIDES


def test_module_build_idempotent_check_mode(valid_tree, tmp_path):
    results, _ = valid_tree
    # llama2-70b-99 left the benchmark list in v6.1 (the default round): build for v5.1
    args = dict(REQ, results_dir=str(results), system_desc_overrides=OVERRIDES, submission_round="v5.1")
    res = run_module(mlperf_submission, args, check_mode=True)
    assert res["changed"] and not (results / "submission").exists()
    res = run_module(mlperf_submission, args)
    assert res["changed"] and res["problems"] == [ONE_OF] and res["checker"]["ran"] is False
    assert "mlperf_inference_src is not set" in res["checker"]["reason"]
    res = run_module(mlperf_submission, args)
    assert res["changed"] is False and res["problems"] == [ONE_OF]


def test_module_names_bad_field(valid_tree):
    with pytest.raises(Fail, match="division"):
        run_module(mlperf_submission, dict(REQ, division="secret", results_dir=str(valid_tree[0])))


def test_module_on_a_tree_of_test_runs_says_nothing_was_checked(tmp_path, monkeypatch):
    from ansible.module_utils import basic

    warnings = []
    monkeypatch.setattr(basic.AnsibleModule, "warn", lambda self, msg: warnings.append(msg))
    trees.make_project_tree(tmp_path / "results", sut="sut-a")  # test_results only
    res = run_module(
        mlperf_submission, dict(REQ, results_dir=str(tmp_path / "results"), submission_round="v5.1")
    )
    assert (
        res["systems"] == [] and "no results found in the tree: nothing to submit or check" in res["problems"]
    )
    assert any("holds no results" in w for w in warnings)
