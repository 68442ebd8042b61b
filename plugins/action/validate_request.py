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
import re
import tempfile

import yaml
from ansible import context
from ansible.errors import AnsibleError
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
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
    role_default_values,
    role_entry_specs,
    role_input_names,
    role_input_types,
    submission_problems,
)
from ansible_collections.fleetbench.mlperf.plugins.module_utils._request_schema import accepted_names

# A value is never echoed for a variable that is not a known request variable (a mistyped
# ``hf_tokn=SECRET`` must not print SECRET) nor for a secret of the schema (registry request.schema
# entries with secret: true: hf_token, proxy_env). proxy_env: the fleet-wide
# http_proxy/https_proxy/no_proxy environment of package installs and downloads (docs/fleet.md); a
# proxy URL with credentials is refused (Ansible prints a task's environment in its -vvv EXEC lines).
SECRET_VARIABLES = frozenset({"hf_token", "proxy_env"})
URL_CREDENTIALS = re.compile(r"://[^/@\s]+@")


def proxy_env_problems(value) -> list[dict]:
    """Problems of ``proxy_env`` (a mapping of proxy variables to URLs without credentials)."""
    if value in (None, "", {}):
        return []
    if not isinstance(value, dict):
        return [
            {
                "field": "proxy_env",
                "value": None,
                "message": "proxy_env: must be a mapping such as {https_proxy: 'http://proxy:3128'}",
            }
        ]
    with_credentials = sorted(str(k) for k, v in value.items() if URL_CREDENTIALS.search(str(v)))
    if not with_credentials:
        return []
    return [
        {
            "field": "proxy_env",
            "value": None,
            "message": "proxy_env: "
            + ", ".join(with_credentials)
            + " carries credentials (user:password@); Ansible shows a task's environment at -vvv, so give"
            " the proxy credentials on the SUT instead (pip.conf, .netrc) or use a proxy that needs none",
        }
    ]


ALLOWED_PREFIXES = ("ansible_",)

#: Role inputs that name a directory, the role(s) that read them, and where the directory lives (an
#: argument spec can only say ``str``): a value that does not fit fails here, before anything runs on a
#: host. On the controller: an existing directory. On the SUT: absolute, or under the SUT user's home
#: (``~/...``); a relative path would resolve against a different folder in each module and task (the
#: playbook's folder for some, the SUT user's for others), and ``~user/`` is not expanded the same way
#: everywhere.
DIRECTORY_INPUTS = {
    "python_env_wheelhouse": ("python_env", "controller"),
    "mlperf_work_dir": ("model, dataset, harness, benchmark", "sut"),
    "python_env_work_dir": ("python_env", "sut"),
}


def directory_input_problem(name: str, value) -> str | None:
    """Why ``value`` does not fit the directory input ``name`` (:data:`DIRECTORY_INPUTS`), or None.

    An empty value (None, "") is the role's default and always fits.
    """
    text = "" if value is None else str(value)
    if not text:
        return None
    role, where = DIRECTORY_INPUTS[name]
    if where == "controller":
        if os.path.isdir(os.path.expanduser(text)):
            return None
        return f"{name}: '{text}' is not a directory on the controller (role {role})"
    if text.startswith("/") or text == "~" or text.startswith("~/"):
        return None
    return (
        f"{name}: '{text}' must be an absolute path on the SUT or start with ~/ (the SUT user's home)"
        f" (roles {role})"
    )


def output_dir_problem(path: str) -> str | None:
    """Why the controller cannot write results under ``path``, or None (probed with a real temp file).

    The directory itself, or its nearest existing parent when it does not exist yet, must be a
    directory that takes a new file: a read-only output_dir fails here, not after the benchmarks.
    """
    probe = path
    while not os.path.lexists(probe):
        parent = os.path.dirname(probe)
        if parent == probe:
            break
        probe = parent
    if not os.path.isdir(probe):
        return f"output_dir: {path} cannot be created ({probe} is not a directory)"
    try:
        with tempfile.TemporaryFile(dir=probe):
            pass
    except OSError as exc:
        where = "" if probe == path else f" (its parent {probe})"
        return f"output_dir: {path} is not writable{where}: {exc.strerror or exc}"
    return None


def command_line_extra_vars(loader) -> dict:
    """The ``-e`` extra vars of this run (ansible-playbook and ansible-runner alike); {} when none."""
    if not context.CLIARGS.get("extra_vars"):
        return {}
    return dict(load_extra_vars(loader) or {})


class ActionModule(ActionBase):
    """Resolve + validate the MLPerf request; return it as ``request``."""

    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(("request", "check_extra_vars", "allow", "runs", "role_inputs"))
    _requires_connection = False

    def _role_input_problems(self, task_vars) -> list[dict]:
        """Problems of the role inputs this host gives, against every public role's argument specs.

        The playbooks import their roles with ``rolespec_validate: false`` (one argument-spec task per
        role and host less) because this check covers them, once per host and before anything runs.
        A value that cannot be templated yet (it names a fact of a later step) is left to the role.
        """
        problems: list[dict] = []
        seen: set = set()
        # A name shared by several roles or entry points is templated once (a compile each time), and
        # a role's own default (the value its defaults/main.yml gives, seen where the play imports the
        # role) is the collection's, not this host's: not templated nor checked.
        templated: dict = {}
        untemplatable = object()
        defaults = role_default_values()
        for entry, spec in role_entry_specs().items():
            given = {}
            for name in spec:
                if name not in task_vars or name == "mlperf_request":
                    continue
                if name in defaults and any(task_vars[name] == value for value in defaults[name]):
                    continue
                if name not in templated:
                    try:
                        templated[name] = self._templar.template(task_vars[name])
                    except AnsibleError:
                        templated[name] = untemplatable
                if templated[name] is not untemplatable:
                    given[name] = templated[name]
            if not given:
                continue
            errors = ArgumentSpecValidator(spec).validate(given, validate_role_argument_spec=True)
            for message in errors.error_messages:
                if message in seen:
                    continue
                seen.add(message)
                field = next((n for n in given if re.search(rf"\b{re.escape(n)}\b", message)), entry)
                problems.append(
                    {
                        "field": field,
                        "value": None,  # the validator's message names the value where it is safe
                        "message": f"{field}: {message} (role {entry.replace(':', ', entry point ')})",
                    }
                )
        for name in DIRECTORY_INPUTS:
            if name not in task_vars or templated.get(name) is untemplatable:
                continue
            if name in defaults and any(task_vars[name] == value for value in defaults[name]):
                continue
            try:
                value = templated[name] if name in templated else self._templar.template(task_vars[name])
            except AnsibleError:
                continue
            message = directory_input_problem(name, value)
            if message:
                problems.append({"field": name, "value": str(value), "message": message})
        return problems

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        del tmp
        args = self._task.args
        allow = args.get("allow") or []
        if isinstance(allow, str):
            allow = [a.strip() for a in allow.split(",") if a.strip()]
        # runs=false: the step only reads results (collect.yml), so a round whose runs cannot be made
        # (no LoadGen pin) is still fine there.
        try:
            runs = boolean(args.get("runs", True), strict=True)
        except TypeError:
            result.update(failed=True, msg=f"validate_request: runs: {args.get('runs')!r} is not a boolean")
            return result
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
                        "value": None,  # never echoed: a mistyped secret variable holds a secret
                        "allowed": names,
                        "message": f"{name}: unknown variable{did_you_mean(name, candidates)}",
                    }
                )
                raw.pop(name, None)

        request = None
        try:
            request = resolve_request(raw, registry, runs=runs)
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
        try:
            problems.extend(proxy_env_problems(self._templar.template(task_vars.get("proxy_env"))))
        except AnsibleError:
            problems.extend(proxy_env_problems(task_vars.get("proxy_env")))

        if boolean(args.get("role_inputs", False), strict=False):
            try:
                # A field already named (an extra var that is not a boolean) is not named twice.
                named = {p["field"] for p in problems}
                problems.extend(p for p in self._role_input_problems(task_vars) if p["field"] not in named)
            except ValueError as exc:
                result.update(failed=True, msg=f"validate_request: {to_text(exc)}")
                return result

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
                problems=[
                    {
                        "field": p["field"],
                        "value": None if p["field"] in SECRET_VARIABLES else p.get("value"),
                    }
                    for p in problems
                ],
            )
            return result

        # Relative to where ansible-playbook was started, once: tasks, modules and the hosts.json
        # callback would each resolve a relative path against another directory.
        if request.get("output_dir"):
            request["output_dir"] = os.path.abspath(os.path.expanduser(str(request["output_dir"])))
            unwritable = output_dir_problem(request["output_dir"])
            if unwritable:
                result.update(
                    failed=True,
                    msg=f"invalid MLPerf request (1 problem):\n  - {unwritable}",
                    problems=[{"field": "output_dir", "value": request["output_dir"]}],
                )
                return result
        warnings = list(request.get("warnings") or [])
        result.update(changed=False, request=request, extra_vars_checked=extra_names)
        if warnings:
            result["warnings"] = warnings
        return result
