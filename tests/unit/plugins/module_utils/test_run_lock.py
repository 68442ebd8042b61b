"""run_lock: one benchmark at a time per machine; a dead holder never blocks the next run."""

import subprocess
import sys
import textwrap

import pytest
from ansible_collections.fleetbench.mlperf.plugins.module_utils._user_conf import RunLockTimeout, run_lock
from fleetbench_testlib import COLLECTIONS


def test_released_lock_is_taken_at_once(tmp_path):
    with run_lock(str(tmp_path)) as first:
        assert first.waited_s < 1
    with run_lock(str(tmp_path), timeout_s=0.3) as again:
        assert again.waited_s < 0.3


def test_lock_of_a_killed_process_is_released(tmp_path):
    code = textwrap.dedent(
        f"""
        import sys, time
        sys.path.insert(0, {str(COLLECTIONS)!r})
        from ansible_collections.fleetbench.mlperf.plugins.module_utils._user_conf import run_lock
        run_lock({str(tmp_path)!r}).__enter__()
        print("held", flush=True)
        time.sleep(60)
        """
    )
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(RunLockTimeout, match=r"pid \d+"):
            run_lock(str(tmp_path), timeout_s=0.2, poll_s=0.05).__enter__()
    finally:
        holder.kill()
        holder.wait()
    with run_lock(str(tmp_path), timeout_s=2, poll_s=0.05) as lock:
        assert lock.waited_s < 2


def test_a_later_run_in_the_same_process_takes_over_the_lock(tmp_path):
    """Modules run in-process (unit tests) never release explicitly: the next run must not wait."""
    run_lock(str(tmp_path)).__enter__()
    second = run_lock(str(tmp_path), timeout_s=0.5, poll_s=0.05).__enter__()
    assert second.waited_s < 0.5
    second.__exit__(None, None, None)
