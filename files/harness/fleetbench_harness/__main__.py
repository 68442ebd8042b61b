"""``python -m fleetbench_harness``: see :mod:`fleetbench_harness.cli`."""

import sys

from fleetbench_harness.cli import main

sys.exit(main())
