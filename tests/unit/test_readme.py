"""The README's request table is generated from the registry (never edited by hand)."""

import importlib.util

from fleetbench_testlib import REPO


def _tool():
    path = REPO / "tools" / "readme_request_table.py"
    spec = importlib.util.spec_from_file_location("readme_request_table", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_readme_request_table_matches_registry():
    tool = _tool()
    from ansible_collections.fleetbench.mlperf.plugins.module_utils._registry import load_registry

    expected = tool.render_table(load_registry())
    actual = tool.readme_block((REPO / "README.md").read_text())
    assert actual == expected, "README table is stale: run python tools/readme_request_table.py --write"


def test_readme_quick_start_has_exactly_two_commands():
    text = (REPO / "README.md").read_text()
    section = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    blocks = section.split("```")[1::2]
    commands = [line for block in blocks[:2] for line in block.strip().splitlines()]
    assert len(commands) == 2
    assert "ansible-playbook playbooks/run_mlperf.yml" in commands[0]
    assert commands[1] == "bash .ci/run"
