# Copyright: fleetbench.mlperf contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the thin module mains share (stdlib only: it also runs on the SUTs).

A module file keeps DOCUMENTATION, EXAMPLES, RETURN and its ``ARGUMENT_SPEC``; its ``main()`` builds
the ``AnsibleModule``, calls the ``run(module) -> dict`` of its module_utils file and passes the dict
to ``exit_json``. That ``run`` fails by raising :class:`ModuleFailure`, which ``main()`` turns into
``fail_json``, so the logic is testable without an ``AnsibleModule`` exit.
"""

from __future__ import annotations


class ModuleFailure(Exception):
    """The module fails with ``msg`` and the extra return ``fields`` (``fail_json``'s arguments)."""

    def __init__(self, msg, **fields):
        super().__init__(msg)
        self.msg = msg
        self.fields = fields
