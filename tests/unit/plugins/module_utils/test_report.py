"""Report (md/json/html + plots) for a project run structure and an imported CM-style tree."""

import json
import shutil

import pytest
import trees
from ansible_collections.fleetbench.mlperf.plugins.module_utils import _compliance, _registry, _report

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
    # a v3.1 Orin log judged by the current round's checker (v6.1): only its LoadGen's seeds keep it out
    assert ss["round"] == "v6.1" and ss["submittable"]["ok"] is False
    assert [r.split(":")[1].split()[0] for r in ss["submittable"]["reasons"]] == [
        "qsl_rng_seed",
        "sample_index_rng_seed",
        "schedule_rng_seed",
    ]
    server = by(runs, model="llama2-70b-99", mode="performance")
    assert server["unit"] == "tokens/s" and server["value"] == pytest.approx(24593.77)
    assert server["ttft_ms"]["p99"] == pytest.approx(1914.647645)


def test_submission_tree_import(tmp_path):
    root = tmp_path / "inference_results_v5.1"  # the tree's name gives the round
    sub = root / "closed" / "AMD" / "results" / "8xMI300X" / "llama2-70b-99"
    trees._put(sub / "Offline" / "performance" / "run_1", "llama_off", "mlperf_log_summary.txt")
    trees._put(sub / "Interactive" / "performance" / "run_1", "llama_server", "mlperf_log_summary.txt")
    runs = _report.discover_runs(root, REG)
    inter = by(runs, dir_scenario="Interactive")
    # Interactive is a scenario of its own for the checker; the log still says "Scenario : Server"
    assert inter["scenario"] == "Interactive" and inter["log_scenario"] == "Server"
    assert inter["latency_check"]["limits_ms"] == {"ttft": 450.0, "tpot": 40.0}
    assert inter["round"] == "v5.1"
    # llama2-70b-99 left the benchmark list in v6.1: the current round gives no verdict, and says so
    current = by(_report.discover_runs(root, REG, round_="v6.1"), dir_scenario="Interactive")
    assert "not a benchmark of round v6.1" in current["reasons"][-1]
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


@pytest.mark.parametrize(
    ("name", "verdict"),
    [
        ("28_TEST01_verify_accuracy_TEST_FAIL_v4.1_ASUSTeK_bert-99.9_offline.txt", "FAIL"),
        ("31_TEST01_verify_performance_PASS_v4.1_ASUSTeK_bert-99.9_offline.txt", "PASS"),
        ("33_TEST04_verify_performance_PASS_test_submissions_v5.0_gh_ubuntu_resnet50_offline.txt", "PASS"),
        ("63_TEST01_verify_performance_NO_VERDICT_v5.1_HPE_resnet_multistream.txt", None),
    ],
)
def test_compliance_verify_files(name, verdict):
    read = _compliance.read_verify_text("verify_x.txt", (trees.FIX / name).read_text())
    assert read["verdict"] == verdict


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


def test_report_names_the_round_and_its_origin(tmp_path):
    root = tmp_path / "inference_results_v4.1"
    sub = root / "closed" / "NVIDIA" / "results" / "DGX-H100" / "gptj-99" / "Server" / "performance" / "run_1"
    sub.mkdir(parents=True)
    shutil.copy(
        trees.FIX / "61_server_VALID_summary_v4.1_NVIDIA_gptj-99_inferred_tokens.txt",
        sub / "mlperf_log_summary.txt",
    )
    rep = _report.build_report(root, tmp_path / "out", registry=REG)
    assert rep["round"]["name"] == "v4.1" and "tree" in rep["round"]["origin"]
    md = (tmp_path / "out" / "report.md").read_text()
    assert "Checker round applied: **v4.1**" in md
    run = rep["runs"][0]
    assert run["metric"] == "inferred_completed_tokens_per_second" and run["value"] == pytest.approx(19233.84)
    # the same tree judged by the rules of round v4.0 (-e submission_round=v4.0): scheduled samples/s
    old = _report.build_report(root, tmp_path / "out4", registry=REG, round_="v4.0")
    assert old["round"]["origin"] == "request (submission_round / round = v4.0)"
    assert old["runs"][0]["value"] == pytest.approx(279.74) and old["runs"][0]["unit"] == "samples/s"


def test_compliance_row_without_verdict_says_so(tmp_path):
    scen = (
        tmp_path
        / "inference_results_v5.1"
        / "closed"
        / "HPE"
        / "compliance"
        / "sys"
        / "resnet"
        / "MultiStream"
    )
    test01 = scen / "TEST01"
    (test01 / "performance" / "run_1").mkdir(parents=True)
    shutil.copy(
        trees.FIX / "63_TEST01_verify_performance_NO_VERDICT_v5.1_HPE_resnet_multistream.txt",
        test01 / "verify_performance.txt",
    )
    (test01 / "verify_accuracy.txt").write_text("TEST PASS\n")
    rows = _report.table_rows(_report.discover_runs(tmp_path / "inference_results_v5.1", REG))
    row = next(r for r in rows if r["mode"] == "TEST01")
    assert row["validity"].startswith("FAIL: ")
    assert "verify_performance.txt: verifier crashed / no verdict" in row["validity"]


def test_accuracy_row_shows_every_metric(tmp_path):
    acc = (
        tmp_path
        / "inference_results_v5.1"
        / "closed"
        / "AMD"
        / "results"
        / "s"
        / "mixtral-8x7b"
        / "Offline"
        / "accuracy"
    )
    acc.mkdir(parents=True)
    shutil.copy(trees.FIX / "50_accuracy_txt_mixtral-8x7b_v5.1_AMD.txt", acc / "accuracy.txt")
    rows = _report.table_rows(_report.discover_runs(tmp_path / "inference_results_v5.1", REG))
    text = rows[0]["accuracy"]
    for part in (
        "ROUGE1 45.2287 >= 45.1429 met",
        "gsm8k_accuracy 73.2 >= 72.9234 met",
        "mbxp_accuracy 59.9 >= 59.5584 met",
        "TOKENS_PER_SAMPLE 143.7 >= 130.356 met",
        "TOKENS_PER_SAMPLE 143.7 <= 160.49 met",  # upper: 145.9 * 1.1 (v5.1 checker table)
    ):
        assert part in text, text


def test_replaced_runs_are_marked_old(tmp_path):
    scen = tmp_path / "valid_results" / "sut-a" / "resnet50" / "offline" / "performance"
    trees._put(scen / "run_1", "off_valid", "mlperf_log_summary.txt")
    trees._put(scen / "run_2", "off_valid", "mlperf_log_summary.txt")
    runs = _report.discover_runs(tmp_path, REG)
    first = by(runs, run_dir="valid_results/sut-a/resnet50/offline/performance/run_1")
    second = by(runs, run_dir="valid_results/sut-a/resnet50/offline/performance/run_2")
    assert first["old"] == "replaced by valid_results/sut-a/resnet50/offline/performance/run_2"
    assert any(r.startswith("old run: replaced by") for r in first["submittable"]["reasons"])
    assert "old" not in second


def test_compliance_run_older_than_its_performance_run_is_old(tmp_path):
    scen = tmp_path / "valid_results" / "sut-a" / "resnet50" / "Offline"
    perf = scen / "performance" / "run_1"
    trees._put(perf, "off_valid", "mlperf_log_summary.txt")
    (perf / "result.json").write_text(
        json.dumps({"mode": "performance", "started": "2026-12-01T22:09:43+00:00"})
    )
    test01 = scen / "TEST01"
    trees._put(test01, "off_valid", "mlperf_log_summary.txt")
    (test01 / "result.json").write_text(
        json.dumps({"mode": "TEST01", "started": "2026-12-01T21:50:00+00:00"})
    )
    (test01 / "verify_accuracy.txt").write_text("TEST PASS\n")
    runs = _report.discover_runs(tmp_path, REG)
    old = by(runs, mode="TEST01")
    assert old["old"].startswith("older than the performance run it verifies")
    assert "old" not in by(runs, mode="performance")
    row = next(r for r in _report.table_rows(runs) if r["mode"] == "TEST01")
    assert row["validity"].startswith("old, FAIL")


def test_summary_counts_performance_runs_only():
    runs = [
        {"mode": "performance", "validity": "VALID", "submittable": {"ok": True}},
        {"mode": "performance", "validity": "INVALID", "submittable": {"ok": False}},
        {"mode": "performance", "validity": "VALID", "submittable": None},
        {"mode": "accuracy", "validity": "VALID", "submittable": {"ok": True}},
    ]
    assert _report.summary(runs) == {"runs": 4, "valid": 2, "submittable": 1}


def test_comparable_ignores_the_time_and_plots_but_not_the_runs(tmp_path):
    trees.make_project_tree(tmp_path, sut="sut-a", exec_mode="test")
    report = _report.build_report(tmp_path, tmp_path / "out", registry=REG, write=False)
    same = dict(report, generated="2001-01-01T00:00:00+00:00", plots={"Throughput": "plot.png"})
    assert _report.comparable(same) == _report.comparable(report)
    assert _report.comparable(dict(report, runs=report["runs"][:1])) != _report.comparable(report)


def test_a_generic_results_folder_name_is_not_repeated_in_the_heading(tmp_path):
    assert _report.default_title(tmp_path / "results") == ""
    assert _report.default_title(tmp_path / "lab-a100") == "lab-a100"
    (tmp_path / "results").mkdir()
    report = _report.build_report(tmp_path / "results", tmp_path / "out", registry=REG, write=False)
    assert report["title"] == ""
