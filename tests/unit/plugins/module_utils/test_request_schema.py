"""The registry's ``request.schema`` is the one description of the request.

Every variable the validate step accepts is in the schema, every schema entry is documented in the
README table, and the copies elsewhere (mlperf_run's argument spec, the roles' argument specs,
the harness's family options) agree with it.
"""

from __future__ import annotations

import re

import pytest
import yaml
from ansible_collections.fleetbench.mlperf.plugins.action import validate_request as action
from ansible_collections.fleetbench.mlperf.plugins.module_utils import _registry, _request_schema
from ansible_collections.fleetbench.mlperf.plugins.modules import mlperf_run
from fleetbench_testlib import REPO


@pytest.fixture(scope="module")
def reg():
    return _registry.load_registry()


@pytest.fixture(scope="module")
def schema(reg):
    return _request_schema.request_schema(reg)


def test_every_variable_the_validate_step_accepts_is_in_the_schema(reg, schema):
    accepted = set(_registry.request_names(reg)) | set(_registry.SUBMISSION_FIELDS) | {"submission"}
    accepted |= set(_request_schema.accepted_names(reg))
    aliases = _request_schema.field_aliases(reg)
    missing = sorted(n for n in accepted if n not in schema and n not in aliases)
    assert not missing, f"accepted by the validate step but not in request.schema: {missing}"
    # The action takes the schema's names, not a list of its own.
    assert not hasattr(action, "ALWAYS_ALLOWED")


def test_every_schema_entry_is_documented_in_the_readme_table(schema):
    text = (REPO / "README.md").read_text()
    block = text.split("request-variables:begin", 1)[1].split("request-variables:end", 1)[0]
    documented = set(re.findall(r"^\| `([a-z0-9_]+)`", block, flags=re.M))
    assert sorted(set(schema) - documented) == []


def test_schema_entries_are_well_formed(reg, schema):
    steps = {"validate", "provision", "benchmark", "collect"}
    for name, entry in schema.items():
        assert entry["steps"] and set(entry["steps"]) <= steps, name
        if entry["type"] in ("choice", "choices"):
            values, default, _, _ = _request_schema.choice_values(reg, entry)
            assert values, name
            assert default is None or default in values, name
        if entry["type"] in ("int", "float") and entry.get("default") is not None:
            assert entry.get("min", entry.get("gt", float("-inf"))) <= entry["default"], name


def test_secrets_are_marked(reg):
    secrets = _request_schema.secret_names(reg)
    assert "hf_token" in secrets and "proxy_env" in secrets


def test_one_truthy_set(reg):
    # submission=yes means what rerun=yes means.
    for word in _request_schema.TRUE:
        assert _registry.resolve_request({"rerun": word}, reg)["rerun"] is True
        assert _request_schema.is_true(word)
    for word in _request_schema.FALSE:
        assert _registry.resolve_request({"rerun": word}, reg)["rerun"] is False
        assert not _request_schema.is_true(word)


# mlperf_run's `mode` is one run's mode (performance, accuracy, a compliance test), not the request's.
MODULE_OWN_MEANING = {"mode"}


def test_mlperf_run_argument_spec_agrees_with_the_schema(reg, schema):
    spec = mlperf_run.ARGUMENT_SPEC
    checked = 0
    for name, option in spec.items():
        entry = schema.get(name)
        if entry is None or name in MODULE_OWN_MEANING:
            continue
        checked += 1
        if entry["type"] in ("choice", "choices"):
            values, default, _, _ = _request_schema.choice_values(reg, entry)
            if "default" in option:
                assert option["default"] == default, name
            if option.get("choices"):
                extra = set(option["choices"]) - set(values)
                # LoadGen's Interactive scenario is the module's own (an LLM Server variant).
                assert extra <= {"Interactive"}, (name, extra)
        elif "default" in option and entry.get("default") is not None:
            assert option["default"] == entry["default"], name
        # The module takes the resolved request, so it needs no alias; one it declares is the schema's.
        assert set(option.get("aliases") or []) <= set(entry["aliases"]), name
        if entry["type"] in ("int", "float", "bool"):
            assert option.get("type") == entry["type"], name
    assert checked >= 15


def test_role_argument_specs_restating_request_fields_agree(reg, schema):
    for path in sorted((REPO / "roles").glob("*/meta/argument_specs.yml")):
        data = yaml.safe_load(path.read_text()) or {}
        for entry_point, body in (data.get("argument_specs") or {}).items():
            for name, option in ((body or {}).get("options") or {}).items():
                entry = schema.get(name)
                if entry is None or not option.get("choices"):
                    continue
                values = set(_request_schema.choice_values(reg, entry)[0])
                if entry.get("submission_choices"):
                    values |= set(reg["submission"][entry["submission_choices"].split(".", 1)[1]])
                assert set(option["choices"]) == values, f"{path}:{entry_point}:{name}"


def test_family_options_come_from_the_registry(reg, schema):
    for name, entry in _registry.family_option_fields(reg).items():
        assert schema[name]["source"] == "family"
        assert entry["families"]
