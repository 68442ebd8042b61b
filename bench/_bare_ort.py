#!/usr/bin/env python3
"""The bare ``session.run`` loop the harness-overhead benchmarks compare LoadGen with.

Runs in a process of its own (started by the benchmarks), importing only numpy and
onnxruntime (through ``fleetbench_harness.backends.ort``, the harness's session options),
so that nothing else loaded in the benchmark process (torch, transformers, a 1 GB
dataset) changes the figure. Two orders of work, both on batches of ``--batch`` rows:

* ``hot``: one batch (rows ``0..batch-1``), run again and again: the engine alone, its
  input always in the CPU caches;
* ``same-samples``: a new batch each run, gathered (``np.take``) from every loaded sample
  in a seeded uniform random order, as LoadGen's Offline scenario issues them (it draws
  sample indices from the loaded set, with repeats): the work any SUT has to do for
  these samples, so ``LoadGen / same-samples`` is the harness's own overhead.

Inputs: one ``name=file.npy`` per model input, each ``(n_samples, ...)`` (for a model with one
input any name will do); the arrays are read into memory first (as the harness's QSL
``load_samples`` does).

Prints one JSON line: ``{"order", "per_s" (rows/s), "per_cpu_s" (rows per CPU second
of this process), "runs", "seconds"}``.

Usage: python bench/_bare_ort.py --model model.onnx --input input_ids=a.npy ...
[--batch 8] [--threads 2] [--duration 10] [--order hot|same-samples] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HARNESS = Path(__file__).resolve().parents[1] / "files" / "harness"
sys.path.insert(0, str(HARNESS))


def measure(
    model: str | Path,
    inputs: dict[str, str | Path],
    *,
    batch: int,
    threads: int,
    duration: float,
    order: str,
    limit: int | None = None,
) -> dict:
    """Run this file as a process of its own; its JSON line as a dict (``per_s``: rows/s).

    :raises SystemExit: the loop failed (its stderr tail is in the message).
    """
    argv = [sys.executable, __file__, "--model", str(model), "--batch", str(batch), "--threads", str(threads),
            "--duration", str(duration), "--order", order]  # fmt: skip
    for name, path in inputs.items():
        argv += ["--input", f"{name}={path}"]
    if limit:
        argv += ["--limit", str(limit)]
    # The script puts the harness on sys.path itself (HARNESS above).
    res = subprocess.run(argv, capture_output=True, text=True, check=False)
    if res.returncode != 0:
        raise SystemExit(f"bare loop failed ({res.returncode}):\n{res.stderr[-3000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def round_row(loadgen: dict, before: dict[str, dict], after: dict[str, dict]) -> dict:
    """One round: a LoadGen run (``samples_per_s``, ``samples_per_cpu_s``) against the mean of the
    bare loops just before and after it, for both orders (:func:`bare_loops`-style dicts)."""

    def mean(order: str, key: str) -> float:
        return (before[order][key] + after[order][key]) / 2

    row = {"loadgen_samples_per_s": loadgen["samples_per_s"], "loadgen": loadgen,
           "loadavg_1min": round(os.getloadavg()[0], 2)}  # fmt: skip
    for order, tag in (("same-samples", "same_samples"), ("hot", "hot")):
        row[f"bare_{tag}_per_s"] = round(mean(order, "per_s"), 3)
        row[f"ratio_{tag}"] = round(loadgen["samples_per_s"] / mean(order, "per_s"), 4)
        row[f"cpu_ratio_{tag}"] = round(loadgen["samples_per_cpu_s"] / mean(order, "per_cpu_s"), 4)
    return row


def _median(xs: list[float]) -> float:
    return sorted(xs)[len(xs) // 2]


def summary(rounds: list[dict]) -> dict:
    """Medians over the rounds (target 0.97 on ``ratio``, the same-samples ratio) and every round's ratio."""
    out: dict = {"target": 0.97}
    for tag in ("same_samples", "hot"):
        out[f"bare_{tag}_per_s"] = _median([r[f"bare_{tag}_per_s"] for r in rounds])
        out[f"ratio_{tag}"] = _median([r[f"ratio_{tag}"] for r in rounds])
        out[f"ratios_{tag}"] = [r[f"ratio_{tag}"] for r in rounds]
        out[f"cpu_ratio_{tag}"] = _median([r[f"cpu_ratio_{tag}"] for r in rounds])
    out["ratio"] = out["ratio_same_samples"]
    out["loadgen_offline_samples_per_s"] = _median([r["loadgen_samples_per_s"] for r in rounds])
    return out


def print_table(rows: list[dict], note: str) -> None:
    """The benchmarks' table: one line per model, medians."""
    print(f"\n{'model':30} {'bare same/hot per s':>20} {'LoadGen S/s':>12} {'ratio same':>10} "
          f"{'ratio hot':>9} {'cpu same':>8}   ({note})")  # fmt: skip
    for r in rows:
        bare = f"{r['bare_same_samples_per_s']:.1f}/{r['bare_hot_per_s']:.1f}"
        ratios = f"{r['ratio_same_samples']:10.3f} {r['ratio_hot']:9.3f} {r['cpu_ratio_same_samples']:8.3f}"
        print(f"{r['model']:30} {bare:>20} {r['loadgen_offline_samples_per_s']:12.1f} {ratios}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True, help="ONNX file")
    ap.add_argument("--input", action="append", required=True, help="NAME=FILE.npy, one per model input")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--duration", type=float, default=10.0, help="seconds of timed runs")
    ap.add_argument("--order", choices=("hot", "same-samples"), default="same-samples")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--limit", type=int, default=None, help="use the first N samples only")
    args = ap.parse_args()

    import numpy as np
    from fleetbench_harness.backends.ort import OrtBackend

    arrays = {}
    for spec in args.input:
        name, _, path = spec.partition("=")
        arr = np.load(path, mmap_mode="r")
        arrays[name] = np.ascontiguousarray(arr[: args.limit] if args.limit else arr)
    n = len(next(iter(arrays.values())))
    be = OrtBackend("cpu", "float32", args.threads)
    be.load(args.model)
    sess = be.session
    if set(arrays) != set(be.input_names) and len(arrays) == len(be.input_names) == 1:
        arrays = {be.input_names[0]: next(iter(arrays.values()))}  # one input: its name does not matter
    out = [be.output_names[0]] if len(arrays) == 1 else None
    bs = args.batch
    hot = {k: np.ascontiguousarray(v[np.arange(bs) % n]) for k, v in arrays.items()}
    bufs = {k: np.empty_like(v) for k, v in hot.items()}
    order = np.random.default_rng(args.seed).integers(0, n, size=bs * 4096)
    for _ in range(3):
        sess.run(out, hot)

    runs, k = 0, 0
    t0, c0 = time.perf_counter(), time.process_time()
    while (t := time.perf_counter()) - t0 < args.duration:
        if args.order == "hot":
            feeds = hot
        else:
            rows = order[k : k + bs]
            k = (k + bs) % (len(order) - bs)
            for name, block in arrays.items():
                np.take(block, rows, axis=0, out=bufs[name])
            feeds = bufs
        sess.run(out, feeds)
        runs += 1
    wall, cpu = t - t0, time.process_time() - c0
    print(
        json.dumps(
            {
                "order": args.order,
                "per_s": runs * bs / wall,
                "per_cpu_s": runs * bs / cpu,
                "runs": runs,
                "seconds": round(wall, 3),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
