# Copyright: fleetbench.mlperf contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Deterministic tar of a results tree (SUT side) and its safe unpacking (controller side).

Stdlib only: the packing half runs on the SUTs.

The archive of a tree is a function of the files' relative paths and contents only:
members sorted by name, regular files only (hidden files and directories skipped, as
``find hidden=false`` did), mtime 0, uid/gid 0, no owner names, mode 0644, so an unchanged
tree always gives the same sha256 and collect can skip the transfer.

:func:`run` is the ``fleetbench.mlperf.mlperf_pack`` module (both states).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
import tempfile

from ansible_collections.fleetbench.mlperf.plugins.module_utils._module import ModuleFailure
from ansible_collections.fleetbench.mlperf.plugins.module_utils._user_conf import read_json_dict

MARKER = ".fleetbench-pack.json"
_CHUNK = 1 << 20


class PackError(Exception):
    """A tree that cannot be packed or an archive that cannot be unpacked."""


def list_tree(root, extra=None):
    """Return sorted ``[(name, path)]`` of the regular, non-hidden files below ``root``.

    ``extra`` maps archive names to paths added when they exist (they replace a tree file of the
    same name).
    """
    root = os.path.abspath(root)
    members = {}
    if os.path.isdir(root):
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            rel = os.path.relpath(dirpath, root)
            for fname in filenames:
                if fname.startswith("."):
                    continue
                path = os.path.join(dirpath, fname)
                if os.path.islink(path) or not os.path.isfile(path):
                    continue
                name = fname if rel == "." else "/".join([*rel.split(os.sep), fname])
                members[name] = path
    for name, path in sorted((extra or {}).items()):
        if path and os.path.isfile(path):
            members[_check_name(name)] = path
    return sorted(members.items())


def _check_name(name):
    parts = str(name).replace("\\", "/").split("/")
    if not name or str(name).startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise PackError(f"unsafe archive member name: {name!r}")
    return "/".join(parts)


class _HashWriter(io.RawIOBase):
    """A write-only file object that hashes what is written and forwards it to ``sink``."""

    def __init__(self, sink=None):
        super().__init__()
        self.sha = hashlib.sha256()
        self.sink = sink

    def writable(self):
        return True

    def write(self, data):
        self.sha.update(data)
        if self.sink is not None:
            self.sink.write(data)
        return len(data)


def _write_tar(members, fileobj):
    with tarfile.open(fileobj=fileobj, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        for name, path in members:
            with open(path, "rb") as fh:
                size = os.fstat(fh.fileno()).st_size
                info = tarfile.TarInfo(name)
                info.size = size
                info.mtime = 0
                info.mode = 0o644
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                tar.addfile(info, fh)


def pack(root, dest=None, extra=None, known_checksum=None, check_mode=False):
    """Pack ``root`` (+ ``extra``) deterministically.

    Returns ``{"checksum", "files", "archive", "changed"}``. The archive is written
    to ``dest`` only when its sha256 differs from ``known_checksum`` (``changed`` true) and not
    in check mode; otherwise nothing is written and ``archive`` is None.
    """
    members = list_tree(root, extra)
    tree_files = len(members)
    hasher = _HashWriter()
    _write_tar(members, hasher)
    checksum = hasher.sha.hexdigest()
    result = {
        "checksum": checksum,
        "files": tree_files,
        "archive": None,
        "changed": checksum != (known_checksum or ""),
    }
    if result["changed"] and dest and not check_mode:
        dest = os.path.abspath(dest)
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".pack-", dir=os.path.dirname(dest))
        try:
            with os.fdopen(fd, "wb") as fh:
                writer = _HashWriter(fh)
                _write_tar(members, writer)
            if writer.sha.hexdigest() != checksum:
                raise PackError(f"{root} changed while it was packed; run again")
            os.replace(tmp, dest)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        result["archive"] = dest
    return result


def file_sha256(path):
    sha = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(_CHUNK), b""):
            sha.update(chunk)
    return sha.hexdigest()


def _stat(path):
    st = os.stat(path)
    return [st.st_size, st.st_mtime_ns]


def read_marker(dest):
    """The marker of the last unpack into ``dest`` (``{checksum, names, stat}``) or None."""
    return read_json_dict(os.path.join(dest, MARKER))


def unpack(archive, dest, checksum=None, check_mode=False):
    """Unpack ``archive`` into ``dest``; rewrite only files whose content differs.

    Files in ``dest`` that are not in the archive are kept. Members must be regular files with
    relative names inside ``dest``. Writes ``dest/.fleetbench-pack.json`` (``checksum``, member
    ``names`` and their ``stat`` as ``[size, mtime_ns]`` after the unpack) so the next collect can
    tell whether the SUT's tree changed and whether this copy is still as unpacked. Returns
    ``{"changed", "written": [names], "files": n, "checksum"}``.
    """
    actual = file_sha256(archive)
    if checksum and actual != checksum:
        raise PackError(f"{archive}: sha256 {actual} differs from the packed {checksum}")
    dest = os.path.abspath(dest)
    written = []
    names = []
    with tarfile.open(archive, mode="r:") as tar:
        for info in tar:
            if not info.isfile():
                raise PackError(f"{archive}: member {info.name!r} is not a regular file")
            name = _check_name(info.name)
            names.append(name)
            target = os.path.join(dest, *name.split("/"))
            if os.path.commonpath([dest, target]) != dest:
                raise PackError(f"{archive}: member {name!r} leaves {dest}")
            data = tar.extractfile(info).read()
            if os.path.isfile(target) and not os.path.islink(target):
                with open(target, "rb") as fh:
                    if fh.read() == data:
                        continue
            written.append(name)
            if check_mode:
                continue
            os.makedirs(os.path.dirname(target), exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".unpack-", dir=os.path.dirname(target))
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.chmod(tmp, 0o644)
            os.replace(tmp, target)
    marker = {"checksum": actual, "names": names}
    if not check_mode:
        marker["stat"] = {n: _stat(os.path.join(dest, *n.split("/"))) for n in names}
    changed = bool(written) or read_marker(dest) != marker
    if changed and not check_mode:
        os.makedirs(dest, exist_ok=True)
        with open(os.path.join(dest, MARKER), "w", encoding="utf-8") as fh:
            json.dump(marker, fh, indent=1, sort_keys=True)
    return {"changed": changed, "written": written, "files": len(names), "checksum": actual}


def copy_problem(dest, checksum=None):
    """Why ``dest`` is not intact as the last unpack left it (str), or None when it is.

    Intact: the marker is there (and has ``checksum`` when one is given), every file it lists
    exists and, when the marker has ``stat``, still has that size and mtime (so an edited file
    counts, without reading any content).
    """
    marker = read_marker(dest)
    if not marker:
        return f"the controller has no unpacked copy in {dest}"
    if checksum is not None and marker.get("checksum") != checksum:
        return "the controller's copy was fetched from a later or other run"
    stats = marker.get("stat") or {}
    missing, edited = [], []
    for name in marker.get("names") or []:
        path = os.path.join(dest, *str(name).split("/"))
        try:
            now = _stat(path)
        except OSError:
            missing.append(name)
            continue
        if name in stats and list(stats[name]) != now:
            edited.append(name)
    if missing:
        return f"{len(missing)} file(s) of the controller's copy are gone (e.g. {missing[0]})"
    if edited:
        return f"{len(edited)} file(s) of the controller's copy were changed (e.g. {edited[0]})"
    return None


def intact_checksum(dest):
    """The marker's checksum when ``dest`` is intact (:func:`copy_problem`), else ``""``."""
    if copy_problem(dest) is not None:
        return ""
    return (read_marker(dest) or {}).get("checksum") or ""


def run(module):
    """The ``mlperf_pack`` module: ``module.params`` (its argument spec) -> the ``exit_json`` dict.

    ``state=packed``: :func:`pack` of ``path`` (+ ``extra_files``, ``~`` expanded); an empty tree
    fails with ``require_files`` (a note in check mode: the benchmark would fill it).
    ``state=unpacked``: :func:`unpack` of the archive ``path`` into ``dest``. A :class:`PackError`
    or ``OSError`` becomes a :class:`ModuleFailure`.
    """
    p = module.params
    try:
        if p["state"] == "unpacked":
            if not os.path.isfile(p["path"]):
                raise ModuleFailure(f"mlperf_pack: no archive at {p['path']}")
            return unpack(p["path"], p["dest"], checksum=p["checksum"], check_mode=module.check_mode)
        if p["require_files"] and not list_tree(p["path"]):
            if module.check_mode:
                # --check on a SUT not benchmarked yet: the runs that would fill the tree did not happen.
                return {
                    "changed": True,
                    "checksum": None,
                    "files": 0,
                    "archive": None,
                    "msg": f"check mode: no results under {p['path']} yet; the benchmark would write them",
                }
            raise ModuleFailure(
                f"results: no files under {p['path']} (benchmark not run, or another execution_mode?)"
            )
        extra = {str(k): os.path.expanduser(str(v)) for k, v in (p["extra_files"] or {}).items()}
        return pack(
            p["path"],
            dest=p["dest"],
            extra=extra,
            known_checksum=p["known_checksum"],
            check_mode=module.check_mode,
        )
    except (PackError, OSError) as exc:
        raise ModuleFailure(f"mlperf_pack: {exc}") from exc
