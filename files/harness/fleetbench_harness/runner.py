"""The ``run`` subcommand: validate, prepare, then one LoadGen test.

Order (bad input fails before anything expensive and before LoadGen starts):
request values -> user.conf lint -> LoadGen ``FromConfig`` -> audit.config
-> val_map.txt -> model file + checksum -> backend (CUDA EP check) ->
preprocessing (cached) -> model load + warm-up -> ``StartTestWithLogSettings``.

LoadGen notes (LoadGen 6.0.17):

* mlperf.conf is compiled in; ``TestSettings.FromConfig(user_conf, key,
  scenario)`` loads it and then user.conf, **only on its first call in a
  process** (a static counter), so a process runs one test;
* it returns ``-EINVAL`` (-22) for a bad line and ignores the whole file,
  ``-ENOENT`` (-2) for a missing file: both are fatal here;
* compliance tests: LoadGen reads ``audit.config`` from the **current
  directory**, so the test runs with cwd = ``--output-dir`` and the file is
  copied there (a stale one is removed when no ``--audit-config`` is given).
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import shutil
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from fleetbench_harness import __version__, artifacts, registry, userconf
from fleetbench_harness.errors import HarnessError, InputError

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


def validate(args: Any) -> dict[str, Any]:
    """Check the cheap inputs; return the resolved request (canonical names).

    Raises:
        InputError: naming the field and the allowed values.
    """
    entry = registry.model(args.model)
    backend = registry.check_choice("backend", args.backend)
    device = registry.check_choice("device", args.device)
    precision = registry.check_choice("precision", args.precision)
    scenarios = registry.implemented_values("scenario")  # spelt as LoadGen's TestScenario names
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
    if args.performance_only_model and args.mode == "accuracy":
        raise InputError(
            "mode",
            f"--performance-only-model {args.performance_only_model} is not a trained model: "
            "accuracy runs are meaningless",
            ["performance"],
        )
    if not Path(args.user_conf).is_file():
        raise InputError("user_conf", f"{args.user_conf} does not exist", "an existing user.conf")
    if args.audit_config and not Path(args.audit_config).is_file():
        raise InputError("audit_config", f"{args.audit_config} does not exist", "an existing audit.config")
    return {"entry": entry, "backend": backend, "device": device, "precision": precision}


def _settings(args: Any, key: str, user_conf: Path) -> Any:
    import mlperf_loadgen as lg

    s = lg.TestSettings()
    s.scenario = getattr(lg.TestScenario, args.scenario)
    rc = s.FromConfig(str(user_conf), key, args.scenario)
    if rc != 0:
        raise InputError(
            "user_conf",
            f"LoadGen TestSettings.FromConfig({user_conf}, {key}, {args.scenario}) "
            f"returned {rc}: LoadGen would ignore the whole file",
            "a user.conf LoadGen accepts",
        )
    s.mode = lg.TestMode.AccuracyOnly if args.mode == "accuracy" else lg.TestMode.PerformanceOnly
    return s


@contextlib.contextmanager
def _cwd(path: Path):
    old = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


PARENT_PID_ENV = "FLEETBENCH_PARENT_PID"
_WATCHING: list[int] = []


def exit_with_parent(poll_s: float = 1.0) -> None:
    """End this process when its parent dies (the benchmark module killed with ansible-playbook).

    An orphaned harness would keep the CPUs busy, skew the next run's figures and outlive the
    module's run lock. The parent is the pid in ``$FLEETBENCH_PARENT_PID`` (set by the
    ``mlperf_run`` module) or else ``os.getppid()`` at the first call. Three guards:

    * the parent is already gone (it died while this process started): exit at once;
    * Linux: ``prctl(PR_SET_PDEATHSIG, SIGTERM)``, so the kernel signals this process when the
      parent exits (best effort, through ctypes);
    * everywhere: a daemon thread polls ``os.getppid()`` every ``poll_s`` seconds.

    Exits with status 3 and a line on stderr. Calling it again does nothing.
    """
    if _WATCHING:
        return
    import threading

    try:
        parent = int(os.environ.get(PARENT_PID_ENV, "") or os.getppid())
    except ValueError:
        parent = os.getppid()
    _WATCHING.append(parent)

    def gone() -> None:
        print("fleetbench_harness: error: parent process ended; stopping the run", file=sys.stderr)
        os._exit(3)

    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            import ctypes
            import signal

            pr_set_pdeathsig = 1  # <linux/prctl.h>
            ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, int(signal.SIGTERM), 0, 0, 0)
    if os.getppid() != parent:
        gone()

    def watch() -> None:
        while True:
            time.sleep(poll_s)
            if os.getppid() != parent:
                gone()

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def run(args: Any) -> dict[str, Any]:
    """Run one LoadGen test; write logs + ``harness.json`` to ``--output-dir``; return harness.json."""
    import mlperf_loadgen as lg

    exit_with_parent()
    t_start = time.time()
    req = validate(args)
    entry = req["entry"]
    key = str(entry["loadgen_key"])
    out = Path(args.output_dir).resolve()
    user_conf = Path(args.user_conf).resolve()
    warnings = userconf.lint(user_conf, registry.all_loadgen_keys())
    for w in warnings:
        print(f"fleetbench_harness: warning: {w}", file=sys.stderr)
    settings = _settings(args, key, user_conf)

    out.mkdir(parents=True, exist_ok=True)
    audit_dst = out / "audit.config"
    if args.audit_config:
        src = Path(args.audit_config).resolve()
        if src != audit_dst:
            shutil.copyfile(src, audit_dst)
    elif audit_dst.exists():
        print(f"fleetbench_harness: removing stale {audit_dst} (no --audit-config given)", file=sys.stderr)
        audit_dst.unlink()

    from fleetbench_harness import dataset

    num_classes = int(registry.dataset(entry)["num_classes"])
    dataset.read_val_map(args.dataset_path, num_classes)  # cheap check before the model / preprocessing
    art = artifacts.prepare(
        args.model,
        req["backend"],
        req["precision"],
        args.cache_dir,
        args.model_path,
        args.performance_only_model,
    )
    if art.checksum_warning:
        warnings.append(art.checksum_warning)
        print(f"fleetbench_harness: warning: {art.checksum_warning}", file=sys.stderr)
    threads = args.threads or physical_cores()
    from fleetbench_harness import backends

    be = backends.create(req["backend"], req["device"], req["precision"], threads, bool(args.compile))

    spec = registry.preprocessing(entry)
    if art.input_layout:  # artifact-level layout (registry `input_layout`) wins
        spec["layout"] = art.input_layout
    data, _labels, ds_info = dataset.load_preprocessed(
        args.dataset_path, spec, args.cache_dir, num_classes, args.count, threads=threads
    )
    if args.count and args.count > len(data):
        # Never silent: the run goes on with what the dataset has, and says so.
        short = (
            f"count {args.count} exceeds the {len(data)} image(s) of {args.dataset_path}: using {len(data)}"
        )
        warnings.append(short)
        print(f"fleetbench_harness: warning: {short}", file=sys.stderr)
    # --performance-sample-count > user.conf/mlperf.conf override > registry; capped by the dataset.
    psc = (
        args.performance_sample_count
        or int(settings.performance_sample_count_override)
        or int(entry["performance_sample_count"])
    )
    psc = min(psc, len(data))
    settings.performance_sample_count_override = psc

    if args.scenario == "SingleStream":
        bs = 1
    elif args.scenario == "MultiStream":
        bs = args.max_batchsize or int(settings.multi_stream_samples_per_query)
    else:
        bs = args.max_batchsize or 8
    t_load = time.time()
    be.load(art)
    # Warm up at the full batch shape (ORT/torch allocate per shape); a writable copy of real samples.
    be.warmup(np.ascontiguousarray(data[np.arange(bs) % len(data)]))
    if args.scenario == "Server" and bs > 1:
        be.warmup(np.ascontiguousarray(data[:1]), runs=1)  # Server batches vary in size
    load_s = time.time() - t_load

    from fleetbench_harness import sut as sutmod

    timeout_ms = 2.0 if args.server_batch_timeout_ms is None else args.server_batch_timeout_ms
    qsl = sutmod.QSL(data, psc)
    sut = sutmod.make_sut(args.scenario, be, qsl, bs, timeout_ms)
    log = lg.LogSettings()
    log.log_output.outdir = str(out)
    log.log_output.prefix = "mlperf_log_"
    log.log_output.suffix = ""
    log.log_output.copy_summary_to_stdout = True
    log.enable_trace = False
    t_test, cpu_test = time.time(), time.process_time()
    try:
        with _cwd(out):
            lg.StartTestWithLogSettings(sut.handle, qsl.handle, settings, log)
        stats = sut.stop()
    finally:
        lg.DestroySUT(sut.handle)
        qsl.destroy()
    test_s, test_cpu_s = time.time() - t_test, time.process_time() - cpu_test
    for name in ("mlperf_log_summary.txt", "mlperf_log_detail.txt"):
        if not (out / name).is_file():
            raise HarnessError(f"LoadGen wrote no {out / name}")

    info = {
        "schema": 1,
        "harness": {"package": "fleetbench_harness", "version": __version__},
        "argv": [sys.executable, "-m", "fleetbench_harness", *getattr(args, "argv", [])],
        "python": {"version": platform.python_version(), "executable": sys.executable},
        "platform": {"machine": platform.machine(), "system": platform.system(), "node": platform.node()},
        "loadgen": {
            "package": "mlcommons-loadgen",
            "version": _dist_version("mlcommons-loadgen"),
            "pinned": registry.loadgen_version(),
        },
        "model": args.model,
        "mlperf_model": entry["mlperf_name"],
        "loadgen_key": key,
        "scenario": args.scenario,
        "mode": args.mode,
        "backend": be.info(),
        "threads": threads,
        "max_batchsize": bs,
        "server_batch_timeout_ms": timeout_ms if args.scenario == "Server" else None,
        "model_file": {
            "path": art.path,
            "sha256": art.sha256,
            "label": art.label,
            "source": art.source,
            "checksum_warning": art.checksum_warning,
            **art.extra,
        },
        "model_label": art.label,
        "performance_only": art.performance_only,
        "dataset": {
            "path": str(Path(args.dataset_path).resolve()),
            "count": len(data),
            "preprocessing": spec["name"],
            "cache": ds_info["path"],
            "cache_built": ds_info["changed"],
        },
        "performance_sample_count": psc,
        "user_conf": str(user_conf),
        "audit_config": str(audit_dst) if args.audit_config else None,
        "samples_processed": stats["samples"],
        "batches": stats["batches"],
        "timing_s": {
            "load_and_warmup": round(load_s, 3),
            "loadgen_test": round(test_s, 3),
            "loadgen_test_cpu": round(test_cpu_s, 3),
            "total": round(time.time() - t_start, 3),
        },
        "warnings": warnings,
    }
    tmp = out / "harness.json.part"
    tmp.write_text(json.dumps(info, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, out / "harness.json")
    return info
