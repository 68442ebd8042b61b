"""The LLM family end to end: ``ansible-playbook playbooks/run_mlperf.yml`` with SmolLM2 on localhost.

The issue's offline command: llama2-70b-99 on the ``smollm2-135m`` stand-in (a real Llama from
PyPI), Server, both modes, 8 queries, ``max_new_tokens=32``. Own work/output/cache dirs; the SUT
venv lives in the fleet tests' shared directory (``fleet_shared_dir``).
"""

from __future__ import annotations

import json
import re

import pytest
from test_main_job import ANSIBLE_PLAYBOOK, Job, _fail

pytestmark = pytest.mark.slow
MODEL = "llama2-70b-99"


def test_llama2_on_smollm2_server_both_modes(tmp_path, fleet_shared_dir):
    if not ANSIBLE_PLAYBOOK.exists():
        pytest.skip("ansible-playbook is not installed in the test venv")
    job = Job(tmp_path, fleet_shared_dir)
    proc = job.run(
        "-e", f"model={MODEL}", "-e", "stand_in_model=smollm2-135m", "-e", "scenario=Server",
        "-e", "mode=both", "-e", "test_query_count=8", "-e", "max_new_tokens=32",
    )  # fmt: skip
    assert proc.returncode == 0, _fail(proc, "the SmolLM2 run failed")
    # <work>/results/<request key>/test_results/<system>/<model>/<scenario> (one tree per request)
    trees = sorted((job.work / "results").glob(f"*/test_results/*/{MODEL}/Server"))
    assert len(trees) == 1, trees
    tree = trees[0]
    perf, acc = tree / "performance" / "run_1", tree / "accuracy"
    summary = (perf / "mlperf_log_summary.txt").read_text()
    assert re.search(r"tokens per second\s*:\s*[\d.]+", summary, re.I)
    assert "first token latency" in summary.lower() and "time to output token" in summary.lower()
    harness = json.loads((perf / "harness.json").read_text())
    assert harness["stand_in"]["name"] == "smollm2-135m"
    assert harness["workload"]["max_new_tokens"] == 32 and harness["workload"]["streaming"]
    text = (acc / "accuracy.txt").read_text()
    for key in ("rouge1", "rouge2", "rougeL", "rougeLsum", "gen_len", "tokens_per_sample"):
        assert re.search(rf"'{key}':\s([\d.]+)", text), key
    assert "stand-in: not comparable with the target" in text
    assert "dataset: open_orca from open-orca-smoke" in proc.stdout
