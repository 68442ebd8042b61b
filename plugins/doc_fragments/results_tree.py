# Copyright: fleetbench.mlperf contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Options of the controller modules that read a results tree and score it against the registry
(``mlperf_report``, ``mlperf_submission``): ``extends_documentation_fragment:
fleetbench.mlperf.results_tree``."""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  results_dir:
    description:
      - The controller's results tree (the playbooks' C(output_dir)) as the collect step writes it,
        C(<execution_mode>_results/<system>/<model>/<Scenario>/...) with a C(result.json) per run.
    type: path
    required: true
  registry_path:
    description:
      - The registry file (models, rounds, submission layouts), normally the collection's
        C(files/harness/fleetbench_harness/registry.yml); the C(results) role passes it
        (C(results_registry_path)).
      - Without it, C($FLEETBENCH_REGISTRY) in the module's environment, else the collection's copy
        beside the module's code, which exists only when the code runs from the collection itself (unit
        tests, the Python API), not from the payload Ansible sends; the module then fails saying so.
    type: path
"""
