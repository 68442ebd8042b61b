"""accuracy.txt readers on real published files + registry targets."""

import pytest
import yaml
from ansible_collections.fleetbench.mlperf.plugins.module_utils import _accuracy as acc
from fleetbench_testlib import MLPERF_LOGS as FIX
from fleetbench_testlib import REGISTRY_FILE

REGISTRY = yaml.safe_load(REGISTRY_FILE.read_text())
MODELS = REGISTRY["models"]


def read(name):
    return acc.read_accuracy_file(FIX / name)


def test_resnet50_top1():
    parsed = read("22_accuracy_txt_resnet50_v3.1_NVIDIA_Orin_singlestream.txt")
    assert parsed["values"]["top1"] == pytest.approx(76.096)
    assert (parsed["good"], parsed["total"]) == (38048, 50000)
    assert parsed["hash"] == "4fe04ce535753215caab10c6ec2cb924a41ef238008d3710c3292f21e0fb78f4"
    res = acc.check_accuracy(parsed, MODELS["resnet50"])
    # 76.456 * 0.99 = 75.69144 <= 76.096
    assert res["met"] is True and res["target"] == pytest.approx(75.69144)
    assert res["unit"] == "%"


def test_bert_f1():
    parsed = read("23_accuracy_txt_bert-99_v4.0_NVIDIA_DGX-H100x1_offline.txt")
    assert parsed["values"]["F1"] == pytest.approx(90.35676151551918)
    assert parsed["values"]["exact_match"] == pytest.approx(82.92336802270577)
    res = acc.check_accuracy(parsed, MODELS["bert-99"], require_hash=True)
    assert res["met"] is True  # 90.874 * 0.99 = 89.965
    assert res["reasons"] == []
    res = acc.check_accuracy(parsed, MODELS["bert-99.9"])
    assert res["met"] is False  # 90.874 * 0.999 = 90.783 > 90.357
    assert "F1" in res["reasons"][0]


def test_retinanet_map():
    parsed = read("24_accuracy_txt_retinanet_v4.0_NVIDIA_DGX-H100x1_offline.txt")
    assert parsed["values"]["mAP"] == pytest.approx(37.413)
    res = acc.check_accuracy(parsed, MODELS["retinanet"])
    assert res["met"] is True  # 37.55 * 0.99 = 37.1745


def test_llama2_rouge_and_tokens():
    parsed = read("27_accuracy_txt_llama2-70b-99_v5.1_AMD_rouge.txt")
    v = parsed["values"]
    assert v["rouge1"] == pytest.approx(44.4465)
    assert v["rougeL"] == pytest.approx(28.625)
    assert v["tokens_per_sample"] == pytest.approx(301.1)
    assert v["gen_len"] == 29614748
    res = acc.check_accuracy(parsed, MODELS["llama2-70b-99"])
    assert res["met"] is True
    assert {c["name"] for c in res["checks"]} == {"rouge1", "rouge2", "rougeL", "tokens_per_sample"}
    res = acc.check_accuracy(parsed, MODELS["llama2-70b-99.9"])
    # 99.9 %: rouge1 44.3868, rouge2 22.0132, rougeL 28.5876, tokens 265.0: all still met
    assert res["met"] is True


def test_test01_accuracy_files_are_squad_format():
    base = read("29_TEST01_baseline_accuracy_v4.1_ASUSTeK_bert-99.9_offline.txt")
    comp = read("30_TEST01_compliance_accuracy_v4.1_ASUSTeK_bert-99.9_offline.txt")
    assert base["values"]["F1"] == pytest.approx(29.099668791545227)
    assert comp["values"]["F1"] == pytest.approx(29.07128657773255)
    assert base["hash"] is None


def test_kits_dice_fraction():
    parsed = acc.parse_accuracy_text(
        "Accuracy: mean = 0.86173, kidney = 0.9347, tumor = 0.7887\nhash=" + "a" * 64
    )
    res = acc.check_accuracy(parsed, MODELS["3d-unet-99.9"])
    assert res["value"] == pytest.approx(0.86173) and res["unit"] == "fraction"
    assert res["met"] is True  # 0.8617 * 0.999 = 0.86084


def test_sdxl_ranges():
    ok = acc.parse_accuracy_text("{'FID_SCORE': 23.4, 'CLIP_SCORE': 31.75}")
    assert acc.check_accuracy(ok, MODELS["sdxl"])["met"] is True
    high = acc.parse_accuracy_text("{'FID_SCORE': 24.1, 'CLIP_SCORE': 31.75}")
    res = acc.check_accuracy(high, MODELS["sdxl"])
    assert res["met"] is False and "FID_SCORE" in res["reasons"][0]
    low_clip = acc.parse_accuracy_text("{'FID_SCORE': 23.4, 'CLIP_SCORE': 31.5}")
    assert acc.check_accuracy(low_clip, MODELS["sdxl"])["met"] is False


def test_auc_and_wer():
    assert acc.parse_accuracy_text("AUC=80.25%")["values"]["AUC"] == pytest.approx(80.25)
    parsed = acc.parse_accuracy_text("Word Error Rate: 7.452%, accuracy=92.548%")
    assert parsed["values"]["WER"] == pytest.approx(92.548)


def test_no_target_model_reports_met_none():
    parsed = acc.parse_accuracy_text("accuracy=74.000%, good=740, total=1000")
    res = acc.check_accuracy(parsed, MODELS["efficientnet"])
    assert res["met"] is None and res["value"] == 74.0


def test_missing_file_and_missing_hash(tmp_path):
    res = acc.evaluate_accuracy_file(tmp_path / "accuracy.txt", MODELS["resnet50"])
    assert res["met"] is False and "not found" in res["reasons"][0]
    (tmp_path / "accuracy.txt").write_text("accuracy=80.000%, good=8, total=10\n")
    res = acc.evaluate_accuracy_file(tmp_path / "accuracy.txt", MODELS["resnet50"], require_hash=True)
    assert any("hash=" in r for r in res["reasons"])


def test_unknown_format():
    res = acc.check_accuracy(acc.parse_accuracy_text("garbage"), MODELS["resnet50"])
    assert res["value"] is None and res["met"] is False
