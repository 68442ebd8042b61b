"""Completing samples with LoadGen (the only place that builds ``QuerySampleResponse``).

Family schedulers (an LLM Server streaming first tokens, say) use these
functions instead of importing ``mlperf_loadgen`` themselves.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from fleetbench_harness.loadgen.workload import Response


def _native(ids: Sequence[int] | np.ndarray) -> list[int]:
    return ids.tolist() if isinstance(ids, np.ndarray) else [int(i) for i in ids]


def complete(ids: Sequence[int] | np.ndarray, encoded: np.ndarray | Sequence[Response], monitor=None) -> None:
    """Complete the samples ``ids`` with their encoded responses (see ``Workload.encode``).

    Raises:
        ValueError: ``encoded`` does not hold one response per id.
    """
    import mlperf_loadgen as lg

    qids = _native(ids)
    n = len(qids)
    resp_cls = lg.QuerySampleResponse
    if isinstance(encoded, np.ndarray):
        arr = encoded if encoded.flags.c_contiguous else np.ascontiguousarray(encoded)
        if n and arr.shape[0] != n:
            raise ValueError(f"encode returned {arr.shape[0]} rows for {n} samples")
        row = arr.nbytes // n if n else 0
        base = arr.ctypes.data
        responses = [resp_cls(qid, base + j * row, row) for j, qid in enumerate(qids)]
        keep: object = arr
    else:
        if len(encoded) != n:
            raise ValueError(f"encode returned {len(encoded)} responses for {n} samples")
        keep = [np.ascontiguousarray(r.data) for r in encoded]
        responses = [
            resp_cls(qid, a.ctypes.data, a.nbytes)
            if r.n_tokens is None
            else resp_cls(qid, a.ctypes.data, a.nbytes, int(r.n_tokens))
            for qid, a, r in zip(qids, keep, encoded, strict=True)
        ]
    lg.QuerySamplesComplete(responses)
    del keep  # the bytes lived until LoadGen copied what it logs
    if monitor is not None:
        monitor.completed(n)


def first_token(qid: int, token: Response) -> None:
    """Report an LLM sample's first token (LoadGen ``FirstTokenComplete``; TTFT)."""
    import mlperf_loadgen as lg

    a = np.ascontiguousarray(token.data)
    lg.FirstTokenComplete([lg.QuerySampleResponse(int(qid), a.ctypes.data, a.nbytes)])


def complete_empty(ids: Sequence[int] | np.ndarray, monitor=None) -> None:
    """Complete samples with empty responses so LoadGen never waits on them (after an error)."""
    import mlperf_loadgen as lg

    qids = _native(ids)
    if qids:
        lg.QuerySamplesComplete([lg.QuerySampleResponse(q, 0, 0) for q in qids])
        if monitor is not None:
            monitor.completed(len(qids))
