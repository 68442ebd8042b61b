"""registry_entry filter, the registry's JSON disk cache and the preload callback."""

from __future__ import annotations

import json

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


def test_disk_cache_is_named_by_content(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    reg = tmp_path / "registry.yml"
    reg.write_text("models: {a: {dataset: d}}\nvariations: {}\n")
    monkeypatch.setattr(_registry, "_CACHE", {})
    assert _registry.load_registry(reg)["models"]["a"]["dataset"] == "d"
    (cached,) = (tmp_path / "cache" / "fleetbench_mlperf").glob("registry-*.json")
    assert json.loads(cached.read_text())["models"]["a"]["dataset"] == "d"
    reg.write_text("models: {a: {dataset: e}}\nvariations: {}\n")
    monkeypatch.setattr(_registry, "_CACHE", {})
    assert _registry.load_registry(reg)["models"]["a"]["dataset"] == "e"
    # A registry JSON cannot carry unchanged (an int key) is parsed and not cached.
    reg.write_text("models: {1: {dataset: f}}\nvariations: {}\n")
    monkeypatch.setattr(_registry, "_CACHE", {})
    assert _registry.load_registry(reg)["models"][1]["dataset"] == "f"
    assert len(list((tmp_path / "cache" / "fleetbench_mlperf").glob("registry-*.json"))) == 2


def test_preload_imports_every_plugin():
    assert preload.preload() == []
