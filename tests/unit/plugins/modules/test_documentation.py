"""Every module's documentation as ``ansible-doc`` renders it (doc fragments merged) against its code.

``ansible-doc --json`` (the test venv's, through the checkout's ``ansible.cfg``) must render every file
of ``plugins/modules/``; where the module has an ``ARGUMENT_SPEC`` (the action plugins' stubs have
none), the documented options must be exactly its options, with the same type, elements, required,
default, choices and aliases (``no_log`` is the spec's alone: DOCUMENTATION has no such key).
"""

import importlib
import json
import os
import subprocess

import pytest
import yaml
from fleetbench_testlib import ANSIBLE_PLAYBOOK, REPO

MODULES = sorted(p.stem for p in (REPO / "plugins" / "modules").glob("*.py"))
COMPARED = ("type", "elements", "required", "default", "choices", "aliases")
# What Ansible assumes when an argument spec or a DOCUMENTATION entry leaves a key out.
IMPLIED = {"type": "str", "required": False, "aliases": []}


@pytest.fixture(scope="module")
def rendered():
    argv = [
        str(ANSIBLE_PLAYBOOK.with_name("ansible-doc")),
        "--json",
        *(f"fleetbench.mlperf.{m}" for m in MODULES),
    ]
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"))
    proc = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and not proc.stderr.strip(), proc.stderr[-4000:]
    return json.loads(proc.stdout)


def _normal(entry):
    return {key: entry.get(key, IMPLIED.get(key)) for key in COMPARED}


@pytest.mark.parametrize("name", MODULES)
def test_ansible_doc_renders_the_module(rendered, name):
    doc = rendered[f"fleetbench.mlperf.{name}"]
    assert doc["doc"]["short_description"] and doc["doc"]["options"]
    assert doc["examples"].strip() and yaml.safe_load(doc["examples"])
    assert doc["return"], f"{name}: RETURN is empty"


@pytest.mark.parametrize("name", MODULES)
def test_documented_options_are_the_argument_spec(rendered, name):
    module = importlib.import_module(f"ansible_collections.fleetbench.mlperf.plugins.modules.{name}")
    spec = getattr(module, "ARGUMENT_SPEC", None)
    if spec is None:
        assert not hasattr(module, "main"), f"{name} has a main() but no ARGUMENT_SPEC"
        pytest.skip(f"{name} documents an action plugin (plugins/action/{name}.py)")
    options = rendered[f"fleetbench.mlperf.{name}"]["doc"]["options"]
    assert sorted(options) == sorted(spec)
    for option, entry in spec.items():
        assert _normal(options[option]) == _normal(entry), option
