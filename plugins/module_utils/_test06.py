# Copyright: fleetbench.mlperf contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""TEST06 (LLM output consistency) verification of a compliance run's accuracy log (stdlib only).

Checks, as mlcommons/inference compliance/nvidia/TEST06/run_verification.py makes them on
``mlperf_log_accuracy.json`` of the TEST06 run (its audit.config logs every sample):

* first token (not in Offline): the first-token response LoadGen logged for a sample
  (``token_data``) equals the start of the sample's final response (``data``), token by token;
* EOS: a response does not end in two or more EOS tokens (walking back from the last token
  while it is EOS; the first token is never looked at, as the reference loop stops at index 1);
* sample length: the number of tokens in ``data`` equals the ``token_count`` LoadGen logged.

Token ids are decoded from the hex ``data`` with the run's dtype (little-endian, as the
harness writes them). The EOS id and dtype come from the registry (``compliance.TEST06``).
"""

from __future__ import annotations

import json
import struct

_FORMATS = {"int64": "q", "int32": "i", "int16": "h"}
FIRST_TOKEN_SKIPPED_SCENARIOS = ("Offline",)


def decode(hex_data, dtype="int32"):
    """Token ids of one logged response (hex string) as a list of ints.

    Raises:
        ValueError: unknown dtype, or a byte count that is not a multiple of the token size.
    """
    if dtype not in _FORMATS:
        raise ValueError("unknown dtype {!r}; allowed: {}".format(dtype, ", ".join(sorted(_FORMATS))))
    raw = bytes.fromhex(hex_data or "")
    size = struct.calcsize("<" + _FORMATS[dtype])
    if len(raw) % size:
        raise ValueError(f"{len(raw)} bytes is not a whole number of {dtype} tokens")
    return list(struct.unpack(f"<{len(raw) // size}{_FORMATS[dtype]}", raw))


def eos_ok(tokens, eos_token_id):
    """False when the response ends in 2+ EOS tokens (the reference's walk from the end)."""
    i = len(tokens) - 1
    n_eos = 0
    while i > 0:
        if tokens[i] == eos_token_id:
            n_eos += 1
        if n_eos >= 2:
            return False
        if tokens[i] != eos_token_id:
            break
        i -= 1
    return True


def first_token_ok(tokens, first_tokens):
    """True when the logged first-token response matches the start of the final response."""
    return all(a == b for a, b in zip(tokens, first_tokens, strict=False))


def verify_test06(accuracy_log, scenario, eos_token_id, dtype="int32"):
    """Verify a TEST06 run's accuracy log.

    Args:
        accuracy_log: path of ``mlperf_log_accuracy.json``, or its already-parsed list of entries
            (``{"qsl_idx", "data"[, "token_data", "token_count"]}``).
        scenario: the LoadGen scenario of the run (``Interactive`` runs as ``Server``); the
            first-token check is skipped for Offline.
        eos_token_id: the model's EOS id (registry ``compliance.TEST06.eos_token_id.<model>``).
        dtype: token dtype of the logged responses (registry ``compliance.TEST06.dtype``).

    Returns:
        {"first_token": True|False|None (skipped), "eos": bool, "sample_length": bool,
        "passed": bool, "samples": int, "problems": [str], "text": verify_accuracy.txt content}.
    """
    if isinstance(accuracy_log, (list, tuple)):
        entries = list(accuracy_log)
    else:
        with open(accuracy_log) as f:
            entries = json.load(f)
    problems = []
    need_first = scenario not in FIRST_TOKEN_SKIPPED_SCENARIOS
    first, eos, length = (True if need_first else None), True, True
    for e in entries:
        where = "qsl_idx {}".format(e.get("qsl_idx"))
        try:
            tokens = decode(e.get("data", ""), dtype)
        except ValueError as exc:
            problems.append(f"{where}: data: {exc}")
            eos = length = False
            first = False if need_first else None
            continue
        if eos and not eos_ok(tokens, eos_token_id):
            eos = False
            problems.append(f"{where}: the response ends in 2 or more EOS tokens ({eos_token_id})")
        if length:
            if "token_count" not in e:
                length = False
                problems.append(f"{where}: no token_count logged (the SUT reported no n_tokens)")
            elif int(e["token_count"]) != len(tokens):
                length = False
                problems.append(f"{where}: {len(tokens)} tokens in data but token_count {e['token_count']}")
        if need_first and first:
            if "token_data" not in e:
                first = False
                problems.append(f"{where}: no first-token response logged (token_data)")
            else:
                try:
                    if not first_token_ok(tokens, decode(e["token_data"], dtype)):
                        first = False
                        problems.append(f"{where}: the first-token response differs from the response")
                except ValueError as exc:
                    first = False
                    problems.append(f"{where}: token_data: {exc}")
    passed = bool(eos and length and first is not False)
    text = "First token check pass: %s\n" % ("Skipped" if first is None else first)
    text += f"EOS check pass: {eos}\n"
    text += f"Sample length check pass: {length}\n"
    text += "TEST06 verification complete\n" if passed else "TEST06 verification failed\n"
    return {
        "first_token": first,
        "eos": eos,
        "sample_length": length,
        "passed": passed,
        "samples": len(entries),
        "problems": problems,
        "text": text,
    }
