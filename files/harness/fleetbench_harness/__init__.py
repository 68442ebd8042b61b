"""fleetbench_harness: an MLPerf Inference harness driven by the real LoadGen.

The package is the SUT-side half of fleetbench.mlperf: a LoadGen SUT + QSL for
image classification, backends (onnxruntime, PyTorch) behind one interface,
ImageNet-layout datasets with the registry's preprocessing, and the top-1
accuracy script. Everything model- or dataset-specific is read from the
package's ``registry.yml`` (see :mod:`fleetbench_harness.registry`).

Heavy libraries (torch, onnxruntime, PIL) are imported lazily so that a
cached re-run starts quickly.
"""

__version__ = "0.1.0"
