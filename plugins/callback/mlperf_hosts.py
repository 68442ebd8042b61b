# Copyright: fleetbench.mlperf contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Aggregate callback: per-host status of a fleet run, written to ``<output_dir>/hosts.json``."""

from __future__ import annotations

DOCUMENTATION = r"""
name: mlperf_hosts
type: aggregate
short_description: Record each host's final status (ok, failed, unreachable) in <output_dir>/hosts.json
version_added: 0.1.0
description:
  - Runs beside the stdout callback (it does not replace it). Enable it with
    C(callbacks_enabled = fleetbench.mlperf.mlperf_hosts) in C(ansible.cfg) or
    E(ANSIBLE_CALLBACKS_ENABLED).
  - >-
    For every inventory host that took part in the playbook it records
    C({"status": "ok"|"failed"|"unreachable", "play": str, "task": str, "reason": str, "updated": iso8601})
    where C(play)/C(task) name the place of the first fatal failure (or the last play the host ran
    when it is C(ok)) and C(reason) is the failure message (module C(reason) or C(msg), plus the tail
    of C(stderr)), at most 2000 characters (head and tail of a longer text).
  - The file on the controller is merged, not replaced - hosts not in this run (for example
    outside C(--limit)) keep their previous entry. It is rewritten atomically after each
    fatal failure, at the start of each play (so the collect play's report sees the state of
    every earlier play) and at the end of the playbook; an interrupted run still leaves the
    failures it saw.
  - Results of tasks with C(no_log) are censored by ansible-core before callbacks see them; this
    plugin only ever reads that censored result and never reads variables, so secrets are not written.
  - "The output directory is found in this order: environment variable E(FLEETBENCH_OUTPUT_DIR);
    the extra var C(output_dir) (C(-e output_dir=...)); a fact C(mlperf_output_dir) or
    C(mlperf_request.output_dir) returned by any task (the validate step's resolved request); the
    play variable C(output_dir) (templated with the play's variables); finally C(./results)
    relative to the directory of the playbook's parent (the repository's C(results/))."
  - Nothing is written in check mode (C(--check)).
  - Hosts created implicitly by ansible-core (the implicit C(localhost) that runs controller-side
    plays) are not recorded.
options: {}
"""

import contextlib
import datetime as _dt
import json
import os
import tempfile
from pathlib import Path

from ansible import context
from ansible.plugins.callback import CallbackBase

try:
    from ansible.template import Templar
except ImportError:  # pragma: no cover
    Templar = None

HOSTS_FILE = "hosts.json"
REASON_MAX = 2000
STDERR_TAIL_LINES = 8
ENV_OUTPUT_DIR = "FLEETBENCH_OUTPUT_DIR"


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return "\n".join(_text(v) for v in value)
    return str(value)


def failure_reason(result: dict) -> str:
    """One human-readable line (or few) from a censored task result.

    Order: the module's ``reason`` (``mlperf_run`` returns one), ``msg``, the last
    ``STDERR_TAIL_LINES`` of ``stderr``, and for loops the first failed item's reason.
    A censored (``no_log``) result yields its ``censored`` notice only.
    """
    if not isinstance(result, dict):
        return _bounded(_text(result))
    if "censored" in result:
        return _bounded(_text(result["censored"]))
    parts: list[str] = []
    for key in ("reason", "msg"):
        text = _text(result.get(key)).strip()
        if text and text not in parts:
            parts.append(text)
    stderr = _text(result.get("stderr")).strip()
    if stderr:
        tail = "\n".join(stderr.splitlines()[-STDERR_TAIL_LINES:])
        if tail not in parts:
            parts.append("stderr: " + tail)
    items = result.get("results")
    if isinstance(items, list):
        for item in items:
            if isinstance(item, dict) and item.get("failed"):
                sub = failure_reason(item)
                if sub:
                    parts.append(f"item {item.get('item', '?')!s}: {sub}")
                break
    if not parts and result.get("rc") not in (None, 0):
        parts.append(f"rc={result.get('rc')}")
    return _bounded("\n".join(parts)) or "failed (no message)"


def _bounded(text: str) -> str:
    """At most REASON_MAX characters: the head and the tail (where tracebacks end) of a long text."""
    if len(text) <= REASON_MAX:
        return text
    head = REASON_MAX // 4
    return text[:head] + "\n...\n" + text[-(REASON_MAX - head - 5) :]


def merge_hosts(path: Path, updates: dict[str, dict]) -> dict[str, dict]:
    """Merge ``updates`` into the JSON mapping at ``path`` and write it atomically.

    A missing or unreadable file counts as empty (an unreadable one is kept as
    ``hosts.json.corrupt``). Returns the merged mapping.
    """
    current: dict[str, dict] = {}
    if path.exists():
        try:
            loaded = json.loads(path.read_text(encoding="utf-8"))
            if isinstance(loaded, dict):
                current = loaded
        except (OSError, ValueError):
            with contextlib.suppress(OSError):
                path.replace(path.with_suffix(".json.corrupt"))
    current.update(updates)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".hosts.", suffix=".json", dir=str(path.parent))
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(dict(sorted(current.items())), fh, indent=2, sort_keys=True)
            fh.write("\n")
        os.chmod(tmp, 0o644)  # as the report files (mkstemp makes 0600)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return current


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "fleetbench.mlperf.mlperf_hosts"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._hosts: dict[str, dict] = {}
        self._play_name = ""
        self._playbook_dir: str | None = None
        self._extra_output_dir: str | None = None
        self._fact_output_dir: str | None = None
        self._play_output_dir: str | None = None

    # where ------------------------------------------------------------------
    def _output_dir(self) -> Path:
        for cand in (
            os.environ.get(ENV_OUTPUT_DIR),
            self._extra_output_dir,
            self._fact_output_dir,
            self._play_output_dir,
        ):
            if cand:
                # A relative -e output_dir is relative to where ansible-playbook started, as in the
                # validate_request action.
                return Path(os.path.abspath(os.path.expanduser(str(cand))))
        base = Path(self._playbook_dir).parent if self._playbook_dir else Path.cwd()
        return (base / "results").resolve()

    def _write(self) -> None:
        updates = {name: dict(entry) for name, entry in self._hosts.items()}
        if not updates or context.CLIARGS.get("check"):
            # --check changes nothing on disk, this record included.
            return
        try:
            merge_hosts(self._output_dir() / HOSTS_FILE, updates)
        except OSError as exc:
            self._display.warning(f"mlperf_hosts: could not write {self._output_dir() / HOSTS_FILE}: {exc}")

    # bookkeeping --------------------------------------------------------------
    @staticmethod
    def _recordable(host) -> bool:
        return not getattr(host, "implicit", False)

    def _touch(self, result, status: str | None = None, reason: str = "") -> None:
        host = result._host
        if not self._recordable(host):
            return
        entry = self._hosts.get(host.name)
        if entry is None or entry["status"] == "ok":
            entry = {
                "status": "ok",
                "play": self._play_name,
                "task": "",
                "reason": "",
                "updated": _now(),
            }
            self._hosts[host.name] = entry
        if status and entry["status"] == "ok":
            entry.update(
                status=status,
                play=self._play_name,
                task=result._task.get_name() if result._task else "",
                reason=reason,
                updated=_now(),
            )
            self._write()

    @staticmethod
    def _result(result) -> dict:
        data = getattr(result, "result", None)
        if data is None:
            data = result._result
        task = result._task
        if (task is not None and task.no_log is True) or data.get("_ansible_no_log"):
            return {"censored": "the output has been hidden because no_log: true was specified"}
        return data

    # events -------------------------------------------------------------------
    def v2_playbook_on_start(self, playbook) -> None:
        self._playbook_dir = getattr(playbook, "_basedir", None)

    def v2_playbook_on_play_start(self, play) -> None:
        self._play_name = play.get_name()
        vm = play.get_variable_manager()
        extra = getattr(vm, "extra_vars", {}) or {}
        if extra.get("output_dir"):
            self._extra_output_dir = str(extra["output_dir"])
        raw = (play.vars or {}).get("output_dir")
        if raw and Templar is not None:
            try:
                variables = vm.get_vars(play=play)
                self._play_output_dir = str(Templar(loader=play._loader, variables=variables).template(raw))
            except Exception:
                self._play_output_dir = None
        # Plays run one after another: at the start of a play (the collect play
        # in particular) every earlier play is over, so write what is known now.
        self._write()

    def v2_runner_on_ok(self, result) -> None:
        facts = self._result(result).get("ansible_facts") or {}
        cand = facts.get("mlperf_output_dir")
        request = facts.get("mlperf_request")
        if not cand and isinstance(request, dict):
            cand = request.get("output_dir")
        if cand:
            self._fact_output_dir = str(cand)
        self._touch(result)

    def v2_runner_on_skipped(self, result) -> None:
        self._touch(result)

    def v2_runner_on_failed(self, result, ignore_errors: bool = False) -> None:
        if ignore_errors:
            self._touch(result)
            return
        self._touch(result, "failed", failure_reason(self._result(result)))

    def v2_runner_on_unreachable(self, result) -> None:
        self._touch(result, "unreachable", failure_reason(self._result(result)) or "unreachable")

    def v2_playbook_on_stats(self, stats) -> None:
        # A failure that a block's rescue handled is not fatal: trust the stats.
        for name, entry in self._hosts.items():
            summary = stats.summarize(name)
            if entry["status"] == "failed" and not summary.get("failures") and summary.get("rescued"):
                entry.update(status="ok", reason="", task="", updated=_now())
        self._write()
