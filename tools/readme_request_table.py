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
from ansible_collections.fleetbench.mlperf.plugins.module_utils._request_schema import (
    choice_values,
    request_schema,
)

BEGIN = "<!-- request-variables:begin (generated from the registry; tests/unit/test_readme.py checks it) -->"
END = "<!-- request-variables:end -->"

_TYPE_TEXT = {
    "int": "integer",
    "float": "number",
    "bool": "`true` / `false`",
    "name": "name (letters, digits, `.`, `_`, `-`)",
    "path": "path",
    "str": "string",
    "dict": "mapping",
    "compliance": "`true` or test names (comma-separated)",
}


def _allowed(registry: dict, name: str, entry: dict) -> str:
    if entry["type"] in ("choice", "choices"):
        values, _, aliases, implemented = choice_values(registry, entry)
        if entry.get("choices") == "models":
            models = registry["models"]
            # As the validate step decides: the family's harness folder, and something to run
            # (an artifact or a stand-in; mixtral-8x7b, llama3.1-405b and deepseek-r1 have neither).
            implemented = [
                m
                for m in values
                if family_implemented(models[m].get("family"))
                and (models[m].get("artifacts") or models[m].get("stand_ins"))
            ]
        text = ", ".join(f"`{v}`" if v in implemented else f"{v}\u2020" for v in values)
        if aliases:
            text += " (aliases: " + ", ".join(f"{a}\u2192{c}" for a, c in aliases.items()) + ")"
        if entry["type"] == "choices":
            text = "one or more of " + text
        return text
    text = _TYPE_TEXT[entry["type"]]
    if "min" in entry:
        text += f" \u2265 {entry['min']}"
    if "gt" in entry:
        text += f" > {entry['gt']}"
    if entry.get("unit"):
        text += f" ({entry['unit']})"
    return text


def _default(registry: dict, entry: dict) -> str:
    default = entry.get("default")
    if entry["type"] in ("choice", "choices"):
        default = choice_values(registry, entry)[1]
    if default is None:
        return ""
    if isinstance(default, bool):
        default = str(default).lower()
    return f"`{default}`"


def _notes(entry: dict) -> str:
    notes = []
    if entry.get("doc"):
        notes.append(str(entry["doc"]))
    if entry.get("source") == "dataset":
        notes.append("datasets: " + ", ".join(entry["datasets"]))
    if entry.get("source") == "family":
        notes.append("task families: " + ", ".join(entry["families"]))
    if entry["secret"]:
        notes.append("**secret** (never in a file or a log line)")
    if not entry["resolve"]:
        notes.append("passed on, not part of the resolved request")
    return "; ".join(notes)


def render_table(registry: dict) -> str:
    """Return the Markdown table: one row per request variable of the schema (registry ``request.schema``,
    the dataset path overrides and the task-family options), in the schema's order."""
    rows = ["| variable | allowed values | default | steps | notes |", "|---|---|---|---|---|"]
    for name, entry in request_schema(registry).items():
        label = f"`{name}`"
        if entry["aliases"]:
            label += " (alias " + ", ".join(f"`{a}`" for a in entry["aliases"]) + ")"
        steps = ", ".join(entry["steps"])
        rows.append(
            f"| {label} | {_allowed(registry, name, entry)} | {_default(registry, entry)} | {steps} | "
            f"{_notes(entry)} |"
        )
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
