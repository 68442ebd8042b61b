# Copyright: fleetbench.mlperf contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin fleetbench.mlperf.validate_request (runs on the controller only).

Collects the request variables visible to the task (extra vars, inventory
group/host vars), resolves them with ``_registry.resolve_request`` and checks
the names given on the command line with ``-e``: every extra-var name must be
a request variable, start with ``ansible_``, be an input that a role declares
in ``roles/*/meta/argument_specs.yml`` (so new role inputs are allowed
automatically), be in the registry's ``request.schema`` (``resolve: false`` entries such as
``hf_token`` are accepted and passed on) or in the task's ``allow`` list.

Every problem is reported in one failure; on success the result holds
``request`` (the resolved dict) for ``set_fact``. Needs no connection to the
host; it parses the registry and the roles' argument specs (cached per
process), so it finishes in well under a second.
"""

from __future__ import annotations

import os

import yaml
from ansible import context
from ansible.errors import AnsibleError
from ansible.module_utils.common.text.converters import to_text
from ansible.module_utils.parsing.convert_bool import boolean
from ansible.plugins.action import ActionBase
from ansible.utils.vars import load_extra_vars
from ansible_collections.fleetbench.mlperf.plugins.module_utils._registry import (
    SUBMISSION_FIELDS,
    RequestError,
    did_you_mean,
    load_registry,
    request_names,
    resolve_request,
    role_input_names,
    role_input_types,
    submission_problems,
)
from ansible_collections.fleetbench.mlperf.plugins.module_utils._request_schema import accepted_names

ALLOWED_PREFIXES = ("ansible_",)


def command_line_extra_vars(loader) -> dict:
    """The ``-e`` extra vars of this run (ansible-playbook and ansible-runner alike); {} when none."""
    if not context.CLIARGS.get("extra_vars"):
        return {}
    return dict(load_extra_vars(loader) or {})


class ActionModule(ActionBase):
    """Resolve + validate the MLPerf request; return it as ``request``."""

    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(("request", "check_extra_vars", "allow"))
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        del tmp
        args = self._task.args
        allow = args.get("allow") or []
        if isinstance(allow, str):
            allow = [a.strip() for a in allow.split(",") if a.strip()]
        check_extra = args.get("check_extra_vars", True)
        if isinstance(check_extra, str):
            check_extra = check_extra.strip().lower() not in ("false", "no", "0", "off")

        try:
            registry = load_registry()
        except (OSError, ValueError, yaml.YAMLError) as exc:
            result.update(failed=True, msg=f"validate_request: cannot load the registry: {to_text(exc)}")
            return result
        names = request_names(registry)

        if args.get("request") is not None:
            if not isinstance(args["request"], dict):
                result.update(
                    failed=True, msg="validate_request: request must be a dict of request variables"
                )
                return result
            raw = dict(args["request"])
        else:
            raw = {}
            for name in names:
                if name in task_vars:
                    try:
                        raw[name] = self._templar.template(task_vars[name])
                    except AnsibleError as exc:
                        result.update(failed=True, msg=f"validate_request: {name}: cannot template: {exc}")
                        return result

        problems: list[dict] = []
        extra_names: list[str] = []
        if check_extra:
            try:
                role_input_types()
            except ValueError as exc:
                result.update(failed=True, msg=f"validate_request: {to_text(exc)}")
                return result
            extra = command_line_extra_vars(self._loader)
            extra_names = sorted(extra)
            allowed = set(accepted_names(registry)) | set(role_input_names()) | set(allow)
            candidates = sorted(allowed)
            types = role_input_types()
            for name in extra_names:
                if types.get(name) == "bool" and name not in names:
                    # A role input switch: say it here, not as a role argument-spec dump later.
                    try:
                        boolean(extra[name], strict=True)
                    except TypeError:
                        problems.append(
                            {
                                "field": name,
                                "value": extra[name],
                                "allowed": ["true", "false"],
                                "message": f"{name}: {extra[name]!r} is not a boolean; allowed: true, false",
                            }
                        )
                if name in allowed or name.startswith(ALLOWED_PREFIXES):
                    continue
                problems.append(
                    {
                        "field": name,
                        "value": extra[name],
                        "allowed": names,
                        "message": f"{name}: unknown variable{did_you_mean(name, candidates)}",
                    }
                )
                raw.pop(name, None)

        request = None
        try:
            request = resolve_request(raw, registry)
        except RequestError as err:
            problems.extend(err.problems)
        # submission=true (collect.yml) needs names that are never defaulted: check them now, not after
        # hours of benchmarks.
        submission_values = {}
        for name in ("submission", *SUBMISSION_FIELDS):
            if name in task_vars:
                try:
                    submission_values[name] = self._templar.template(task_vars[name])
                except AnsibleError:
                    submission_values[name] = task_vars[name]
        problems.extend(submission_problems(submission_values, registry))

        if problems:
            unknown = [p for p in problems if ": unknown variable" in p["message"]]
            lines = [f"invalid MLPerf request ({len(problems)} problem{'s' if len(problems) != 1 else ''}):"]
            lines += [f"  - {p['message']}" for p in problems]
            if unknown:
                lines.append("request variables: " + ", ".join(names))
            result.update(
                failed=True,
                msg="\n".join(lines),
                # The messages (with the allowed values) are in msg already; ansible-core prints a failed
                # result in full, so the structured list stays short.
                problems=[{k: p[k] for k in ("field", "value")} for p in problems],
            )
            return result

        # Relative to where ansible-playbook was started, once: tasks, modules and the hosts.json
        # callback would each resolve a relative path against another directory.
        if request.get("output_dir"):
            request["output_dir"] = os.path.abspath(os.path.expanduser(str(request["output_dir"])))
        warnings = list(request.get("warnings") or [])
        result.update(changed=False, request=request, extra_vars_checked=extra_names)
        if warnings:
            result["warnings"] = warnings
        return result
