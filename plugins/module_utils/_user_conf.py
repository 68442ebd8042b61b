# Copyright: fleetbench.mlperf contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""LoadGen ``user.conf`` writer, input hash and atomic run-directory commit.

Stdlib only: runs on the SUT inside the ``mlperf_run`` module.

user.conf syntax (LoadGen 6.0, ``TestSettings::FromConfig``): one setting per
line, ``<loadgen_key>.<Scenario>.<setting> = <value>`` with spaces around
``=``, numeric values only, no trailing comments. Units: every duration and
latency in user.conf is in **milliseconds** (LoadGen's logs report
nanoseconds). Scenario names are LoadGen's spelling (``Offline``, ``Server``,
``SingleStream``, ``MultiStream``).

Per execution mode the settings follow the rules of MLCommons CM's
``generate-mlperf-inference-user-conf`` script (mlcommons/mlperf-automations,
facts only):

* **test** — a smoke run: ``min_query_count = max_query_count =
  test_query_count`` (default 10 here; CM's default is 5),
  ``min_duration = 0``, ``sample_concatenate_permutation = 0``;
  non-Offline scenarios also get a ``max_duration`` cap: 30000 (30 s, CM's)
  or, when the requested queries need longer, ``TEST_DURATION_MARGIN`` (2) x
  ``test_query_count`` x the expected time per query (SingleStream/MultiStream:
  the target latency; Server: 1 / target_qps), so that a requested query count
  is run in full (700 MultiStream queries are not cut at 30 s). The target:
  Offline ``target_qps`` = the request's ``target_qps`` or 1 (CM's test QPS);
  SingleStream ``target_latency`` = 1000 ms unless the request sets one (CM
  forces 1000); Server/MultiStream use the request's target or the defaults
  below.
* **fast** — a shorter run with ``FAST_FACTOR`` = 5: Offline ``target_qps``
  / 5, SingleStream/MultiStream ``target_latency`` * 5,
  ``sample_concatenate_permutation = 0``; Server ``max_duration = 120000``
  (120 s) and ``max_query_count = int(660 / 5 * target_qps)``.
* **valid** — MLPerf's own defaults from mlperf.conf (600 s minimum duration,
  the official minimum query counts); only the target is set
  (``target_qps`` for Offline/Server, ``target_latency`` in ms for
  SingleStream/MultiStream).

Defaults when the request gives no target: ``target_qps`` 1 (CM) and
``target_latency`` 100 ms (CM's value for runs without ``max_duration``).

``performance_sample_count_override``: when the request's ``count`` is below
the model's ``performance_sample_count`` (mlperf.conf value, from the
registry), LoadGen would try to load more samples than the dataset holds, so
the override is written as ``<key>.<Scenario>.performance_sample_count_override
= count``. A run with the override is not submittable in the closed division.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile

SCENARIOS = ("Offline", "Server", "SingleStream", "MultiStream")
EXECUTION_MODES = ("test", "fast", "valid")
# CM generate-mlperf-inference-user-conf (mlcommons/mlperf-automations).
FAST_FACTOR = 5
MAX_DURATION_TEST_MS = 30 * 1000
MAX_DURATION_FAST_MS = 120 * 1000
TEST_OFFLINE_DEFAULT_QPS = 1.0
TEST_SINGLESTREAM_LATENCY_MS = 1000
DEFAULT_TARGET_QPS = 1.0
DEFAULT_TARGET_LATENCY_MS = 100.0
DEFAULT_TEST_QUERY_COUNT = 10
# Ours: test-mode max_duration is at least this many times the expected duration of the queries.
TEST_DURATION_MARGIN = 2
FAST_SERVER_QUERY_FACTOR = 660

RESULT_FILE = "result.json"


def _fmt(value) -> str:
    """Number as LoadGen parses it: integers without a fraction, floats round-trip exact."""
    if isinstance(value, bool):
        raise TypeError("boolean is not a LoadGen setting value")
    if isinstance(value, int):
        return str(value)
    f = float(value)
    if f.is_integer():
        return str(int(f))
    return repr(f)


def test_max_duration_ms(scenario: str, query_count: int, target: float) -> int:
    """Test-mode ``max_duration`` (ms) for ``query_count`` queries of a non-Offline scenario.

    ``target`` is the run's target: queries per second for Server, latency in ms otherwise.
    The larger of ``MAX_DURATION_TEST_MS`` and ``TEST_DURATION_MARGIN`` x the queries' expected time.
    """
    per_query_ms = 1000.0 / float(target) if scenario == "Server" else float(target)
    return max(MAX_DURATION_TEST_MS, round(TEST_DURATION_MARGIN * query_count * per_query_ms))


def user_conf_settings(
    loadgen_key: str,
    scenario: str,
    execution_mode: str,
    target_qps: float | None = None,
    target_latency: float | None = None,
    test_query_count: int | None = None,
    count: int | None = None,
    performance_sample_count: int | None = None,
) -> list[tuple[str, int | float]]:
    """Ordered ``(setting, value)`` pairs for one run (see the module docstring for the rules).

    ``target_latency`` is in ms. Raises ValueError naming the field for an
    unknown scenario or execution mode, or a non-positive number.
    """
    if scenario not in SCENARIOS:
        raise ValueError(f"scenario: {scenario!r}; allowed: {', '.join(SCENARIOS)}")
    if execution_mode not in EXECUTION_MODES:
        raise ValueError(f"execution_mode: {execution_mode!r}; allowed: {', '.join(EXECUTION_MODES)}")
    for name, val in (
        ("target_qps", target_qps),
        ("target_latency", target_latency),
        ("test_query_count", test_query_count),
        ("count", count),
    ):
        if val is not None and (isinstance(val, bool) or float(val) <= 0):
            raise ValueError(f"{name}: {val!r} must be > 0")
    qcount = int(test_query_count or DEFAULT_TEST_QUERY_COUNT)
    qps_scenario = scenario in ("Offline", "Server")
    metric = "target_qps" if qps_scenario else "target_latency"
    given = target_qps if qps_scenario else target_latency
    value: float = (
        float(given)
        if given is not None
        else (DEFAULT_TARGET_QPS if qps_scenario else DEFAULT_TARGET_LATENCY_MS)
    )

    out: list[tuple[str, int | float]] = []
    if execution_mode == "test":
        if scenario == "Offline":
            value = float(target_qps) if target_qps is not None else TEST_OFFLINE_DEFAULT_QPS
        elif scenario == "SingleStream" and target_latency is None:
            value = TEST_SINGLESTREAM_LATENCY_MS
        out.append((metric, value))
        out += [
            ("min_query_count", qcount),
            ("max_query_count", qcount),
            ("min_duration", 0),
            ("sample_concatenate_permutation", 0),
        ]
        if scenario != "Offline":
            out.append(("max_duration", test_max_duration_ms(scenario, qcount, value)))
    elif execution_mode == "fast":
        if scenario == "Offline":
            value = value / FAST_FACTOR
        elif scenario in ("SingleStream", "MultiStream"):
            value = value * FAST_FACTOR
        out.append((metric, value))
        out.append(("sample_concatenate_permutation", 0))
        if scenario == "Server":
            out.append(("max_duration", MAX_DURATION_FAST_MS))
            out.append(("max_query_count", int(FAST_SERVER_QUERY_FACTOR / FAST_FACTOR * value)))
    else:
        out.append((metric, value))
    if (
        count is not None
        and performance_sample_count is not None
        and int(count) < int(performance_sample_count)
    ):
        out.append(("performance_sample_count_override", int(count)))
    return out


def render_user_conf(loadgen_key: str, scenario: str, execution_mode: str, **settings) -> str:
    """user.conf text: one ``<loadgen_key>.<Scenario>.<setting> = <value>`` line per setting.

    Keyword arguments as :func:`user_conf_settings`. Ends with a newline.
    """
    if not loadgen_key or any(c.isspace() or c == "." for c in loadgen_key):
        raise ValueError(f"loadgen_key: {loadgen_key!r} is not a LoadGen model key")
    pairs = user_conf_settings(loadgen_key, scenario, execution_mode, **settings)
    return "".join(f"{loadgen_key}.{scenario}.{k} = {_fmt(v)}\n" for k, v in pairs)


def canonical_json(data) -> str:
    """JSON with sorted keys and no whitespace: the hash input."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str)


def input_hash(inputs: dict) -> str:
    """sha256 hex of :func:`canonical_json` of every input that changes a result.

    The caller passes request fields, the user.conf text, the model file's
    sha256, dataset identity (path + count + label file sha256), harness and
    LoadGen versions.
    """
    return hashlib.sha256(canonical_json(inputs).encode("utf-8")).hexdigest()


def file_sha256(path: str, chunk: int = 1 << 20) -> str:
    """sha256 hex of a file's content."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while True:
            block = fh.read(chunk)
            if not block:
                break
            h.update(block)
    return h.hexdigest()


def model_digest(path: str) -> str | None:
    """sha256 identity of a model: a file's content, or for a folder (diffusers / Hugging Face
    checkpoints of many GB) a digest of its manifest: every file's relative path, size and mtime (ns).
    None when ``path`` is neither."""
    if os.path.isfile(path):
        return file_sha256(path)
    if not os.path.isdir(path):
        return None
    h = hashlib.sha256()
    for root, dirs, files in os.walk(path):
        dirs.sort()
        for name in sorted(files):
            full = os.path.join(root, name)
            st = os.stat(full)
            h.update(f"{os.path.relpath(full, path)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


# ---------------------------------------------------------------------------
# Cache probe and atomic commit of a run directory
# ---------------------------------------------------------------------------
def read_json_dict(path: str) -> dict | None:
    """The JSON object in ``path``, or None when the file is missing, unreadable or not an object."""
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def read_result(run_dir: str) -> dict | None:
    """The stored ``result.json`` of ``run_dir`` or None (missing/unreadable/not a dict)."""
    return read_json_dict(os.path.join(run_dir, RESULT_FILE))


def cached_result(run_dir: str, want_hash: str) -> tuple[dict | None, str]:
    """``(result, why)``: the stored result when its ``input_hash`` equals
    ``want_hash``, every file in its ``files`` map exists and every file in its
    ``file_sha256`` map still has that content, else ``(None, reason)`` (a run
    file edited or truncated since the run makes the run stale: it is measured again)."""
    stored = read_result(run_dir)
    if stored is None:
        return None, "no stored result"
    if stored.get("input_hash") != want_hash:
        return None, "inputs changed"
    files = stored.get("files") or {}
    for name, path in files.items():
        if not os.path.isfile(path):
            return None, f"file {name} missing"
    for name, digest in (stored.get("file_sha256") or {}).items():
        path = files.get(name) or os.path.join(run_dir, name)
        try:
            if file_sha256(path) != digest:
                return None, f"file {name} changed since the run"
        except OSError:
            return None, f"file {name} unreadable"
    return stored, "cache hit"


def make_staging_dir(run_dir: str) -> str:
    """Create an empty staging directory beside ``run_dir`` (same filesystem).

    Named ``.<basename>.tmp-XXXX``; a killed run leaves only such a directory,
    never a ``result.json`` in ``run_dir``.
    """
    parent = os.path.dirname(os.path.abspath(run_dir))
    os.makedirs(parent, exist_ok=True)
    return tempfile.mkdtemp(prefix=f".{os.path.basename(os.path.abspath(run_dir))}.tmp-", dir=parent)


def clean_stale_staging(run_dir: str) -> list[str]:
    """Remove staging/old directories that a killed run left beside ``run_dir``; return them."""
    parent = os.path.dirname(os.path.abspath(run_dir))
    base = os.path.basename(os.path.abspath(run_dir))
    removed = []
    if not os.path.isdir(parent):
        return removed
    for name in os.listdir(parent):
        if name.startswith(f".{base}.tmp-") or name.startswith(f".{base}.old-"):
            path = os.path.join(parent, name)
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def write_json_atomic(path: str, data: dict) -> None:
    """Write JSON via a temp file in the same directory + ``os.replace``."""
    d = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".json", dir=d)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=2, sort_keys=True, default=str)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; results are meant to be read by others
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def commit_run_dir(staging: str, run_dir: str, result: dict) -> None:
    """Write ``result.json`` into ``staging`` last, then swap it into ``run_dir``.

    The previous ``run_dir`` (if any) is moved aside and removed only after
    the new one is in place, so at every instant ``run_dir`` is either the
    old complete run or the new complete run (the window between the two
    renames has no ``run_dir`` at all, never a half-written one).
    """
    write_json_atomic(os.path.join(staging, RESULT_FILE), result)
    run_dir = os.path.abspath(run_dir)
    old = None
    if os.path.exists(run_dir):
        old = tempfile.mkdtemp(prefix=f".{os.path.basename(run_dir)}.old-", dir=os.path.dirname(run_dir))
        os.rmdir(old)
        os.rename(run_dir, old)
    os.rename(staging, run_dir)
    if old:
        shutil.rmtree(old, ignore_errors=True)


#: One benchmark at a time per machine: two LoadGen runs sharing the CPUs skew each other's figures,
#: and two runs of the same run directory would remove each other's staging directory.
RUN_LOCK_NAME = "fleetbench-mlperf-run.lock"
#: How long a run waits for another benchmark on the same machine before failing (seconds).
RUN_LOCK_TIMEOUT_S = 4 * 3600


class RunLockTimeout(Exception):
    """Another process held the machine's run lock for longer than the timeout."""


class run_lock:
    """Exclusive ``flock`` on ``<tmpdir>/fleetbench-mlperf-run.lock`` for the duration of a run.

    ``waited_s`` (float, seconds) tells how long the run waited for another one; the holder's pid is
    written into the file so that a timeout can name it. The kernel drops the lock when the holding
    process dies, so a killed run never blocks the next one.
    """

    def __init__(
        self, directory: str | None = None, timeout_s: float = RUN_LOCK_TIMEOUT_S, poll_s: float = 0.5
    ):
        self.path = os.path.join(directory or tempfile.gettempdir(), RUN_LOCK_NAME)
        self.timeout_s = timeout_s
        self.poll_s = poll_s
        self.waited_s = 0.0
        self._fd = None

    #: Lock files this process holds, path -> descriptor. A module normally holds its lock until its
    #: process exits; when modules run in one process (unit tests), the next run releases the last one.
    _held: dict = {}  # noqa: RUF012

    def __enter__(self) -> run_lock:
        import fcntl
        import time

        stale = run_lock._held.pop(self.path, None)
        if stale is not None:
            os.close(stale)
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        except PermissionError:
            # another user's lock file (tmpdir with sticky bit): lock per user instead
            self.path = f"{self.path}.{os.getuid()}"
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        start = time.monotonic()
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() - start > self.timeout_s:
                    holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
                    os.close(fd)
                    raise RunLockTimeout(
                        f"another benchmark (pid {holder}) held {self.path} for over {self.timeout_s:.0f} s"
                    ) from None
                time.sleep(self.poll_s)
        self.waited_s = round(time.monotonic() - start, 3)
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._fd = fd
        run_lock._held[self.path] = fd
        return self

    def __exit__(self, *exc) -> None:
        if self._fd is not None:
            run_lock._held.pop(self.path, None)
            os.close(self._fd)  # closing the descriptor releases the flock
            self._fd = None
