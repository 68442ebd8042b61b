# Copyright: fleetbench.mlperf contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Aggregate callback that imports the collection's controller-side plugins in the main process."""

from __future__ import annotations

DOCUMENTATION = r"""
name: preload
type: aggregate
short_description: Import the collection's filters, action plugins and registry once, before any task runs
version_added: 0.1.0
description:
  - Ansible runs every task of every host in a worker process forked from C(ansible-playbook), and a
    worker imports a collection's filter or action plugin on first use. The fleetbench filters and
    action plugins pull in the request schema, the registry (140 kB of YAML) and the run helpers, so
    each task that used one paid ~60 ms of import and parse in its worker (measured with 40 tasks that use a
    fleetbench filter on 8 loopback hosts - 17.6 s without this callback, 6.1 s with it).
  - This callback imports them, and parses the registry and the roles' argument specs and defaults, once in
    the main process when it is loaded;
    the forked workers inherit them. It records nothing and prints nothing.
  - Enable it beside C(fleetbench.mlperf.mlperf_hosts) (the repository's C(ansible.cfg) and the Python
    API do). Without it every task still works, only slower. An import that fails here is ignored -
    the task that uses the plugin reports the error itself.
options: {}
"""

import contextlib
import importlib

from ansible.plugins.callback import CallbackBase

#: What the workers use on the controller (plugins/filter/mlperf.py, plugins/action/*.py).
PRELOADED = (
    "ansible_collections.fleetbench.mlperf.plugins.filter.mlperf",
    "ansible_collections.fleetbench.mlperf.plugins.action.validate_request",
    "ansible_collections.fleetbench.mlperf.plugins.action.run_stamp",
    "ansible_collections.fleetbench.mlperf.plugins.action.url_probe",
)


def preload() -> list[str]:
    """Import :data:`PRELOADED` and parse the registry; returns the names that could not be imported."""
    failed = []
    for name in PRELOADED:
        try:
            importlib.import_module(name)
        except Exception:  # the task that uses the plugin reports the error
            failed.append(name)
    with contextlib.suppress(Exception):
        from ansible_collections.fleetbench.mlperf.plugins.module_utils import _registry

        _registry.load_registry()
        # validate_request's role-input check reads these in every worker.
        _registry.role_entry_specs()
        _registry.role_default_values()
    return failed


class CallbackModule(CallbackBase):
    """Imports :data:`PRELOADED` once, when Ansible loads the callback (before the first play)."""

    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "fleetbench.mlperf.preload"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super().__init__()
        preload()
