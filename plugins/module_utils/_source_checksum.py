# Copyright: fleetbench.mlperf contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The checksum of a source tree the harness role installs (controller side).

It is the one the harness role's marker (<venv>/fleetbench-harness.sha256) has always held, the
output of::

    cd SOURCE && find . -type f \\( -name "*.py" -o -name "*.yml" -o -name "*.txt" -o -name "*.toml"
        -o -name "*.md" \\) -not -path "*/__pycache__/*" -not -path "./tests/*" -not -path "./build/*"
        -not -path "*.egg-info/*" -print0 | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum

computed in the worker's own process (no shell, find and sha256sum per host and run), so that a
venv installed before keeps its marker.
"""

from __future__ import annotations

import fnmatch
import hashlib
import os

#: The files that make the installed harness (find -name ... in the pipeline above).
SUFFIXES = (".py", ".yml", ".txt", ".toml", ".md")
#: find -not -path patterns, matched against "./<relative path>" as find prints it.
EXCLUDED = ("*/__pycache__/*", "./tests/*", "./build/*", "*.egg-info/*")


def _file_sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def source_checksum(root: str) -> str:
    """sha256 (64 hex) of the ``sha256sum`` listing of ``root``'s harness files, sorted bytewise.

    :raises OSError: ``root`` is not a readable directory (find would print nothing and the
        checksum would silently be that of an empty listing).
    """
    if not os.path.isdir(root):
        raise FileNotFoundError(f"{root} is not a directory")
    found = []
    for dirpath, _dirnames, filenames in os.walk(root):
        for name in filenames:
            if not name.endswith(SUFFIXES):
                continue
            full = os.path.join(dirpath, name)
            if os.path.islink(full) or not os.path.isfile(full):  # find -type f: regular files only
                continue
            shown = "./" + os.path.relpath(full, root)
            if any(fnmatch.fnmatchcase(shown, pattern) for pattern in EXCLUDED):
                continue
            found.append((os.fsencode(shown), shown, full))
    listing = hashlib.sha256()
    for _key, shown, full in sorted(found):
        listing.update(f"{_file_sha256(full)}  {shown}\n".encode())
    return listing.hexdigest()
