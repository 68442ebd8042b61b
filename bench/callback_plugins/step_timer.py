# Copyright: fleetbench.mlperf contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Bench-only callback: wall time per play and per task, written as JSON to $FLEETBENCH_STEP_TIMES.

Enabled by bench/cached_rerun.py (ANSIBLE_CALLBACK_PLUGINS=bench/callback_plugins,
ANSIBLE_CALLBACKS_ENABLED=step_timer). Not part of the collection.
"""

from __future__ import annotations

DOCUMENTATION = r"""
name: step_timer
type: aggregate
short_description: wall time per play and task (bench only)
description:
  - "Writes JSON (plays and tasks, each with name, start, end) to the file named by
    E(FLEETBENCH_STEP_TIMES) when the playbook ends."
requirements:
  - enabled in callbacks_enabled
"""

import json
import os
import time

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "step_timer"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._plays = []
        self._tasks = []
        self._play = None

    def _close_task(self, now):
        if self._tasks and self._tasks[-1]["end"] is None:
            self._tasks[-1]["end"] = now

    def v2_playbook_on_play_start(self, play):
        now = time.monotonic()
        self._close_task(now)
        if self._plays:
            self._plays[-1]["end"] = now
        self._play = play.get_name()
        self._plays.append({"name": self._play, "start": now, "end": None})

    def _task_start(self, task):
        now = time.monotonic()
        self._close_task(now)
        self._tasks.append({"play": self._play, "name": task.get_name(), "start": now, "end": None})

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._task_start(task)

    def v2_playbook_on_handler_task_start(self, task):
        self._task_start(task)

    def v2_playbook_on_stats(self, stats):
        now = time.monotonic()
        self._close_task(now)
        if self._plays:
            self._plays[-1]["end"] = now
        path = os.environ.get("FLEETBENCH_STEP_TIMES")
        if path:
            with open(path, "w", encoding="utf-8") as fh:
                json.dump({"plays": self._plays, "tasks": self._tasks, "end": now}, fh)
