"""3D-UNet through the main job: the issue's offline command on localhost (real ansible-playbook).

``-e model=3d-unet-99 -e stand_in_model=tiny-unet3d -e scenario=SingleStream -e mode=both
-e test_query_count=4``: the dataset role builds the offline ``kits19-synthetic`` set, the model
role generates the stand-in folder, the benchmark role runs performance and accuracy through the
mlperf_run module, the accuracy step writes accuracy.txt in the reference's DICE form, and the
result says it is a stand-in's.
"""

from __future__ import annotations

import json
import re

import pytest
from test_main_job import Job, _fail

MODEL = "3d-unet-99"

pytestmark = pytest.mark.slow


def test_issue_command_runs_offline(tmp_path, fleet_shared_dir):
    job = Job(tmp_path, fleet_shared_dir)
    proc = job.run(
        "-e", f"model={MODEL}", "-e", "stand_in_model=tiny-unet3d", "-e", "scenario=SingleStream",
        "-e", "mode=both", "-e", "test_query_count=4",
    )  # fmt: skip
    assert proc.returncode == 0, _fail(proc, "the 3d-unet stand-in run failed")
    # <work>/results/<request key>/test_results/<system>/<model>/<scenario> (one tree per request)
    trees = sorted((job.work / "results").glob(f"*/test_results/*/{MODEL}/SingleStream"))
    assert len(trees) == 1, trees
    tree = trees[0]
    perf, acc = tree / "performance" / "run_1", tree / "accuracy"
    for run_dir in (perf, acc):
        for name in ("mlperf_log_summary.txt", "mlperf_log_detail.txt", "harness.json", "result.json"):
            assert (run_dir / name).is_file(), f"missing {run_dir / name}"
    assert re.search(r"Accuracy:\s*mean\s*=\s*[\d.]+", (acc / "accuracy.txt").read_text())
    harness = json.loads((perf / "harness.json").read_text())
    assert harness["stand_in"]["name"] == "tiny-unet3d" and harness["family"] == "segmentation_3d"
    assert "kits19-synthetic" in " ".join(proc.stdout.split())
    # the report labels the stand-in's rows
    assert "not comparable with the target" in (job.out / "report.md").read_text()
    assert "tiny random-weight 3D-UNet" in (job.out / "report.json").read_text()
