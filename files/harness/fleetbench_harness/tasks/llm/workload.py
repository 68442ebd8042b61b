"""LLM workload: tokenized prompts in, generated token ids (int32) out, with token counts.

* Offline (core scheduler): batches of up to ``max_batchsize`` prompts, left-padded, one
  ``engine.generate`` each;
* Server / Interactive (LoadGen Server) and SingleStream of a token-latency benchmark
  (mlperf.conf ``use_token_latencies = 1``): :class:`StreamingScheduler`, a request queue
  served by worker threads that stream each request; its first token goes to LoadGen at
  once (``FirstTokenComplete``: TTFT), the whole output with its token count at the end
  (TPOT, tokens/s). GPT-J (``infer_token_latencies``: LoadGen infers token figures with
  mlperf.conf's scaling factor) and its beam search take the core schedulers.

Response bytes: the generated ids as int32 (prompt removed, cut after the first EOS), as the
reference SUTs log them; ``n_tokens`` is their count.
"""

from __future__ import annotations

import queue
import threading
from typing import Any

import numpy as np

from fleetbench_harness.backends.hf_causal_lm import GenerationParams
from fleetbench_harness.loadgen import Response, Workload, responses
from fleetbench_harness.loadgen.schedulers import Scheduler


class LLMWorkload(Workload):
    """Workload over pre-tokenized prompts and a generation engine (``generate`` / ``stream``)."""

    name = "llm"

    def __init__(
        self,
        engine: Any,
        prompts: list[np.ndarray],
        params: GenerationParams,
        performance_sample_count: int,
        streaming: bool,
        workers: int,
        info: dict[str, Any],
    ):
        self.engine = engine
        self.prompts = prompts
        self.params = params
        self.streaming = bool(streaming)
        self.workers = max(1, int(workers))
        self.total_sample_count = len(prompts)
        self.performance_sample_count = min(int(performance_sample_count), self.total_sample_count)
        self._info = info
        self.tokens_generated = 0
        self._lock = threading.Lock()

    def _count(self, outs: list[np.ndarray]) -> None:
        with self._lock:
            self.tokens_generated += sum(len(o) for o in outs)

    def run_batch(self, indices: np.ndarray) -> list[np.ndarray]:
        outs = self.engine.generate([self.prompts[i] for i in indices.tolist()], self.params)
        self._count(outs)
        return outs

    def encode(self, outputs: list[np.ndarray], indices: np.ndarray) -> list[Response]:
        return [Response(o, n_tokens=len(o)) for o in outputs]

    def stream(self, index: int, on_token: Any) -> np.ndarray:
        out = self.engine.stream(self.prompts[index], self.params, on_token)
        self._count([out])
        return out

    def warmup(self, batch_size: int) -> None:
        p = GenerationParams(max_new_tokens=2, min_new_tokens=1, num_beams=self.params.num_beams)
        n = min(batch_size, self.total_sample_count)
        self.engine.generate([self.prompts[i][:32] for i in range(n)], p)
        if self.streaming:
            self.engine.stream(self.prompts[0][:32], GenerationParams(max_new_tokens=2), lambda t: None)

    def scheduler(self, scenario: str) -> type | None:
        if self.streaming and scenario in ("Server", "SingleStream"):
            return StreamingScheduler
        return None

    def info(self) -> dict[str, Any]:
        return dict(self._info, tokens_generated=self.tokens_generated)


class StreamingScheduler(Scheduler):
    """A request queue served by ``workload.workers`` threads that stream (Server, Interactive).

    SingleStream uses it with one worker (LoadGen issues one sample at a time). Failure rules of
    the core (loadgen/lifecycle.py): an exception completes the request empty and is recorded in
    the monitor; from then on every issued or queued request is completed empty at once.
    """

    def __init__(self, workload: Any, max_batchsize: int, monitor: Any, batch_timeout_ms: float = 2.0):
        super().__init__(workload, max_batchsize, monitor, batch_timeout_ms)
        self.q: queue.SimpleQueue = queue.SimpleQueue()
        self.n_workers = max(1, int(workload.workers))
        self._count_lock = threading.Lock()
        self.threads = [
            threading.Thread(target=self._loop, name=f"llm-stream-{i}", daemon=True)
            for i in range(self.n_workers)
        ]
        for t in self.threads:
            t.start()

    def issue_query(self, query_samples: list) -> None:
        self.monitor.issued(len(query_samples))
        for q in query_samples:
            self.q.put((q.id, q.index))

    def _serve(self, qid: int, index: int) -> None:
        mon = self.monitor
        if mon.error is not None:
            responses.complete_empty([qid], mon)
            return
        sent = []

        def on_token(tok: int) -> None:
            if not sent:
                sent.append(tok)
                responses.first_token(qid, Response(np.array([tok], dtype=np.int32)))

        try:
            out = self.workload.stream(index, on_token)
            if not sent:  # nothing streamed (an empty output): the first token is the whole response
                responses.first_token(qid, Response(out[:1] if len(out) else np.zeros(0, np.int32)))
            responses.complete([qid], [Response(out, n_tokens=len(out))], mon)
        except BaseException as exc:
            responses.complete_empty([qid], mon)
            mon.fail(exc, "the workload (stream)")
            return
        with self._count_lock:
            self.samples += 1
            self.batches += 1

    def _loop(self) -> None:
        while (item := self.q.get()) is not None:
            self._serve(*item)

    def stop(self) -> dict[str, int]:
        for _ in self.threads:
            self.q.put(None)
        for t in self.threads:
            t.join()
        return super().stop()
