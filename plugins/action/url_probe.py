# Copyright: fleetbench.mlperf contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin fleetbench.mlperf.url_probe: a short HEAD request from the controller, in the worker.

``ansible.builtin.uri`` delegated to localhost starts a Python module process on the controller for
every host (about 0.3 s of controller CPU each, measured on a 2-core controller with 8 loopback SUTs);
this answers the same question - does the URL answer? - inside the forked worker, with
``ansible.module_utils.urls.open_url`` (the controller's proxy environment and CA bundle, as the uri
module used them). Never fails: an unreachable URL is ``status: -1`` with ``msg``.

With ``cache_dir`` and ``cached_files`` it first looks for those files in the controller cache (each
a regular file there, with its md5 when one is given) and asks the URL only when one is missing: the
roles' controller-cache step is one task per host instead of a stat, a decision and a probe
(roles/_common/tasks/cache.yml). ``probe=false`` only looks.
"""

from __future__ import annotations

import hashlib
import os

from ansible.module_utils.common.text.converters import to_text
from ansible.module_utils.parsing.convert_bool import boolean
from ansible.module_utils.urls import open_url
from ansible.plugins.action import ActionBase


def file_md5(path: str) -> str:
    """md5 (32 hex) of the file at ``path``, read in 1 MiB blocks (the registry's checksums are md5)."""
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def missing_files(cache_dir: str, files: list) -> list[str]:
    """Names of ``files`` (``{filename, md5, ...}``; md5 may be empty) not in ``cache_dir`` with their md5.

    :raises ValueError: an entry without a plain ``filename``.
    """
    missing = []
    for entry in files:
        name = entry.get("filename") if isinstance(entry, dict) else None
        if not isinstance(name, str) or not name or "/" in name or name in (".", ".."):
            raise ValueError(f"cached_files: {entry!r} has no plain filename")
        path = os.path.join(cache_dir, name)
        expected = str(entry.get("md5") or "").lower()
        if not os.path.isfile(path) or (expected and file_md5(path) != expected):
            missing.append(name)
    return missing


class ActionModule(ActionBase):
    """``url``, ``timeout`` (s)[, ``cache_dir``, ``cached_files``, ``probe``] -> ``{status, msg, ...}``."""

    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(("url", "timeout", "cache_dir", "cached_files", "probe"))
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars or {})
        del tmp
        args = self._task.args
        url = args.get("url")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            return dict(result, failed=True, msg=f"url: {url!r} is not an http(s) URL")
        try:
            timeout = int(args.get("timeout", 5))
        except (TypeError, ValueError):
            return dict(result, failed=True, msg=f"timeout: {args.get('timeout')!r} is not a number")
        try:
            probe = boolean(args.get("probe", True), strict=True)
        except TypeError:
            return dict(result, failed=True, msg=f"probe: {args.get('probe')!r} is not a boolean")
        result.update(changed=False, url=url)
        if args.get("cached_files") is not None:
            files, cache_dir = args["cached_files"], args.get("cache_dir")
            if not isinstance(files, list) or not isinstance(cache_dir, str) or not cache_dir.strip():
                return dict(
                    result,
                    failed=True,
                    msg="cached_files needs cache_dir (str) and a list of {filename, md5}",
                )
            cache_dir = os.path.expanduser(cache_dir)
            try:
                missing = missing_files(cache_dir, files)
            except ValueError as exc:
                return dict(result, failed=True, msg=str(exc))
            except OSError as exc:
                return dict(result, failed=True, msg=f"cache_dir: cannot read {cache_dir}: {exc}")
            result.update(cached=not missing, missing=missing)
            if not missing:
                return dict(result, status=0, msg=f"in the controller cache {cache_dir}")
        if not probe:
            return dict(result, status=-1, msg="not asked (probe=false)")
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
