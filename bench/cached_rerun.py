#!/usr/bin/env python3
"""Wall and CPU time of the main job's cached re-run on localhost, per step.

Runs ``ansible-playbook playbooks/run_mlperf.yml`` (embedded default: local inventory,
efficientnet, onnxruntime, cpu, Offline, both modes, test execution mode) in a temporary
directory once (the first run: provisions, benchmarks, fetches) and then ``--runs`` times
again (cached re-runs: every step is a no-op; each must end with ``changed=0`` in the PLAY
RECAP, else the bench fails).

Per run it reports:

* ``wall_s`` and ``cpu_s`` (user + system of ansible-playbook and every process it waited
  for: workers, modules, the harness), and the load average at the start;
* ``steps``: wall seconds per step - ``validate``, ``provision``, ``benchmark``, ``collect``
  (sum of that playbook's plays, timed by the bench-only callback
  ``bench/callback_plugins/step_timer.py``) and ``startup`` (the rest: Python/Ansible start-up,
  inventory and playbook parsing, the final stats);
* ``loadgen_s``: LoadGen's own time in this run - the sum of ``timing_s.loadgen_test`` of each
  ``harness.json`` written during the run (a cached run writes none, so it is 0);
  ``harness_s``: the same for ``timing_s.total`` (LoadGen plus model load and warm-up);
* ``outside_loadgen_share``: ``1 - loadgen_s / wall_s``, the share of the wall time spent outside
  LoadGen (orchestration: Ansible, provisioning checks, result transfer, report; and, on the first
  run, venv/model/dataset preparation and the harness' own start-up). On a cached run it is 1.0 by
  construction: 100 % of the time is orchestration, which is what this bench measures.
  ``outside_harness_share`` counts the harness' whole process time as inside.

Each cached run is paired with a run of a one-task playbook (one ``debug`` task on localhost, the
same ``ansible.cfg``: Ansible's own start-up and teardown), interleaved, so that the ratio
``cached wall / one-task wall`` of each round is measured under the same load; the summary gives
its median. Targets: the cached re-run <= 10 s wall on localhost and <= 3x the one-task playbook.

Usage::

    .venv/bin/python bench/cached_rerun.py [--runs 3] [--shared DIR] [--keep] [--json out.json]

``--shared DIR`` is passed as ``python_env_work_dir`` (the per-backend venv lives there); without it
the venv is built inside the temporary directory, which makes the first run take minutes.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ANSIBLE_PLAYBOOK = Path(sys.executable).with_name("ansible-playbook")
STEPS = ("validate", "provision", "benchmark", "collect")
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "tests" / "integration"))

from conftest import recap


def _callbacks_enabled() -> str:
    """The checkout's ansible.cfg callbacks plus the bench's step_timer."""
    enabled = []
    for line in (REPO / "ansible.cfg").read_text().splitlines():
        if line.strip().startswith("callbacks_enabled"):
            enabled = [c.strip() for c in line.split("=", 1)[1].split(",") if c.strip()]
    return ",".join([*enabled, "step_timer"])


def _cpu_children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _loadgen_times(work: Path, since: float) -> tuple[float, float, int]:
    loadgen = harness = 0.0
    count = 0
    for path in (work / "results").rglob("harness.json"):
        if path.stat().st_mtime < since:
            continue
        try:
            timing = json.loads(path.read_text()).get("timing_s") or {}
        except (OSError, ValueError):
            continue
        loadgen += float(timing.get("loadgen_test") or 0.0)
        harness += float(timing.get("total") or 0.0)
        count += 1
    return loadgen, harness, count


def run_once(root: Path, shared: Path | None, extra: list[str]) -> dict:
    times = root / "steps.json"
    argv = [
        str(ANSIBLE_PLAYBOOK),
        "playbooks/run_mlperf.yml",
        "-e",
        f"output_dir={root / 'results'}",
        "-e",
        f"mlperf_work_dir={root / 'work'}",
    ]
    if shared is not None:
        argv += ["-e", f"python_env_work_dir={shared}"]
    for item in extra:
        argv += ["-e", item]
    env = dict(
        os.environ,
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_FORCE_COLOR="0",
        ANSIBLE_CALLBACK_PLUGINS=str(REPO / "bench" / "callback_plugins"),
        ANSIBLE_CALLBACKS_ENABLED=_callbacks_enabled(),
        FLEETBENCH_STEP_TIMES=str(times),
    )
    env.pop("FLEETBENCH_OUTPUT_DIR", None)
    load = os.getloadavg()[0]
    wall_clock = time.time()
    cpu0 = _cpu_children()
    start = time.monotonic()
    proc = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, check=False)
    wall = time.monotonic() - start
    cpu = _cpu_children() - cpu0
    if proc.returncode != 0:
        raise SystemExit(
            f"run_mlperf.yml failed (rc {proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-2000:]}"
        )
    data = json.loads(times.read_text())
    steps = dict.fromkeys(STEPS, 0.0)
    for play in data["plays"]:
        key = play["name"].split("|", 1)[0].strip().lower()
        if key in steps and play["end"] is not None:
            steps[key] += play["end"] - play["start"]
    steps["startup"] = max(0.0, wall - sum(steps.values()))
    loadgen, harness, count = _loadgen_times(root / "work", wall_clock - 1.0)
    return {
        "wall_s": round(wall, 2),
        "cpu_s": round(cpu, 2),
        "load_1min": round(load, 2),
        "steps": {k: round(v, 2) for k, v in steps.items()},
        "tasks": len(data["tasks"]),
        "recap": recap(proc.stdout),
        "harness_runs": count,
        "loadgen_s": round(loadgen, 3),
        "harness_s": round(harness, 3),
        "outside_loadgen_share": round(1.0 - loadgen / wall, 4),
        "outside_harness_share": round(1.0 - harness / wall, 4),
    }


ONE_TASK_PLAY = """
- name: One task
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Say something
      ansible.builtin.debug:
        msg: one task
"""


def one_task_once(root: Path) -> float:
    """Wall seconds of ``ansible-playbook`` running one debug task on localhost (same ansible.cfg)."""
    play = root / "one_task.yml"
    play.write_text(ONE_TASK_PLAY)
    env = dict(os.environ, ANSIBLE_NOCOLOR="1")
    start = time.monotonic()
    proc = subprocess.run(
        [str(ANSIBLE_PLAYBOOK), str(play)], cwd=REPO, env=env, capture_output=True, text=True, check=False
    )
    wall = time.monotonic() - start
    if proc.returncode != 0:
        raise SystemExit(f"one-task playbook failed:\n{proc.stdout[-2000:]}")
    return round(wall, 2)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=3, help="cached re-runs after the first run")
    parser.add_argument("--shared", type=Path, help="python_env_work_dir (an existing venv saves minutes)")
    parser.add_argument("--root", type=Path, help="work in this directory (kept) instead of a temporary one")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument(
        "-e", dest="extra", action="append", default=[], help="extra var KEY=VALUE (repeatable)"
    )
    parser.add_argument("--json", type=Path, help="also write the summary here")
    args = parser.parse_args()

    root = args.root or Path(tempfile.mkdtemp(prefix="fleetbench-cached-rerun-"))
    root.mkdir(parents=True, exist_ok=True)
    try:
        first = run_once(root, args.shared, args.extra)
        cached = []
        for _ in range(args.runs):
            one_task = one_task_once(root)
            res = run_once(root, args.shared, args.extra)
            res["one_task_wall_s"] = one_task
            res["ratio_to_one_task"] = round(res["wall_s"] / one_task, 2)
            changed = {h: c["changed"] for h, c in res["recap"].items() if c["changed"]}
            if changed:
                raise SystemExit(f"cached re-run changed something: {changed}")
            cached.append(res)
    finally:
        if not (args.keep or args.root):
            shutil.rmtree(root, ignore_errors=True)

    def median(key, sub=None):
        values = [(r[key][sub] if sub else r[key]) for r in cached]
        return round(statistics.median(values), 2) if values else None

    summary = {
        "bench": "cached_rerun",
        "cpus": os.cpu_count(),
        "first_run": first,
        "cached_runs": cached,
        "cached_median": {
            "wall_s": median("wall_s"),
            "cpu_s": median("cpu_s"),
            "load_1min": median("load_1min"),
            "steps": {k: median("steps", k) for k in (*STEPS, "startup")},
            "outside_loadgen_share": median("outside_loadgen_share"),
            "one_task_wall_s": median("one_task_wall_s"),
            "ratio_to_one_task": median("ratio_to_one_task"),
        },
        "target_wall_s": 10.0,
        "target_ratio_to_one_task": 3.0,
        "root": str(root) if (args.keep or args.root) else None,
    }
    text = json.dumps(summary, indent=1)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
