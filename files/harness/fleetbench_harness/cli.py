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


def _common_model(
    p: argparse.ArgumentParser, backend_required: bool = True, cache_required: bool = True
) -> None:
    p.add_argument("--model", required=True, help="registry model name (see the registry's models)")
    p.add_argument(
        "--backend",
        required=backend_required,
        default="onnxruntime",
        help="inference backend: onnxruntime | pytorch (aliases onnx, torch)",
    )
    p.add_argument(
        "--precision",
        required=False,
        default="float32",
        help="float32 | float16 | bfloat16 | int8 (aliases fp32, fp16, bf16); default float32",
    )
    p.add_argument(
        "--cache-dir",
        required=cache_required,
        default=None,
        help="folder for downloaded/exported models and caches",
    )
    p.add_argument(
        "--model-path",
        default=None,
        help="local model file or folder to use instead of the package/cache/URL "
        "(checksum-verified where registered)",
    )
    p.add_argument(
        "--stand-in-model",
        "--performance-only-model",
        dest="stand_in_model",
        default=None,
        metavar="NAME",
        help="run a registered stand-in (the registry's models.<model>.stand_ins); "
        "labelled as a stand-in everywhere; its accuracy is never compared with the target",
    )
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a task-family option (repeatable), e.g. max_new_tokens=32 for the LLM family",
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
        "--scenario",
        required=True,
        help="Offline | Server | SingleStream | MultiStream (| Interactive for models that have it)",
    )
    r.add_argument(
        "--mode", required=True, help="performance | accuracy (accuracy writes mlperf_log_accuracy.json)"
    )
    r.add_argument(
        "--dataset-path", required=True, help="the prepared dataset (as printed by prepare-dataset)"
    )
    r.add_argument(
        "--user-conf",
        required=True,
        help="LoadGen user.conf ('<model>.<Scenario>.<key> = <number>' lines); linted before LoadGen",
    )
    r.add_argument("--output-dir", required=True, help="where LoadGen logs and harness.json are written")
    r.add_argument("--count", type=int, default=None, help="use only the first N samples of the dataset")
    r.add_argument(
        "--max-batchsize",
        type=int,
        default=None,
        help="largest batch (default: the family's; SingleStream always 1; "
        "MultiStream default samples_per_query)",
    )
    r.add_argument(
        "--threads", type=int, default=None, help="backend intra-op threads (default: physical cores)"
    )
    r.add_argument(
        "--performance-sample-count",
        type=int,
        default=None,
        help="samples LoadGen keeps loaded "
        "(default: the registry's mlperf.conf value, capped by the dataset)",
    )
    r.add_argument(
        "--audit-config",
        default=None,
        help="compliance audit.config (TEST01/TEST04/TEST06); copied to --output-dir, where LoadGen reads it",
    )
    r.add_argument(
        "--server-batch-timeout-ms",
        type=float,
        default=None,
        help="Server: longest wait (ms) for more samples after the first of a batch (default 2.0)",
    )
    r.add_argument(
        "--watchdog-stall-s",
        type=float,
        default=None,
        help="end the run when no sample completes for this many seconds while samples are outstanding "
        "(default 600)",
    )
    r.add_argument("--compile", action="store_true", help="pytorch: wrap the model in torch.compile")
    r.add_argument(
        "--round",
        default=None,
        help="MLPerf round of the run (registry rounds.*; default rounds.default): harness.json records "
        "the LoadGen pinned for it and warns when another one is installed",
    )

    a = sub.add_parser(
        "accuracy",
        help="score mlperf_log_accuracy.json -> accuracy.txt",
        description="Score LoadGen's accuracy log with the model family's accuracy script; "
        "write accuracy.txt "
        "in the reference's printed form and print one JSON line {metric, value, unit, metrics, total}.",
    )
    _common_model(a, backend_required=False, cache_required=False)
    a.add_argument("--accuracy-log", required=True, help="LoadGen mlperf_log_accuracy.json")
    a.add_argument("--dataset-path", required=True, help="the dataset the run used")
    a.add_argument("--output", required=True, help="accuracy.txt to write")
    a.add_argument("--count", type=int, default=None, help="the --count the run used")

    m = sub.add_parser(
        "prepare-model",
        help="locate/download/export and verify the model",
        description="Resolve the model and print {path, sha256, label, stand_in, changed} as one JSON line.",
    )
    _common_model(m)

    d = sub.add_parser(
        "prepare-dataset",
        help="check a dataset (or build a bundled offline set) and preprocess it",
        description="Check/build the dataset, build the preprocessed cache and print "
        "{path, count, source, changed, cache} as one JSON line.",
    )
    _common_model(d, backend_required=False)
    src = d.add_mutually_exclusive_group(required=True)
    src.add_argument("--dataset-path", default=None, help="the dataset (file or folder) on this machine")
    src.add_argument(
        "--source",
        default=None,
        help="a bundled offline source of the model's dataset "
        "(registry datasets.<d>.sources with offline: true)",
    )
    d.add_argument("--count", type=int, default=None, help="use only the first N samples")
    d.add_argument(
        "--threads", type=int, default=None, help="preprocessing threads (default: physical cores)"
    )
    return ap


def _request(args: argparse.Namespace) -> dict:
    """The registry entry, family and canonical backend/precision of a parsed command line."""
    from fleetbench_harness import registry, tasks

    entry = registry.model(args.model)
    family = tasks.load(entry["family"])
    return {
        "entry": entry,
        "family": family,
        "options": family.parse_options(args.set),
        "backend": registry.check_choice("backend", args.backend),
        "precision": registry.check_choice("precision", args.precision),
    }


def _context(args: argparse.Namespace):
    from fleetbench_harness import runner

    req = _request(args)
    threads = getattr(args, "threads", None) or runner.physical_cores()
    return req["family"], runner.context(args, req, threads)


def _cmd_accuracy(args: argparse.Namespace) -> int:
    family, ctx = _context(args)
    res = family.accuracy(ctx, Path(args.accuracy_log), Path(args.output))
    print(json.dumps(res, sort_keys=True))
    return EXIT_OK


def _cmd_prepare_model(args: argparse.Namespace) -> int:
    family, ctx = _context(args)
    art = family.prepare_model(ctx)
    print(json.dumps(art.cli_json(), sort_keys=True))
    return EXIT_OK


def _cmd_prepare_dataset(args: argparse.Namespace) -> int:
    family, ctx = _context(args)
    print(json.dumps(family.prepare_dataset(ctx, args.source), sort_keys=True))
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
            from fleetbench_harness.loadgen.lifecycle import exit_with_parent

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
