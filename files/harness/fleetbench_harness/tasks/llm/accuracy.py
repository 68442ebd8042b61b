"""ROUGE of the accuracy log against the dataset's reference outputs, as the MLPerf references score it.

Facts (mlcommons/inference language/gpt-j/evaluation.py, language/llama2-70b/evaluate-accuracy.py,
language/llama3.1-8b/evaluation.py):

* the log is deduplicated by ``qsl_idx`` (first entry kept); each entry's data is the generated
  token ids (this harness writes int32), decoded with ``skip_special_tokens=True``;
* predictions and references are stripped, then every sentence goes on its own line (rougeLsum
  needs the newlines); the references use ``nltk.sent_tokenize`` (the trained Punkt model, which
  ``nltk.download`` fetches from the network). Here: nltk's Punkt algorithm without the trained
  parameters (:class:`nltk.tokenize.punkt.PunktSentenceTokenizer` built empty, no download). It
  splits at the same sentence ends except after abbreviations the trained model knows ("Mr.",
  "U.S."), so rougeLsum and gen_len may differ slightly from the reference; rouge1/2/L do not
  depend on the split (the ROUGE tokenizer treats newlines as spaces);
* ``rouge_score.RougeScorer(["rouge1", "rouge2", "rougeL", "rougeLsum"], use_stemmer=True)`` per
  pair, F-measure, mean x 100 rounded to 4 decimals (``evaluate``'s rouge with
  ``use_aggregator=False`` does exactly this, without the download);
* ``gen_len`` = sum of the character lengths of the post-processed predictions, ``gen_num`` = their
  count; Llama 2 adds ``gen_tok_len`` (sum of the logged token counts) and
  ``tokens_per_sample = round(gen_tok_len / gen_num, 1)``.

accuracy.txt is the reference's printed form, ``\\nResults\\n\\n{...}\\n``, with plain numbers, so
the submission checker's ``'rouge1':\\s([\\d.]+)`` style patterns read every metric.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from fleetbench_harness.errors import InputError

ROUGE_KEYS = ("rouge1", "rouge2", "rougeL", "rougeLsum")
_SPLITTER: Any = None


def split_sentences(text: str) -> list[str]:
    """Sentences of ``text`` (nltk Punkt, untrained parameters: no network)."""
    global _SPLITTER
    if _SPLITTER is None:
        from nltk.tokenize.punkt import PunktSentenceTokenizer

        _SPLITTER = PunktSentenceTokenizer()
    return _SPLITTER.tokenize(text)


def postprocess(texts: list[str]) -> list[str]:
    """Strip, then one sentence per line (the references' ``postprocess_text``)."""
    return ["\n".join(split_sentences(t.strip())) for t in texts]


def rouge(preds: list[str], targets: list[str]) -> dict[str, float]:
    """Mean ROUGE F-measures x 100 (4 decimals) of post-processed pairs."""
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(list(ROUGE_KEYS), use_stemmer=True)
    sums = dict.fromkeys(ROUGE_KEYS, 0.0)
    for p, t in zip(preds, targets, strict=True):
        scores = scorer.score(t, p)
        for k in ROUGE_KEYS:
            sums[k] += scores[k].fmeasure
    n = max(1, len(preds))
    return {k: round(float(sums[k] / n * 100), 4) for k in ROUGE_KEYS}


def read_log(accuracy_log: Path, dtype: str = "int32") -> dict[int, np.ndarray]:
    """qsl_idx -> token ids (first entry of each index), from mlperf_log_accuracy.json."""
    try:
        entries = json.loads(Path(accuracy_log).read_text())
    except (OSError, ValueError) as exc:
        raise InputError(
            "accuracy_log", f"{accuracy_log}: {exc}", ["LoadGen's mlperf_log_accuracy.json"]
        ) from None
    out: dict[int, np.ndarray] = {}
    for e in entries:
        idx = int(e["qsl_idx"])
        if idx not in out:
            out[idx] = np.frombuffer(bytes.fromhex(e["data"]), dtype=np.dtype(dtype))
    return out


def score(
    decoded: list[str], targets: list[str], token_counts: list[int], with_tokens: bool
) -> dict[str, Any]:
    """The reference's result dict: ROUGE, gen_len, gen_num (and gen_tok_len, tokens_per_sample)."""
    preds, refs = postprocess(decoded), postprocess(targets)
    result: dict[str, Any] = dict(rouge(preds, refs))
    result["gen_len"] = int(sum(len(p) for p in preds))
    result["gen_num"] = len(preds)
    if with_tokens:
        result["gen_tok_len"] = int(sum(token_counts))
        result["tokens_per_sample"] = round(result["gen_tok_len"] / max(1, len(preds)), 1)
    return result


def write(result: dict[str, Any], output: Path, note: str | None = None) -> None:
    """accuracy.txt in the reference's printed form (plus a stand-in note line when given)."""
    text = "\nResults\n\n" + repr(result) + "\n"
    if note:
        text += f"\n{note}\n"
    Path(output).write_text(text)
