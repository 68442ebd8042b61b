"""LoadGen settings: user.conf lint, ``TestSettings.FromConfig`` with its return code, log settings.

Lint a LoadGen ``user.conf`` before LoadGen sees it.

LoadGen's parser (mlcommons/inference ``loadgen/test_settings_internal.cc``,
``TestSettings::FromConfig``, LoadGen 6.0) splits each line on whitespace and
expects the three tokens ``key = value``:

* a line whose first token is ``#`` is a comment; so is an empty line;
* ``key=value`` (no spaces) is one token: LoadGen sees a key with no ``=``
  and **silently ignores the line**;
* the value must parse as an integer or a double; anything else (e.g. a
  trailing ``# comment`` after the value) is an error that makes
  ``FromConfig`` return ``-EINVAL`` and **drops the whole file**;
* keys are ``<model>.<Scenario>.<setting>``; ``*`` is a wildcard for model or
  scenario. A key whose model or scenario matches nothing (``offline`` in
  lower case, a misspelt model) is silently ignored.

This module rejects all of those, naming the file and the line, so a
user.conf either means what it says or the run stops before LoadGen starts.

LoadGen notes (LoadGen 6.0.17): mlperf.conf is compiled in;
``TestSettings.FromConfig(user_conf, key, scenario)`` loads it and then
user.conf, **only on its first call in a process** (a static counter), so a
process runs one test; it returns ``-EINVAL`` (-22) for a bad line and ignores
the whole file, ``-ENOENT`` (-2) for a missing file: both are fatal here.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from fleetbench_harness.errors import InputError

#: Scenario names as LoadGen spells them (``ToString(TestScenario)``), plus the wildcard.
SCENARIOS = ("SingleStream", "MultiStream", "Server", "Offline")

#: Setting names LoadGen 6.0 reads from user.conf / mlperf.conf (test_settings_internal.cc).
KNOWN_SETTINGS = frozenset(
    {
        "mode",
        "min_duration",
        "max_duration",
        "min_query_count",
        "max_query_count",
        "qsl_rng_seed",
        "sample_index_rng_seed",
        "schedule_rng_seed",
        "accuracy_log_rng_seed",
        "accuracy_log_probability",
        "accuracy_log_sampling_target",
        "print_timestamps",
        "performance_issue_unique",
        "performance_issue_same",
        "performance_issue_same_index",
        "performance_sample_count_override",
        "target_latency_percentile",
        "target_latency",
        "target_qps",
        "samples_per_query",
        "max_async_queries",
        "coalesce_queries",
        "sample_concatenate_permutation",
        "use_token_latencies",
        "ttft_latency",
        "tpot_latency",
        "infer_token_latencies",
        "token_latency_scaling_factor",
        "test05",
        "test05_qsl_rng_seed",
        "test05_sample_index_rng_seed",
        "test05_schedule_rng_seed",
        "server_num_issue_query_threads",
        "early_stopping_min_query_count",
    }
)

_INT = re.compile(r"^[+-]?(0[xX][0-9a-fA-F]+|[0-9]+)$")


def _is_number(tok: str) -> bool:
    """True when C ``strtoul``/``strtod`` would consume the whole token (as LoadGen checks)."""
    if _INT.match(tok):
        return True
    if "_" in tok:  # Python's float() accepts digit separators, strtod does not
        return False
    try:
        float(tok)
    except ValueError:
        return False
    return True


def lint(path: str | Path, model_keys: set[str]) -> list[str]:
    """Check a user.conf; return warnings (unknown setting names).

    Args:
        path: the user.conf file.
        model_keys: model names allowed in keys (registry ``loadgen_key``s);
            ``*`` is always allowed.

    Returns:
        Warning strings (``FILE:LINE: ...``) for setting names that LoadGen 6.0
        does not know (possible typos; LoadGen ignores them).

    Raises:
        InputError(user_conf): unreadable file, ``key=value`` without spaces,
            a trailing comment or other non-numeric value, a malformed key, an
            unknown or wrongly cased scenario, an unknown model key.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError("user_conf", f"cannot read {p}: {exc.strerror}", "a readable user.conf") from None
    warnings: list[str] = []
    models_allowed = [*sorted(model_keys), "*"]
    for nr, raw in enumerate(text.splitlines(), 1):
        where = f"{p}:{nr}"
        toks = raw.split()
        if not toks or toks[0] == "#" or toks[0].startswith("#"):
            # LoadGen only treats a lone "#" token as a comment; "#x" would be a key
            # with no "=" and be ignored, which is also what a comment means.
            continue
        if len(toks) == 1 or (len(toks) >= 2 and "=" in toks[0] and toks[1] != "="):
            raise InputError(
                "user_conf",
                f"{where}: {raw.strip()!r}: write 'key = value' with spaces around '=' "
                "(LoadGen silently ignores this line)",
                "'<model>.<Scenario>.<setting> = <number>'",
            )
        if toks[1] != "=":
            raise InputError(
                "user_conf",
                f"{where}: {raw.strip()!r}: expected '=' as the second token "
                "(LoadGen rejects the whole file)",
                "'<model>.<Scenario>.<setting> = <number>'",
            )
        if len(toks) == 2:
            raise InputError(
                "user_conf", f"{where}: {raw.strip()!r}: missing value", "an integer or a double"
            )
        if len(toks) > 3:
            extra = " ".join(toks[3:])
            why = "a trailing comment" if toks[3].startswith("#") else "extra tokens"
            raise InputError(
                "user_conf",
                f"{where}: {raw.strip()!r}: {why} after the value ({extra!r}); LoadGen then rejects the "
                "whole file: put comments on their own line starting with '#'",
                "'<model>.<Scenario>.<setting> = <number>'",
            )
        key, value = toks[0], toks[2]
        if not _is_number(value):
            raise InputError(
                "user_conf",
                f"{where}: value {value!r} is not a number (LoadGen rejects the whole file)",
                "an integer or a double",
            )
        parts = key.split(".")
        if len(parts) != 3 or not all(parts):
            raise InputError(
                "user_conf", f"{where}: key {key!r} is not <model>.<Scenario>.<setting>", models_allowed
            )
        mkey, scen, setting = parts
        if scen != "*" and scen not in SCENARIOS:
            hint = ""
            for s in SCENARIOS:
                if s.lower() == scen.lower():
                    hint = f" (did you mean {s!r}? scenario names are case-sensitive)"
            raise InputError("user_conf", f"{where}: unknown scenario {scen!r}{hint}", [*SCENARIOS, "*"])
        if mkey != "*" and mkey not in model_keys:
            raise InputError("user_conf", f"{where}: unknown model key {mkey!r}", models_allowed)
        if setting not in KNOWN_SETTINGS:
            warnings.append(f"{where}: setting {setting!r} is not one LoadGen 6.0 reads; it will be ignored")
    return warnings


def test_settings(user_conf: str | Path, loadgen_key: str, scenario: str, mode: str) -> Any:
    """A LoadGen ``TestSettings`` for (key, LoadGen scenario, mode) from mlperf.conf + user.conf.

    Args:
        scenario: a LoadGen scenario name (``Offline``, ``Server``, ``SingleStream``, ``MultiStream``).
        mode: ``performance`` or ``accuracy``.

    Raises:
        InputError(user_conf): ``FromConfig`` returned non-zero (LoadGen would ignore the file).
    """
    import mlperf_loadgen as lg

    s = lg.TestSettings()
    s.scenario = getattr(lg.TestScenario, scenario)
    rc = s.FromConfig(str(user_conf), loadgen_key, scenario)
    if rc != 0:
        raise InputError(
            "user_conf",
            f"LoadGen TestSettings.FromConfig({user_conf}, {loadgen_key}, {scenario}) "
            f"returned {rc}: LoadGen would ignore the whole file",
            "a user.conf LoadGen accepts",
        )
    s.mode = lg.TestMode.AccuracyOnly if mode == "accuracy" else lg.TestMode.PerformanceOnly
    return s


def log_settings(outdir: str | Path) -> Any:
    """LoadGen ``LogSettings``: ``mlperf_log_*`` files in ``outdir``, summary copied to stdout, no trace."""
    import mlperf_loadgen as lg

    log = lg.LogSettings()
    log.log_output.outdir = str(outdir)
    log.log_output.prefix = "mlperf_log_"
    log.log_output.suffix = ""
    log.log_output.copy_summary_to_stdout = True
    log.enable_trace = False
    return log


def read_audit_config(path: str | Path) -> dict[str, float]:
    """``<model>.<Scenario>.<setting> = <number>`` lines of an audit.config -> {setting: value}.

    Raises:
        InputError(audit_config): unreadable file or a line that is not ``key = number``.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(
            "audit_config", f"cannot read {p}: {exc.strerror}", "a readable audit.config"
        ) from None
    out: dict[str, float] = {}
    for nr, raw in enumerate(text.splitlines(), 1):
        toks = raw.split()
        if not toks or toks[0].startswith("#"):
            continue
        if len(toks) != 3 or toks[1] != "=" or not _is_number(toks[2]) or toks[0].count(".") != 2:
            raise InputError(
                "audit_config", f"{p}:{nr}: {raw.strip()!r} is not 'key = number'", "'*.*.<setting> = <n>'"
            )
        tok = toks[2]
        if _INT.match(tok):
            out[toks[0].split(".")[2]] = float(int(tok, 16) if "x" in tok.lower() else int(tok))
        else:
            out[toks[0].split(".")[2]] = float(tok)
    return out
