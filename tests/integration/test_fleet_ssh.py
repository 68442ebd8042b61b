"""The main job against three SUTs over real SSH on loopback, one of them broken.

``sut_a`` and ``sut_b`` complete: their result trees and report rows arrive on the
controller. ``sut_bad`` has its ``mlperf_work_dir`` below a regular file (unwritable even
for root), so provisioning fails there; it is reported in ``hosts.json`` and the report
with the failing task and reason, and the other two are unaffected. After the file is
removed, ``--limit sut_bad`` completes it without touching the other two (recap and
result timestamps), and the report then covers all three hosts. A re-run of the whole
fleet then leaves all three out as current; with ``mlperf_verify_current`` a file
touched on one SUT sends only that one through its (cached) steps.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import FLEET_REQUEST, host_vars, recap, run_playbook, write_inventory

pytestmark = [pytest.mark.slow, pytest.mark.fleet]


def result_files(output_dir: Path, hw_name: str) -> dict[str, float]:
    """``{path: mtime}`` of every result.json of one system."""
    # the system name is <hw_name>-<implementation>-<device>-<backend>-<precision>
    found = sorted(output_dir.glob(f"*_results/{hw_name}-*/**/result.json"))
    return {str(p): p.stat().st_mtime for p in found}


def test_three_suts_one_broken_then_limit_rerun(loopback_sshd, fleet_warm, tmp_path):
    out = tmp_path / "out"
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where sut_bad's work dir should be\n")
    hosts = {
        name: host_vars(loopback_sshd, tmp_path, name, fleet_warm) for name in ("sut_a", "sut_b", "sut_bad")
    }
    hosts["sut_bad"]["mlperf_work_dir"] = str(blocker / "work")
    inv = write_inventory(tmp_path / "hosts.yml", hosts)
    request = dict(FLEET_REQUEST, output_dir=str(out))

    # 1. first run: two complete, one fails -------------------------------------------------
    proc = run_playbook(inv, request)
    log = proc.stdout + proc.stderr
    (tmp_path / "run1.log").write_text(log)
    assert proc.returncode == 2, log[-6000:]
    stats = recap(proc.stdout)
    assert stats["sut_a"]["failed"] == 0 and stats["sut_b"]["failed"] == 0, stats
    assert stats["sut_bad"]["failed"] == 1, stats

    status = json.loads((out / "hosts.json").read_text())
    assert status["sut_a"]["status"] == "ok"
    assert status["sut_b"]["status"] == "ok"
    bad = status["sut_bad"]
    assert bad["status"] == "failed"
    assert bad["task"] and bad["play"]
    assert "blocker" in bad["reason"] or "Not a directory" in bad["reason"] or "exists" in bad["reason"], bad

    before = {}
    for name in ("sut_a", "sut_b"):
        files = result_files(out, f"loop-{name}")
        assert files, f"no result.json of {name} on the controller: {sorted(map(str, out.rglob('*')))[:40]}"
        for path in files:
            result = json.loads(Path(path).read_text())
            assert result["host"] == name
            assert result["loadgen"]["validity"] in ("VALID", "INVALID")
        before.update(files)
    assert not result_files(out, "loop-sut_bad")

    report = (out / "report.md").read_text()
    assert "loop-sut_a" in report and "loop-sut_b" in report
    failed_section = report.split("Failed hosts", 1)[1]
    assert "sut_bad" in failed_section

    # 2. fix the broken host, re-run only it -------------------------------------------------
    blocker.unlink()
    proc = run_playbook(inv, request, limit="sut_bad")
    log = proc.stdout + proc.stderr
    (tmp_path / "run2.log").write_text(log)
    assert proc.returncode == 0, log[-6000:]
    stats = recap(proc.stdout)
    assert "sut_a" not in stats and "sut_b" not in stats, stats
    assert stats["sut_bad"]["failed"] == 0 and stats["sut_bad"]["changed"] > 0, stats
    assert before == {p: Path(p).stat().st_mtime for p in before}, "sut_a/sut_b results were rewritten"
    assert result_files(out, "loop-sut_bad")

    status = json.loads((out / "hosts.json").read_text())
    assert {h: e["status"] for h, e in status.items()} == {"sut_a": "ok", "sut_b": "ok", "sut_bad": "ok"}
    report = (out / "report.md").read_text()
    for name in ("sut_a", "sut_b", "sut_bad"):
        assert f"loop-{name}" in report, f"report lacks {name}"
    assert "sut_bad" not in report.split("Failed hosts", 1)[1].split("\n#", 1)[0]

    # 3. the same request again, whole fleet: everything cached -----------------------------
    proc = run_playbook(inv, request)
    (tmp_path / "run3.log").write_text(proc.stdout + proc.stderr)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-6000:]
    assert before == {p: Path(p).stat().st_mtime for p in before}, "cached re-run rewrote results"
    stats = recap(proc.stdout)
    assert all(stats[h]["changed"] == 0 for h in ("sut_a", "sut_b", "sut_bad")), stats
    # every SUT is current: left out without being contacted
    flat = " ".join(proc.stdout.split())
    assert "current, left out of this run: - sut_a - sut_b - sut_bad" in flat, proc.stdout[-4000:]
    assert "Gather the minimal facts" not in proc.stdout

    # 4. verified: a file touched on sut_a's SUT makes only sut_a go through its steps --------
    touched = next((tmp_path / "sut_a" / "work" / "results").rglob("mlperf_log_summary.txt"))
    touched.touch()
    proc = run_playbook(inv, dict(request, mlperf_verify_current=True))
    (tmp_path / "run4.log").write_text(proc.stdout + proc.stderr)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-6000:]
    flat = " ".join(proc.stdout.split())
    assert "current, left out of this run: - sut_b - sut_bad" in flat, proc.stdout[-4000:]
    assert "sut_a: 'changed on the SUT since the last complete run:" in flat, proc.stdout[-4000:]
    stats = recap(proc.stdout)
    assert all(stats[h]["changed"] == 0 for h in ("sut_a", "sut_b", "sut_bad")), stats
    assert before == {p: Path(p).stat().st_mtime for p in before}, "the verified re-run rewrote results"

    # 5. a host that fails after its stamp is not current afterwards (its failure is not erased) -
    work_a = tmp_path / "sut_a" / "work"
    moved = tmp_path / "sut_a" / "work.moved"
    work_a.rename(moved)
    work_a.write_text("a file where sut_a's work dir should be\n")
    proc = run_playbook(inv, dict(request, test_query_count=request["test_query_count"] + 1), limit="sut_a")
    (tmp_path / "run5.log").write_text(proc.stdout + proc.stderr)
    assert proc.returncode == 2 and recap(proc.stdout)["sut_a"]["failed"] == 1, proc.stdout[-4000:]
    proc = run_playbook(inv, request, limit="sut_a")
    (tmp_path / "run6.log").write_text(proc.stdout + proc.stderr)
    flat = " ".join(proc.stdout.split())
    assert "sut_a: 'its last run failed at" in flat, proc.stdout[-4000:]
    assert proc.returncode == 2, "the still broken sut_a passed as current"
    work_a.unlink()
    moved.rename(work_a)
    proc = run_playbook(inv, request, limit="sut_a")
    (tmp_path / "run7.log").write_text(proc.stdout + proc.stderr)
    # every step again, the benchmark cached (the report changes: sut_a is no longer failed)
    assert proc.returncode == 0 and "(cached)" in proc.stdout, proc.stdout[-4000:]
    assert "current, left out of this run: - sut_a" in " ".join(run_playbook(inv, request).stdout.split())
