#!/usr/bin/env python3
"""Step 1 speed: request resolution/validation must finish in seconds.

Measures, on this machine:

1. ``_registry.resolve_request`` per call (registry already parsed), median of
   ``--calls`` calls, for a good and a bad request (the bad one collects 4 problems);
2. the registry's first parse (cold, one call);
3. the wall time of ``ansible-playbook playbooks/validate.yml`` (embedded local
   inventory) for a good request and for a bad one (fails in step 1), median of
   ``--rounds`` runs; this includes Ansible's own start-up.

Targets: resolve_request < 5 ms; validate.yml < 10 s (in practice Ansible's
start-up dominates). Prints one JSON line; ``--json FILE`` saves it.

Usage: .venv/bin/python bench/validate_speed.py [--calls 200] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "collections"))

import contextlib

from ansible_collections.fleetbench.mlperf.plugins.module_utils import _registry as R

GOOD = {"model": "resnet50", "framework": "onnx", "scenario": "offline,singlestream", "precision": "fp32"}
BAD = {"modle": "x", "backend": "nonsense", "target_qps": -1, "scenario": "Batch"}


def _time_calls(raw: dict, calls: int) -> float:
    times = []
    for _ in range(calls):
        t0 = time.perf_counter()
        with contextlib.suppress(R.RequestError):
            R.resolve_request(raw)
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000.0


def _playbook(extra: list[str], rounds: int) -> tuple[float, int]:
    argv = [str(Path(sys.executable).with_name("ansible-playbook")), "playbooks/validate.yml"]
    for e in extra:
        argv += ["-e", e]
    walls, rc = [], 0
    for _ in range(rounds):
        t0 = time.monotonic()
        proc = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, env=dict(os.environ))
        walls.append(time.monotonic() - t0)
        rc = proc.returncode
    return statistics.median(walls), rc


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--json", default=None, help="also write the result to this file")
    args = ap.parse_args()

    t0 = time.perf_counter()
    R.load_registry()
    cold_ms = (time.perf_counter() - t0) * 1000.0
    good_ms = _time_calls(GOOD, args.calls)
    bad_ms = _time_calls(BAD, args.calls)
    pb_good, rc_good = _playbook(["model=resnet50", "framework=onnx"], args.rounds)
    pb_bad, rc_bad = _playbook(["modle=x", "backend=nonsense"], args.rounds)
    out = {
        "registry_parse_ms": round(cold_ms, 2),
        "resolve_request_good_ms": round(good_ms, 3),
        "resolve_request_bad_ms": round(bad_ms, 3),
        "validate_yml_good_s": round(pb_good, 2),
        "validate_yml_good_rc": rc_good,
        "validate_yml_bad_s": round(pb_bad, 2),
        "validate_yml_bad_rc": rc_bad,
        "loadavg_1m": os.getloadavg()[0],
        "targets": {"resolve_request_ms": 5, "validate_yml_s": 10},
        "ok": good_ms < 5 and bad_ms < 5 and pb_good < 10 and pb_bad < 10 and rc_good == 0 and rc_bad != 0,
    }
    print(json.dumps(out, sort_keys=True))
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2, sort_keys=True) + "\n")
    return 0 if out["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
