"""registry_entry filter and the preload callback."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.fleetbench.mlperf.plugins.callback import preload
from ansible_collections.fleetbench.mlperf.plugins.filter import mlperf as filters
from ansible_collections.fleetbench.mlperf.plugins.module_utils import _registry


def test_registry_entry_returns_a_copy_or_empty():
    entry = filters.registry_entry(["models", "resnet50"])
    assert entry["dataset"] == _registry.load_registry()["models"]["resnet50"]["dataset"]
    entry["dataset"] = "changed"
    assert _registry.load_registry()["models"]["resnet50"]["dataset"] != "changed"
    assert filters.registry_entry(["models", "no-such-model", "dataset"]) == {}
    assert filters.registry_entry(["datasets", {}]) == {}
    with pytest.raises(AnsibleFilterError, match="list of registry keys"):
        filters.registry_entry("models")


def test_preload_imports_every_plugin():
    assert preload.preload() == []
