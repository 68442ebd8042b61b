"""Task families: one sub-package each (``tasks/<family>/``), picked by the registry's ``family:`` key.

A family is implemented when its folder exists; nothing outside the folder
names it. Each family package exposes ``FAMILY``, an instance of
:class:`fleetbench_harness.tasks.base.TaskFamily`. See
``docs/adding-a-task-family.md`` for the steps and the protocol.
"""

from __future__ import annotations

import importlib
from importlib import resources
from typing import Any

from fleetbench_harness.errors import InputError


def implemented() -> list[str]:
    """Family names with a package here (sorted)."""
    root = resources.files(__name__)
    return sorted(
        p.name
        for p in root.iterdir()
        if p.is_dir() and not p.name.startswith("_") and (p / "__init__.py").is_file()
    )


def load(family: str) -> Any:
    """The ``FAMILY`` object of ``tasks/<family>``.

    Raises:
        InputError(model): no such family package in this harness.
    """
    if family not in implemented():
        raise InputError(
            "model", f"task family {family!r} has no implementation in this harness", implemented()
        )
    return importlib.import_module(f"{__name__}.{family}").FAMILY
