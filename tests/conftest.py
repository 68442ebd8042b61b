"""Shared pytest setup: make the collection importable as ansible_collections.fleetbench.mlperf, and
tests/fleetbench_testlib.py and the result-tree builders tests/fixtures/trees.py importable from every
test file."""

import contextlib
import sys
from pathlib import Path

# Import torch's compiler first: once an in-process module test has imported ansible's module_utils, their
# sys.intern patch makes torch._dynamo's polyfill registration raise TypeError, and the harness tests of the
# same pytest session that load transformers/diffusers models would fail (never the real harness: it runs in
# its own process, without Ansible).
with contextlib.suppress(ImportError):
    import torch._dynamo  # noqa: F401

HERE = Path(__file__).resolve().parent
# fleetbench_testlib (paths, the module-test harness) for every test file.
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from fleetbench_testlib import COLLECTIONS, FIXTURES, REPO, SHARED  # noqa: F401

for folder in (COLLECTIONS, FIXTURES):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))
