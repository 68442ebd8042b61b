"""SUT error path on the real LoadGen: a failing batch completes the query empty and is reported."""

from __future__ import annotations

import numpy as np
import pytest
from fleetbench_harness import sut as sutmod


class _FailingBackend:
    """Backend stand-in whose predict fails on the second batch (tests the SUT, not a backend)."""

    def __init__(self):
        self.calls = 0

    def predict(self, batch):
        self.calls += 1
        if self.calls == 2:
            raise RuntimeError("device lost")
        return np.zeros(len(batch), np.float32)


@pytest.mark.parametrize("scenario", ["Offline", "Server", "SingleStream"])
def test_backend_failure_does_not_hang_loadgen(tmp_path, scenario):
    import mlperf_loadgen as lg

    data = np.zeros((4, 3, 8, 8), np.float32)
    qsl = sutmod.QSL(data, 4)
    sut = sutmod.make_sut(scenario, _FailingBackend(), qsl, 2, 1.0)
    s = lg.TestSettings()
    s.scenario = getattr(lg.TestScenario, scenario)
    s.mode = lg.TestMode.PerformanceOnly
    s.min_duration_ms = 0
    s.min_query_count = s.max_query_count = 8
    s.server_target_qps = s.offline_expected_qps = 100
    log = lg.LogSettings()
    log.log_output.outdir = str(tmp_path)
    log.log_output.copy_summary_to_stdout = False
    try:
        lg.StartTestWithLogSettings(sut.handle, qsl.handle, s, log)
        with pytest.raises(RuntimeError, match="device lost"):
            sut.stop()
    finally:
        lg.DestroySUT(sut.handle)
        qsl.destroy()
    assert (tmp_path / "mlperf_log_detail.txt").is_file()
