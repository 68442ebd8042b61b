"""The fleet job through the Python API (ansible-runner): three loopback SSH SUTs, one broken.

Checks the returned ``MlperfRun``: per-host results read from the collected files,
``hosts.json`` statuses with the reason, the report paths, and that a secret passed in
``secrets=`` appears nowhere in the private data dir, the artifacts or the output dir.
Then the broken host is fixed and ``limit=`` re-runs only it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from ansible_collections.fleetbench.mlperf.plugins.plugin_utils.runner_api import run_mlperf
from conftest import FLEET_REQUEST, host_vars

pytestmark = [pytest.mark.slow, pytest.mark.fleet]

SECRET = "hf_FleetSecret_5b3c9e1d7a"


def _grep(root: Path, needle: str) -> list[str]:
    data = needle.encode()
    return [str(p) for p in root.rglob("*") if p.is_file() and data in p.read_bytes()]


def test_run_mlperf_api_three_suts(loopback_sshd, fleet_warm, tmp_path):
    out = tmp_path / "out"
    blocker = tmp_path / "blocker"
    blocker.write_text("not a directory\n")
    hosts = {n: host_vars(loopback_sshd, tmp_path, n, fleet_warm) for n in ("api_a", "api_b", "api_bad")}
    hosts["api_bad"]["mlperf_work_dir"] = str(blocker / "work")
    inventory = {"all": {"hosts": hosts}}
    request = dict(FLEET_REQUEST, output_dir=str(out))

    run = run_mlperf(request, inventory, private_data_dir=tmp_path / "pdd", secrets={"hf_token": SECRET})

    assert run.rc == 2 and run.status == "failed", run
    assert run.output_dir == out
    assert run.failed_hosts == ["api_bad"]
    assert run.hosts["api_bad"]["status"] == "failed"
    assert "Not a directory" in run.hosts["api_bad"]["reason"]
    for name in ("api_a", "api_b"):
        assert run.hosts[name]["status"] == "ok"
        assert run.results[name], f"no results for {name}"
        for result in run.results[name]:
            assert result["system"] == f"loop-{name}-reference-cpu-onnxruntime-float32"
            assert result["loadgen"]["validity"] in ("VALID", "INVALID")
            assert Path(result["_path"]).is_relative_to(out)
    assert "api_bad" not in run.results
    assert set(run.report_paths) >= {"md", "html"}
    assert "api_bad" in run.report_paths["md"].read_text()

    for root in (tmp_path / "pdd", out):
        assert _grep(root, SECRET) == [], f"secret leaked under {root}"

    blocker.unlink()
    run2 = run_mlperf(request, inventory, private_data_dir=tmp_path / "pdd2", limit="api_bad")
    assert run2.rc == 0, run2
    assert set(run2.stats.get("processed", {})) - {"localhost"} == {"api_bad"}
    assert run2.failed_hosts == []
    assert sorted(run2.results) == ["api_a", "api_b", "api_bad"]
    assert [r["started"] for r in run2.results["api_a"]] == [r["started"] for r in run.results["api_a"]]
