"""A text-generation engine over transformers ``AutoModelForCausalLM`` (family-free).

The engine knows nothing of datasets, prompts or LoadGen: token ids in, token
ids out. Its interface is the one a continuous-batching engine (vLLM, later)
can offer as well::

    eng = HFCausalLM(device="cpu", precision="bfloat16", threads=2)
    eng.load("/models/causal-lm-folder")       # model + tokenizer from the SAME local folder
    outs = eng.generate([ids_a, ids_b], params)  # one batch (left padding) -> [np.int32 array, ...]
    out = eng.stream(ids, params, on_token)      # one request; on_token(token_id) per new token

* ``generate`` runs one static batch; outputs are the generated tokens only
  (prompt removed), cut after the first EOS (the EOS kept, never the padding
  after it), as int32.
* ``stream`` calls ``on_token`` synchronously from the generating thread for
  every new token as it is produced (the first call is the TTFT point), and
  returns the whole output like ``generate``. Several threads may stream at
  once (PyTorch releases the GIL in its kernels).

Precisions: CPU float32 / bfloat16; CUDA float32 / bfloat16 / float16. The
tokenizer is never fetched from a hub id: ``local_files_only=True`` always.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fleetbench_harness.errors import InputError

_DTYPES = {"float32": "float32", "bfloat16": "bfloat16", "float16": "float16"}
_CPU_PRECISIONS = ("float32", "bfloat16")


@dataclass(frozen=True)
class GenerationParams:
    """Decoding settings of one request (the benchmark's, from the registry).

    Attributes:
        max_new_tokens: generated tokens at most; min_new_tokens: EOS is suppressed before this many.
        num_beams: 1 = greedy; >1 beam search (``generate`` only: beams cannot stream).
        early_stopping: beam search stops when ``num_beams`` finished candidates exist.
    """

    max_new_tokens: int
    min_new_tokens: int = 1
    num_beams: int = 1
    early_stopping: bool = False


class _TokenSink:
    """transformers streamer protocol (``put``/``end``): skips the prompt, forwards new token ids."""

    def __init__(self, on_token: Callable[[int], None]):
        self.on_token = on_token
        self.prompt_seen = False

    def put(self, value: Any) -> None:
        if not self.prompt_seen:  # generate() first puts the prompt ids
            self.prompt_seen = True
            return
        for tok in value.reshape(-1).tolist():
            self.on_token(int(tok))

    def end(self) -> None:
        pass


class HFCausalLM:
    """transformers causal LM engine (see the module docstring)."""

    name = "transformers"

    def __init__(self, device: str, precision: str, threads: int):
        if device not in ("cpu", "cuda"):
            raise InputError(
                "device", f"the transformers engine runs on cpu or cuda, not {device!r}", ["cpu", "cuda"]
            )
        if precision not in _DTYPES:
            raise InputError("precision", f"the transformers engine has no {precision} mode", sorted(_DTYPES))
        if device == "cpu" and precision not in _CPU_PRECISIONS:
            raise InputError("precision", f"{precision} is not supported on cpu", list(_CPU_PRECISIONS))
        self.device, self.precision, self.threads = device, precision, max(1, int(threads))
        self.model: Any = None
        self.tokenizer: Any = None
        self.folder = ""

    # ------------------------------------------------------------------ loading
    def load(self, folder: str | Path) -> None:
        """Load model and tokenizer from one local Hugging Face folder.

        Raises:
            InputError(model_path): no config.json or no tokenizer in the folder.
        """
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        folder = Path(folder)
        if not (folder / "config.json").is_file():
            raise InputError("model_path", f"{folder} has no config.json", ["a Hugging Face model folder"])
        torch.set_num_threads(self.threads)
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
        except (OSError, ValueError, TypeError) as exc:
            raise InputError(
                "model_path", f"{folder}: no usable tokenizer ({exc})", ["a folder with tokenizer files"]
            ) from None
        dtype = getattr(torch, _DTYPES[self.precision])
        self.model = AutoModelForCausalLM.from_pretrained(str(folder), dtype=dtype, local_files_only=True)
        self.model.to(self.device).eval()
        self.folder = str(folder)

    @property
    def eos_token_id(self) -> int | None:
        eos = self.model.generation_config.eos_token_id if self.model is not None else None
        if isinstance(eos, list):
            eos = eos[0] if eos else None
        if eos is None and self.tokenizer is not None:
            eos = self.tokenizer.eos_token_id
        return eos

    def eos_ids(self) -> set[int]:
        eos = self.model.generation_config.eos_token_id
        ids = set(eos if isinstance(eos, list) else [eos] if eos is not None else [])
        if self.tokenizer.eos_token_id is not None:
            ids.add(int(self.tokenizer.eos_token_id))
        return ids

    @property
    def pad_token_id(self) -> int:
        pad = self.tokenizer.pad_token_id
        return int(pad if pad is not None else (self.eos_token_id or 0))

    @property
    def context_length(self) -> int:
        """The model's context window in tokens (config ``max_position_embeddings`` / ``n_positions``)."""
        cfg = self.model.config
        return int(getattr(cfg, "max_position_embeddings", None) or getattr(cfg, "n_positions", 2048))

    # --------------------------------------------------------------- generation
    def _threads(self) -> None:
        # OpenMP's thread count is per calling thread: a worker thread (the schedulers') starts
        # with the process default, not what load() set in the main thread.
        import torch

        if torch.get_num_threads() != self.threads:
            torch.set_num_threads(self.threads)

    def _kwargs(self, params: GenerationParams) -> dict[str, Any]:
        kw: dict[str, Any] = {
            "max_new_tokens": int(params.max_new_tokens),
            "min_new_tokens": int(min(params.min_new_tokens, params.max_new_tokens)),
            "num_beams": int(params.num_beams),
            "do_sample": False,
            "pad_token_id": self.pad_token_id,
        }
        if params.num_beams > 1:
            kw["early_stopping"] = bool(params.early_stopping)
        return kw

    def _trim(self, row: np.ndarray, eos: set[int]) -> np.ndarray:
        hits = np.flatnonzero(np.isin(row, list(eos))) if eos else np.empty(0, dtype=np.int64)
        if hits.size:
            row = row[: hits[0] + 1]
        return np.ascontiguousarray(row, dtype=np.int32)

    def generate(
        self, prompts: Sequence[Sequence[int] | np.ndarray], params: GenerationParams
    ) -> list[np.ndarray]:
        """One static batch: left-padded prompts -> generated ids per prompt (int32, prompt removed)."""
        import torch

        self._threads()
        n = len(prompts)
        width = max(len(p) for p in prompts)
        ids = np.full((n, width), self.pad_token_id, dtype=np.int64)
        mask = np.zeros((n, width), dtype=np.int64)
        for j, p in enumerate(prompts):
            if len(p):
                ids[j, width - len(p) :] = np.asarray(p, dtype=np.int64)
                mask[j, width - len(p) :] = 1
        with torch.inference_mode():
            out = self.model.generate(
                input_ids=torch.from_numpy(ids).to(self.device),
                attention_mask=torch.from_numpy(mask).to(self.device),
                **self._kwargs(params),
            )
        gen = out[:, width:].cpu().numpy()
        eos = self.eos_ids()
        return [self._trim(gen[j], eos) for j in range(n)]

    def stream(
        self, prompt: Sequence[int] | np.ndarray, params: GenerationParams, on_token: Callable[[int], None]
    ) -> np.ndarray:
        """One request, streamed: ``on_token(id)`` for each new token; returns the output like ``generate``.

        Raises:
            InputError(num_beams): beam search cannot stream.
        """
        import torch

        if params.num_beams > 1:
            raise InputError("num_beams", "beam search cannot stream tokens", ["1"])
        self._threads()
        ids = torch.as_tensor(np.asarray(prompt, dtype=np.int64)).reshape(1, -1).to(self.device)
        with torch.inference_mode():
            out = self.model.generate(
                input_ids=ids,
                attention_mask=torch.ones_like(ids),
                streamer=_TokenSink(on_token),
                **self._kwargs(params),
            )
        return self._trim(out[0, ids.shape[1] :].cpu().numpy(), self.eos_ids())

    def info(self) -> dict[str, Any]:
        import torch
        import transformers

        cfg = self.model.config if self.model is not None else None
        return {
            "name": "transformers",
            "engine": "hf_causal_lm",
            "version": transformers.__version__,
            "torch": torch.__version__,
            "device": self.device,
            "precision": self.precision,
            "threads": self.threads,
            "architecture": (cfg.architectures or [type(self.model).__name__])[0] if cfg else None,
            "folder": self.folder,
        }
