"""Shared pytest setup: make the collection importable as ansible_collections.fleetbench.mlperf."""

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
COLLECTIONS = REPO / "collections"

if str(COLLECTIONS) not in sys.path:
    sys.path.insert(0, str(COLLECTIONS))
