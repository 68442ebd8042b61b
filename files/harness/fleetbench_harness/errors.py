"""Error types of the harness and how the CLI reports them.

Contract (docs/contracts.md, "Harness CLI"): bad input exits with status 2
*before LoadGen starts* and prints exactly one line on stderr::

    fleetbench_harness: error: <field>: <why>; allowed: <allowed values>

Any other failure exits with status 1 and the reason on stderr.
"""

from __future__ import annotations

from collections.abc import Iterable

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_BAD_INPUT = 2


class InputError(Exception):
    """Bad user input, detected before anything expensive runs.

    Attributes:
        field: the CLI flag / request field at fault, e.g. ``"model"`` or
            ``"user_conf"`` (flag names use underscores).
        why: human readable reason; names files and line numbers where known.
        allowed: the allowed values (or a description of what is allowed).
    """

    def __init__(self, field: str, why: str, allowed: Iterable[str] | str = ()):
        self.field = field
        self.why = why
        self.allowed = [allowed] if isinstance(allowed, str) else [str(a) for a in allowed]
        super().__init__(self.line())

    def line(self) -> str:
        """The one stderr line of the contract (without the trailing newline)."""
        allowed = ", ".join(self.allowed) if self.allowed else "see --help"
        return f"fleetbench_harness: error: {self.field}: {self.why}; allowed: {allowed}"


class HarnessError(Exception):
    """A failure that is not the user's input (download failed, LoadGen failed...): exit 1."""
