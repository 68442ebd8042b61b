#!/usr/bin/env python3
"""Harness overhead, BERT: LoadGen Offline samples/s / bare ``session.run`` features/s.

The minilm-l6 stand-in of bert-99 (real MiniLM-L6 encoder, ONNX, 384 tokens) on
onnxruntime CPU, batch 8, 2 intra-op threads, on the squad-smoke features:

1. bare loop: ``session.run`` on one batch of 8 features (three int64 (8, 384)
   inputs), same session options as the harness (``backends.ort.OrtBackend``),
   for the window (features/s);
2. the real harness CLI (``python -m fleetbench_harness run``, Offline,
   performance mode, ``--max-batchsize 8``), ``min_duration`` = the window and
   ``target_qps`` = the bare rate; LoadGen's "Samples per second" from
   ``mlperf_log_summary.txt``.

Rounds: bare, LoadGen, bare, LoadGen, bare ...; each LoadGen figure is divided by
the mean of the bare loops right before and after it; the median ratio over
``--rounds`` (>= 3) is reported, with the load average (the machine is shared).
Target >= 0.97. One JSON line, then a table; ``--json FILE`` saves it.

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
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
HARNESS = REPO / "files" / "harness"
sys.path.insert(0, str(HARNESS))

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


def bare_loop(model_file: str, feeds: dict, threads: int, duration: float) -> tuple[float, float]:
    """(features/s, features per CPU-second) of ``session.run`` on one batch."""
    from fleetbench_harness.backends.ort import OrtBackend

    be = OrtBackend("cpu", "float32", threads)
    be.load(model_file)
    sess = be.session
    n_batch = len(next(iter(feeds.values())))
    for _ in range(2):
        sess.run(None, feeds)
    n, t0, c0 = 0, time.perf_counter(), time.process_time()
    while (t := time.perf_counter()) - t0 < duration:
        sess.run(None, feeds)
        n += 1
    return n * n_batch / (t - t0), n * n_batch / (time.process_time() - c0)


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
    rows = np.arange(args.batch) % len(arrays["input_ids"])
    feeds = {k: np.ascontiguousarray(v[rows]) for k, v in arrays.items()}
    model_file = str(Path(art["path"]) / "model.onnx")
    load = os.getloadavg()
    bares = [bare_loop(model_file, feeds, args.threads, args.duration)]
    dur = max(args.duration, args.min_batches * args.batch / bares[0][0])
    rounds = []
    for k in range(args.rounds):
        qps = bares[-1][0]
        lg = loadgen_offline(art["path"], ds["path"], cache, args.threads, args.batch, dur, qps, tmp, k)
        bares.append(bare_loop(model_file, feeds, args.threads, dur))
        bare = (bares[-2][0] + bares[-1][0]) / 2
        bare_cpu = (bares[-2][1] + bares[-1][1]) / 2
        rounds.append(
            {
                "bare_features_per_s": round(bare, 3),
                "loadgen_samples_per_s": lg["samples_per_s"],
                "ratio": round(lg["samples_per_s"] / bare, 4),
                "cpu_ratio": round(lg["samples_per_cpu_s"] / bare_cpu, 4),
                "loadgen": lg,
                "loadavg_1min": round(os.getloadavg()[0], 2),
            }
        )
    mid = sorted(rounds, key=lambda r: r["ratio"])[len(rounds) // 2]
    row = {
        "model": f"{MODEL} ({STAND_IN} stand-in)",
        "backend": "onnxruntime",
        "device": "cpu",
        "batch": args.batch,
        "threads": args.threads,
        "window_s": round(dur, 2),
        "bare_features_per_s": mid["bare_features_per_s"],
        "loadgen_offline_samples_per_s": mid["loadgen_samples_per_s"],
        "ratio": mid["ratio"],
        "ratios": [r["ratio"] for r in rounds],
        "cpu_ratio_median": sorted(r["cpu_ratio"] for r in rounds)[len(rounds) // 2],
        "cpu_ratios": [r["cpu_ratio"] for r in rounds],
        "bare_loops": [round(b[0], 3) for b in bares],
        "target": 0.97,
        "rounds": rounds,
        "loadavg_at_start": [round(x, 2) for x in load],
        "loadavg_at_end": [round(x, 2) for x in os.getloadavg()],
    }
    print(json.dumps(row), flush=True)
    print(
        f"\n{'model':28} {'bare feat/s':>11} {'LoadGen S/s':>12} {'ratio':>7} {'cpu ratio':>9}   "
        f"(batch {args.batch}, {args.threads} threads, load avg at start {load[0]:.2f})"
    )
    print(
        f"{row['model']:28} {row['bare_features_per_s']:11.2f} {row['loadgen_offline_samples_per_s']:12.2f} "
        f"{row['ratio']:7.3f} {row['cpu_ratio_median']:9.3f}"
    )
    if args.json:
        args.json.write_text(json.dumps(row, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
