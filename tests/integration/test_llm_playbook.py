"""The LLM family end to end: ``ansible-playbook playbooks/run_mlperf.yml`` with SmolLM2 on localhost.

One run of the issue's offline command with compliance: llama2-70b-99 on the ``smollm2-135m``
stand-in (a real Llama from PyPI), Server, both modes and ``compliance=true`` (TEST06: real LoadGen
with the registry's TEST06 audit.config, verified as compliance/TEST06/run_verification.py does).
Few queries and a small ``max_new_tokens`` keep it short on 2 cores. Own work/output/cache dirs; the
SUT venv and the SmolLM2 folder the harness builds from the GGUF file live in the fleet tests' shared
directory (``fleet_shared_dir``), so a session builds them once.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest
from test_main_job import ANSIBLE_PLAYBOOK, Job, _fail

pytestmark = pytest.mark.slow
MODEL = "llama2-70b-99"
QUERIES = 4
MAX_NEW_TOKENS = 16
# The harness's stand-in folders: <SUT cache>/models/<name>-<source sha256[:16]>-b<build version>.
STAND_IN_GLOB = "smollm2-135m-*"


def _link_tree(src: Path, dest: Path) -> None:
    """Hard-link copy of a folder the harness only reads (a plain copy across file systems)."""
    try:
        shutil.copytree(src, dest, copy_function=os.link)
    except OSError:
        shutil.rmtree(dest, ignore_errors=True)
        shutil.copytree(src, dest)


def _reuse_stand_in(shared: Path, models: Path) -> None:
    """Put SmolLM2 folders an earlier run built into this SUT cache (the harness checks their marker)."""
    for folder in sorted((shared / "llm-stand-ins").glob(STAND_IN_GLOB)):
        if (folder / "fleetbench_stand_in.json").is_file() and not (models / folder.name).exists():
            models.mkdir(parents=True, exist_ok=True)
            _link_tree(folder, models / folder.name)


def _keep_stand_in(models: Path, shared: Path) -> None:
    for folder in sorted(models.glob(STAND_IN_GLOB)):
        dest = shared / "llm-stand-ins" / folder.name
        if (folder / "fleetbench_stand_in.json").is_file() and not dest.exists():
            _link_tree(folder, dest)


def test_llama2_on_smollm2_server_both_modes_and_test06(tmp_path, fleet_shared_dir):
    if not ANSIBLE_PLAYBOOK.exists():
        pytest.skip("ansible-playbook is not installed in the test venv")
    job = Job(tmp_path, fleet_shared_dir)
    models = job.work / "cache" / "models"
    _reuse_stand_in(fleet_shared_dir, models)
    proc = job.run(
        "-e", f"model={MODEL}", "-e", "stand_in_model=smollm2-135m", "-e", "scenario=Server",
        "-e", "mode=both", "-e", "compliance=true",
        "-e", f"test_query_count={QUERIES}", "-e", f"max_new_tokens={MAX_NEW_TOKENS}",
    )  # fmt: skip
    assert proc.returncode == 0, _fail(proc, "the SmolLM2 run failed")
    _keep_stand_in(models, fleet_shared_dir)
    # <work>/results/<request key>/test_results/<system>/<model>/<scenario> (one tree per request)
    trees = sorted((job.work / "results").glob(f"*/test_results/*/{MODEL}/Server"))
    assert len(trees) == 1, trees
    tree = trees[0]
    perf, acc, test06 = tree / "performance" / "run_1", tree / "accuracy", tree / "TEST06"

    summary = (perf / "mlperf_log_summary.txt").read_text()
    assert re.search(r"tokens per second\s*:\s*[\d.]+", summary, re.I)
    assert "first token latency" in summary.lower() and "time to output token" in summary.lower()
    harness = json.loads((perf / "harness.json").read_text())
    assert harness["stand_in"]["name"] == "smollm2-135m"
    assert harness["workload"]["max_new_tokens"] == MAX_NEW_TOKENS and harness["workload"]["streaming"]
    text = (acc / "accuracy.txt").read_text()
    for key in ("rouge1", "rouge2", "rougeL", "rougeLsum", "gen_len", "tokens_per_sample"):
        assert re.search(rf"'{key}':\s([\d.]+)", text), key
    assert "stand-in: not comparable with the target" in text
    assert "dataset: open_orca from open-orca-smoke" in proc.stdout

    # TEST06: a performance-mode LoadGen run under the official audit.config ...
    audit = (test06 / "audit.config").read_text()
    for line in (
        "*.*.mode = 2",
        "*.*.accuracy_log_sampling_target = 100",
        "*.*.sample_concatenate_permutation = 0",
    ):
        assert line in audit, audit
    assert "Found Audit Config file (audit.config)" in (test06 / "mlperf_log_detail.txt").read_text()
    logged = json.loads((test06 / "mlperf_log_accuracy.json").read_text())
    assert logged and all("token_data" in e and "token_count" in e for e in logged), logged[:2]
    # ... verified as run_verification.py does: Server, so the first-token check runs too.
    assert (test06 / "verify_accuracy.txt").read_text() == (
        "First token check pass: True\nEOS check pass: True\nSample length check pass: True\n"
        "TEST06 verification complete\n"
    )
    result = json.loads((test06 / "result.json").read_text())
    verdict = result["compliance"]
    assert verdict["test"] == "TEST06" and verdict["passed"] is True, verdict
    checks = verdict["accuracy"]
    assert (checks["first_token"], checks["eos"], checks["sample_length"]) == (True, True, True), checks
    assert checks["samples"] == len(logged) and checks["eos_source"].startswith("stand-in tokenizer")
    assert result["submittable"]["ok"] is False  # a stand-in with capped generation never is
    report = (job.out / "report.md").read_text()
    assert re.search(r"TEST06[^\n]*PASS", report), report[-3000:]
