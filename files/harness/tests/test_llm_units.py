"""LLM family pieces without LoadGen: ROUGE and gen_len against hand-computed values, dataset
formats, the smoke sets, the TEST06-relevant response trimming and the engine's stream."""

from __future__ import annotations

import json

import pytest
from fleetbench_harness.errors import InputError
from fleetbench_harness.tasks.llm import accuracy, dataset


def test_rouge_against_hand_computed_values():
    # pred "the cat sat" vs ref "the cat sat on the mat":
    #   rouge1: 3 common unigrams, P = 3/3, R = 3/6 -> F = 2 * 1 * 0.5 / 1.5 = 0.666667
    #   rouge2: bigrams {the cat, cat sat} all in ref (5 bigrams): P = 1, R = 2/5 -> F = 0.571429
    #   rougeL: LCS 3 -> as rouge1
    # pred "a dog" vs ref "a dog": every score 1.0.
    res = accuracy.rouge(["the cat sat", "a dog"], ["the cat sat on the mat", "a dog"])
    assert res["rouge1"] == round((2 / 3 + 1) / 2 * 100, 4) == 83.3333
    assert res["rouge2"] == round((4 / 7 + 1) / 2 * 100, 4) == 78.5714
    assert res["rougeL"] == 83.3333 and res["rougeLsum"] == 83.3333


def test_stemming_is_on():
    # use_stemmer=True: "running" and "runs" both stem to "run".
    assert accuracy.rouge(["dogs running"], ["dog runs"])["rouge1"] == 100.0


def test_gen_len_and_tokens_per_sample_as_the_reference():
    # postprocess: strip, one sentence per line; gen_len = sum of the post-processed lengths.
    preds = ["  Hello there. General Kenobi!  ", "One."]
    assert accuracy.postprocess(preds) == ["Hello there.\nGeneral Kenobi!", "One."]
    res = accuracy.score(preds, ["Hello there.", "One."], [7, 3], with_tokens=True)
    assert res["gen_len"] == len("Hello there.\nGeneral Kenobi!") + len("One.") == 32
    assert res["gen_num"] == 2 and res["gen_tok_len"] == 10 and res["tokens_per_sample"] == 5.0
    assert "tokens_per_sample" not in accuracy.score(preds, preds, [1, 1], with_tokens=False)


def test_accuracy_txt_printed_form(tmp_path):
    out = tmp_path / "accuracy.txt"
    accuracy.write({"rouge1": 40.5, "gen_len": 12}, out, "stand-in: not comparable with the target")
    assert (
        out.read_text()
        == "\nResults\n\n{'rouge1': 40.5, 'gen_len': 12}\n\nstand-in: not comparable with the target\n"
    )


def test_dataset_formats(tmp_path):
    p = tmp_path / "cnn_eval.json"
    p.write_text(
        json.dumps(
            [{"instruction": "Summarize the following news article:", "input": "Text.", "output": "T"}]
        )
    )
    (s,) = dataset.read(p, "cnn_eval_alpaca")
    assert s.prompt.startswith("Below is an instruction that describes a task, paired with an input")
    assert s.prompt.endswith("### Input:\nText.\n\n### Response:") and s.tok_input is None
    # pandas to_json's column orientation, as the Llama 3.1 8B cnn_eval.json is written.
    q = tmp_path / "llama3.json"
    q.write_text(
        json.dumps(
            {
                "input": {"0": "a", "1": "b"},
                "tok_input": {"0": [1, 2], "1": [3]},
                "output": {"0": "x", "1": "y"},
            }
        )
    )
    rows = dataset.read(q, "cnn_eval_tokenized")
    assert [r.tok_input for r in rows] == [[1, 2], [3]] and rows[1].output == "y"
    with pytest.raises(InputError, match="row 1 has no 'output'"):
        q.write_text(json.dumps([{"input": "a", "output": "x"}, {"input": "b"}]))
        dataset.read(q, "cnn_eval_tokenized")


def test_smoke_sets_in_the_real_formats(tmp_path):
    pytest.importorskip("pandas")
    for name, fmt in (
        ("cnn-smoke", "cnn_eval_alpaca"),
        ("cnn-tokenized-smoke", "cnn_eval_tokenized"),
        ("open-orca-smoke", "open_orca_pickle"),
    ):
        path, changed = dataset.build_smoke(name, tmp_path / name, lambda t: [len(w) for w in t.split()])
        assert changed and len(dataset.read(path, fmt)) == 4
        assert dataset.build_smoke(name, tmp_path / name, lambda t: [len(w) for w in t.split()])[1] is False


def test_engine_generate_and_stream_agree(tmp_path):
    torch = pytest.importorskip("torch")
    from fleetbench_harness.backends.hf_causal_lm import GenerationParams, HFCausalLM
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    vocab = {f"w{i}": i for i in range(64)}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="w0"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="w2", pad_token="w2").save_pretrained(
        str(tmp_path)
    )
    torch.manual_seed(0)
    cfg = LlamaConfig(
        vocab_size=64, hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2,
        num_key_value_heads=1, max_position_embeddings=64, eos_token_id=2, pad_token_id=2,
    )  # fmt: skip
    LlamaForCausalLM(cfg).save_pretrained(str(tmp_path))
    eng = HFCausalLM("cpu", "float32", 1)
    eng.load(tmp_path)
    params = GenerationParams(max_new_tokens=5)
    batch = eng.generate([[5, 6, 7], [9]], params)
    streamed: list[int] = []
    out = eng.stream([5, 6, 7], params, streamed.append)
    assert out.dtype.name == "int32" and out.tolist() == batch[0].tolist()
    assert streamed[: len(out)] == out.tolist() and len(batch[1]) >= 1
    assert eng.context_length == 64
