"""fleetbench_harness: an MLPerf Inference harness driven by the real LoadGen.

The package is the SUT-side half of fleetbench.mlperf: a family-free LoadGen
core (:mod:`fleetbench_harness.loadgen`), engine-only backends
(:mod:`fleetbench_harness.backends`) and one folder per MLPerf task family
(:mod:`fleetbench_harness.tasks`: dataset, preprocessing, model build, workload,
accuracy script). Everything model- or dataset-specific is read from the
package's ``registry.yml`` (see :mod:`fleetbench_harness.registry`).

Heavy libraries (torch, onnxruntime, PIL) are imported lazily so that a
cached re-run starts quickly.
"""

__version__ = "0.1.0"
