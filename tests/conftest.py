"""Shared pytest setup: make the collection importable as ansible_collections.fleetbench.mlperf, and
tests/fleetbench_testlib.py importable from every test file."""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
# fleetbench_testlib (paths, the module-test harness) for every test file.
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from fleetbench_testlib import COLLECTIONS, REPO, SHARED  # noqa: F401

if str(COLLECTIONS) not in sys.path:
    sys.path.insert(0, str(COLLECTIONS))
