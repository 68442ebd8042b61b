#!/usr/bin/env python3
"""3D-UNet harness overhead: LoadGen Offline samples/s / the bare backend loop on the same cases.

Stand-in ``tiny-unet3d`` on the ``kits19-synthetic`` cases (onnxruntime CPU, same threads and
session options as the harness), in one run:

1. bare loop: a fresh process (like the harness run) builds the family's workload and runs its
   sliding window (``Segmentation3DWorkload.segment``, the backend's ``run``) over the
   preprocessed cases in turn for ``--duration`` seconds (cases/s; every case equally often, as
   LoadGen's equal-issue mode issues them);
2. the real harness CLI (``python -m fleetbench_harness run``, Offline, performance mode),
   ``min_duration`` = ``--duration`` ms, ``target_qps`` = the bare rate; LoadGen's "Samples per
   second" from ``mlperf_log_summary.txt``.

Rounds interleave (bare, LoadGen, bare, ...); each LoadGen figure is divided by the mean of the
bare loops before and after it; the result is the median ratio over ``--rounds`` (>= 3).
Target: >= 0.97. Prints one JSON line; ``--json FILE`` saves it.

Usage: .venv/bin/python bench/overhead_segmentation_3d.py [--threads 2] [--duration 10] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
HARNESS = REPO / "files" / "harness"
sys.path.insert(0, str(HARNESS))
MODEL, STAND_IN = "3d-unet-99", "tiny-unet3d"


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(HARNESS) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def _cli(*args: str | Path) -> str:
    res = subprocess.run(
        [sys.executable, "-m", "fleetbench_harness", *map(str, args)],
        env=_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    if res.returncode != 0:
        raise SystemExit(f"harness {args[0]} failed:\n{res.stderr[-3000:]}")
    return res.stdout


def prepare(cache: Path) -> tuple[Path, Path]:
    ds = json.loads(
        _cli("prepare-dataset", "--model", MODEL, "--cache-dir", cache, "--source", "kits19-synthetic",
             "--stand-in-model", STAND_IN).strip().splitlines()[-1]
    )  # fmt: skip
    model = json.loads(
        _cli("prepare-model", "--model", MODEL, "--backend", "onnxruntime", "--cache-dir", cache,
             "--stand-in-model", STAND_IN).strip().splitlines()[-1]
    )  # fmt: skip
    return Path(ds["path"]), Path(model["path"])


def bare_workload(dataset: Path, model: Path, cache: Path, threads: int):
    """The family's workload on the same cases and model, with every case loaded."""
    import numpy as np
    from fleetbench_harness import registry
    from fleetbench_harness.tasks.base import RunContext
    from fleetbench_harness.tasks.segmentation_3d import FAMILY

    ctx = RunContext(
        model=MODEL, entry=registry.model(MODEL), cache_dir=cache, dataset_path=dataset,
        model_path=str(model), stand_in=STAND_IN, threads=threads, max_batchsize=1,
    )  # fmt: skip
    wl = FAMILY.workload(ctx, FAMILY.prepare_model(ctx))
    wl.load_samples(np.arange(wl.total_sample_count, dtype=np.int64))
    wl.warmup(1)
    return wl


def bare_rate(wl, duration: float) -> float:
    """Cases/s of segment() over the loaded cases in turn (whole passes, at least one)."""
    vols = [wl.loaded[i] for i in range(wl.total_sample_count)]
    n, t0 = 0, time.perf_counter()
    while True:
        for v in vols:
            wl.segment(v)
        n += len(vols)
        if time.perf_counter() - t0 >= duration:
            return n / (time.perf_counter() - t0)


def bare_rate_process(dataset: Path, model: Path, cache: Path, threads: int, duration: float) -> float:
    """:func:`bare_rate` in a child process (``--bare``), so both sides start equally fresh."""
    res = subprocess.run(
        [sys.executable, __file__, "--bare", "--dataset", str(dataset), "--model", str(model),
         "--cache-dir", str(cache), "--threads", str(threads), "--duration", str(duration)],
        env=_env(), capture_output=True, text=True, check=False,
    )  # fmt: skip
    if res.returncode != 0:
        raise SystemExit(f"bare loop failed:\n{res.stderr[-3000:]}")
    return float(res.stdout.strip().splitlines()[-1])


def loadgen_rate(
    tmp: Path, dataset: Path, model: Path, cache: Path, threads: int, duration: float, qps: float
) -> float:
    conf = tmp / "user.conf"
    conf.write_text(
        f"*.Offline.min_duration = {int(duration * 1000)}\n*.Offline.target_qps = {qps:.3f}\n"
        "*.Offline.min_query_count = 1\n"
    )
    out = tmp / f"lg-{time.time_ns()}"
    _cli(
        "run", "--model", MODEL, "--backend", "onnxruntime", "--device", "cpu", "--scenario", "Offline",
        "--mode", "performance", "--dataset-path", dataset, "--user-conf", conf, "--output-dir", out,
        "--cache-dir", cache, "--stand-in-model", STAND_IN, "--model-path", model, "--threads", str(threads),
    )  # fmt: skip
    m = re.search(r"Samples per second\s*:\s*([\d.]+)", (out / "mlperf_log_summary.txt").read_text())
    if not m:
        raise SystemExit(f"no 'Samples per second' in {out / 'mlperf_log_summary.txt'}")
    return float(m.group(1))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--duration", type=float, default=10.0, help="seconds per bare loop and LoadGen run")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--cache-dir", type=Path, default=None)
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--bare", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--dataset", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--model", type=Path, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.bare:  # child: one bare loop, prints cases/s
        print(bare_rate(bare_workload(a.dataset, a.model, a.cache_dir, a.threads), a.duration))
        return 0
    if a.rounds < 3:
        ap.error("--rounds must be >= 3 (median of at least 3)")
    tmp = Path(tempfile.mkdtemp(prefix="seg3d-bench-"))
    cache = (a.cache_dir or tmp / "cache").resolve()
    dataset, model = prepare(cache)
    bare = [bare_rate_process(dataset, model, cache, a.threads, a.duration)]
    lg, ratios = [], []
    for _ in range(a.rounds):
        lg.append(loadgen_rate(tmp, dataset, model, cache, a.threads, a.duration, bare[-1]))
        bare.append(bare_rate_process(dataset, model, cache, a.threads, a.duration))
        ratios.append(lg[-1] / ((bare[-2] + bare[-1]) / 2))
    res = {
        "bench": "overhead_segmentation_3d",
        "model": MODEL,
        "stand_in": STAND_IN,
        "backend": "onnxruntime",
        "threads": a.threads,
        "duration_s": a.duration,
        "bare_samples_per_s": [round(b, 3) for b in bare],
        "loadgen_samples_per_s": [round(x, 3) for x in lg],
        "ratios": [round(r, 4) for r in ratios],
        "ratio_median": round(statistics.median(ratios), 4),
        "target": 0.97,
        "loadavg": os.getloadavg(),
    }
    res["met"] = res["ratio_median"] >= res["target"]
    print(json.dumps(res))
    if a.json:
        a.json.write_text(json.dumps(res, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
