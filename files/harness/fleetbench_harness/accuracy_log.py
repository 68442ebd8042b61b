"""Reading LoadGen's ``mlperf_log_accuracy.json`` (family-free; each family decodes the bytes).

The file is a JSON list of ``{"seq_id", "qsl_idx", "data"}`` where ``data`` is the hex of the
response bytes; LoadGen may log a sample more than once.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fleetbench_harness.errors import InputError


def read_entries(accuracy_log: str | Path) -> list[dict[str, Any]]:
    """The log's entries.

    Raises:
        InputError(accuracy_log): missing, unreadable or not JSON.
    """
    p = Path(accuracy_log)
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(
            "accuracy_log", f"cannot read {p}: {exc.strerror}", "mlperf_log_accuracy.json"
        ) from None
    except json.JSONDecodeError as exc:
        raise InputError("accuracy_log", f"{p} is not JSON: {exc}", "mlperf_log_accuracy.json") from None


def responses(accuracy_log: str | Path, keep: str = "first") -> dict[int, bytes]:
    """``qsl_idx -> response bytes``; of a sample logged more than once, the ``keep="first"`` or ``"last"``.

    Raises:
        InputError(accuracy_log): missing, unreadable or not JSON (:func:`read_entries`).
    """
    out: dict[int, bytes] = {}
    for e in read_entries(accuracy_log):
        idx = int(e["qsl_idx"])
        if keep == "last" or idx not in out:
            out[idx] = bytes.fromhex(e["data"])
    return out
