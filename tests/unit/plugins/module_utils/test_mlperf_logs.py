"""LoadGen log parser on real published MLPerf logs (tests/fixtures/mlperf-logs).

Expected values were read by hand from each file (see the fixture README); the
metric per scenario is what mlcommons/inference's submission checker takes
(RESULT_FIELD_NEW / RESULT_FIELD_BENCHMARK_OVERWRITE, rounds v4.1..v6.0).
"""

import shutil

import pytest
from ansible_collections.fleetbench.mlperf.plugins.module_utils import _mlperf_logs as logs
from fleetbench_testlib import MLPERF_LOGS as FIX


def summary(name):
    return logs.parse_summary((FIX / name).read_text())


# file, scenario, validity, metric, value, unit, reasons-substrings, warnings, errors
SUMMARIES = [
    (
        "01_offline_VALID_summary_v4.0_NVIDIA_DGX-H100x1_resnet50.txt",
        "Offline",
        "VALID",
        "samples_per_second",
        88714.3,
        "samples/s",
        [],
        1,
        0,
    ),
    (
        "03_singlestream_VALID_summary_v3.1_NVIDIA_Orin_resnet50.txt",
        "SingleStream",
        "VALID",
        "p90_latency_early_stopping",
        0.640259,
        "ms",
        [],
        0,
        0,
    ),
    (
        "06_singlestream_INVALID_summary_issue1666_bert99_earlystop_10queries.txt",
        "SingleStream",
        "INVALID",
        "p90_latency_early_stopping",
        None,
        "ms",
        ["early stopping"],
        0,
        0,
    ),
    (
        "07_offline_INVALID_summary_CM_tutorial_resnet50_min_duration_NO.txt",
        "Offline",
        "INVALID",
        "samples_per_second",
        410.191,
        "samples/s",
        ["minimum duration"],
        0,
        0,
    ),
    (
        "09_offline_VALID_summary_v5.1_AMD_8xMI300X_llama2-70b-99_tokens.txt",
        "Offline",
        "VALID",
        "tokens_per_second",
        27803.9,
        "tokens/s",
        [],
        2,
        0,
    ),
    (
        "10_server_VALID_summary_v5.1_AMD_8xMI300X_llama2-70b-99_ttft_tpot.txt",
        "Server",
        "VALID",
        "completed_tokens_per_second",
        24593.77,
        "tokens/s",
        [],
        0,
        0,
    ),
    (
        "11_interactive_dir_VALID_summary_v5.1_AMD_8xMI300X_llama2-70b-99_says_Scenario_Server.txt",
        "Server",
        "VALID",
        "completed_tokens_per_second",
        8840.42,
        "tokens/s",
        [],
        0,
        0,
    ),
]


@pytest.mark.parametrize(
    ("name", "scenario", "validity", "metric", "value", "unit", "reasons", "warn", "err"),
    SUMMARIES,
    ids=[s[0][:2] for s in SUMMARIES],
)
def test_summary_files(name, scenario, validity, metric, value, unit, reasons, warn, err):
    res = summary(name)
    assert res["scenario"] == scenario
    assert res["mode"] == "performance"
    assert res["validity"] == validity
    assert res["metric"] == metric
    assert res["unit"] == unit
    if value is None:
        assert res["value"] is None
    else:
        assert res["value"] == pytest.approx(value)
    assert len(res["reasons"]) == len(reasons)
    for text, want in zip(res["reasons"], reasons, strict=True):
        assert want in text
    assert res["warnings"] == warn
    assert res["errors"] == err
    assert res["source"] == "summary"


def test_offline_latencies_ns_and_ms():
    res = summary(SUMMARIES[0][0])
    assert res["latency_ns"] == {
        "min": 514087631,
        "max": 669564782273,
        "mean": 24481436757,
        "p50": 335016864629,
        "p90": 602667582589,
        "p95": 636116673483,
        "p97": 649498689753,
        "p99": 662877050696,
        "p99.9": 668897997705,
    }
    assert res["latency_ms"]["p99"] == pytest.approx(662877.050696)
    assert res["settings"]["samples_per_query"] == 59400000
    assert res["settings"]["min_duration_ms"] == 600000
    assert res["settings"]["performance_sample_count"] == 2048
    assert res["conditions"] == {"min_duration": True, "min_queries": True, "early_stopping": True}


def test_singlestream_takes_early_stopping_estimate_not_p90():
    # The file's 90th percentile is 640258 ns; the early-stopping estimate (the checker's
    # early_stopping_latency_ss) is 640259 ns.
    res = summary(SUMMARIES[1][0])
    assert res["value_ns"] == 640259
    assert res["latency_ns"]["p90"] == 640258
    assert res["early_stopping"]["estimates_ns"] == {"90": 640259, "99": 643875}


def test_singlestream_too_few_queries_gives_no_value_not_zero():
    res = summary(SUMMARIES[2][0])
    assert res["value"] is None and res["value_ns"] is None
    assert res["settings"]["min_duration_ms"] == 0
    assert any("Only processed 10 queries" in line for line in res["early_stopping"]["lines"])


def test_90_0th_label_variant():
    text = (
        (FIX / SUMMARIES[1][0]).read_text().replace("90th percentile estimate", "90.0th percentile estimate")
    )
    text = text.replace("99th percentile estimate", "99.0th percentile estimate")
    res = logs.parse_summary(text)
    assert res["value_ns"] == 640259


def test_multistream_99th_estimate():
    text = (FIX / SUMMARIES[1][0]).read_text().replace("Scenario : SingleStream", "Scenario : MultiStream")
    res = logs.parse_summary(text)
    assert res["metric"] == "p99_latency_early_stopping"
    assert res["value_ns"] == 643875


def test_server_completed_not_scheduled():
    res = summary(SUMMARIES[5][0])
    assert res["value"] == pytest.approx(24593.77)
    assert res["extra"]["Scheduled samples per second"] == pytest.approx(83.90)
    assert res["extra"]["Completed samples per second"] == pytest.approx(81.68)
    assert res["conditions"]["performance_constraints"] is True
    assert res["ttft_ns"]["p99"] == 1914647645
    assert res["tpot_ns"]["p99"] == 193380124
    assert res["tpot_ms"]["p99"] == pytest.approx(193.380124)
    assert res["settings"]["ttft_latency_ns"] == 2000000000


def test_server_non_llm_uses_completed_samples():
    text = (FIX / SUMMARIES[5][0]).read_text()
    text = "\n".join(line for line in text.splitlines() if "tokens per second" not in line.lower())
    res = logs.parse_summary(text, model_tokens=False)
    assert res["metric"] == "completed_samples_per_second"
    assert res["value"] == pytest.approx(81.68)


def test_server_old_loadgen_scheduled_headline():
    # LoadGen before v4.1 printed only "Scheduled samples per second" as the Server headline.
    text = (FIX / SUMMARIES[5][0]).read_text()
    lines = [
        ln for ln in text.splitlines() if "tokens per second" not in ln.lower() and "Completed" not in ln
    ]
    res = logs.parse_summary("\n".join(lines), model_tokens=False)
    assert res["metric"] == "scheduled_samples_per_second"
    assert res["value"] == pytest.approx(83.90)
    assert "old LoadGen" in res["extra"]["metric_note"]


def test_interactive_directory_keeps_log_scenario(tmp_path):
    run = tmp_path / "Interactive" / "performance" / "run_1"
    run.mkdir(parents=True)
    shutil.copy(FIX / SUMMARIES[6][0], run / "mlperf_log_summary.txt")
    res = logs.parse_run_dir(run, dir_scenario="Interactive")
    assert res["scenario"] == "Server"
    assert res["dir_scenario"] == "Interactive"


def test_accuracy_mode_summary_without_results():
    res = summary("12_accuracy_mode_summary_no_results_section_v5.1_AMD_llama2-70b-99_offline.txt")
    assert res["mode"] == "accuracy"
    assert res["validity"] is None
    assert res["value"] is None
    assert res["warnings"] == 2 and res["errors"] == 0


def test_empty_summary(tmp_path):
    (tmp_path / "mlperf_log_summary.txt").write_text("")
    res = logs.parse_run_dir(tmp_path)
    assert res["value"] is None
    assert res["validity"] is None  # no results section: treated as an accuracy-mode/empty log


@pytest.mark.parametrize("bad", ["inf", "-nan", "nan"])
def test_nonfinite_summary_value_is_invalid(bad):
    text = (
        (FIX / SUMMARIES[0][0])
        .read_text()
        .replace("Samples per second: 88714.3", "Samples per second: " + bad)
    )
    res = logs.parse_summary(text)
    assert res["value"] is None
    assert res["validity"] == "INVALID"
    assert any(bad in r for r in res["reasons"])


def test_detail_full_log():
    res = logs.parse_detail_records(
        logs.read_detail_records(FIX / "15_detail_log_FULL_v5.1_AMD_llama2-70b-99_offline_perf.txt")
    )
    assert res["source"] == "detail"
    assert res["scenario"] == "Offline" and res["mode"] == "performance"
    assert res["validity"] == "VALID" and res["reasons"] == []
    assert res["metric"] == "tokens_per_second" and res["unit"] == "tokens/s"
    assert res["value"] == pytest.approx(27803.9)
    assert res["extra"]["result_samples_per_second"] == pytest.approx(92.1544)
    assert res["latency_ns"]["p99"] == 2666812360394
    assert res["latency_ns"]["min"] == 2641134983966
    assert res["warnings"] == 2 and res["errors"] == 0
    assert res["loadgen_version"] == "5.1.0 @ 091d51f041"
    assert res["settings"]["samples_per_query"] == 245520
    assert res["settings"]["min_duration_ms"] == 2400000


def test_detail_truncated_log_has_no_result():
    res = logs.parse_detail_records(
        logs.read_detail_records(FIX / "14_detail_log_first60lines_v5.1_AMD_llama2-70b-99_offline_perf.txt")
    )
    assert res["value"] is None
    assert res["validity"] == "INVALID"


def test_detail_raw_newline_and_is_error(tmp_path):
    src = (FIX / "15_detail_log_FULL_v5.1_AMD_llama2-70b-99_offline_perf.txt").read_text()
    extra = (
        ':::MLLOG {"key": "error_runtime", "value": "Ending early: line one\nline two", "time_ms": 1.0, '
        '"namespace": "mlperf::logging", "event_type": "POINT_IN_TIME", '
        '"metadata": {"is_error": true, "is_warning": false}}\n'
    )
    path = tmp_path / "mlperf_log_detail.txt"
    path.write_text(src + extra)
    records = logs.read_detail_records(path)
    assert any(r.get("key") == "error_runtime" and "line two" in r["value"] for r in records)
    res = logs.parse_detail_records(records)
    assert res["errors"] == 1
    assert "line one\nline two" in res["error_messages"][0]
    assert res["validity"] == "VALID"  # LoadGen's verdict stands; submittability is judged in _verdict


def test_detail_preferred_over_summary(tmp_path):
    shutil.copy(
        FIX / "15_detail_log_FULL_v5.1_AMD_llama2-70b-99_offline_perf.txt", tmp_path / "mlperf_log_detail.txt"
    )
    shutil.copy(
        FIX / "09_offline_VALID_summary_v5.1_AMD_8xMI300X_llama2-70b-99_tokens.txt",
        tmp_path / "mlperf_log_summary.txt",
    )
    res = logs.parse_run_dir(tmp_path)
    assert res["source"] == "detail"
    assert res["value"] == pytest.approx(27803.9)


def test_no_logs_raises(tmp_path):
    with pytest.raises(logs.LogParseError, match="neither"):
        logs.parse_run_dir(tmp_path)


LOADGEN_RUN = """
import array, sys, mlperf_loadgen as lg
scen, out, tokens = sys.argv[1], sys.argv[2], sys.argv[3] == "tokens"
buf = array.array("i", [1, 2, 3, 4])
addr, n = buf.buffer_info()
def issue(qs):
    for q in qs:
        if tokens:
            lg.FirstTokenComplete([lg.QuerySampleResponse(q.id, addr, buf.itemsize, 1)])
        lg.QuerySamplesComplete([lg.QuerySampleResponse(q.id, addr, n * buf.itemsize, n)])
sut = lg.ConstructSUT(issue, lambda: None)
qsl = lg.ConstructQSL(64, 64, lambda s: None, lambda s: None)
ts = lg.TestSettings()
ts.scenario = getattr(lg.TestScenario, scen)
ts.mode = lg.TestMode.PerformanceOnly
ts.min_duration_ms = 200
ts.min_query_count = 100
ts.server_target_qps = 200
ts.offline_expected_qps = 1000
ts.multi_stream_samples_per_query = 8
if tokens:
    ts.use_token_latencies = True
    ts.ttft_latency = 2000000000
    ts.tpot_latency = 200000000
ls = lg.LogSettings()
ls.log_output.outdir = out
ls.log_output.copy_summary_to_stdout = False
lg.StartTestWithLogSettings(sut, qsl, ts, ls)
lg.DestroyQSL(qsl)
lg.DestroySUT(sut)
"""


@pytest.fixture(scope="module")
def loadgen_logs(tmp_path_factory):
    """Real LoadGen (the pinned mlcommons-loadgen) logs of a trivial SUT, one directory per scenario."""
    import subprocess
    import sys

    pytest.importorskip("mlperf_loadgen")
    base = tmp_path_factory.mktemp("loadgen")
    script = base / "run.py"
    script.write_text(LOADGEN_RUN)
    runs = [(s, "plain") for s in ("Offline", "Server", "SingleStream", "MultiStream")]
    runs += [("Offline", "tokens"), ("Server", "tokens")]
    for scen, kind in runs:
        out = base / (scen if kind == "plain" else f"{scen}-tokens")
        out.mkdir()
        subprocess.run(
            [sys.executable, str(script), scen, str(out), kind], check=True, timeout=120, capture_output=True
        )
    return base


@pytest.mark.parametrize("scen", ["Offline", "Server", "SingleStream", "MultiStream"])
def test_real_loadgen_detail_and_summary_agree(loadgen_logs, scen):
    run = loadgen_logs / scen
    det = logs.parse_detail_records(logs.read_detail_records(run / "mlperf_log_detail.txt"))
    summ = logs.parse_summary((run / "mlperf_log_summary.txt").read_text())
    assert det["scenario"] == summ["scenario"] == scen
    assert det["validity"] == summ["validity"] == "INVALID"  # 200 ms runs
    assert det["metric"] == summ["metric"]
    assert det["unit"] == summ["unit"]
    assert det["loadgen_version"].startswith("6.0.17")
    assert det["latency_ns"]["p90"] == summ["latency_ns"]["p90"]
    assert det["settings"]["min_duration_ms"] == summ["settings"]["min_duration_ms"] == 200
    assert (det["errors"], det["warnings"]) == (summ["errors"], summ["warnings"])
    summ_conditions = {k: v for k, v in summ["conditions"].items()}
    assert det["conditions"] == summ_conditions
    if det["value"] is None:
        assert summ["value"] is None
    else:
        assert summ["value"] == pytest.approx(det["value"], rel=1e-3)
    if scen == "MultiStream":
        # 100 queries < 662: LoadGen logs early_stopping_latency_ms = 0; no value, not 0.0.
        assert det["value"] is None and "early stopping" in " ".join(det["reasons"])
        # latency_ns is per query (as the summary prints it); per-sample latencies kept apart.
        assert det["sample_latency_ns"]["max"] <= det["latency_ns"]["max"]
        assert det["sample_latency_ns"]["mean"] < det["latency_ns"]["mean"]
    if scen == "SingleStream":
        assert det["value_ns"] > 0 and det["value"] == det["value_ns"] / 1e6


def test_real_loadgen_run_dir(loadgen_logs):
    res = logs.parse_run_dir(loadgen_logs / "Server")
    assert res["source"] == "detail"
    assert res["metric"] == "completed_samples_per_second"
    assert res["extra"]["result_scheduled_samples_per_sec"] > 0


@pytest.mark.parametrize("scen", ["Offline", "Server"])
def test_real_loadgen_token_latencies(loadgen_logs, scen):
    run = loadgen_logs / f"{scen}-tokens"
    det = logs.parse_detail_records(logs.read_detail_records(run / "mlperf_log_detail.txt"))
    summ = logs.parse_summary((run / "mlperf_log_summary.txt").read_text())
    assert det["token_latencies"] and summ["token_latencies"]
    assert det["unit"] == summ["unit"] == "tokens/s"
    assert det["metric"] == summ["metric"]
    assert summ["value"] == pytest.approx(det["value"], rel=1e-3)
    if scen == "Server":
        assert det["metric"] == "completed_tokens_per_second"
        for block in ("ttft_ns", "tpot_ns"):
            for key in ("min", "max", "mean", "p50", "p90", "p99", "p99.9"):
                assert det[block][key] is not None and det[block][key] == summ[block][key], (block, key)
        assert det["ttft_ms"]["p99"] == det["ttft_ns"]["p99"] / 1e6
    else:
        assert det["metric"] == "tokens_per_second"
