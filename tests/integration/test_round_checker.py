"""A submission tree of a non-default round (v5.1), built by the product, passes that round's checker.

The results tree is a real product run (tests/fixtures/round-trees/README.md: the command, the LoadGen
5.1.2 it ran with, the date): ``run_mlperf.yml -e round=v5.1 -e execution_mode=valid`` of the 3d-unet-99
stand-in (tiny-unet3d on the 43-case synthetic KiTS19 set), Offline, both modes. The test builds the v5.1
submission tree from it with collect.yml (import mode: no host contacted) and runs the official checker of
round v5.1, mlcommons/inference ``tools/submission/submission_checker.py`` at the commit the registry names in
``rounds.v5.1.source``, taken from a git clone of mlcommons/inference (``MLPERF_INFERENCE_GIT``, a clone or
bare git dir). Without one the test is skipped, saying so. About a minute.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import yaml
from fleetbench_testlib import FIXTURES, REPO

pytestmark = pytest.mark.slow
ANSIBLE_PLAYBOOK = str(Path(sys.executable).parent / "ansible-playbook")
REGISTRY = yaml.safe_load((REPO / "files/harness/fleetbench_harness/registry.yml").read_text())
TREE = FIXTURES / "round-trees" / "v5.1-3d-unet-open.tar.xz"
# Where a clone of mlcommons/inference may be: the environment variable, else the workplace mirror.
GIT_CANDIDATES = [os.environ.get("MLPERF_INFERENCE_GIT", ""), "/work/.mirror/mlcommons+inference/repo"]


def _checker_commit(round_):
    """The commit of ``rounds.<round>.source`` (``... @ <sha> (...)``)."""
    match = re.search(r"@ ([0-9a-f]{7,40})", REGISTRY["rounds"][round_]["source"])
    assert match, REGISTRY["rounds"][round_]["source"]
    return match.group(1)


def _checker_checkout(dest, round_):
    """``tools/submission`` of the round's checker commit under ``dest`` (git archive), or skip."""
    commit = _checker_commit(round_)
    for git_dir in filter(None, GIT_CANDIDATES):
        if not Path(git_dir).exists():
            continue
        archive = subprocess.run(
            ["git", f"--git-dir={git_dir}", "archive", commit, "tools/submission"],
            capture_output=True,
            check=False,
        )
        if archive.returncode != 0:
            continue
        dest.mkdir(parents=True)
        tar = dest / "checker.tar"
        tar.write_bytes(archive.stdout)
        with tarfile.open(tar) as handle:
            handle.extractall(dest, filter="data")
        return dest
    pytest.skip(
        f"no clone of mlcommons/inference holding commit {commit} (the v5.1 checker): set "
        "MLPERF_INFERENCE_GIT to a clone (git clone https://github.com/mlcommons/inference)"
    )


def test_v51_tree_from_a_v51_run_passes_the_v51_checker(tmp_path):
    src = _checker_checkout(tmp_path / "inference", "v5.1")
    results = tmp_path / "results"
    with tarfile.open(TREE) as handle:
        handle.extractall(results, filter="data")
    perf = next(results.glob("valid_results/*/3d-unet-99/Offline/performance/run_1/result.json"))
    run = json.loads(perf.read_text())
    # the run was made with the round's LoadGen and names the round it was judged for
    assert run["round"]["name"] == "v5.1" and run["round"]["loadgen"] == "5.1.2"
    harness = json.loads((perf.parent / "harness.json").read_text())
    assert harness["loadgen"]["version"] == harness["loadgen"]["pinned"] == "5.1.2"
    assert run["loadgen"]["settings"]["qsl_rng_seed"] == REGISTRY["rounds"]["v5.1"]["seeds"]["qsl_rng_seed"]
    assert not [r for r in run["submittable"]["reasons"] if "round v5.1" in r], run["submittable"]

    # what no fact on the SUT says: the submitter answers these (the checker wants meaningful answers)
    system = perf.parts[-6]
    overrides = {
        system: {
            "host_memory_configuration": "24 GiB, virtual machine (DIMM layout not visible to the guest)",
            "host_networking": "virtual NIC, not used by the benchmark",
            "host_networking_topology": "N/A (single node)",
            "cooling": "unknown (cloud virtual machine)",
        }
    }
    out = tmp_path / "out"
    argv = [ANSIBLE_PLAYBOOK, "-i", "localhost,", str(REPO / "playbooks" / "collect.yml")]
    argv += ["-e", json.dumps({"system_desc_overrides": overrides})]
    for item in (
        f"results_dir={results}",
        f"output_dir={out}",
        "submission=true",
        "submitter=fleetbench",
        "division=open",
        "category=edge",
        "submission_status=available",
        "round=v5.1",
        f"mlperf_inference_src={src}",
        "ansible_connection=local",
        f"ansible_python_interpreter={sys.executable}",
    ):
        argv += ["-e", item]
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_CONFIG=str(REPO / "ansible.cfg"))
    proc = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]

    report = json.loads((out / "report.json").read_text())
    checker = report["checker"]
    assert report["round"]["name"] == "v5.1"
    assert checker["ran"] is True, checker
    assert checker["verdict"] == "PASS", checker.get("output_tail")
    assert checker["checked"] == 1
    assert "SUMMARY: submission looks OK" in (checker.get("summary") or "")
    # the v5.1 layout: measurements in a tree of their own, <system>_<implementation>_<scenario>.json
    sub = out / "submission" / "open" / "fleetbench"
    assert list(sub.glob("measurements/*/3d-unet-99/Offline/*_reference_Offline.json"))
    assert report["submission"]["problems"] == []
