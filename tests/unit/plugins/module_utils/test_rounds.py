"""Round-aware scoring on real published files: the metric, every accuracy metric, Interactive limits.

Expected values were read by hand from each fixture file (tests/fixtures/mlperf-logs/README.md names
repository, path and commit of each) and from the checker tables of the round
(mlcommons/inference tools/submission, commits in the registry's ``rounds.<round>.source``).
"""

import shutil

import pytest
import yaml
from ansible_collections.fleetbench.mlperf.plugins.module_utils import _accuracy as acc
from ansible_collections.fleetbench.mlperf.plugins.module_utils import _mlperf_logs as logs
from ansible_collections.fleetbench.mlperf.plugins.module_utils import _rounds as rounds
from fleetbench_testlib import MLPERF_LOGS as FIX
from fleetbench_testlib import REGISTRY_FILE

REGISTRY = yaml.safe_load(REGISTRY_FILE.read_text())


def run_dir(tmp_path, fixture, name="mlperf_log_summary.txt"):
    target = tmp_path / fixture[:2]
    target.mkdir()
    shutil.copy(FIX / fixture, target / name)
    return target


def score(tmp_path, fixture, round_, model, folder):
    parsed = logs.parse_run_dir(run_dir(tmp_path, fixture), dir_scenario=folder)
    facts = rounds.round_facts(REGISTRY, round_)
    official = logs.official_metric(parsed, facts, rounds.checker_model(facts, model, REGISTRY), folder)
    return parsed, facts, official


# --- rounds -------------------------------------------------------------------------------------
def test_default_round_is_latest_the_checker_knows():
    assert rounds.default_round(REGISTRY) == "v6.1"
    assert rounds.round_names(REGISTRY) == ["v4.0", "v4.1", "v5.0", "v5.1", "v6.0", "v6.1"]
    assert REGISTRY["submission"]["round"] == "v6.1"
    assert rounds.round_facts(REGISTRY, "v6.1")["layout"] == "unified"
    assert rounds.round_facts(REGISTRY, "5.1")["layout"] == "legacy"


def test_unknown_round_names_allowed_values():
    with pytest.raises(rounds.RoundError, match=r"round: 'v3\.9'.*allowed: v4\.0, v4\.1"):
        rounds.round_facts(REGISTRY, "v3.9")


def test_round_resolution_order(tmp_path):
    tree = tmp_path / "inference_results_v4.1" / "closed"
    tree.mkdir(parents=True)
    assert rounds.resolve_round(REGISTRY, "v5.0", tree)[0] == "v5.0"
    found, origin = rounds.resolve_round(REGISTRY, None, tree)
    assert found == "v4.1" and "tree" in origin
    found, origin = rounds.resolve_round(REGISTRY, None, tmp_path / "plain")
    assert found == "v6.1" and "default" in origin
    found, origin = rounds.resolve_round(REGISTRY, None, tmp_path / "inference_results_v0.5")
    assert found == "v6.1" and "v0.5" in origin


@pytest.mark.parametrize(
    ("name", "round_", "expected"),
    [
        ("resnet50", "v5.1", "resnet"),
        ("efficientnet", "v6.1", "resnet"),  # the checker's own guess (get_mlperf_model)
        ("mobilenet-v1-precision_float-1.0-224", "v5.1", "resnet"),
        ("sdxl", "v5.1", "stable-diffusion-xl"),  # registry mlperf_name
        ("llama3_1-405b", "v5.1", "llama3.1-405b"),
        ("llama2-70b-interactive-99", "v5.0", "llama2-70b-interactive-99"),
        ("rgat", "v5.0", "rgat"),
        ("gptj-99", "v6.1", None),  # gone from the current round
        ("yolo-99", "v6.1", "yolo-99"),
        ("dlrm-v3", "v6.1", "dlrm-v3"),
        ("pointpainting", "v5.1", "pointpainting"),
        ("whisper", "v5.1", "whisper"),
        ("deepseek-r1", "v6.1", "deepseek-r1"),
    ],
)
def test_checker_model_names(name, round_, expected):
    assert rounds.checker_model(rounds.round_facts(REGISTRY, round_), name, REGISTRY) == expected


def test_targets_change_between_rounds():
    # mixtral-8x7b ROUGE1 reference: 45.4911 (v4.1) -> 45.5989 (v5.0), both at 99 %
    v41 = rounds.accuracy_rules(rounds.round_facts(REGISTRY, "v4.1"), "mixtral-8x7b")
    v50 = rounds.accuracy_rules(rounds.round_facts(REGISTRY, "v5.0"), "mixtral-8x7b")
    assert v41["references"]["ROUGE1"] == [45.4911, 0.99]
    assert v50["references"]["ROUGE1"] == [45.5989, 0.99]
    assert set(v50["targets"]) == {
        "ROUGE1",
        "ROUGE2",
        "ROUGEL",
        "TOKENS_PER_SAMPLE",
        "gsm8k_accuracy",
        "mbxp_accuracy",
    }


def test_required_scenarios_and_compliance_per_round():
    v51 = rounds.round_facts(REGISTRY, "v5.1")
    assert rounds.required_scenarios(v51, "resnet", "edge") == ["SingleStream", "MultiStream", "Offline"]
    assert rounds.compliance_tests(v51, "resnet") == ["TEST01", "TEST04"]
    assert rounds.compliance_tests(v51, "llama2-70b-99") == ["TEST06"]
    v40 = rounds.round_facts(REGISTRY, "v4.0")
    assert rounds.compliance_tests(v40, "resnet") == ["TEST01", "TEST04", "TEST05"]
    v61 = rounds.round_facts(REGISTRY, "v6.1")
    assert rounds.optional_scenarios(v61, "llama3.1-8b", "datacenter") == ["Interactive", "Server"]
    assert rounds.compliance_tests(v61, "dlrm-v3") == ["TEST08"]


# --- the metric: round and benchmark, not only scenario -----------------------------------------
def test_gptj_offline_inferred_tokens_from_v41(tmp_path):
    # 60: "Samples per second: 286.084", "Tokens per second (inferred): 19739.8"
    _p, _f, official = score(
        tmp_path,
        "60_offline_VALID_summary_v4.1_NVIDIA_gptj-99_inferred_tokens.txt",
        "v4.1",
        "gptj-99",
        "Offline",
    )
    assert official["metric_key"] == "result_inferred_tokens_per_second"
    assert official["value"] == pytest.approx(19739.8)
    assert official["unit"] == "tokens/s"
    assert official["round"] == "v4.1"


def test_server_headline_scheduled_before_v41_completed_after(tmp_path):
    fixture = "61_server_VALID_summary_v4.1_NVIDIA_gptj-99_inferred_tokens.txt"
    # "Completed tokens per second (inferred): 19233.84"; "Scheduled samples per second : 279.74"
    assert score(tmp_path, fixture, "v4.1", "gptj-99", "Server")[2]["value"] == pytest.approx(19233.84)
    (tmp_path / "b").mkdir()
    old = score(tmp_path / "b", fixture, "v4.0", "gptj-99", "Server")[2]
    assert old["metric_key"] == "result_scheduled_samples_per_sec"
    assert old["value"] == pytest.approx(279.74) and old["unit"] == "samples/s"


def test_llm_server_completed_tokens(tmp_path):
    # 10: "Completed tokens per second: 24593.77"
    official = score(
        tmp_path,
        "10_server_VALID_summary_v5.1_AMD_8xMI300X_llama2-70b-99_ttft_tpot.txt",
        "v5.1",
        "llama2-70b-99",
        "Server",
    )[2]
    assert official["metric_key"] == "result_completed_tokens_per_second"
    assert official["value"] == pytest.approx(24593.77)


def test_multistream_inferred_from_singlestream(tmp_path):
    # 62: a SingleStream log in a multistream/ folder; "Early stopping 99.0th percentile estimate: 7836918"
    official = score(
        tmp_path,
        "62_multistream_dir_singlestream_log_v5.1_GATEOverflow_resnet50.txt",
        "v5.1",
        "resnet50",
        "multistream",
    )[2]
    assert official["inferred"] is True and official["inferred_from"] == "SingleStream"
    assert official["scenario"] == "MultiStream"
    assert official["value_ns"] == 7836918 * 8
    assert official["value"] == pytest.approx(62.695344)


def test_offline_inferred_from_singlestream(tmp_path):
    # 03 (v3.1 Orin SingleStream): "QPS w/o loadgen overhead : 1571.40"
    official = score(
        tmp_path, "03_singlestream_VALID_summary_v3.1_NVIDIA_Orin_resnet50.txt", "v5.1", "resnet50", "Offline"
    )[2]
    assert official["inferred"] is True
    assert official["value"] == pytest.approx(1571.4)


def test_server_log_cannot_be_an_offline_result(tmp_path):
    official = score(
        tmp_path,
        "10_server_VALID_summary_v5.1_AMD_8xMI300X_llama2-70b-99_ttft_tpot.txt",
        "v5.1",
        "llama2-70b-99",
        "Offline",
    )[2]
    assert official["value"] is None
    assert "cannot be inferred" in official["reasons"][0]


# --- Interactive ----------------------------------------------------------------------------------
def test_interactive_is_its_own_scenario_with_its_limits(tmp_path):
    # 11: folder Interactive, log "Scenario : Server"; TTFT p99 435976100 ns, TPOT p99 39507635 ns
    parsed, facts, official = score(
        tmp_path,
        "11_interactive_dir_VALID_summary_v5.1_AMD_8xMI300X_llama2-70b-99_says_Scenario_Server.txt",
        "v5.1",
        "llama2-70b-99",
        "Interactive",
    )
    assert official["scenario"] == "Interactive" and official["log_scenario"] == "Server"
    assert official["inferred"] is False
    assert official["value"] == pytest.approx(8840.42)
    limits = rounds.latency_limits_ns(facts, "llama2-70b-99", "Interactive")
    assert limits == {"ttft": 450000000, "tpot": 40000000}
    check = logs.llm_latency_check(parsed, limits, "Interactive")
    assert check["ok"] is True and check["ttft_p99_ms"] == pytest.approx(435.9761)


def test_server_run_fails_interactive_limits(tmp_path):
    # 10: Server TTFT p99 1914.6 ms is far above Interactive's 450 ms; within Server's 2000 ms
    parsed, facts, _ = score(
        tmp_path,
        "10_server_VALID_summary_v5.1_AMD_8xMI300X_llama2-70b-99_ttft_tpot.txt",
        "v5.1",
        "llama2-70b-99",
        "Server",
    )
    assert logs.llm_latency_check(
        parsed, rounds.latency_limits_ns(facts, "llama2-70b-99", "Server"), "Server"
    )["ok"]
    check = logs.llm_latency_check(
        parsed, rounds.latency_limits_ns(facts, "llama2-70b-99", "Interactive"), "Interactive"
    )
    assert check["ok"] is False
    assert "TTFT p99 1914.65 ms not below the limit 450 ms" in check["reasons"][0]


# --- every accuracy metric ----------------------------------------------------------------------------
ACCURACY_CASES = [
    # fixture, round, model, metrics read by hand, met
    (
        "40_accuracy_txt_gptj-99_v4.1_NVIDIA.txt",
        "v4.1",
        "gptj-99",
        {"ROUGE1": 43.1017, "ROUGE2": 20.1125, "ROUGEL": 29.9751, "GEN_LEN": 4114386},
        True,
    ),
    (
        "41_accuracy_txt_mixtral-8x7b_v4.1_NVIDIA.txt",
        "v4.1",
        "mixtral-8x7b",
        {"ROUGE1": 45.3448, "gsm8k_accuracy": 73.12, "mbxp_accuracy": 59.88, "TOKENS_PER_SAMPLE": 146.0},
        True,
    ),
    (
        "50_accuracy_txt_mixtral-8x7b_v5.1_AMD.txt",
        "v5.1",
        "mixtral-8x7b",
        {"ROUGE1": 45.2287, "gsm8k_accuracy": 73.2, "mbxp_accuracy": 59.9, "TOKENS_PER_SAMPLE": 143.7},
        True,
    ),
    (
        "27_accuracy_txt_llama2-70b-99_v5.1_AMD_rouge.txt",
        "v5.1",
        "llama2-70b-99",
        {"ROUGE1": 44.4465, "ROUGE2": 22.0638, "ROUGEL": 28.625, "TOKENS_PER_SAMPLE": 301.1},
        True,
    ),
    (
        "46_accuracy_txt_llama3.1-405b_v5.1_Azure.txt",
        "v5.1",
        "llama3.1-405b",
        {"exact_match": 90.11914626075446, "ROUGEL": 21.953720948453, "TOKENS_PER_SAMPLE": 654.1},
        True,
    ),
    (
        "47_accuracy_txt_llama3.1-8b_v5.1_Cisco.txt",
        "v5.1",
        "llama3.1-8b",
        {"ROUGE1": 38.732, "ROUGELSUM": 35.7445, "GEN_LEN": 8209590},
        True,
    ),
    (
        "54_accuracy_txt_llama3.1-8b-edge_v5.1_Intel.txt",
        "v5.1",
        "llama3.1-8b-edge",
        {"ROUGE1": 38.9139, "GEN_LEN": 3052751},
        True,
    ),
    (
        "48_accuracy_txt_deepseek-r1_v5.1_CoreWeave.txt",
        "v5.1",
        "deepseek-r1",
        {"exact_match": 81.40382862351869, "TOKENS_PER_SAMPLE": 3643.226071103008},
        True,
    ),
    (
        "23_accuracy_txt_bert-99_v4.0_NVIDIA_DGX-H100x1_offline.txt",
        "v4.0",
        "bert-99",
        {"F1": 90.35676151551918},
        True,
    ),
    (
        "23_accuracy_txt_bert-99_v4.0_NVIDIA_DGX-H100x1_offline.txt",
        "v4.0",
        "bert-99.9",
        {"F1": 90.35676151551918},
        False,
    ),  # 90.874 * 0.999 = 90.783
    (
        "24_accuracy_txt_retinanet_v4.0_NVIDIA_DGX-H100x1_offline.txt",
        "v4.0",
        "retinanet",
        {"mAP": 37.413},
        True,
    ),
    ("43_accuracy_txt_dlrm-v2-99_v4.1_NVIDIA.txt", "v4.1", "dlrm-v2-99", {"AUC": 80.166}, True),
    (
        "55_accuracy_txt_dlrm-v2-99_v4.1_Cisco_json_block.txt",
        "v4.1",
        "dlrm-v2-99",
        {"AUC": 80.23785974349185},
        True,
    ),
    ("52_accuracy_txt_dlrm-v2-99.9_v5.1_ASUSTeK.txt", "v5.1", "dlrm-v2-99.9", {"AUC": 80.233}, True),
    ("44_accuracy_txt_3d-unet-99_v4.1_NVIDIA.txt", "v4.1", "3d-unet-99", {"DICE": 0.86112}, True),
    ("53_accuracy_txt_3d-unet-99.9_v5.1_Lenovo.txt", "v5.1", "3d-unet-99.9", {"DICE": 0.86114}, True),
    (
        "45_accuracy_txt_whisper_v5.1_Broadcom_Supermicro.txt",
        "v5.1",
        "whisper",
        {"ACCURACY": 97.8339693748394},
        True,
    ),
    (
        "42_accuracy_txt_sdxl_v4.1_NVIDIA.txt",
        "v4.1",
        "stable-diffusion-xl",
        {"FID_SCORE": 23.454395533934246, "CLIP_SCORE": 31.78304835319519},
        True,
    ),
    (
        "51_accuracy_txt_sdxl_v5.1_AMD.txt",
        "v5.1",
        "stable-diffusion-xl",
        {"FID_SCORE": 23.909064176163497, "CLIP_SCORE": 31.749353325665},
        True,
    ),
    (
        "57_accuracy_txt_sdxl_v4.1_Google_multiline_lowercase_dir.txt",
        "v4.1",
        "stable-diffusion-xl",
        {"FID_SCORE": 23.53670956283503, "CLIP_SCORE": 31.732986239790918},
        True,
    ),
    ("49_accuracy_txt_rgat_v5.1_Cisco.txt", "v5.1", "rgat", {"acc": 72.584}, True),
    (
        "56_accuracy_txt_pointpainting_v5.1_GATEOverflow_open.txt",
        "v5.1",
        "pointpainting",
        {"mAP": 54.256218124416954},
        True,
    ),
    ("22_accuracy_txt_resnet50_v3.1_NVIDIA_Orin_singlestream.txt", "v5.1", "resnet", {"acc": 76.096}, True),
]


@pytest.mark.parametrize(("fixture", "round_", "model", "expected", "met"), ACCURACY_CASES)
def test_every_metric_read_and_checked(fixture, round_, model, expected, met):
    read = acc.read_metrics((FIX / fixture).read_text())
    for name, value in expected.items():
        assert read["metrics"][name] == pytest.approx(value), name
    assert read["hash"]
    rules = rounds.accuracy_rules(rounds.round_facts(REGISTRY, round_), model)
    result = acc.check_round_accuracy(read, rules, require_hash=True)
    assert {c["name"] for c in result["checks"]} >= set(rules["targets"])
    assert result["met"] is met, result["reasons"]


def test_bert_scored_by_f1_not_exact_match():
    read = acc.read_metrics((FIX / "23_accuracy_txt_bert-99_v4.0_NVIDIA_DGX-H100x1_offline.txt").read_text())
    result = acc.check_round_accuracy(
        read, rounds.accuracy_rules(rounds.round_facts(REGISTRY, "v5.1"), "bert-99")
    )
    assert [c["name"] for c in result["checks"]] == ["F1"]


def test_dlrm_json_accuracy_key_is_not_the_metric():
    read = acc.read_metrics((FIX / "55_accuracy_txt_dlrm-v2-99_v4.1_Cisco_json_block.txt").read_text())
    assert "acc" not in read["metrics"]  # the JSON block's "accuracy": 96.60 is not AUC


def test_percentage_against_fraction_target():
    # rgat prints "accuracy=72.584%"; v5.1 target 0.7286 * 0.99 = 0.721314
    read = acc.read_metrics((FIX / "49_accuracy_txt_rgat_v5.1_Cisco.txt").read_text())
    result = acc.check_round_accuracy(
        read, rounds.accuracy_rules(rounds.round_facts(REGISTRY, "v5.1"), "rgat")
    )
    check = result["checks"][0]
    assert check["compared"] == pytest.approx(0.72584) and check["limit"] == pytest.approx(0.721314)
    assert "percentage" in check["note"]


def test_sdxl_upper_limits_are_checked():
    read = {"metrics": {"FID_SCORE": 24.5, "CLIP_SCORE": 31.7}, "hash": "x"}
    result = acc.check_round_accuracy(
        read, rounds.accuracy_rules(rounds.round_facts(REGISTRY, "v5.1"), "stable-diffusion-xl")
    )
    assert result["met"] is False
    assert any("FID_SCORE=24.5 does not meet <= 23.95" in r for r in result["reasons"])


def test_noise_lines_and_bare_numbers_are_ignored():
    # 48 (deepseek-r1) holds hundreds of bare 0.0/1.0 lines before its Results dict
    read = acc.read_metrics((FIX / "48_accuracy_txt_deepseek-r1_v5.1_CoreWeave.txt").read_text())
    assert set(read["metrics"]) == {"exact_match", "TOKENS_PER_SAMPLE"}


def test_partial_dataset_is_never_met():
    read = acc.read_metrics((FIX / "22_accuracy_txt_resnet50_v3.1_NVIDIA_Orin_singlestream.txt").read_text())
    rules = rounds.accuracy_rules(rounds.round_facts(REGISTRY, "v6.1"), "resnet")
    assert rules["dataset_size"] == 50000
    assert acc.check_round_accuracy(read, rules, samples=50000)["met"] is True
    partial = acc.check_round_accuracy(read, rules, samples=5000)
    assert partial["met"] is False and partial["coverage"]["full"] is False
    assert "covered 5000 of 50000 samples" in partial["reasons"][-1]


def test_missing_metric_is_a_failure():
    rules = rounds.accuracy_rules(rounds.round_facts(REGISTRY, "v5.1"), "llama2-70b-99")
    result = acc.check_round_accuracy({"metrics": {"ROUGE1": 44.0}}, rules)
    assert result["met"] is False
    assert "accuracy.txt: no TOKENS_PER_SAMPLE value found" in result["reasons"]


def test_seeds_of_another_round_are_named(tmp_path):
    # 15: the AMD v5.1 detail log; LoadGen of v5.1 seeds qsl_rng_seed 1780908523862526354
    parsed = logs.parse_run_dir(
        run_dir(
            tmp_path, "15_detail_log_FULL_v5.1_AMD_llama2-70b-99_offline_perf.txt", "mlperf_log_detail.txt"
        )
    )
    assert rounds.seed_problems(rounds.round_facts(REGISTRY, "v5.1"), parsed["settings"]) == []
    problems = rounds.seed_problems(rounds.round_facts(REGISTRY, "v6.1"), parsed["settings"])
    assert problems[0] == "qsl_rng_seed is wrong, expected=2085463073848966840, found=1780908523862526354"
    assert len(problems) == 3


def test_run_rules_are_enough_for_a_sut(tmp_path):
    rules = rounds.run_rules(REGISTRY, "v5.1", "llama2-70b-99")
    assert rules["checker_model"] == "llama2-70b-99" and rules["round"] == "v5.1"
    assert rules["latency_limits_ns"]["Interactive"] == {"ttft": 450000000, "tpot": 40000000}
    assert set(rules["accuracy"]["targets"]) == {"ROUGE1", "ROUGE2", "ROUGEL", "TOKENS_PER_SAMPLE"}
    parsed = logs.parse_run_dir(
        run_dir(tmp_path, "10_server_VALID_summary_v5.1_AMD_8xMI300X_llama2-70b-99_ttft_tpot.txt")
    )
    official = logs.official_metric(parsed, rules["facts"], rules["checker_model"], "Server")
    assert official["value"] == pytest.approx(24593.77) and official["round"] == "v5.1"
    assert rounds.run_rules(REGISTRY, None, "efficientnet")["checker_model"] == "resnet"


def test_performance_sample_count_minimum():
    facts = rounds.round_facts(REGISTRY, "v6.1")
    assert rounds.performance_sample_count_problem(facts, "resnet", {"performance_sample_count": 1000}) == (
        "performance_sample_count, found 1000, needs to be >= 1024"
    )
    assert (
        rounds.performance_sample_count_problem(facts, "resnet", {"performance_sample_count": 1024}) is None
    )
