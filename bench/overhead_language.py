#!/usr/bin/env python3
"""Harness overhead, BERT: LoadGen Offline samples/s / bare ``session.run`` features/s.

The minilm-l6 stand-in of bert-99 (real MiniLM-L6 encoder, ONNX, 384 tokens) on
onnxruntime CPU, batch 8, 2 intra-op threads, on the squad-smoke features:

1. bare loops (``bench/_bare_ort.py``, a process of their own, the harness's
   session options; three int64 (8, 384) inputs) for the window (features/s):
   ``same-samples`` (a new batch each run gathered from every feature in random
   order, as LoadGen issues them) and ``hot`` (one batch again and again);
2. the real harness CLI (``python -m fleetbench_harness run``, Offline,
   performance mode, ``--max-batchsize 8``), ``min_duration`` = the window and
   ``target_qps`` = the bare rate; LoadGen's "Samples per second" from
   ``mlperf_log_summary.txt``.

Rounds: bare, LoadGen, bare, LoadGen, bare ...; each LoadGen figure is divided by
the mean of the bare loops right before and after it; the median ratio over
``--rounds`` (>= 3) is reported, with the load average (the machine is shared).
Target: ``ratio`` (against same-samples) >= 0.97; ``ratio_hot`` is shown beside it.
One JSON line, then a table; ``--json FILE`` saves it.

Usage: .venv/bin/python bench/overhead_language.py [--batch 8] [--threads 2] [--duration 10]
[--rounds 3] [--cache-dir DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
HARNESS = REPO / "files" / "harness"
sys.path.insert(0, str(HARNESS))
sys.path.insert(0, str(REPO / "bench"))

import _bare_ort

MODEL, STAND_IN = "bert-99", "minilm-l6"


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(HARNESS) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def _cli(*args: str) -> str:
    argv = [sys.executable, "-m", "fleetbench_harness", *args]
    res = subprocess.run(argv, env=_env(), capture_output=True, text=True, check=False)
    if res.returncode != 0:
        raise SystemExit(f"harness {args[0]} failed ({res.returncode}):\n{res.stderr[-3000:]}")
    return res.stdout


def _cli_json(*args: str) -> dict:
    """The JSON line a prepare-* command prints last."""
    return json.loads(_cli(*args).strip().splitlines()[-1])


def bare_loops(model_file: str, inputs: dict[str, Path], threads: int, bs: int, duration: float) -> dict:
    """Both bare orders (bench/_bare_ort.py): ``hot`` (one batch), ``same-samples`` (as LoadGen issues)."""
    return {
        order: _bare_ort.measure(
            model_file, inputs, batch=bs, threads=threads, duration=duration, order=order
        )
        for order in ("same-samples", "hot")
    }


def loadgen_offline(model_path: str, dataset: str, cache: Path, threads: int, bs: int, duration: float,
                    qps: float, workdir: Path, k: int) -> dict:  # fmt: skip
    conf = workdir / f"bert-{k}.conf"
    # LoadGen 6.0 Offline issues floor(1.1 * target_qps * min_duration_s) samples: a whole number of batches.
    n = max(bs, -(-int(1.1 * qps * duration) // bs) * bs)
    target_qps = (n + 0.5) / (1.1 * duration)
    conf.write_text(
        f"*.Offline.min_duration = {int(duration * 1000)}\n*.Offline.target_qps = {target_qps:.6f}\n"
        "*.Offline.min_query_count = 1\n"
    )
    out = workdir / f"out-{k}"
    _cli(
        "run", "--model", MODEL, "--backend", "onnxruntime", "--device", "cpu", "--precision", "float32",
        "--scenario", "Offline", "--mode", "performance", "--dataset-path", dataset,
        "--cache-dir", str(cache),
        "--model-path", model_path, "--stand-in-model", STAND_IN, "--user-conf", str(conf),
        "--output-dir", str(out), "--threads", str(threads), "--max-batchsize", str(bs),
    )  # fmt: skip
    summary = (out / "mlperf_log_summary.txt").read_text()
    sps = next(float(ln.split(":")[1]) for ln in summary.splitlines() if ln.startswith("Samples per second"))
    hj = json.loads((out / "harness.json").read_text())
    return {
        "samples_per_s": sps,
        "samples_per_cpu_s": hj["samples_processed"] / hj["timing_s"]["loadgen_test_cpu"],
        "samples": hj["samples_processed"],
        "batches": hj["batches"],
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cache-dir", type=Path, default=None, help="harness cache (default: a temp dir)")
    ap.add_argument("--batch", type=int, default=8, help="batch size for both loops (default 8)")
    ap.add_argument("--threads", type=int, default=2, help="onnxruntime intra-op threads (default 2)")
    ap.add_argument("--duration", type=float, default=10.0, help="seconds per measurement (default 10)")
    ap.add_argument("--min-batches", type=int, default=16, help="at least this many batches per window")
    ap.add_argument("--rounds", type=int, default=3, help="LoadGen runs, median ratio (default 3)")
    ap.add_argument("--json", type=Path, default=None, help="also write the result to this file")
    args = ap.parse_args()

    import numpy as np
    from fleetbench_harness import registry
    from fleetbench_harness.tasks.language import squad

    tmp = Path(tempfile.mkdtemp(prefix="overhead-language-"))
    cache = args.cache_dir or tmp / "cache"
    art = _cli_json("prepare-model", "--model", MODEL, "--backend", "onnxruntime", "--cache-dir", str(cache),
               "--stand-in-model", STAND_IN)  # fmt: skip
    ds = _cli_json("prepare-dataset", "--model", MODEL, "--cache-dir", str(cache), "--source", "squad-smoke",
              "--model-path", art["path"], "--stand-in-model", STAND_IN)  # fmt: skip
    arrays, _, _, _ = squad.load_features(ds["path"], registry.model(MODEL), cache, art["path"])
    # The features the harness's QSL loads (all of them: the smoke set is smaller than the
    # performance_sample_count), one .npy per model input for the bare loops' own process.
    inputs = {}
    for name, block in arrays.items():
        inputs[name] = tmp / f"{name}.npy"
        np.save(inputs[name], np.ascontiguousarray(block))
    model_file = str(Path(art["path"]) / "model.onnx")
    load = os.getloadavg()
    bares = [bare_loops(model_file, inputs, args.threads, args.batch, args.duration)]
    dur = max(args.duration, args.min_batches * args.batch / bares[0]["hot"]["per_s"])
    rounds = []
    for k in range(args.rounds):
        qps = bares[-1]["same-samples"]["per_s"]
        lg = loadgen_offline(art["path"], ds["path"], cache, args.threads, args.batch, dur, qps, tmp, k)
        bares.append(bare_loops(model_file, inputs, args.threads, args.batch, dur))
        rounds.append(_bare_ort.round_row(lg, bares[-2], bares[-1]))
    row = {
        "model": f"{MODEL} ({STAND_IN} stand-in)",
        "backend": "onnxruntime",
        "device": "cpu",
        "batch": args.batch,
        "threads": args.threads,
        "window_s": round(dur, 2),
        "features": len(arrays["input_ids"]),
        **_bare_ort.summary(rounds),
        "rounds": rounds,
        "loadavg_at_start": [round(x, 2) for x in load],
        "loadavg_at_end": [round(x, 2) for x in os.getloadavg()],
    }
    print(json.dumps(row), flush=True)
    _bare_ort.print_table(
        [row], f"batch {args.batch}, {args.threads} threads, load avg at start {load[0]:.2f}"
    )
    if args.json:
        args.json.write_text(json.dumps(row, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
