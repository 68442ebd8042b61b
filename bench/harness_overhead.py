#!/usr/bin/env python3
"""Harness overhead: LoadGen Offline samples/s / bare ``session.run`` img/s.

For each model (EfficientNet-Lite0 and the performance-only light_resnet50)
on onnxruntime CPU with the same batch size and thread count, in one run:

1. bare loops (``bench/_bare_ort.py``, a process of their own, the harness's session
   options) for ``--duration`` seconds: ``same-samples`` (a new batch each run, gathered
   from every loaded sample in random order, as LoadGen issues them) and ``hot`` (one
   contiguous batch again and again, its input always in the CPU caches);
2. the real harness CLI (``python -m fleetbench_harness run``, Offline,
   performance mode), ``min_duration`` = ``--duration`` and ``target_qps`` =
   the bare rate; LoadGen's own "Samples per second" from
   ``mlperf_log_summary.txt``.

Ratio = (2) / (1), median over ``--rounds`` (bare, LoadGen, bare, ... so each LoadGen run is
compared with the bare loops right around it; the machine is shared, so the load average is
recorded). Target: ``ratio`` (against same-samples: the harness's own overhead) >= 0.97;
``ratio_hot`` also counts the cost of touching distinct samples, which any SUT pays (the MLPerf
reference Python harness got 0.80 against a hot batch on this machine class: 277 vs 347 img/s,
batch 8, 2 threads).
Prints one JSON line per model and a table; ``--json FILE`` saves them.

Usage: .venv/bin/python bench/harness_overhead.py [--dataset-path DIR] [--batch 8]
[--threads 2] [--duration 10] [--cache-dir DIR] [--families image_classification,language,...|all]
The other task families have their own side-by-side benchmark (bench/overhead_<family>.py,
bench/llm_overhead.py; same method: interleaved rounds, median ratio); ``--families`` runs them
after the image models, each with its defaults.
Without --dataset-path the scikit-image smoke set is used (content does not
change the speed; the ImageNet sample adds realistic memory traffic).
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

MODELS = {  # name -> (registry model, stand-in model or None)
    "efficientnet": ("efficientnet", None),
    "light_resnet50": ("resnet50", "light_resnet50"),
}


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(HARNESS) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def bare_loops(model_file: str, npy: str, threads: int, bs: int, duration: float) -> dict[str, dict]:
    """Both bare orders (bench/_bare_ort.py): ``hot`` (one batch), ``same-samples`` (as LoadGen issues)."""
    return {
        order: _bare_ort.measure(
            model_file, {"input": npy}, batch=bs, threads=threads, duration=duration, order=order
        )
        for order in ("same-samples", "hot")
    }


def loadgen_offline(
    model: str,
    po: str | None,
    dataset: Path,
    cache: Path,
    threads: int,
    bs: int,
    duration: float,
    qps: float,
    workdir: Path,
) -> dict:
    conf = workdir / f"{model}-{po}.conf"
    # LoadGen 6.0 Offline issues floor(1.1 * target_qps * min_duration_s) samples; pick target_qps so
    # that this is a whole number of batches (the bare loop runs full batches only).
    n = max(bs, -(-int(1.1 * qps * duration) // bs) * bs)
    target_qps = (n + 0.5) / (1.1 * duration)
    conf.write_text(
        f"*.Offline.min_duration = {int(duration * 1000)}\n*.Offline.target_qps = {target_qps:.6f}\n"
        "*.Offline.min_query_count = 1\n"
    )
    out = workdir / f"out-{po or model}"
    argv = [
        sys.executable,
        "-m",
        "fleetbench_harness",
        "run",
        "--model",
        model,
        "--backend",
        "onnxruntime",
        "--device",
        "cpu",
        "--precision",
        "float32",
        "--scenario",
        "Offline",
        "--mode",
        "performance",
        "--dataset-path",
        str(dataset),
        "--cache-dir",
        str(cache),
        "--user-conf",
        str(conf),
        "--output-dir",
        str(out),
        "--threads",
        str(threads),
        "--max-batchsize",
        str(bs),
    ]
    if po:
        argv += ["--stand-in-model", po]
    res = subprocess.run(argv, env=_env(), capture_output=True, text=True, check=False)
    if res.returncode != 0:
        raise SystemExit(f"harness failed ({res.returncode}):\n{res.stderr[-3000:]}")
    summary = (out / "mlperf_log_summary.txt").read_text()
    sps = next(float(ln.split(":")[1]) for ln in summary.splitlines() if ln.startswith("Samples per second"))
    valid = next(ln.split(":")[1].strip() for ln in summary.splitlines() if ln.startswith("Result is"))
    hj = json.loads((out / "harness.json").read_text())
    return {
        "samples_per_s": sps,
        "samples_per_cpu_s": hj["samples_processed"] / hj["timing_s"]["loadgen_test_cpu"],
        "validity": valid,
        "samples": hj["samples_processed"],
        "batches": hj["batches"],
        "threads": hj["threads"],
        "max_batchsize": hj["max_batchsize"],
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "--dataset-path", type=Path, default=None, help="ImageNet-layout folder (default: skimage smoke)"
    )
    ap.add_argument("--cache-dir", type=Path, default=None, help="harness cache (default: a temp dir)")
    ap.add_argument("--batch", type=int, default=8, help="batch size for both loops (default 8)")
    ap.add_argument("--threads", type=int, default=2, help="onnxruntime intra-op threads (default 2)")
    ap.add_argument("--duration", type=float, default=10.0, help="seconds per measurement (default 10)")
    ap.add_argument(
        "--min-batches", type=int, default=24, help="at least this many batches per window (default 24)"
    )
    ap.add_argument("--rounds", type=int, default=3, help="LoadGen runs per model, median ratio (default 3)")
    ap.add_argument("--models", default=",".join(MODELS), help="comma list of " + ", ".join(MODELS))
    ap.add_argument("--json", type=Path, default=None, help="also write the results to this file")
    ap.add_argument(
        "--families",
        default="image_classification",
        help="comma list of task families to measure, or 'all' (" + ", ".join(FAMILIES) + ")",
    )
    args = ap.parse_args()
    families = list(FAMILIES) if args.families == "all" else args.families.split(",")
    for fam in families:
        if fam not in FAMILIES:
            raise SystemExit(f"--families: unknown {fam!r}; allowed: {', '.join(FAMILIES)}, all")
    if "image_classification" not in families:
        return _other_families(families)

    from fleetbench_harness import artifacts, registry
    from fleetbench_harness.tasks.image_classification import dataset
    from fleetbench_harness.tasks.image_classification.export import export_onnx

    tmp = Path(tempfile.mkdtemp(prefix="harness-overhead-"))
    cache = args.cache_dir or tmp / "cache"
    ds = args.dataset_path or dataset.build_skimage_smoke(cache / "datasets" / "skimage-smoke")[0]
    load = os.getloadavg()
    rows = []
    for name in args.models.split(","):
        model, po = MODELS[name]
        entry = registry.model(model)
        art = artifacts.prepare(model, "onnxruntime", "float32", cache, None, po, exporter=export_onnx)
        _, _, meta = dataset.load_preprocessed(
            ds,
            registry.preprocessing(entry),
            cache,
            int(registry.dataset(entry)["num_classes"]),
            progress=False,
        )
        # bare, LoadGen, bare, LoadGen, bare ...: each LoadGen figure is compared with the mean of
        # the bare loops right before and after it; the median ratio is reported. Two bare loops
        # each time (bench/_bare_ort.py, a clean process): "same-samples" (batches gathered from
        # every loaded sample in random order, as LoadGen issues them: the harness's own overhead)
        # and "hot" (one batch again and again: also counts the cost of touching distinct samples).
        # The CPU ratio (rows per CPU second, LoadGen test vs bare) is less sensitive to other load.
        bares = [bare_loops(art.path, meta["path"], args.threads, args.batch, args.duration)]
        # long enough for --min-batches batches per measurement (slow models need longer windows)
        dur = max(args.duration, args.min_batches * args.batch / bares[0]["hot"]["per_s"])
        rounds = []
        for _ in range(args.rounds):
            qps = bares[-1]["same-samples"]["per_s"]
            lg = loadgen_offline(model, po, ds, cache, args.threads, args.batch, dur, qps, tmp)
            bares.append(bare_loops(art.path, meta["path"], args.threads, args.batch, dur))
            rounds.append(_bare_ort.round_row(lg, bares[-2], bares[-1]))
        row = {
            "model": name,
            "backend": "onnxruntime",
            "device": "cpu",
            "batch": args.batch,
            "threads": args.threads,
            "window_s": round(dur, 2),
            **_bare_ort.summary(rounds),
            "rounds": rounds,
            "dataset": str(ds),
            "loadavg_at_start": [round(x, 2) for x in load],
            "loadavg_at_end": [round(x, 2) for x in os.getloadavg()],
        }
        rows.append(row)
        print(json.dumps(row), flush=True)
    note = f"batch {args.batch}, {args.threads} threads, load avg at start {load[0]:.2f}"
    _bare_ort.print_table(rows, note)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")
    return _other_families(families)


#: Task family -> its benchmark (image_classification is measured by this file itself).
FAMILIES = {
    "image_classification": None,
    "language": "overhead_language.py",
    "llm": "llm_overhead.py",
    "segmentation_3d": "overhead_segmentation_3d.py",
    "text_to_image": "overhead_text_to_image.py",
}


def _other_families(families: list[str]) -> int:
    """Run each other family's benchmark (``FAMILIES``) with its defaults; worst exit status."""
    rc = 0
    for fam in families:
        script = FAMILIES[fam]
        if script is None:
            continue
        print(f"\n== {fam}: bench/{script}", flush=True)
        rc = max(rc, subprocess.run([sys.executable, str(REPO / "bench" / script)], check=False).returncode)
    return rc


if __name__ == "__main__":
    sys.exit(main())
