#!/usr/bin/python
# Copyright: fleetbench.mlperf contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""fleetbench.mlperf.sut_probe: a SUT's CPU, memory, disk, NICs and accelerators in one module run.

The logic lives in ``plugins/module_utils/_sut_probe.py`` (:func:`run`, stdlib only); this file holds
the documentation and the argument spec.
"""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: sut_probe
short_description: Describe a SUT's CPU, memory, disk, NICs and accelerators
version_added: "0.1.0"
description:
  - Reads C(lscpu -J), C(/proc/meminfo), C(/proc/cpuinfo), C(statvfs) of O(work_dir) (or its nearest existing
    parent), sysfs (C(/sys/dev/block), C(/sys/class/net)) and, when installed, C(nvidia-smi) and C(rocm-smi),
    and returns what it found at the top level of the result.
  - Commands run as argv lists (no shell), each limited to O(timeout) seconds with coreutils C(timeout) when
    the target has it. A missing tool is not an error; a tool that fails or times out is listed in
    RV(errors) and the probe goes on.
  - Also reports whether O(work_dir) exists and the sha1 and mode of C(<work_dir>/system_desc_draft.json),
    so the C(sut_facts) role rewrites the draft only when it differs.
  - With O(facts=true) it also returns the minimal host facts the collection's roles read (subsets C(env),
    C(python), C(distribution), C(platform), C(user), from ansible-core's own fact collectors, as
    C(ansible.builtin.setup) gives them), so a play needs no separate C(setup) run before it.
  - Used by the C(fleetbench.mlperf.sut_facts) role. Reads only; never changes the host.
author: fleetbench.mlperf developers
extends_documentation_fragment:
  - fleetbench.mlperf.attributes
options:
  work_dir:
    description:
      - The SUT work directory (C(mlperf_work_dir)). It need not exist; the disk size is then the one of
        the filesystem holding its nearest existing parent. C(~) and environment variables are expanded on
        the SUT (RV(work_dir)).
    type: path
    required: true
  facts:
    description:
      - Also return the facts of the subsets C(env), C(python), C(distribution), C(platform) and C(user)
        (RV(ansible_facts)).
    type: bool
    default: false
  timeout:
    description:
      - Seconds allowed for each probe command (C(lscpu), C(nvidia-smi), C(rocm-smi)).
    type: int
    default: 20
attributes:
  check_mode:
    support: full
    description: The module only reads, so it runs unchanged in check mode.
  diff_mode:
    support: none
"""

EXAMPLES = r"""
- name: Probe CPU, memory, disk and accelerators
  fleetbench.mlperf.sut_probe:
    work_dir: /home/bench/fleetbench_mlperf
    timeout: 20
  register: probe

- name: Probe, and gather the minimal facts in the same module run (no setup task)
  fleetbench.mlperf.sut_probe:
    work_dir: ~/fleetbench_mlperf
    facts: true
  register: probe

- name: Say what was found
  ansible.builtin.debug:
    msg: >-
      {{ probe['lscpu']['Model name'] | default('unknown CPU') }},
      {{ probe['memory_kb'] // 1024 }} MiB, {{ probe['accelerators'] | length }} accelerator(s)
"""

RETURN = r"""
lscpu:
  description: "C(lscpu -J) as C({field: value}), field names without the trailing C(:); empty without lscpu."
  returned: always
  type: dict
  sample: {"Architecture": "x86_64", "CPU(s)": "16", "Model name": "AMD EPYC 9334 32-Core Processor"}
memory_kb:
  description: MemTotal from C(/proc/meminfo) in KiB, 0 if unknown.
  returned: always
  type: int
  sample: 131891300
disk_kb:
  description: Size in KiB of the filesystem holding O(work_dir) (or its nearest existing parent).
  returned: always
  type: int
  sample: 61255492
storage:
  description: Block device holding O(work_dir) (or its nearest existing parent), from sysfs.
  returned: always
  type: dict
  sample: {"device": "nvme0n1", "type": "NVMe SSD"}
  contains:
    device:
      description: Disk name (the parent disk of a partition), empty when unknown.
      type: str
    type:
      description: One of C(NVMe SSD), C(SSD), C(HDD), or empty when unknown.
      type: str
cpu_mhz:
  description: C(cpu MHz) of the first CPU in C(/proc/cpuinfo) (current clock, MHz), 0 if unknown.
  returned: always
  type: int
  sample: 2750
nics:
  description: Entries of C(/sys/class/net) backed by a device.
  returned: always
  type: list
  elements: dict
  sample: [{"name": "eth0", "speed_mbps": 25000}]
  contains:
    name:
      description: Interface name.
      type: str
    speed_mbps:
      description: Link speed in Mb/s, 0 when unknown.
      type: int
accelerators:
  description:
    - NVIDIA GPUs (C(nvidia-smi --query-gpu=name,memory.total,clocks.max.sm,driver_version
      --format=csv,noheader,nounits)) then AMD GPUs (C(rocm-smi --showproductname --showmeminfo vram
      --showdriverversion --json), keys "Card Series"/"Card series", "VRAM Total Memory (B)",
      "Driver version").
  returned: always
  type: list
  elements: dict
  sample:
    - {"vendor": "nvidia", "name": "NVIDIA H200", "memory_mb": 143771, "max_mhz": 1980, "driver": "550.54.15"}
  contains:
    vendor:
      description: C(nvidia) or C(amd).
      type: str
    name:
      description: Product name.
      type: str
    memory_mb:
      description: Device memory in MiB.
      type: int
    max_mhz:
      description: Maximum SM clock in MHz (NVIDIA); 0 when not reported (AMD).
      type: int
    driver:
      description: Driver version.
      type: str
dir_exists:
  description: Whether O(work_dir) is a directory already.
  returned: always
  type: bool
  sample: true
draft:
  description: sha1 and mode of C(<work_dir>/system_desc_draft.json) as it is, null when absent.
  returned: always
  type: dict
  sample: {"sha1": "2fd4e1c67a2d28fced849ee1bb76e7391b93eb12", "mode": "0644"}
work_dir:
  description: O(work_dir) as the SUT expanded it.
  returned: always
  type: str
  sample: /home/bench/fleetbench_mlperf
ansible_facts:
  description:
    - With O(facts=true), the facts of the subsets C(env), C(python), C(distribution), C(platform) and
      C(user), named as C(ansible.builtin.setup) names them (C(ansible_facts['env']['HOME']),
      C(ansible_facts['python']['version']), C(ansible_facts['distribution']),
      C(ansible_facts['kernel']), ...).
  returned: when O(facts=true)
  type: dict
  sample: {"env": {"HOME": "/home/bench"}, "distribution": "Ubuntu", "distribution_version": "24.04"}
errors:
  description: Probes that failed (non-zero exit, timeout, unparsable output); missing tools are not errors.
  returned: always
  type: list
  elements: str
  sample: ["nvidia-smi: exit 9: NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver"]
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.fleetbench.mlperf.plugins.module_utils import _sut_probe

ARGUMENT_SPEC = {
    "work_dir": {"type": "path", "required": True},
    "timeout": {"type": "int", "default": 20},
    "facts": {"type": "bool", "default": False},
}


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    module.exit_json(**_sut_probe.run(module))


if __name__ == "__main__":
    main()
