"""LLM family through the real LoadGen: tiny random GPT-J and Llama built from configs, tokenizers
trained here, datasets in the reference formats written here (nothing mocked)."""

from __future__ import annotations

import json
import pickle
import re
from pathlib import Path

import pytest
from harness_testlib import last_json, run_cli, write_conf

pytest.importorskip("transformers")
pytest.importorskip("mlperf_loadgen")

ARTICLES = [
    "The river rose after three days of rain and the old bridge was closed to cars. Engineers will "
    "inspect it on Monday. Shops near the water moved their goods upstairs.",
    "A new bus line connects the airport with the city centre every twenty minutes. Tickets cost two "
    "euros. The first week is free for everyone.",
    "Students built a small satellite that will measure air quality. It launches next spring. The "
    "school hopes to share the data with the public.",
    "The museum opened a room of old maps and letters from sailors. Entry is free on Sundays. "
    "Guides explain how ships found their way before radio.",
]
SUMMARIES = [
    "Rain closed the old bridge; engineers inspect it Monday.",
    "A new airport bus runs every twenty minutes for two euros.",
    "Students built an air quality satellite launching next spring.",
    "The museum shows old sailors' maps and letters, free on Sundays.",
]


def _tokenizer(folder: Path, texts: list[str], eos: str = "</s>") -> None:
    """A small byte-level BPE tokenizer trained on ``texts``, saved as a transformers folder."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=["<unk>", "<s>", eos],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(texts, trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="<unk>", bos_token="<s>", eos_token=eos, pad_token=eos
    )
    fast.save_pretrained(str(folder))


def _texts() -> list[str]:
    return ARTICLES + SUMMARIES + ["Summarize the following news article:", "Below is an instruction"]


@pytest.fixture(scope="module")
def tiny_llama(tmp_path_factory) -> Path:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    d = tmp_path_factory.mktemp("tiny-llama")
    _tokenizer(d, _texts())
    torch.manual_seed(0)
    cfg = LlamaConfig(
        vocab_size=400,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=256,
        bos_token_id=1,
        eos_token_id=2,
        pad_token_id=2,
    )
    LlamaForCausalLM(cfg).save_pretrained(str(d))
    return d


@pytest.fixture(scope="module")
def tiny_gptj(tmp_path_factory) -> Path:
    import torch
    from transformers import GPTJConfig, GPTJForCausalLM

    d = tmp_path_factory.mktemp("tiny-gptj")
    _tokenizer(d, _texts(), eos="<|endoftext|>")
    torch.manual_seed(0)
    cfg = GPTJConfig(
        vocab_size=400,
        n_positions=320,
        n_embd=32,
        n_layer=2,
        n_head=4,
        rotary_dim=4,
        bos_token_id=2,
        eos_token_id=2,
    )
    GPTJForCausalLM(cfg).save_pretrained(str(d))
    return d


@pytest.fixture(scope="module")
def orca_pickle(tmp_path_factory, tiny_llama) -> Path:
    import pandas as pd
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(tiny_llama))
    rows = []
    for a, s in zip(ARTICLES, SUMMARIES, strict=True):
        text = f"<s>[INST] <<SYS>>\nYou are helpful.\n<</SYS>>\n\n{a} [/INST]"
        rows.append(
            {
                "input": text,
                "tok_input": tok(text)["input_ids"],
                "output": s,
                "tok_output": tok(s)["input_ids"],
            }
        )
    p = tmp_path_factory.mktemp("orca") / "open_orca.pkl"
    p.write_bytes(pickle.dumps(pd.DataFrame(rows)))
    return p


@pytest.fixture(scope="module")
def cnn_json(tmp_path_factory) -> Path:
    rows = [
        {"instruction": "Summarize the following news article:", "input": a, "output": s}
        for a, s in zip(ARTICLES, SUMMARIES, strict=True)
    ]
    rows.append(
        {
            "instruction": "Summarize the following news article:",
            "input": " ".join(ARTICLES * 6),
            "output": SUMMARIES[0],
        }
    )
    p = tmp_path_factory.mktemp("cnn") / "cnn_eval.json"
    p.write_text(json.dumps(rows))
    return p


@pytest.fixture(scope="module")
def conf(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("conf")
    return write_conf(
        d / "user.conf",
        [
            "*.*.min_duration = 0",
            "*.*.min_query_count = 4",
            "*.Server.target_qps = 4",
            "*.Offline.target_qps = 10",
        ],
    )


def _run(model, folder, dataset, out, conf, scenario, mode="performance", *extra):
    return run_cli(
        "run", "--model", model, "--backend", "pytorch", "--cache-dir", out.parent / "cache",
        "--model-path", folder, "--device", "cpu", "--scenario", scenario, "--mode", mode,
        "--dataset-path", dataset, "--user-conf", conf, "--output-dir", out, "--threads", "2",
        "--set", "max_new_tokens=6", *extra,
    )  # fmt: skip


def test_server_streams_first_tokens_and_token_counts(tmp_path, tiny_llama, orca_pickle, conf):
    out = tmp_path / "server"
    res = _run(
        "llama2-70b-99", tiny_llama, orca_pickle, out, conf, "Server", "performance", "--max-batchsize", "2"
    )
    assert res.returncode == 0, res.stderr[-3000:]
    summary = (out / "mlperf_log_summary.txt").read_text()
    assert "first token latency" in summary.lower()
    assert "Time per Output Token" in summary or "time to output token" in summary
    assert re.search(r"tokens per second\s*:\s*[\d.]+", summary, re.I)
    info = json.loads((out / "harness.json").read_text())
    assert info["workload"]["streaming"] and info["workload"]["max_new_tokens"] == 6
    assert info["workload"]["max_new_tokens_capped"] and info["workload"]["pretokenized"]
    assert info["workload"]["eos_token_id"] == 2  # the tiny Llama's (TEST06 checks a stand-in with it)
    assert info["options"] == {"max_new_tokens": 6}


def test_offline_accuracy_writes_every_metric(tmp_path, tiny_llama, orca_pickle, conf):
    out = tmp_path / "offline-acc"
    res = _run("llama2-70b-99", tiny_llama, orca_pickle, out, conf, "Offline", "accuracy")
    assert res.returncode == 0, res.stderr[-3000:]
    acc = out / "accuracy.txt"
    res = run_cli(
        "accuracy", "--model", "llama2-70b-99", "--model-path", tiny_llama, "--cache-dir", tmp_path / "cache",
        "--accuracy-log", out / "mlperf_log_accuracy.json", "--dataset-path", orca_pickle, "--output", acc,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr[-3000:]
    line = last_json(res.stdout)
    assert line["total"] == 4 and line["metric"] == "ROUGE"
    text = acc.read_text()
    assert text.startswith("\nResults\n\n{")
    for key in (
        "rouge1",
        "rouge2",
        "rougeL",
        "rougeLsum",
        "gen_len",
        "gen_num",
        "gen_tok_len",
        "tokens_per_sample",
    ):
        assert re.search(rf"'{key}':\s([\d.]+)", text), key  # the submission checker's pattern
    logged = json.loads((out / "mlperf_log_accuracy.json").read_text())
    assert line["metrics"]["gen_tok_len"] == sum(len(bytes.fromhex(e["data"])) // 4 for e in logged)


def test_singlestream_streams(tmp_path, tiny_llama, orca_pickle, conf):
    out = tmp_path / "ss"
    res = _run("llama2-70b-99", tiny_llama, orca_pickle, out, conf, "SingleStream")
    assert res.returncode == 0, res.stderr[-3000:]
    summary = (out / "mlperf_log_summary.txt").read_text()
    assert "first token latency" in summary.lower()
    assert json.loads((out / "harness.json").read_text())["workload"]["server_workers"] == 1


def test_gptj_offline_beam_search_truncates_long_prompts(tmp_path, tiny_gptj, cnn_json, conf):
    out = tmp_path / "gptj"
    res = _run("gptj-99", tiny_gptj, cnn_json, out, conf, "Offline")
    assert res.returncode == 0, res.stderr[-3000:]
    info = json.loads((out / "harness.json").read_text())
    wl = info["workload"]
    assert wl["num_beams"] == 4 and not wl["streaming"]
    assert wl["prompts_truncated"] == 1 and wl["prompt_token_limit"] == 320 - 6
    assert wl["prompt_tokens"]["max"] == 314
    assert "Samples per second" in (out / "mlperf_log_summary.txt").read_text()


# ------------------------------------------------------------------------- bad input
def _bad(tmp_path, model, folder, dataset, conf):
    return _run(model, folder, dataset, tmp_path / "bad", conf, "Offline")


def test_folder_without_tokenizer(tmp_path, tiny_llama, orca_pickle, conf):
    import shutil

    d = tmp_path / "no-tok"
    d.mkdir()
    for f in ("config.json", "model.safetensors", "generation_config.json"):
        if (tiny_llama / f).exists():
            shutil.copy(tiny_llama / f, d / f)
    res = _bad(tmp_path, "llama2-70b-99", d, orca_pickle, conf)
    assert res.returncode == 2 and "model_path" in res.stderr and "no tokenizer" in res.stderr


def test_bert_folder_for_gptj(tmp_path, cnn_json, conf):
    d = tmp_path / "bert"
    d.mkdir()
    (d / "config.json").write_text(json.dumps({"architectures": ["BertForMaskedLM"], "model_type": "bert"}))
    (d / "vocab.json").write_text("{}")
    res = _bad(tmp_path, "gptj-99", d, cnn_json, conf)
    assert res.returncode == 2 and "BertForMaskedLM" in res.stderr and "GPTJForCausalLM" in res.stderr


def test_row_without_output(tmp_path, tiny_gptj, conf):
    p = tmp_path / "cnn_eval.json"
    p.write_text(json.dumps([{"instruction": "Summarize the following news article:", "input": "x"}]))
    res = _bad(tmp_path, "gptj-99", tiny_gptj, p, conf)
    assert res.returncode == 2 and "dataset_path" in res.stderr and "row 0 has no 'output'" in res.stderr


def test_gated_model_without_hf_token(tmp_path, monkeypatch):
    monkeypatch.delenv("HF_TOKEN", raising=False)
    res = run_cli(
        "prepare-model", "--model", "llama2-70b-99", "--backend", "pytorch", "--cache-dir", tmp_path
    )
    assert res.returncode == 2
    assert (
        "hf_token" in res.stderr
        and "meta-llama/Llama-2-70b-chat-hf" in res.stderr
        and "model_path" in res.stderr
    )


def test_gptj_without_checkpoint_names_model_path_and_source(tmp_path):
    res = run_cli("prepare-model", "--model", "gptj-99", "--backend", "pytorch", "--cache-dir", tmp_path)
    assert res.returncode == 2 and "model_path" in res.stderr
    assert (
        "gpt-j-model-checkpoint.uri" in res.stderr
        and "mlc-inference:mlcommons-inference-wg-public/gpt-j" in res.stderr
    )
    assert "not implemented" not in res.stderr
