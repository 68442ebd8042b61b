"""SQuAD v1.1 accuracy of a LoadGen accuracy log, as the reference ``accuracy-squad.py`` computes it.

* Response bytes per feature: float32 (max_seq_length, 2), start and end logit per
  position interleaved (the reference SUT's ``np.stack([start, end], axis=-1)``).
* Post-processing (``write_predictions``): the ``n_best_size`` (20) best start and
  end positions of each feature; a span is kept when both ends lie in the context
  window, the start is a max-context token, ``end >= start`` and it has at most
  ``max_answer_length`` (30) tokens; spans ranked by start + end logit over all
  features of the example; the best one's WordPiece text is mapped back onto the
  original context text (``get_final_text``, uncased); no valid span -> ``"empty"``.
* Scoring (``evaluate_v1.1.py``): answers normalised (lower case, punctuation and
  the articles a/an/the removed, whitespace collapsed); exact match and token F1,
  each the maximum over the gold answers, averaged over the questions, in %.
* accuracy.txt ends with the line ``{"exact_match": EM, "f1": F1}`` (the submission
  checker's ``F1`` pattern for bert).

Questions scored: those with at least one feature among the run's QSL samples
(``--count`` keeps the first features; every question for the full set).
"""

from __future__ import annotations

import collections
import json
import re
import string
from pathlib import Path
from typing import Any

import numpy as np

from fleetbench_harness import accuracy_log as accuracy_log_reader
from fleetbench_harness import registry
from fleetbench_harness.errors import InputError

_PUNCT = frozenset(string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the)\b")


def normalize_answer(text: str) -> str:
    """evaluate_v1.1.py normalisation: lower, no punctuation, no articles, single spaces."""
    text = "".join(ch for ch in text.lower() if ch not in _PUNCT)
    return " ".join(_ARTICLES.sub(" ", text).split())


def f1_score(prediction: str, truth: str) -> float:
    """Token F1 of two answers after normalisation (0..1)."""
    pred, gold = normalize_answer(prediction).split(), normalize_answer(truth).split()
    same = sum((collections.Counter(pred) & collections.Counter(gold)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred), same / len(gold)
    return 2 * precision * recall / (precision + recall)


def exact_match(prediction: str, truth: str) -> float:
    return float(normalize_answer(prediction) == normalize_answer(truth))


def evaluate(gold: dict[str, list[str]], predictions: dict[str, str]) -> dict[str, float]:
    """{"exact_match", "f1"} in % over the questions of ``gold`` (a missing prediction scores 0)."""
    em = f1 = 0.0
    for qid, truths in gold.items():
        if qid not in predictions:
            continue
        pred = predictions[qid]
        em += max(exact_match(pred, t) for t in truths)
        f1 += max(f1_score(pred, t) for t in truths)
    n = max(len(gold), 1)
    return {"exact_match": 100.0 * em / n, "f1": 100.0 * f1 / n}


def _strip_spaces(text: str) -> tuple[str, dict[int, int]]:
    chars: list[str] = []
    ns_to_s: dict[int, int] = {}
    for i, c in enumerate(text):
        if c == " ":
            continue
        ns_to_s[len(chars)] = i
        chars.append(c)
    return "".join(chars), ns_to_s


def final_text(pred_text: str, orig_text: str, basic: Any) -> str:
    """Project the de-tokenized prediction onto the original words (reference get_final_text).

    ``basic(text) -> list[str]`` is BERT's BasicTokenizer (uncased). Falls back to
    ``orig_text`` when the alignment fails, as the reference does.
    """
    tok_text = " ".join(basic(orig_text))
    start = tok_text.find(pred_text)
    if start == -1:
        return orig_text
    end = start + len(pred_text) - 1
    orig_ns, orig_map = _strip_spaces(orig_text)
    tok_ns, tok_map = _strip_spaces(tok_text)
    if len(orig_ns) != len(tok_ns):
        return orig_text
    tok_s_to_ns = {v: k for k, v in tok_map.items()}
    o_start = orig_map.get(tok_s_to_ns[start]) if start in tok_s_to_ns else None
    o_end = orig_map.get(tok_s_to_ns[end]) if end in tok_s_to_ns else None
    if o_start is None or o_end is None:
        return orig_text
    return orig_text[o_start : o_end + 1]


def _best_indexes(logits: np.ndarray, n: int) -> list[int]:
    # Python's sorted(..., reverse=True) keeps ties in index order: a stable sort of -logits.
    return np.argsort(-logits, kind="stable")[:n].tolist()


def predict(
    examples: list[Any],
    features: list[Any],
    logits: dict[int, np.ndarray],
    basic: Any,
    n_best_size: int,
    max_answer_length: int,
) -> dict[str, str]:
    """{qas_id: answer text} for the examples with at least one feature in ``logits``.

    ``logits``: feature index -> float32 (max_seq_length, 2) start/end logits.
    """
    by_example: dict[int, list[int]] = collections.defaultdict(list)
    for i, f in enumerate(features):
        by_example[f.example_index].append(i)
    out: dict[str, str] = {}
    for ex_index, f_indexes in by_example.items():
        if not any(i in logits for i in f_indexes):
            continue
        example = examples[ex_index]
        prelim = []
        for i in f_indexes:
            if i not in logits:
                continue
            f, lg = features[i], logits[i]
            start_l, end_l = lg[:, 0], lg[:, 1]
            for s in _best_indexes(start_l, n_best_size):
                for e in _best_indexes(end_l, n_best_size):
                    if s >= len(f.tokens) or e >= len(f.tokens):
                        continue
                    if s not in f.token_to_orig_map or e not in f.token_to_orig_map:
                        continue
                    if not f.token_is_max_context.get(s, False) or e < s or e - s + 1 > max_answer_length:
                        continue
                    prelim.append((float(start_l[s]) + float(end_l[e]), i, s, e))
        prelim.sort(key=lambda p: p[0], reverse=True)  # stable, as the reference's sorted()
        answer = "empty"  # the reference's nonce prediction when no span is valid
        if prelim:  # the prediction is the first n-best entry: the best-scoring span's text
            _, i, s, e = prelim[0]
            f = features[i]
            tok_text = " ".join(f.tokens[s : e + 1]).replace(" ##", "").replace("##", "")
            tok_text = " ".join(tok_text.strip().split())
            orig = " ".join(example.doc_tokens[f.token_to_orig_map[s] : f.token_to_orig_map[e] + 1])
            answer = final_text(tok_text, orig, basic)
        out[example.qas_id] = answer
    return out


def read_log(accuracy_log: Path, n_features: int, max_seq_length: int) -> dict[int, np.ndarray]:
    """{qsl_idx: (max_seq_length, 2) float32} from ``mlperf_log_accuracy.json`` (last entry wins).

    Raises:
        InputError(accuracy_log): unreadable, an index outside the features, or a wrong response size.
    """
    out: dict[int, np.ndarray] = {}
    for idx, raw in accuracy_log_reader.responses(accuracy_log, keep="last").items():
        if not 0 <= idx < n_features:
            raise InputError(
                "accuracy_log", f"{accuracy_log}: qsl_idx {idx} is not a feature", [f"0..{n_features - 1}"]
            )
        arr = np.frombuffer(raw, dtype=np.float32)
        if arr.size % 2 or arr.size // 2 > max_seq_length:
            raise InputError(
                "accuracy_log",
                f"{accuracy_log}: qsl_idx {idx} has {arr.size} float32 values",
                [f"2 x up to {max_seq_length} (start/end logits)"],
            )
        # Shorter responses are padded with -10000 (reference load_loadgen_log).
        lg = np.full((max_seq_length, 2), -10000.0, dtype=np.float32)
        lg[: arr.size // 2] = arr.reshape(-1, 2)
        out[idx] = lg
    return out


def score(ctx: Any, accuracy_log: Path) -> dict[str, Any]:
    """The family's ``accuracy`` result for a run (see module docstring)."""
    from fleetbench_harness.tasks.language import squad

    ds = registry.dataset(ctx.entry)
    post = ds["postprocessing"]
    _, feats, examples, _info = squad.load_features(
        ctx.dataset_path, ctx.entry, ctx.cache_dir, ctx.model_path, ctx.count
    )
    params = squad.feature_params(ctx.entry)
    logits = read_log(accuracy_log, len(feats), params["max_seq_length"])
    tok = squad.load_tokenizer(squad.find_vocab(ctx.cache_dir, ctx.model_path), ctx.cache_dir)
    preds = predict(
        examples,
        feats,
        logits,
        lambda text: squad.basic_tokens(tok, text),
        int(post["n_best_size"]),
        int(post["max_answer_length"]),
    )
    scored = {f.example_index for f in feats}
    gold = {examples[i].qas_id: examples[i].answers for i in sorted(scored)}
    res = evaluate(gold, preds)
    return {
        "metric": "F1",
        "value": round(res["f1"], 3),
        "unit": "%",
        "metrics": {"F1": round(res["f1"], 3), "exact_match": round(res["exact_match"], 3)},
        "total": len(logits),
        "questions": len(gold),
        "features": len(feats),
        "raw": res,
    }


def _number(x: float) -> str:
    # The checker's pattern reads [\d.]+: never an exponent (json.dumps(1e-05) == "1e-05").
    text = json.dumps(float(x))
    return text if "e" not in text else f"{x:.10f}"


def result_line(raw: dict[str, float]) -> str:
    """``{"exact_match": EM, "f1": F1}`` as evaluate_v1.1.py prints it (json.dumps of the floats)."""
    return f'{{"exact_match": {_number(raw["exact_match"])}, "f1": {_number(raw["f1"])}}}'


def write(res: dict[str, Any], output: Path) -> None:
    """accuracy.txt: a summary, then the reference's last line ``{"exact_match": …, "f1": …}``."""
    output.write_text(
        f"questions {res['questions']}, features {res['features']}, responses {res['total']}\n"
        + result_line(res["raw"])
        + "\n"
    )
