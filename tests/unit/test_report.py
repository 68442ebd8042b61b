"""Report (md/json/html + plots) for a project run structure and an imported CM-style tree."""

import json
import sys
from pathlib import Path

import pytest
from ansible_collections.fleetbench.mlperf.plugins.module_utils import _registry, _report
from ansible_collections.fleetbench.mlperf.plugins.modules import mlperf_report

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fixtures"))
import trees
from fleetbench_testlib import Fail, run_module

REG = _registry.load_registry()


def by(runs, **match):
    found = [r for r in runs if all(r.get(k) == v for k, v in match.items())]
    assert len(found) == 1, (match, [(r["system"], r["model"], r["scenario"], r["mode"]) for r in runs])
    return found[0]


def test_project_tree_runs(tmp_path):
    trees.make_project_tree(tmp_path, sut="sut-a", exec_mode="test")
    runs = _report.discover_runs(tmp_path, REG)
    off = by(runs, scenario="Offline", mode="performance")
    assert off["source"] == "result.json"
    assert (off["system"], off["model"], off["execution_mode"]) == ("sut-a", "resnet50", "test")
    assert (
        off["validity"] == "VALID" and off["value"] == pytest.approx(88714.3) and off["unit"] == "samples/s"
    )
    assert off["accuracy"]["value"] == pytest.approx(76.096) and off["accuracy"]["met"] is True
    assert off["submittable"]["ok"] is False
    assert off["submittable"]["reasons"][0].startswith("execution_mode=test")
    ss = by(runs, scenario="SingleStream", mode="performance")
    assert ss["validity"] == "INVALID" and ss["value"] is None
    assert any("early stopping" in r for r in ss["reasons"])
    assert any("missing accuracy run" in r for r in ss["submittable"]["reasons"])


def test_cm_tree_is_parsed_from_logs(tmp_path):
    trees.make_cm_tree(tmp_path, sut="cm-sut")
    runs = _report.discover_runs(tmp_path, REG)
    assert {r["source"] for r in runs} == {"logs"}
    off = by(runs, scenario="Offline", mode="performance")
    assert off["dir_scenario"] == "offline" and off["execution_mode"] == "valid"
    assert off["validity"] == "INVALID" and off["value"] == pytest.approx(410.191)
    reasons = " ".join(off["submittable"]["reasons"])
    assert "samples_per_query 660 below the minimum 24576" in reasons
    ss = by(runs, scenario="SingleStream", mode="performance")
    assert ss["value"] == pytest.approx(0.640259) and ss["unit"] == "ms"
    assert ss["submittable"] == {"ok": True, "reasons": []}
    server = by(runs, model="llama2-70b-99", mode="performance")
    assert server["unit"] == "tokens/s" and server["value"] == pytest.approx(24593.77)
    assert server["ttft_ms"]["p99"] == pytest.approx(1914.647645)


def test_submission_tree_import(tmp_path):
    sub = tmp_path / "closed" / "AMD" / "results" / "8xMI300X" / "llama2-70b-99"
    trees._put(sub / "Offline" / "performance" / "run_1", "llama_off", "mlperf_log_summary.txt")
    trees._put(sub / "Interactive" / "performance" / "run_1", "llama_server", "mlperf_log_summary.txt")
    runs = _report.discover_runs(tmp_path, REG)
    inter = by(runs, dir_scenario="Interactive")
    assert inter["scenario"] == "Server"  # the log's own scenario line
    assert (inter["division"], inter["submitter"], inter["tree"]) == ("closed", "AMD", "submission")
    assert by(runs, dir_scenario="Offline")["value"] == pytest.approx(27803.9)


def test_build_report_files_and_failed_hosts(tmp_path):
    trees.make_project_tree(tmp_path, sut="sut-a")
    trees.make_cm_tree(tmp_path, sut="cm-sut")
    (tmp_path / "hosts.json").write_text(
        json.dumps(
            {
                "sut-a": {"status": "ok", "task": "", "reason": ""},
                "sut-x": {
                    "status": "unreachable",
                    "task": "Gathering Facts",
                    "reason": "ssh: connect refused <b>",
                },
            }
        )
    )
    rep = _report.build_report(tmp_path, tmp_path, registry=REG, hosts_file=tmp_path / "hosts.json")
    for name in ("report.md", "report.json", "report.html", "plot_throughput.png", "plot_latency.png"):
        assert (tmp_path / name).stat().st_size > 0, name
    md = (tmp_path / "report.md").read_text()
    assert (
        "| Model | Scenario | Mode | Accuracy | Throughput or latency | LoadGen validity | Submittable |"
        in md
    )
    assert "## System `sut-a`" in md and "## System `cm-sut`" in md
    assert "sut-x | unreachable | Gathering Facts | ssh: connect refused" in md
    assert "![Throughput per SUT and scenario](plot_throughput.png)" in md
    assert "Not run: no checker information" in md
    data = json.loads((tmp_path / "report.json").read_text())
    for run in data["runs"]:
        for key in (
            "system",
            "model",
            "scenario",
            "mode",
            "validity",
            "reasons",
            "metric",
            "value",
            "unit",
            "accuracy",
        ):
            assert key in run
    assert data["failed_hosts"] == [
        {
            "host": "sut-x",
            "status": "unreachable",
            "task": "Gathering Facts",
            "reason": "ssh: connect refused <b>",
        }
    ]
    html = (tmp_path / "report.html").read_text()
    assert "ssh: connect refused &lt;b&gt;" in html  # escaped
    assert html.count('<tr class="run">') == len(rep["rows"])
    assert 'src="plot_latency.png"' in html


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


def test_module_bad_dir(tmp_path):
    with pytest.raises(Fail, match="results_dir"):
        run_module(mlperf_report, {"results_dir": str(tmp_path / "nope")})


@pytest.mark.parametrize(
    ("name", "ok"),
    [
        ("28_TEST01_verify_accuracy_TEST_FAIL_v4.1_ASUSTeK_bert-99.9_offline.txt", False),
        ("31_TEST01_verify_performance_PASS_v4.1_ASUSTeK_bert-99.9_offline.txt", True),
        ("33_TEST04_verify_performance_PASS_test_submissions_v5.0_gh_ubuntu_resnet50_offline.txt", True),
        ("34_TEST06_verify_accuracy_v5.1_AMD_llama2-70b-99_offline.txt", True),
    ],
)
def test_compliance_verify_files(tmp_path, name, ok):
    target = "verify_performance.txt" if "performance" in name else "verify_accuracy.txt"
    (tmp_path / target).write_text((trees.FIX / name).read_text())
    got, lines = _report._verify_status(str(tmp_path))
    assert got is ok
    assert lines


def test_rows_of_a_host_that_failed_since_are_marked(tmp_path):
    trees.make_project_tree(tmp_path, sut="sut-a")
    (tmp_path / "hosts.json").write_text(
        json.dumps({"sut-a": {"status": "failed", "task": "Run MLPerf LoadGen", "reason": "harness crashed"}})
    )
    _report.build_report(tmp_path, tmp_path, registry=REG, hosts_file=tmp_path / "hosts.json")
    md = (tmp_path / "report.md").read_text()
    perf = [line for line in md.splitlines() if line.startswith("| sut-a | resnet50 | Offline | performance")]
    assert perf and all("earlier run: the host failed in its last run" in line for line in perf)
    data = json.loads((tmp_path / "report.json").read_text())
    marked = [run["from_failed_host"] for run in data["runs"] if run.get("host") == "sut-a"]
    assert marked and all(marked)
