# Copyright: fleetbench.mlperf contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin fleetbench.mlperf.url_probe: a short HEAD request from the controller, in the worker.

``ansible.builtin.uri`` delegated to localhost starts a Python module process on the controller for
every host (about 0.3 s of controller CPU each, measured on a 2-core controller with 8 loopback SUTs);
this answers the same question - does the URL answer? - inside the forked worker, with
``ansible.module_utils.urls.open_url`` (the controller's proxy environment and CA bundle, as the uri
module used them). Never fails: an unreachable URL is ``status: -1`` with ``msg``.
"""

from __future__ import annotations

from ansible.module_utils.common.text.converters import to_text
from ansible.module_utils.urls import open_url
from ansible.plugins.action import ActionBase


class ActionModule(ActionBase):
    """``url`` (str), ``timeout`` (int, seconds, default 5) -> ``{status, msg, url, changed: False}``."""

    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(("url", "timeout"))
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars or {})
        del tmp
        url = self._task.args.get("url")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            return dict(result, failed=True, msg=f"url: {url!r} is not an http(s) URL")
        try:
            timeout = int(self._task.args.get("timeout", 5))
        except (TypeError, ValueError):
            return dict(
                result, failed=True, msg=f"timeout: {self._task.args.get('timeout')!r} is not a number"
            )
        result.update(changed=False, url=url)
        try:
            with open_url(url, method="HEAD", timeout=timeout, follow_redirects="all") as response:
                result.update(status=int(response.status), msg=f"OK ({response.status})")
        except Exception as exc:  # every failure is the answer "does not answer"
            status = getattr(exc, "code", None)
            result.update(
                status=int(status) if isinstance(status, int) else -1,
                msg=f"{type(exc).__name__}: {to_text(getattr(exc, 'reason', None) or exc)}",
            )
        return result
