# Copyright: fleetbench.mlperf contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run stamps: the controller's record of a SUT's last complete run, and the test that it is current.

Stdlib only: the digest half runs on the SUTs (module ``path_digests``), the rest on the
controller (action ``run_stamp``).

A SUT is *current* when a cached re-run would do nothing on it: its last complete run
(provision, benchmark and collect all succeeded) was recorded in a stamp, and since then

* the run's inputs are the same - the fingerprint (:func:`fingerprint`) of the resolved
  request, every variable the collection declares as an input (raw, untemplated), the
  collection's own files (:func:`content_digest`) and an out-of-collection harness source;
* the host did not fail since (its ``hosts.json`` entry, when there is one, says ``ok``);
* the controller's copy of the results is the one that was fetched - the pack marker
  (``_pack.MARKER``) still has the recorded checksum and every file it lists is there,
  unchanged in size and mtime (``_pack.copy_problem``);
* every ``result.json`` of that copy was made for this request: its ``request`` record (the
  fields that decide what a run holds, ``_run.REQUEST_RECORD_FIELDS``) equals the request's
  (:func:`request_problem`), so a copy holding another request's runs is never "current";
* only when asked to verify the SUT: the SUT files the results depend on are untouched -
  :func:`path_digest` of each path the benchmark role named (venv markers and interpreter,
  model file, dataset cache, the SUT's results tree, the system description draft) and the
  entry names of the venv's site-packages (an install, removal or upgrade changes them).

What a stamp cannot see: OS packages, drivers and hardware changed on the SUT (a full run
does not re-measure for those either - its result cache ignores them too).

Stamp file (JSON, one per inventory host, ``<output_dir>/.fleetbench-state/<host>.json``)::

    {"schema": 1, "host": str, "recorded": iso8601, "fingerprint": sha256-hex,
     "parts": {part name: sha256-hex},   # "request:<field>", "collection", "harness_source", "var:<name>"
     "digests": {key: digest | None},    # keys "tree:<path>" / "names:<path>" (see digests())
     "results_local_root": str, "pack_checksum": sha256-hex, "facts": {name: value}}
"""

from __future__ import annotations

import datetime as _dt
import glob
import hashlib
import json
import os

from ansible_collections.fleetbench.mlperf.plugins.module_utils._run import record_differences
from ansible_collections.fleetbench.mlperf.plugins.module_utils._user_conf import (
    read_json_dict,
    write_json_atomic,
)

SCHEMA = 1
STAMP_DIR = ".fleetbench-state"
# Directories never part of a content digest (caches and build output, not inputs).
SKIP_DIRS = frozenset({"__pycache__", "build", "tests", ".pytest_cache", ".ruff_cache"})


def _sha(text):
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _canonical(value):
    """JSON text of ``value`` with sorted keys; objects JSON cannot encode are written as ``str()``."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def _entry(path, rel):
    try:
        st = os.lstat(path)
    except OSError:
        return None
    if os.path.islink(path):
        try:
            return f"l {rel} {os.readlink(path)}"
        except OSError:
            return f"l {rel} ?"
    if os.path.isdir(path):
        return f"d {rel}"
    return f"f {rel} {st.st_size} {st.st_mtime_ns}"


def _one_digest(path, names_only):
    if not os.path.lexists(path):
        return None
    if names_only:
        try:
            return _sha("\n".join(sorted(os.listdir(path))))
        except OSError:
            return None
    if os.path.isdir(path) and not os.path.islink(path):
        lines = []
        for dirpath, dirnames, filenames in os.walk(path):
            dirnames.sort()
            rel_dir = os.path.relpath(dirpath, path)
            for name in sorted(dirnames + filenames):
                rel = name if rel_dir == "." else f"{rel_dir}/{name}"
                line = _entry(os.path.join(dirpath, name), rel)
                if line is not None:
                    lines.append(line)
        return _sha("D\n" + "\n".join(lines))
    # A file (stat follows a symlink here: an interpreter link whose target is replaced counts).
    try:
        st = os.stat(path)
    except OSError:
        return None
    return _sha(f"F {st.st_size} {st.st_mtime_ns}")


def path_digest(pattern, names_only=False):
    """Digest of what matches ``pattern`` (a path or a ``glob`` pattern); None when nothing matches.

    A file: its size and mtime (ns) after following symlinks. A directory: every entry below it
    (relative name; size and mtime in ns for files, the target for symlinks), recursively.
    ``names_only``: the sorted entry names of each matched directory, nothing else (for
    site-packages, where an install, removal or upgrade adds or renames entries).
    Several matches are digested in sorted order. Returns a sha256 hex string.
    """
    matches = sorted(glob.glob(pattern)) if glob.has_magic(pattern) else [pattern]
    parts = [(m, _one_digest(m, names_only)) for m in matches]
    parts = [(m, d) for m, d in parts if d is not None]
    if not parts:
        return None
    if len(parts) == 1 and parts[0][0] == pattern:
        return parts[0][1]
    return _sha("\n".join(f"{m} {d}" for m, d in parts))


def digests(paths=(), names_only=()):
    """``{"tree:<path>": digest, "names:<path>": digest}`` for every entry (None when absent)."""
    out = {f"tree:{p}": path_digest(p) for p in paths}
    out.update({f"names:{p}": path_digest(p, names_only=True) for p in names_only})
    return out


def mismatched(expected, actual):
    """Sorted keys whose digest in ``actual`` differs from ``expected`` (missing keys count)."""
    return sorted(k for k in set(expected) | set(actual) if expected.get(k) != actual.get(k))


def content_sha1(path):
    """sha1 hex of the regular file ``path``'s content (symlinks followed), or None when it is not one.

    The digest ``ansible.builtin.stat`` gives with ``checksum_algorithm: sha1``, so a role compares it
    with ``'text' | hash('sha1')`` as it did with stat, for several files in one module run.
    """
    if not os.path.isfile(path):
        return None
    h = hashlib.sha1()
    try:
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    except OSError:
        return None
    return h.hexdigest()


def compare_digests(paths=(), names_only=(), expected=None, checksums=()):
    """The ``path_digests`` module's result: ``{digests, mismatched, unchanged, checksums, changed: False}``.

    ``mismatched`` lists the keys that differ from ``expected`` (empty without it); ``unchanged`` is
    true only when ``expected`` was given and nothing differs. ``checksums`` maps each of the
    ``checksums`` files to :func:`content_sha1` (None: absent).
    """
    found = digests(paths, names_only)
    diff = mismatched(expected, found) if expected is not None else []
    return {
        "changed": False,
        "digests": found,
        "mismatched": diff,
        "unchanged": expected is not None and not diff,
        "checksums": {path: content_sha1(path) for path in checksums},
    }


def content_digest(root, subdirs):
    """sha256 over the relative names and contents of every file below ``root/<subdir>``.

    Directories in ``SKIP_DIRS`` and names ending in ``.egg-info`` are left out. Missing
    subdirectories contribute nothing. Used on the controller for the collection's own files.
    """
    h = hashlib.sha256()
    for sub in subdirs:
        base = os.path.join(root, sub)
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS and not d.endswith(".egg-info"))
            for name in sorted(filenames):
                if name.endswith(".pyc"):
                    continue
                path = os.path.join(dirpath, name)
                rel = os.path.relpath(path, root)
                try:
                    with open(path, "rb") as fh:
                        data = fh.read()
                except OSError:
                    continue
                h.update(f"{rel}\0{len(data)}\0".encode())
                h.update(data)
    return h.hexdigest()


#: Request fields that say what to do this time, not what the results are of: a plain run after a
#: completed ``rerun=true`` is current (``regenerate_files`` has no effect, a warning says so).
NOT_FINGERPRINTED = frozenset({"rerun", "regenerate_files"})


def fingerprint_parts(request, inputs, collection, harness_source=None):
    """``{part: sha256}``: one "request:<field>" per request field (not :data:`NOT_FINGERPRINTED`),
    "collection", one "var:<name>" per input, "harness_source".

    ``request`` is the resolved request (dict), ``inputs`` maps input variable names to their
    raw values (None and "" count as not given: ``-e x=`` is the same input as no ``x``),
    ``collection`` and ``harness_source`` are content digests (the latter None when the harness
    source is the collection's own).
    """
    parts = {
        f"request:{field}": _sha(_canonical(value))
        for field, value in request.items()
        if field not in NOT_FINGERPRINTED
    }
    parts["collection"] = collection
    parts.update(
        {f"var:{name}": _sha(_canonical(value)) for name, value in inputs.items() if value not in (None, "")}
    )
    if harness_source:
        parts["harness_source"] = harness_source
    return parts


def fingerprint(parts):
    """One sha256 over every part (order-independent)."""
    return _sha(_canonical({"schema": SCHEMA, "parts": parts}))


def changed_parts(old, new):
    """Human names of the parts that differ: "request field count", "the collection's files", "hw_name"."""
    names = []
    for key in sorted(set(old) | set(new)):
        if old.get(key) == new.get(key):
            continue
        if key.startswith("var:"):
            names.append(key[4:])
        elif key.startswith("request:"):
            names.append(f"request field {key[8:]}")
        else:
            names.append({"collection": "the collection's files"}.get(key, key))
    return names


def read_stamp(path):
    """The stamp at ``path`` (dict), or None when absent, unreadable or of another schema."""
    data = read_json_dict(path)
    return data if data is not None and data.get("schema") == SCHEMA else None


def same_record(old, new):
    """True when two stamps differ at most in their ``recorded`` time."""
    if old is None:
        return False
    strip = {k: v for k, v in old.items() if k != "recorded"}
    return strip == {k: v for k, v in new.items() if k != "recorded"}


def write_stamp(path, data):
    """Write ``data`` as JSON to ``path`` atomically (temp file + fsync + rename), creating its directory."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    write_json_atomic(path, data)


def now_iso():
    return _dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat()


def host_status(hosts_file, host):
    """``host``'s entry in ``hosts.json`` (the mlperf_hosts callback's record), or None.

    None as well when the file is absent or unreadable (the callback may be disabled).
    """
    if not hosts_file or not host:
        return None
    entry = (read_json_dict(hosts_file) or {}).get(str(host))
    return entry if isinstance(entry, dict) else None


def request_problem(local_root, request):
    """Why the controller's copy in ``local_root`` does not hold ``request``'s runs, or None.

    Every ``result.json`` below ``local_root`` must carry a ``request`` record equal to the
    request's (``_run.record_differences``); the first one that does not is named, with the
    fields that differ ("Offline/performance/run_1: test_query_count 12 -> 11").
    """
    if not local_root or not os.path.isdir(local_root):
        return None
    for dirpath, dirnames, filenames in os.walk(local_root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        if "result.json" not in filenames:
            continue
        rel = os.path.relpath(dirpath, local_root)
        stored = read_json_dict(os.path.join(dirpath, "result.json")) or {}
        if not isinstance(stored.get("request"), dict):
            return f"the controller's copy of {rel} records no request (an older run)"
        differences = record_differences(stored["request"], request)
        if differences:
            return f"the controller's copy of {rel} is another request's: " + ", ".join(differences)
    return None
