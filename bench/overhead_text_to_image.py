#!/usr/bin/env python3
"""Harness overhead for SDXL (text_to_image) on the tiny-sdxl stand-in, CPU.

Per round, interleaved (bare, LoadGen, bare, LoadGen, ...):

1. bare loop: the diffusers engine (:mod:`fleetbench_harness.backends.diffusers_pipeline`) generates
   the first ``--samples`` captions of the smoke set one batch at a time, with the registry's
   generation settings (20 Euler steps, guidance 8, negative prompt, fixed latents): samples/s;
2. the real harness CLI (``python -m fleetbench_harness run``, Offline, performance mode, the same
   captions, batch and threads; ``min_query_count`` = ``--samples``): LoadGen's "Samples per second"
   from ``mlperf_log_summary.txt``.

Ratio of round r = LoadGen(r) / mean(bare(r), bare(r + 1)) (the bare loops around it); the median
over ``--rounds`` (>= 3) is the figure. Target: >= 0.97. The load average is recorded (shared host).

Usage: .venv/bin/python bench/overhead_text_to_image.py [--samples 6] [--rounds 3] [--threads 1]
[--batch 1] [--cache-dir DIR] [--json FILE]

Threads default to 1: on a shared, oversubscribed host two OpenMP threads in the main thread spin
(20 s per tiny image against 0.3 s with one), which would compare scheduling luck, not the harness.
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


def _env(threads: int) -> dict[str, str]:
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    env["PYTHONPATH"] = str(HARNESS) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def _cli(*args, threads: int) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "fleetbench_harness", *map(str, args)],
        env=_env(threads),
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise SystemExit(f"harness failed: {' '.join(map(str, args[:3]))}: {proc.stderr[-2000:]}")
    return proc.stdout


def bare(engine, captions, latents, gen, batch: int) -> float:
    """Samples/s of the engine over ``captions`` in batches of ``batch``."""
    t0 = time.perf_counter()
    for i in range(0, len(captions), batch):
        engine.generate(
            captions[i : i + batch],
            latents=latents,
            negative_prompt=gen["negative_prompt"],
            steps=gen["steps"],
            guidance=gen["guidance"],
            height=gen["height"],
            width=gen["width"],
        )
    return len(captions) / (time.perf_counter() - t0)


def loadgen(model_dir, captions_file, cache, samples, batch, threads, qps, out: Path) -> float:
    key = "stable-diffusion-xl"
    conf = out / "user.conf"
    out.mkdir(parents=True, exist_ok=True)
    conf.write_text(
        f"{key}.Offline.min_duration = 0\n{key}.Offline.min_query_count = {samples}\n"
        f"{key}.Offline.target_qps = {qps}\n"
    )
    _cli(
        "run", "--model", "sdxl", "--backend", "pytorch", "--device", "cpu", "--scenario", "Offline",
        "--mode", "performance", "--dataset-path", captions_file, "--user-conf", conf, "--output-dir", out,
        "--cache-dir", cache, "--stand-in-model", "tiny-sdxl", "--model-path", model_dir,
        "--count", samples, "--threads", threads, "--max-batchsize", batch,
        threads=threads,
    )  # fmt: skip
    text = (out / "mlperf_log_summary.txt").read_text()
    return float(re.search(r"Samples per second\s*:\s*([\d.]+)", text).group(1))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--samples", type=int, default=6)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--cache-dir", default=None)
    ap.add_argument("--json", default=None)
    a = ap.parse_args()
    if a.rounds < 3:
        raise SystemExit("--rounds must be at least 3 (median)")
    cache = Path(a.cache_dir or tempfile.mkdtemp(prefix="bench-t2i-"))
    art = json.loads(
        _cli("prepare-model", "--model", "sdxl", "--backend", "pytorch", "--cache-dir", cache,
             "--stand-in-model", "tiny-sdxl", threads=a.threads).splitlines()[-1]
    )  # fmt: skip
    ds = json.loads(
        _cli("prepare-dataset", "--model", "sdxl", "--cache-dir", cache, "--source", "captions-smoke",
             threads=a.threads).splitlines()[-1]
    )  # fmt: skip

    import torch
    from fleetbench_harness import registry
    from fleetbench_harness.backends.diffusers_pipeline import DiffusersPipeline
    from fleetbench_harness.tasks.text_to_image import dataset

    torch.set_num_threads(a.threads)
    spec = registry.model("sdxl")["stand_ins"]["tiny-sdxl"]
    gen = dict(registry.model("sdxl")["generation"], height=spec["height"], width=spec["width"])
    captions = dataset.read_captions(ds["path"], a.samples)
    if len(captions) < a.samples:
        raise SystemExit(f"the smoke set has {len(captions)} captions; use --samples <= {len(captions)}")
    engine = DiffusersPipeline("cpu", "float32", a.threads)
    engine.load(art["path"], gen["pipeline"], gen["scheduler"], Path(art["path"]) / "scheduler")
    latents = torch.load(Path(art["path"]) / "latents.pt", weights_only=True)
    bare(engine, captions[:1], latents, dict(gen, steps=2), a.batch)  # warm-up, as the harness does

    bares, lgs, loads = [bare(engine, captions, latents, gen, a.batch)], [], []
    with tempfile.TemporaryDirectory(prefix="bench-t2i-runs-") as runs:
        for r in range(a.rounds):
            loads.append(os.getloadavg()[0])
            lgs.append(loadgen(art["path"], ds["path"], cache, a.samples, a.batch, a.threads, bares[-1],
                               Path(runs) / f"r{r}"))  # fmt: skip
            bares.append(bare(engine, captions, latents, gen, a.batch))
    ratios = [lg / ((bares[i] + bares[i + 1]) / 2) for i, lg in enumerate(lgs)]
    res = {
        "model": "sdxl",
        "stand_in": "tiny-sdxl",
        "samples": a.samples,
        "batch": a.batch,
        "threads": a.threads,
        "bare_samples_per_s": [round(x, 4) for x in bares],
        "loadgen_samples_per_s": [round(x, 4) for x in lgs],
        "ratios": [round(x, 4) for x in ratios],
        "ratio_median": round(statistics.median(ratios), 4),
        "target": 0.97,
        "load_average_1m": [round(x, 2) for x in loads],
    }
    print(json.dumps(res, sort_keys=True))
    print(f"sdxl tiny-sdxl: LoadGen / bare = {res['ratio_median']:.3f} (median of {a.rounds}; target 0.97)")
    if a.json:
        Path(a.json).write_text(json.dumps(res, indent=2, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
