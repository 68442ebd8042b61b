#!/usr/bin/python
# Copyright: fleetbench.mlperf contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""fleetbench.mlperf.pci_devices: a vendor's PCI display/accelerator devices from Linux sysfs.

The logic lives in ``plugins/module_utils/_pci_devices.py`` (:func:`find_devices`, stdlib only); this
file holds the documentation and the argument spec.
"""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: pci_devices
short_description: List the PCI display and accelerator devices of one vendor
description:
  - Reads C(/sys/bus/pci/devices/*/{vendor,class,device}) (Linux sysfs) and returns the devices of
    I(vendor) whose PCI class is 0x03 (display controller) or 0x12 (processing accelerator).
  - Used by the C(nvidia_driver) and C(rocm) roles (the internal role C(_common), C(gpu_present.yml)) to
    decide whether a host has their accelerator before anything is installed. A host without sysfs returns
    an empty list.
  - Reads only; never changes the host.
version_added: "0.1.0"
author: fleetbench.mlperf developers
extends_documentation_fragment:
  - fleetbench.mlperf.attributes
options:
  vendor:
    description:
      - PCI vendor id as sysfs writes it, for example C(0x10de) (NVIDIA) or C(0x1002) (AMD).
    type: str
    required: true
  sysfs_root:
    description:
      - Directory holding one folder per PCI device (tests point it at a fake tree).
    type: path
    default: /sys/bus/pci/devices
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
"""

EXAMPLES = r"""
- name: Look for NVIDIA GPUs
  fleetbench.mlperf.pci_devices:
    vendor: "0x10de"
  register: nvidia_pci

- name: Say how many were found
  ansible.builtin.debug:
    msg: "{{ nvidia_pci.devices | length }} NVIDIA device(s)"
"""

RETURN = r"""
devices:
  description: The matching devices, sorted by slot.
  returned: always
  type: list
  elements: dict
  sample: [{"slot": "0000:01:00.0", "class": "0x030200", "device": "0x20b0"}]
  contains:
    slot:
      description: PCI address (domain:bus:device.function).
      type: str
    class:
      description: PCI class code as sysfs prints it.
      type: str
    device:
      description: PCI device id.
      type: str
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.fleetbench.mlperf.plugins.module_utils import _pci_devices

ARGUMENT_SPEC = {
    "vendor": {"type": "str", "required": True},
    "sysfs_root": {"type": "path", "default": "/sys/bus/pci/devices"},
}


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    p = module.params
    module.exit_json(changed=False, devices=_pci_devices.find_devices(p["vendor"], p["sysfs_root"]))


if __name__ == "__main__":
    main()
