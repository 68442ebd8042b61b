"""What every test of the collection shares: paths, the one module-test harness and the action one.

Importable from any test file (tests/conftest.py puts this folder, and ``tests/fixtures`` for its
``trees`` builders, on ``sys.path``)::

    from fleetbench_testlib import REPO, ANSIBLE_PLAYBOOK, run_module, Fail

* ``REPO``: the repository root (the collection); ``COLLECTIONS``: its ``collections/`` folder
  (``ansible_collections.fleetbench.mlperf`` resolves there); ``SHARED`` and ``IMAGENET_SAMPLE``:
  the test-only data next to the checkout (``../shared``; tests skip without it);
  ``HARNESS_SRC``: ``files/harness``; ``REGISTRY_FILE``: its ``registry.yml``; ``FIXTURES``:
  ``tests/fixtures`` (``MLPERF_LOGS``: its real LoadGen logs); ``ANSIBLE_PLAYBOOK``: the test venv's
  ``ansible-playbook``.
* ``run_module(module, args, check_mode=False, diff=False)``: runs ``module.main()`` with ``args``
  the way Ansible would (``patch_module_args``), returns the ``exit_json`` result, raises
  :class:`Fail` (``.result``: the ``fail_json`` dict) on failure.
* ``run_action(plugin, name, args=None, task_vars=None, extra_vars=())``: runs the action plugin
  ``plugin.ActionModule`` (task action ``name``) on real Ansible objects (task, loader, templar, CLI
  context with ``extra_vars`` as ``-e`` strings) and returns its result dict.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from unittest import mock

REPO = Path(__file__).resolve().parents[1]
COLLECTIONS = REPO / "collections"
SHARED = REPO.parent / "shared"
IMAGENET_SAMPLE = SHARED / "datasets" / "imagenet-sample"
HARNESS_SRC = REPO / "files" / "harness"
REGISTRY_FILE = HARNESS_SRC / "fleetbench_harness" / "registry.yml"
FIXTURES = REPO / "tests" / "fixtures"
MLPERF_LOGS = FIXTURES / "mlperf-logs"
ANSIBLE_PLAYBOOK = Path(sys.executable).with_name("ansible-playbook")


class Exit(Exception):
    """``exit_json`` was called; ``result`` holds its (JSON round-tripped) arguments."""

    def __init__(self, kwargs):
        super().__init__("exit")
        self.result = kwargs


class Fail(Exception):
    """``fail_json`` was called; ``result`` holds its arguments (``msg``, ``failed``, ...)."""

    def __init__(self, kwargs):
        super().__init__(kwargs.get("msg"))
        self.result = kwargs


def _exit_json(self, **kwargs):
    kwargs.setdefault("changed", False)
    raise Exit(json.loads(json.dumps(kwargs, default=str)))


def _fail_json(self, msg, **kwargs):
    kwargs["msg"] = msg
    kwargs["failed"] = True
    raise Fail(json.loads(json.dumps(kwargs, default=str)))


def run_module(module, args, check_mode=False, diff=False):
    """Run ``module.main()`` with ``args``; return the exit_json dict or raise :class:`Fail`."""
    from ansible.module_utils import basic
    from ansible.module_utils.testing import patch_module_args

    full = dict(args, _ansible_check_mode=check_mode, _ansible_diff=diff)
    with (
        patch_module_args(full),
        mock.patch.object(basic.AnsibleModule, "exit_json", _exit_json),
        mock.patch.object(basic.AnsibleModule, "fail_json", _fail_json),
    ):
        try:
            module.main()
        except Exit as exc:
            return exc.result
    raise AssertionError("module returned without exit_json")


def run_action(plugin, name, args=None, task_vars=None, extra_vars=()):
    """Run ``plugin.ActionModule`` for a task ``{action: name, args: args}``; return its result dict."""
    from ansible import context
    from ansible.module_utils.common.collections import ImmutableDict
    from ansible.parsing.dataloader import DataLoader
    from ansible.playbook.play_context import PlayContext
    from ansible.playbook.task import Task
    from ansible.plugins.connection.local import Connection
    from ansible.template import Templar
    from ansible.utils.vars import load_extra_vars

    loader = DataLoader()
    task = Task.load({"action": name, "args": args or {}})
    task_vars = dict(task_vars or {})
    action = plugin.ActionModule(
        task=task,
        connection=Connection(PlayContext()),  # never used: the actions run on the controller
        play_context=PlayContext(),
        loader=loader,
        templar=Templar(loader=loader, variables=task_vars),
        shared_loader_obj=None,
    )
    # load_extra_vars caches its result on itself (once per process in ansible-playbook)
    with (
        mock.patch.object(context, "CLIARGS", ImmutableDict(extra_vars=tuple(extra_vars))),
        mock.patch.object(load_extra_vars, "extra_vars", {}, create=True),
    ):
        return action.run(task_vars=task_vars)
