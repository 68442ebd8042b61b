"""The ``run`` subcommand: validate, prepare, then one LoadGen test (family-free).

Order (bad input fails before anything expensive and before LoadGen starts):
request values -> family options -> user.conf lint -> LoadGen ``FromConfig`` ->
audit.config placed -> the family's dataset check -> model (file + checksum) ->
workload (backend, preprocessing cache, model load) -> compliance sample check ->
warm-up -> the core's test session (:mod:`fleetbench_harness.loadgen.session`).

The task family is the registry entry's ``family:`` (``tasks/<family>/``);
this module names none.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from fleetbench_harness import __version__, registry, tasks
from fleetbench_harness.errors import HarnessError, InputError
from fleetbench_harness.loadgen import session
from fleetbench_harness.loadgen import settings as lg_settings
from fleetbench_harness.loadgen.lifecycle import exit_with_parent
from fleetbench_harness.tasks.base import RunContext

MODES = ("performance", "accuracy")


def physical_cores() -> int:
    """Physical cores usable by this process (/proc/cpuinfo core ids; else logical count)."""
    try:
        avail = len(os.sched_getaffinity(0))
    except AttributeError:
        avail = os.cpu_count() or 1
    cores: set[tuple[str, str]] = set()
    phys = core = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("physical id"):
                phys = line.split(":", 1)[1].strip()
            elif line.startswith("core id"):
                core = line.split(":", 1)[1].strip()
                cores.add((phys, core))
    except OSError:
        pass
    return max(1, min(len(cores) or avail, avail))


def _dist_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _venv_record() -> dict[str, Any] | None:
    """The venv's ``fleetbench-venv.json`` (``{venv, size_bytes}``, written by the python_env role
    after an install), or None outside such a venv."""
    try:
        data = json.loads((Path(sys.prefix) / "fleetbench-venv.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def validate(args: Any) -> dict[str, Any]:
    """Check the cheap inputs; return the resolved request (canonical names).

    Raises:
        InputError: naming the field and the allowed values.
    """
    entry = registry.model(args.model)
    backend = registry.check_choice("backend", args.backend)
    device = registry.check_choice("device", args.device)
    precision = registry.check_choice("precision", args.precision)
    scenarios = registry.implemented_values("scenario")  # LoadGen's TestScenario names (+ Interactive)
    if args.scenario not in scenarios:
        hint = next((f" (did you mean {s!r}?)" for s in scenarios if s.lower() == args.scenario.lower()), "")
        raise InputError("scenario", f"unknown scenario {args.scenario!r}{hint}", scenarios)
    if args.mode not in MODES:
        raise InputError("mode", f"unknown mode {args.mode!r}", MODES)
    for name in ("count", "max_batchsize", "threads", "performance_sample_count"):
        v = getattr(args, name, None)
        if v is not None and v < 1:
            raise InputError(name, f"{v} must be at least 1", ["a positive integer"])
    if args.server_batch_timeout_ms is not None and args.server_batch_timeout_ms < 0:
        raise InputError("server_batch_timeout_ms", f"{args.server_batch_timeout_ms} is negative", [">= 0"])
    if getattr(args, "watchdog_stall_s", None) is not None and args.watchdog_stall_s <= 0:
        raise InputError("watchdog_stall_s", f"{args.watchdog_stall_s} is not positive", ["> 0 seconds"])
    if args.stand_in_model:
        from fleetbench_harness import artifacts

        spec = artifacts.stand_in_spec(args.model, entry, args.stand_in_model, backend)
        if args.mode == "accuracy" and not spec.get("accuracy", False):
            raise InputError(
                "mode",
                f"stand-in {args.stand_in_model} is for performance runs only (untrained or random weights): "
                "its accuracy is meaningless",
                ["performance"],
            )
    if not Path(args.user_conf).is_file():
        raise InputError("user_conf", f"{args.user_conf} does not exist", "an existing user.conf")
    if args.audit_config and not Path(args.audit_config).is_file():
        raise InputError("audit_config", f"{args.audit_config} does not exist", "an existing audit.config")
    family = tasks.load(entry["family"])
    options = family.parse_options(getattr(args, "set", None) or [])
    return {
        "entry": entry,
        "family": family,
        "options": options,
        "backend": backend,
        "device": device,
        "precision": precision,
    }


def context(args: Any, req: dict[str, Any], threads: int) -> RunContext:
    """The family's :class:`RunContext` for a parsed ``run``/``prepare-*``/``accuracy`` command line."""
    ds = getattr(args, "dataset_path", None)
    return RunContext(
        model=args.model,
        entry=req["entry"],
        backend=req.get("backend", "onnxruntime"),
        device=req.get("device", "cpu"),
        precision=req.get("precision", "float32"),
        scenario=getattr(args, "scenario", "Offline"),
        mode=getattr(args, "mode", "performance"),
        cache_dir=Path(getattr(args, "cache_dir", ".") or "."),
        dataset_path=Path(ds) if ds else None,
        count=getattr(args, "count", None),
        model_path=getattr(args, "model_path", None),
        stand_in=getattr(args, "stand_in_model", None),
        options=req.get("options", {}),
        threads=threads,
        compile=bool(getattr(args, "compile", False)),
    )


def _warn(warnings: list[str], text: str) -> None:
    warnings.append(text)
    print(f"fleetbench_harness: warning: {text}", file=sys.stderr)


def run(args: Any) -> dict[str, Any]:
    """Run one LoadGen test; write logs + ``harness.json`` to ``--output-dir``; return harness.json."""
    exit_with_parent()
    t_start = time.time()
    req = validate(args)
    entry, family = req["entry"], req["family"]
    lg_scenario = registry.loadgen_scenario(args.scenario)
    key = registry.loadgen_key(entry, args.scenario)
    out = Path(args.output_dir).resolve()
    user_conf = Path(args.user_conf).resolve()
    warnings: list[str] = []
    # The seeds LoadGen uses come from the mlperf.conf compiled into it: a LoadGen other than the
    # round's pin makes runs the round's checker rejects ("qsl_rng_seed is wrong").
    run_round = getattr(args, "round", None) or registry.default_round()
    pinned = registry.loadgen_version(run_round)
    installed = _dist_version("mlcommons-loadgen")
    if installed != pinned:
        _warn(
            warnings,
            f"mlcommons-loadgen {installed} is installed, round {run_round} pins {pinned}: its runs carry "
            "another round's RNG seeds",
        )
    for w in lg_settings.lint(user_conf, registry.all_loadgen_keys()):
        _warn(warnings, w)
    settings = lg_settings.test_settings(user_conf, key, lg_scenario, args.mode)

    out.mkdir(parents=True, exist_ok=True)
    audit_dst = session.place_audit_config(out, args.audit_config)
    threads = args.threads or physical_cores()
    ctx = context(args, req, threads)
    family.check_dataset(ctx)  # cheap, before the model
    art = family.prepare_model(ctx)
    if art.checksum_warning:
        _warn(warnings, art.checksum_warning)

    if lg_scenario == "SingleStream":
        bs = 1
    elif lg_scenario == "MultiStream":
        bs = args.max_batchsize or int(settings.multi_stream_samples_per_query)
    else:
        bs = args.max_batchsize or family.default_batch
    ctx.max_batchsize = bs
    t_load = time.time()
    wl = family.workload(ctx, art)
    try:
        total = int(wl.total_sample_count)
        if args.count and args.count > total:
            # Never silent: the run goes on with what the dataset has, and says so.
            _warn(
                warnings,
                f"count {args.count} exceeds the {total} sample(s) of {args.dataset_path}: using {total}",
            )
        # --performance-sample-count > user.conf/mlperf.conf override > registry; capped by the dataset.
        psc = (
            args.performance_sample_count
            or int(settings.performance_sample_count_override)
            or int(wl.performance_sample_count or entry["performance_sample_count"])
        )
        psc = min(psc, total)
        settings.performance_sample_count_override = psc
        if audit_dst is not None:
            session.check_audit(lg_settings.read_audit_config(audit_dst), total, psc)
        wl.warmup(bs)
        load_s = time.time() - t_load
        timeout_ms = 2.0 if args.server_batch_timeout_ms is None else args.server_batch_timeout_ms
        stats = session.run_test(
            wl,
            settings,
            lg_scenario,
            out,
            max_batchsize=bs,
            batch_timeout_ms=timeout_ms,
            stall_s=float(getattr(args, "watchdog_stall_s", None) or 600.0),
        )
        if audit_dst is not None:
            ignored = session.audit_not_applied(out, lg_settings.read_audit_config(audit_dst))
            if ignored:
                raise HarnessError(
                    f"mlcommons-loadgen {installed} did not apply the compliance audit.config ("
                    + "; ".join(ignored)
                    + "): this LoadGen cannot run the test"
                )
        workload_info = wl.info()
        backend_info, dataset_info = dict(wl.backend_info), dict(wl.dataset_info)
    finally:
        wl.close()

    stand_in = art.stand_in
    info = {
        "schema": 2,
        "harness": {"package": "fleetbench_harness", "version": __version__},
        "argv": [sys.executable, "-m", "fleetbench_harness", *getattr(args, "argv", [])],
        "python": {
            "version": platform.python_version(),
            "executable": sys.executable,
            "venv": _venv_record(),
        },
        "platform": {"machine": platform.machine(), "system": platform.system(), "node": platform.node()},
        "loadgen": {
            "package": "mlcommons-loadgen",
            "version": installed,
            "pinned": pinned,
            "round": run_round,
        },
        "model": args.model,
        "family": family.name,
        "mlperf_model": entry["mlperf_name"],
        "loadgen_key": key,
        "scenario": args.scenario,
        "loadgen_scenario": lg_scenario,
        "mode": args.mode,
        "backend": backend_info,
        "threads": threads,
        "max_batchsize": bs,
        "server_batch_timeout_ms": timeout_ms if lg_scenario == "Server" else None,
        "options": req["options"],
        "model_file": {
            "path": art.path,
            "sha256": art.sha256,
            "label": art.label,
            "source": art.source,
            "checksum_warning": art.checksum_warning,
            **art.extra,
        },
        "model_label": art.label,
        "stand_in": (
            {"name": stand_in, "label": art.label, "accuracy_comparable": False} if stand_in else None
        ),
        # Kept for readers of schema 1: true for every stand-in.
        "performance_only": bool(stand_in),
        "dataset": dataset_info,
        "workload": workload_info,
        "performance_sample_count": psc,
        "user_conf": str(user_conf),
        "audit_config": str(audit_dst) if audit_dst else None,
        "samples_processed": stats["samples"],
        "batches": stats["batches"],
        "timing_s": {
            "load_and_warmup": round(load_s, 3),
            "loadgen_test": round(stats["test_s"], 3),
            "loadgen_test_cpu": round(stats["test_cpu_s"], 3),
            "total": round(time.time() - t_start, 3),
        },
        "warnings": warnings,
    }
    tmp = out / "harness.json.part"
    tmp.write_text(json.dumps(info, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, out / "harness.json")
    return info
