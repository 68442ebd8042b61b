"""Command line: ``python -m fleetbench_harness {run,accuracy,prepare-model,prepare-dataset}``.

Exit status (docs/contracts.md, "Harness CLI"): 0 when the work finished
(for ``run``: LoadGen finished, VALID or INVALID); 2 for bad input, before
LoadGen starts, with one stderr line
``fleetbench_harness: error: <field>: <why>; allowed: ...``; 1 for any other
failure, with the reason on stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from fleetbench_harness.errors import EXIT_BAD_INPUT, EXIT_FAILURE, EXIT_OK, HarnessError, InputError


class _Parser(argparse.ArgumentParser):
    """argparse whose usage errors follow the contract's one-line format (exit 2)."""

    def error(self, message: str):  # type: ignore[override]
        raise InputError("arguments", f"{self.prog}: {message}", "see --help")


def _common_model(p: argparse.ArgumentParser, required_backend: bool = True) -> None:
    p.add_argument("--model", required=True, help="registry model name (resnet50, efficientnet, mobilenet)")
    if required_backend:
        p.add_argument(
            "--backend", required=True, help="inference backend: onnxruntime | pytorch (aliases onnx, torch)"
        )
    p.add_argument("--cache-dir", required=True, help="folder for downloaded/exported models and npy caches")
    p.add_argument(
        "--model-path",
        default=None,
        help="local model file to use instead of the package/cache/URL (checksum-verified)",
    )
    p.add_argument(
        "--performance-only-model",
        default=None,
        metavar="NAME",
        help="run an untrained architecture from the registry's performance_only_artifacts "
        "(e.g. light_resnet50 for resnet50); performance mode only, labelled in harness.json",
    )


def build_parser() -> argparse.ArgumentParser:
    """The CLI's argparse parser (every flag documented in --help)."""
    ap = _Parser(
        prog="python -m fleetbench_harness",
        description="MLPerf Inference harness on the real LoadGen (fleetbench.mlperf).",
    )
    sub = ap.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)

    r = sub.add_parser(
        "run",
        help="run one LoadGen test (scenario x mode)",
        description="Run one LoadGen test and write the LoadGen logs plus harness.json "
        "(provenance) to --output-dir.",
    )
    _common_model(r)
    r.add_argument("--device", required=True, help="cpu | cuda (alias gpu)")
    r.add_argument(
        "--precision",
        required=True,
        help="float32 | float16 | bfloat16 (aliases fp32, fp16, bf16); reduced precision: pytorch only",
    )
    r.add_argument(
        "--scenario", required=True, help="LoadGen scenario: Offline | Server | SingleStream | MultiStream"
    )
    r.add_argument(
        "--mode", required=True, help="performance | accuracy (accuracy writes mlperf_log_accuracy.json)"
    )
    r.add_argument(
        "--dataset-path", required=True, help="folder of images with val_map.txt ('<file> <label>')"
    )
    r.add_argument(
        "--user-conf",
        required=True,
        help="LoadGen user.conf ('<model>.<Scenario>.<key> = <number>' lines); linted before LoadGen",
    )
    r.add_argument("--output-dir", required=True, help="where LoadGen logs and harness.json are written")
    r.add_argument("--count", type=int, default=None, help="use only the first N images of val_map.txt")
    r.add_argument(
        "--max-batchsize",
        type=int,
        default=None,
        help="largest batch (default 8; SingleStream always 1; MultiStream default samples_per_query)",
    )
    r.add_argument(
        "--threads", type=int, default=None, help="backend intra-op threads (default: physical cores)"
    )
    r.add_argument(
        "--performance-sample-count",
        type=int,
        default=None,
        help="samples LoadGen keeps loaded (default: the registry's mlperf.conf value, capped by --count)",
    )
    r.add_argument(
        "--audit-config",
        default=None,
        help="compliance audit.config (TEST01/TEST04); copied to --output-dir, where LoadGen reads it",
    )
    r.add_argument(
        "--server-batch-timeout-ms",
        type=float,
        default=None,
        help="Server: longest wait (ms) for more samples after the first of a batch (default 2.0)",
    )
    r.add_argument("--compile", action="store_true", help="pytorch: wrap the model in torch.compile")

    a = sub.add_parser(
        "accuracy",
        help="top-1 from mlperf_log_accuracy.json -> accuracy.txt",
        description="Score mlperf_log_accuracy.json against val_map.txt; write accuracy.txt "
        "('accuracy=NN.NNN%%, good=N, total=M') and print one JSON line.",
    )
    a.add_argument("--model", required=True, help="registry model name (its accuracy metric is used)")
    a.add_argument("--accuracy-log", required=True, help="LoadGen mlperf_log_accuracy.json")
    a.add_argument("--dataset-path", required=True, help="the dataset folder the run used (val_map.txt)")
    a.add_argument("--output", required=True, help="accuracy.txt to write")
    a.add_argument(
        "--label-offset",
        type=int,
        default=0,
        help="subtract from logged class ids (0 for this harness's logs, which are already corrected)",
    )

    m = sub.add_parser(
        "prepare-model",
        help="locate/download/export and verify the model file",
        description="Resolve the model file and print {path, sha256, label, performance_only, "
        "changed} as one JSON line.",
    )
    _common_model(m)
    m.add_argument("--precision", required=True, help="float32 | float16 | bfloat16")

    d = sub.add_parser(
        "prepare-dataset",
        help="check a dataset (or build the skimage smoke set) and preprocess it",
        description="Check/build the dataset, build the preprocessed npy cache and print "
        "{path, count, source, changed} as one JSON line.",
    )
    d.add_argument("--model", required=True, help="registry model name (selects the preprocessing)")
    d.add_argument("--cache-dir", required=True, help="folder for the npy cache (and the smoke images)")
    src = d.add_mutually_exclusive_group(required=True)
    src.add_argument("--dataset-path", default=None, help="folder of images with val_map.txt")
    src.add_argument(
        "--source",
        default=None,
        choices=["skimage-smoke"],
        help="skimage-smoke: build an offline sample from scikit-image's photographs",
    )
    d.add_argument("--count", type=int, default=None, help="use only the first N images")
    d.add_argument("--threads", type=int, default=None, help="decoding threads (default: physical cores)")
    return ap


def _cmd_accuracy(args: argparse.Namespace) -> int:
    from fleetbench_harness import accuracy

    res = accuracy.top1(args.model, args.accuracy_log, args.dataset_path, args.label_offset)
    accuracy.write(res, args.output)
    print(json.dumps(res, sort_keys=True))
    return EXIT_OK


def _cmd_prepare_model(args: argparse.Namespace) -> int:
    from fleetbench_harness import artifacts, registry

    backend = registry.check_choice("backend", args.backend)
    precision = registry.check_choice("precision", args.precision)
    art = artifacts.prepare(
        args.model, backend, precision, args.cache_dir, args.model_path, args.performance_only_model
    )
    print(json.dumps(art.cli_json(), sort_keys=True))
    return EXIT_OK


def _cmd_prepare_dataset(args: argparse.Namespace) -> int:
    from fleetbench_harness import dataset, registry, runner

    entry = registry.model(args.model)
    changed = False
    if args.source == "skimage-smoke":
        path, _, changed = dataset.build_skimage_smoke(Path(args.cache_dir) / "datasets" / "skimage-smoke")
        source = "skimage-smoke"
    else:
        path, source = Path(args.dataset_path), "dataset_path"
    _, _, info = dataset.load_preprocessed(
        path,
        registry.preprocessing(entry),
        args.cache_dir,
        int(registry.dataset(entry)["num_classes"]),
        args.count,
        threads=args.threads or runner.physical_cores(),
    )
    print(
        json.dumps(
            {
                "path": str(Path(path).resolve()),
                "count": info["count"],
                "source": source,
                "changed": bool(changed or info["changed"]),
                "cache": info["path"],
            },
            sort_keys=True,
        )
    )
    return EXIT_OK


def _cmd_run(args: argparse.Namespace) -> int:
    from fleetbench_harness import runner

    runner.run(args)
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit status (0 ok, 1 failure, 2 bad input)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = build_parser().parse_args(argv)
        args.argv = argv
        if args.command in ("run", "accuracy"):
            # Before the backends load: a parent killed during start-up must not leave an orphan.
            from fleetbench_harness.runner import exit_with_parent

            exit_with_parent()
        handler = {
            "run": _cmd_run,
            "accuracy": _cmd_accuracy,
            "prepare-model": _cmd_prepare_model,
            "prepare-dataset": _cmd_prepare_dataset,
        }[args.command]
        return handler(args)
    except InputError as exc:
        print(exc.line(), file=sys.stderr)
        return EXIT_BAD_INPUT
    except HarnessError as exc:
        print(f"fleetbench_harness: failed: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        print("fleetbench_harness: failed: interrupted", file=sys.stderr)
        return EXIT_FAILURE
    except Exception as exc:
        import traceback

        traceback.print_exc(file=sys.stderr)
        print(f"fleetbench_harness: failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_FAILURE
