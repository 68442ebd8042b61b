# Copyright: fleetbench.mlperf contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin fleetbench.mlperf.run_stamp: is this SUT current (check), or remember its run (record).

The stamp lives on the controller. ``state=check`` computes the fingerprint of this host's
inputs and compares it with the stamp, then checks the controller's copy of the results, and
with ``verify_sut`` also the SUT files the results depend on (one module run of
``fleetbench.mlperf.path_digests``); without it the SUT is not contacted at all.
``state=record`` runs that module to digest those files and writes the stamp.
See ``plugins/module_utils/_run_stamp.py`` for what "current" covers.
"""

from __future__ import annotations

import os

from ansible.errors import AnsibleError
from ansible.module_utils.common.text.converters import to_text
from ansible.module_utils.parsing.convert_bool import boolean
from ansible.plugins.action import ActionBase
from ansible_collections.fleetbench.mlperf.plugins.module_utils import _pack, _run_stamp
from ansible_collections.fleetbench.mlperf.plugins.module_utils._registry import (
    COLLECTION_ROOT,
    role_input_names,
)

# Inputs besides the roles' declared ones: how the host is reached and the playbooks' own switch.
EXTRA_INPUTS = frozenset(
    {
        "ansible_connection",
        "ansible_host",
        "ansible_port",
        "ansible_user",
        "ansible_python_interpreter",
        "mlperf_system_packages",
    }
)
# Never hashed into a stamp: secrets, facts the run itself sets, and the switches of this check.
NOT_INPUTS = frozenset(
    {
        "hf_token",
        "mlperf_request",
        "mlperf_skip_current",
        "mlperf_verify_current",
        "results_skip_current",
        "results_verify_current",
        "results_stamp_path",
        "mlperf_state_paths",
    }
)
# The collection's files that decide what a run does.
COLLECTION_PARTS = ("roles", "plugins", "playbooks", "files")


class ActionModule(ActionBase):
    """``state=check`` -> current, reason, fingerprint, parts[, facts]; ``state=record`` -> recorded."""

    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(
        ("state", "stamp", "request", "skip_current", "verify_sut", "fingerprint", "parts", "paths")
    ) | {"names_only", "results_local_root", "facts", "hosts_file"}

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        del tmp
        args = self._task.args
        state = args.get("state", "check")
        if state not in ("check", "record"):
            return dict(result, failed=True, msg=f"state: {state!r} is not allowed; allowed: check, record")
        if not args.get("stamp"):
            return dict(
                result, failed=True, msg="stamp: required (controller path of this host's stamp file)"
            )
        try:
            if state == "check":
                result.update(self._check(args, task_vars))
            else:
                result.update(self._record(args, task_vars))
        except (AnsibleError, OSError, ValueError) as exc:
            result.update(failed=True, msg=f"run_stamp ({state}): {to_text(exc)}")
        return result

    # -- check -------------------------------------------------------------
    def _inputs(self, task_vars, request):
        # Request fields are hashed resolved (request part): "relout" and its absolute path are one input.
        names = (role_input_names() | EXTRA_INPUTS) - NOT_INPUTS - set(request)
        return {name: task_vars[name] for name in sorted(names) if name in task_vars}

    def _harness_source_digest(self, task_vars):
        """Content digest of an inventory-given harness source outside the collection, else None."""
        raw = task_vars.get("harness_source")
        if raw is None:
            return None
        try:
            path = self._templar.template(raw)
        except AnsibleError:
            return None  # a role default such as "{{ role_path }}/..." - the collection's own
        if not isinstance(path, str) or not os.path.isdir(path):
            return None
        real = os.path.realpath(path)
        if real.startswith(os.path.realpath(COLLECTION_ROOT) + os.sep):
            return None
        return _run_stamp.content_digest(real, ["."])

    @staticmethod
    def _report_behind(args):
        """True when output_dir's report.json is older than this host's stamp (or missing).

        The stamp is recorded in collect's fetch play, the report in the play after it: a run stopped
        in between leaves a stamp of results that no report shows, so the report must be written again
        even though every SUT is current.
        """
        hosts_file = args.get("hosts_file")
        if not hosts_file:
            return False
        report = os.path.join(os.path.dirname(str(hosts_file)), "report.json")
        try:
            return os.stat(report).st_mtime_ns < os.stat(args["stamp"]).st_mtime_ns
        except OSError:
            return True

    def _check(self, args, task_vars):
        request = args.get("request")
        if not isinstance(request, dict):
            raise ValueError("request: the resolved request (dict, mlperf_request) is required")
        parts = _run_stamp.fingerprint_parts(
            request,
            self._inputs(task_vars, request),
            _run_stamp.content_digest(str(COLLECTION_ROOT), COLLECTION_PARTS),
            self._harness_source_digest(task_vars),
        )
        out = {
            "changed": False,
            "current": False,
            "parts": parts,
            "fingerprint": _run_stamp.fingerprint(parts),
        }
        if not boolean(args.get("skip_current", True), strict=False):
            return dict(out, reason="skip_current is false")
        if request.get("rerun"):
            # The SUT's results are about to be replaced: an interrupted rerun must not leave the old
            # stamp saying the controller's (older) copy is current.
            if not self._task.check_mode and os.path.exists(args["stamp"]):
                os.unlink(args["stamp"])
                return dict(out, reason="rerun requested (the last complete run's stamp is void)")
            return dict(out, reason="rerun requested")
        stamp = _run_stamp.read_stamp(args["stamp"])
        if stamp is None:
            return dict(out, reason="no complete run recorded")
        # A failure after the stamp (hosts.json, the mlperf_hosts callback's record) is not erased
        # by leaving the host out: it runs until it completes again.
        last = _run_stamp.host_status(args.get("hosts_file"), task_vars.get("inventory_hostname"))
        if last and last.get("status") not in (None, "ok"):
            where = f" at '{last['task']}'" if last.get("task") else ""
            ended = "failed" if last["status"] == "failed" else f"ended {last['status']}"
            return dict(out, reason=f"its last run {ended}{where} ({last.get('updated', '?')})")
        out["recorded"] = stamp.get("recorded")
        if stamp.get("fingerprint") != out["fingerprint"]:
            old_parts = stamp.get("parts") or {}
            changed = _run_stamp.changed_parts(old_parts, parts)
            reason = "changed since the last complete run: " + ", ".join(changed or ["inputs"])
            if old_parts.get("request:submission_round") != parts.get("request:submission_round"):
                # One output_dir holds one tree per SUT: the other round's runs are replaced there.
                reason += (
                    " (output_dir holds this SUT's results of another round, which this run replaces;"
                    " give another output_dir to keep both)"
                )
            return dict(out, reason=reason)
        problem = _pack.copy_problem(
            stamp.get("results_local_root", ""), stamp.get("pack_checksum")
        ) or _run_stamp.request_problem(stamp.get("results_local_root", ""), request)
        if problem:
            return dict(out, reason=problem)
        current = dict(
            out, current=True, facts=stamp.get("facts") or {}, report_behind=self._report_behind(args)
        )
        if not boolean(args.get("verify_sut", False), strict=False):
            return dict(
                current, reason="inputs and the controller's copy unchanged since the last complete run"
            )
        digests = stamp.get("digests") or {}
        remote = self._execute_module(
            module_name="fleetbench.mlperf.path_digests",
            module_args={
                "paths": [k[5:] for k in digests if k.startswith("tree:")],
                "names_only": [k[6:] for k in digests if k.startswith("names:")],
                "expected": digests,
            },
            task_vars=task_vars,
        )
        if remote.get("failed") or remote.get("unreachable"):
            # Not current; the play's next task on this host reports the failure itself.
            why = remote.get("msg") or ("unreachable" if remote.get("unreachable") else "failed")
            return dict(out, reason=f"the SUT could not be checked: {to_text(why)}")
        if remote.get("mismatched"):
            files = [k.split(":", 1)[1] for k in remote["mismatched"]]
            return dict(out, reason="changed on the SUT since the last complete run: " + ", ".join(files))
        return dict(current, reason="inputs, the controller's copy and the SUT's files unchanged")

    # -- record ------------------------------------------------------------
    def _record(self, args, task_vars):
        for name in ("fingerprint", "parts", "results_local_root"):
            if not args.get(name):
                raise ValueError(f"{name}: required with state=record")
        marker = _pack.read_marker(args["results_local_root"])
        if not marker:
            return {"changed": False, "recorded": False, "reason": "no fetched copy on the controller"}
        remote = self._execute_module(
            module_name="fleetbench.mlperf.path_digests",
            module_args={
                "paths": list(args.get("paths") or []),
                "names_only": list(args.get("names_only") or []),
            },
            task_vars=task_vars,
        )
        if remote.get("failed") or remote.get("unreachable"):
            return remote
        stamp = {
            "schema": _run_stamp.SCHEMA,
            "host": task_vars.get("inventory_hostname"),
            "recorded": _run_stamp.now_iso(),
            "fingerprint": args["fingerprint"],
            "parts": args["parts"],
            "digests": remote["digests"],
            "results_local_root": args["results_local_root"],
            "pack_checksum": marker["checksum"],
            "facts": args.get("facts") or {},
        }
        path = args["stamp"]
        if _run_stamp.same_record(_run_stamp.read_stamp(path), stamp):
            return {"changed": False, "recorded": False, "reason": "stamp already up to date", "stamp": path}
        if self._task.check_mode:
            return {"changed": False, "recorded": False, "reason": "check mode", "stamp": path}
        _run_stamp.write_stamp(path, stamp)
        # Bookkeeping on the controller (like fact caching), so not a change to the SUT.
        return {"changed": False, "recorded": True, "stamp": path}
