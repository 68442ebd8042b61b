"""BERT workload: SQuAD features in, start/end logits out.

* Samples are features (QSL index = feature index): three int64 arrays
  (n, max_seq_length) memory-mapped from the feature cache; ``load_samples``
  copies the requested rows into one contiguous block per input;
* a batch is gathered with ``np.take(..., out=buf)`` into preallocated buffers
  and run with the model's own input names (``input_ids``/``attention_mask``/
  ``token_type_ids``, or the fp32 MLPerf export's ``input_ids``/``input_mask``/
  ``segment_ids``);
* the response of a feature is float32 (max_seq_length, 2), the start and end
  logit of each position interleaved: the bytes the reference SUT returns
  (``np.stack([start, end], axis=-1)``) and ``accuracy-squad.py`` reads.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from fleetbench_harness.errors import InputError
from fleetbench_harness.loadgen import Workload

#: Model input names accepted for each feature array (reference onnxruntime_SUT.py).
INPUT_ALIASES = {
    "input_ids": ("input_ids",),
    "attention_mask": ("attention_mask", "input_mask"),
    "token_type_ids": ("token_type_ids", "segment_ids"),
}


def feed_names(model_inputs: list[dict[str, Any]], max_seq_length: int, where: str) -> dict[str, str]:
    """{feature array name: model input name}, checked against the model's declared inputs.

    Raises:
        InputError(model_path): input names that are not the three BERT inputs, a non-integer
            input type, or a fixed sequence length other than ``max_seq_length``.
    """
    names = [i["name"] for i in model_inputs]
    mapping: dict[str, str] = {}
    for ours, accepted in INPUT_ALIASES.items():
        hit = [n for n in names if n in accepted]
        if len(hit) != 1:
            raise InputError(
                "model_path",
                f"{where}: model inputs {names} do not match the SQuAD features",
                [" / ".join(a) for a in INPUT_ALIASES.values()],
            )
        mapping[ours] = hit[0]
    if len(names) != 3:
        raise InputError(
            "model_path", f"{where}: model has inputs {names}", ["exactly the three BERT inputs"]
        )
    for i in model_inputs:
        shape, kind = i.get("shape") or [], str(i.get("type", "tensor(int64)"))
        if "int" not in kind:
            raise InputError("model_path", f"{where}: input {i['name']} is {kind}", ["tensor(int64)"])
        if len(shape) != 2:
            raise InputError(
                "model_path", f"{where}: input {i['name']} has shape {shape}", ["(batch, sequence)"]
            )
        if isinstance(shape[1], int) and shape[1] != max_seq_length:
            raise InputError(
                "model_path",
                f"{where}: input {i['name']} has sequence length {shape[1]}, the features {max_seq_length}",
                [f"sequence length {max_seq_length} (or symbolic)"],
            )
    return mapping


class BertWorkload(Workload):
    """Workload over feature arrays and ``logits(feeds) -> (start (B, S), end (B, S))``."""

    name = "language"

    def __init__(self, arrays: dict[str, np.ndarray], logits: Any, performance_sample_count: int):
        self.arrays = arrays
        self.logits = logits
        first = next(iter(arrays.values()))
        self.seq = int(first.shape[1])
        self.total_sample_count = int(first.shape[0])
        self.performance_sample_count = int(min(performance_sample_count, self.total_sample_count))
        self.loaded: dict[str, np.ndarray] | None = None
        self.row_of = np.full(self.total_sample_count, -1, dtype=np.int64)
        self.bufs: dict[str, np.ndarray] = {}

    def load_samples(self, indices: np.ndarray) -> None:
        order = np.argsort(indices, kind="stable")  # sequential reads from the memmap
        loaded = {}
        for name, arr in self.arrays.items():
            block = np.empty((len(indices), self.seq), dtype=np.int64)
            block[order] = arr[indices[order]]
            loaded[name] = block
        self.loaded = loaded
        self.row_of[:] = -1
        self.row_of[indices] = np.arange(len(indices), dtype=np.int64)

    def unload_samples(self, indices: np.ndarray) -> None:
        self.row_of[indices] = -1
        if not (self.row_of >= 0).any():
            self.loaded = None

    def _gather(self, rows: np.ndarray, source: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        m = len(rows)
        feeds = {}
        for name, block in source.items():
            buf = self.bufs.get(name)
            if buf is None or buf.shape[0] < m:
                buf = self.bufs[name] = np.empty((max(m, 1), self.seq), dtype=np.int64)
            np.take(block, rows, axis=0, out=buf[:m])
            feeds[name] = buf[:m]
        return feeds

    def run_batch(self, indices: np.ndarray) -> Any:
        rows = self.row_of[indices]
        if rows.min() < 0:
            missing = indices[rows < 0].tolist()
            raise IndexError(
                f"sample(s) {missing[:8]} are not loaded (LoadGen issued samples the QSL did not load)"
            )
        return self.logits(self._gather(rows, self.loaded))

    def encode(self, outputs: Any, indices: np.ndarray) -> np.ndarray:
        start, end = outputs
        return np.ascontiguousarray(np.stack([start, end], axis=-1), dtype=np.float32)

    def warmup(self, batch_size: int) -> None:
        # Full batch shape twice (ORT/torch allocate per shape), then batch 1 (Server batches vary).
        n = self.total_sample_count
        rows = np.arange(batch_size) % n
        for _ in range(2):
            self.logits({k: np.ascontiguousarray(v[rows]) for k, v in self.arrays.items()})
        if batch_size > 1:
            self.logits({k: np.ascontiguousarray(v[:1]) for k, v in self.arrays.items()})

    def info(self) -> dict[str, Any]:
        return {
            "family": self.name,
            "max_seq_length": self.seq,
            "response": f"float32 ({self.seq}, 2) start/end logits per feature",
        }
