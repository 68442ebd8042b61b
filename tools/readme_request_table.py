"""Render the README's request-variable table from the registry.

Usage: python tools/readme_request_table.py [--write]
Without --write, prints the table; with --write, replaces the block between the
``request-variables`` markers in README.md. tests/unit/test_readme.py fails when
the README's block differs from what this renders (the registry is the source).
"""

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "collections"))

from ansible_collections.fleetbench.mlperf.plugins.module_utils._registry import (
    family_implemented,
    load_registry,
)

BEGIN = "<!-- request-variables:begin (generated from the registry; tests/unit/test_readme.py checks it) -->"
END = "<!-- request-variables:end -->"


def _runnable(entry: dict) -> bool:
    """As validation decides: the family has a harness folder and the model has artifacts or stand-ins."""
    return family_implemented(entry.get("family")) and bool(entry.get("artifacts") or entry.get("stand_ins"))


def render_table(registry: dict) -> str:
    """Return the Markdown table: one row per variation group plus `model`."""
    rows = ["| variable | allowed values | default |", "|---|---|---|"]
    models = registry["models"]
    names = ", ".join(f"`{m}`" if _runnable(models[m]) else f"{m}\u2020" for m in models)
    rows.append(f"| `model` | {names} | `{registry['request']['model_default']}` |")
    for group, spec in registry["variations"].items():
        values = ", ".join(
            f"`{v}`" if meta.get("implemented") else f"{v}\u2020" for v, meta in spec["values"].items()
        )
        aliases = spec.get("aliases") or {}
        if aliases:
            values += " (aliases: " + ", ".join(f"{a}\u2192{c}" for a, c in aliases.items()) + ")"
        label = f"`{group}`"
        for alias, field in (registry.get("request", {}).get("field_aliases") or {}).items():
            if field == group:
                label += f" (alias `{alias}`)"
        rows.append(f"| {label} | {values} | `{spec['default']}` |")
    rows.append("")
    rows.append("\u2020 known to the registry, not implemented yet: validation says so by name.")
    return "\n".join(rows)


def readme_block(readme_text: str) -> str:
    """Return the text between the markers (exclusive)."""
    start = readme_text.index(BEGIN) + len(BEGIN)
    return readme_text[start : readme_text.index(END)].strip("\n")


def main() -> int:
    table = render_table(load_registry())
    if "--write" not in sys.argv:
        print(table)
        return 0
    readme = REPO / "README.md"
    text = readme.read_text()
    start = text.index(BEGIN) + len(BEGIN)
    text = text[:start] + "\n" + table + "\n" + text[text.index(END) :]
    readme.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
