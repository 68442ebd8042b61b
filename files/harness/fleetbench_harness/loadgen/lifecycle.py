"""Lifecycle of one harness process: exit with the parent, and a watchdog that ends stuck runs.

Why: LoadGen's ``StartTest`` blocks in C++ until every issued sample is
completed. A sample that is never completed (an exception in a callback, a
hung backend) would keep the process, the CPUs and the SUT's run lock forever.
The rules here:

* every failure inside a SUT or QSL callback is recorded in the
  :class:`RunMonitor`; the schedulers then complete the outstanding and every
  later sample empty, so LoadGen can finish; if it has not finished
  ``grace_s`` after the failure (a performance run still has its minimum
  duration to go), the watchdog ends the process with the failure's reason;
* no sample completed for ``stall_s`` seconds while samples are outstanding:
  the run is stuck, the watchdog ends it;
* the whole test ran longer than ``deadline_s`` (derived from the LoadGen
  settings, see :func:`deadline_for`): the watchdog ends it.

An ended run prints ``fleetbench_harness: failed: <reason>`` on stderr and
exits with status 1 (the CLI contract's failure status).
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
import traceback

from fleetbench_harness.errors import EXIT_FAILURE

PARENT_PID_ENV = "FLEETBENCH_PARENT_PID"
_WATCHING: list[int] = []


def abort(reason: str, status: int = EXIT_FAILURE) -> None:
    """End the process now with ``fleetbench_harness: failed: <reason>`` (LoadGen cannot be stopped)."""
    with contextlib.suppress(Exception):
        sys.stdout.flush()
    print(f"fleetbench_harness: failed: {reason}", file=sys.stderr, flush=True)
    os._exit(status)


def exit_with_parent(poll_s: float = 1.0) -> None:
    """End this process when its parent dies (the ``mlperf_run`` module killed with ansible-playbook).

    An orphaned harness would keep the CPUs busy, skew the next run's figures and outlive the
    module's run lock. The parent is the pid in ``$FLEETBENCH_PARENT_PID`` (set by the
    ``mlperf_run`` module) or else ``os.getppid()`` at the first call. Three guards:

    * the parent is already gone (it died while this process started): exit at once;
    * Linux: ``prctl(PR_SET_PDEATHSIG, SIGTERM)``, so the kernel signals this process when the
      parent exits (best effort, through ctypes);
    * everywhere: a daemon thread polls ``os.getppid()`` every ``poll_s`` seconds.

    Exits with status 3 and a line on stderr. Calling it again does nothing.
    """
    if _WATCHING:
        return
    try:
        parent = int(os.environ.get(PARENT_PID_ENV, "") or os.getppid())
    except ValueError:
        parent = os.getppid()
    _WATCHING.append(parent)

    def gone() -> None:
        print("fleetbench_harness: error: parent process ended; stopping the run", file=sys.stderr)
        os._exit(3)

    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            import ctypes
            import signal

            pr_set_pdeathsig = 1  # <linux/prctl.h>
            ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, int(signal.SIGTERM), 0, 0, 0)
    if os.getppid() != parent:
        gone()

    def watch() -> None:
        while True:
            time.sleep(poll_s)
            if os.getppid() != parent:
                gone()

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


class RunMonitor:
    """Counts issued and completed samples and records the first callback failure (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.issued_samples = 0
        self.completed_samples = 0
        self.last_progress = time.monotonic()
        self.error: BaseException | None = None
        self.error_where = ""
        self.error_at = 0.0
        self.error_trace = ""

    def issued(self, n: int) -> None:
        with self._lock:
            if self.issued_samples == self.completed_samples:
                self.last_progress = time.monotonic()  # idle until now is not a stall
            self.issued_samples += n

    def completed(self, n: int) -> None:
        with self._lock:
            self.completed_samples += n
            self.last_progress = time.monotonic()

    @property
    def outstanding(self) -> int:
        with self._lock:
            return self.issued_samples - self.completed_samples

    def fail(self, exc: BaseException, where: str) -> None:
        """Record a callback failure (the first wins); from now the schedulers complete everything empty."""
        with self._lock:
            if self.error is None:
                self.error, self.error_where, self.error_at = exc, where, time.monotonic()
                self.error_trace = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        print(
            f"fleetbench_harness: error in {where}: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True
        )

    def reason(self) -> str:
        exc = self.error
        return f"{self.error_where}: {type(exc).__name__}: {exc}" if exc is not None else ""


def deadline_for(settings, scenario: str, margin_s: float = 120.0) -> float:
    """Upper bound (s) on one LoadGen test, from its settings; 0 means none can be derived.

    ``max_duration`` (ms) bounds the issuing phase when set; samples still running then get
    ``margin_s``. Without a max_duration there is no bound from the settings (a valid run may
    legitimately take hours): the stall watchdog still applies.
    """
    max_ms = int(getattr(settings, "max_duration_ms", 0) or 0)
    if max_ms <= 0:
        return 0.0
    return max_ms / 1000.0 * 1.5 + margin_s


class Watchdog:
    """Ends a stuck run (see the module docstring). ``start()`` before the test, ``stop()`` after."""

    def __init__(
        self,
        monitor: RunMonitor,
        deadline_s: float = 0.0,
        stall_s: float = 600.0,
        grace_s: float = 10.0,
        poll_s: float = 0.25,
        on_abort=abort,
    ):
        self.monitor, self.deadline_s, self.stall_s = monitor, float(deadline_s), float(stall_s)
        self.grace_s, self.poll_s, self.on_abort = float(grace_s), float(poll_s), on_abort
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.started = 0.0

    def check(self, now: float) -> str | None:
        """The reason to end the run at ``now`` (time.monotonic), or None."""
        m = self.monitor
        if m.error is not None and now - m.error_at > self.grace_s:
            return f"{m.reason()} (LoadGen did not finish within {self.grace_s:g} s of the failure)"
        if self.deadline_s > 0 and now - self.started > self.deadline_s:
            return (
                f"watchdog: the test ran {now - self.started:.0f} s, past its {self.deadline_s:.0f} s limit "
                "(1.5 x max_duration + margin); it is stuck"
            )
        outstanding = m.outstanding
        if self.stall_s > 0 and outstanding > 0 and now - m.last_progress > self.stall_s:
            return (
                f"watchdog: no sample completed for {now - m.last_progress:.0f} s with {outstanding} "
                f"outstanding (stall limit {self.stall_s:g} s, --watchdog-stall-s); the run is stuck"
            )
        return None

    def start(self) -> None:
        self.started = time.monotonic()

        def loop() -> None:
            while not self._stop.wait(self.poll_s):
                why = self.check(time.monotonic())
                if why:
                    self.on_abort(why)
                    return

        self._thread = threading.Thread(target=loop, name="watchdog", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
