"""The family-free LoadGen core: the only package that imports ``mlperf_loadgen``.

* :mod:`.workload` — the protocol a task family implements (:class:`Workload`, :class:`Response`);
* :mod:`.schedulers` — Offline batching, Server dynamic batching, SingleStream/MultiStream inline;
* :mod:`.responses` — completing samples (``QuerySamplesComplete``, ``FirstTokenComplete``);
* :mod:`.settings` — user.conf lint, ``TestSettings.FromConfig`` with its return code, log settings;
* :mod:`.session` — one test: cwd, audit.config and its checks, QSL + SUT, watchdog;
* :mod:`.lifecycle` — exit with the parent, the run monitor and the watchdog.
"""

from fleetbench_harness.loadgen.workload import Response, Workload

__all__ = ["Response", "Workload"]
