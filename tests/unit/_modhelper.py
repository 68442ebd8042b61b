"""set_module_args-style runner for the results modules (test helper)."""

import json
from unittest import mock

from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args


class Exit(Exception):
    def __init__(self, kwargs):
        super().__init__("exit")
        self.result = kwargs


class Fail(Exception):
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


def run_module(module, args, check_mode=False):
    """Run ``module.main()``; return the exit_json dict or raise Fail."""
    full = dict(args, _ansible_check_mode=check_mode)
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
