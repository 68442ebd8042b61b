#!/usr/bin/python
"""List a vendor's PCI display/accelerator devices from Linux sysfs (stdlib only)."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: pci_devices
short_description: List the PCI display and accelerator devices of one vendor
description:
  - Reads C(/sys/bus/pci/devices/*/{vendor,class,device}) (Linux sysfs) and returns the devices of
    I(vendor) whose PCI class is 0x03 (display controller) or 0x12 (processing accelerator).
  - Used by the C(nvidia_driver) and C(rocm) roles to decide whether a host has their accelerator
    before anything is installed. A host without sysfs returns an empty list.
  - Reads only; never changes the host.
version_added: "0.1.0"
author: fleetbench.mlperf developers
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

import os

from ansible.module_utils.basic import AnsibleModule

# PCI base classes: 0x03 display controller, 0x12 processing accelerator (PCI Code and ID Assignment spec).
ACCELERATOR_CLASS_PREFIXES = ("0x03", "0x12")


def _read(path: str) -> str:
    try:
        with open(path, encoding="ascii", errors="replace") as handle:
            return handle.read().strip().lower()
    except OSError:
        return ""


def find_devices(vendor: str, sysfs_root: str) -> list[dict]:
    """Return ``[{slot, class, device}]`` of ``vendor``'s display/accelerator devices under ``sysfs_root``."""
    vendor = vendor.lower()
    try:
        slots = sorted(os.listdir(sysfs_root))
    except OSError:
        return []
    found = []
    for slot in slots:
        base = os.path.join(sysfs_root, slot)
        pci_class = _read(os.path.join(base, "class"))
        if _read(os.path.join(base, "vendor")) == vendor and pci_class[:4] in ACCELERATOR_CLASS_PREFIXES:
            found.append({"slot": slot, "class": pci_class, "device": _read(os.path.join(base, "device"))})
    return found


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "vendor": {"type": "str", "required": True},
            "sysfs_root": {"type": "path", "default": "/sys/bus/pci/devices"},
        },
        supports_check_mode=True,
    )
    devices = find_devices(module.params["vendor"], module.params["sysfs_root"])
    module.exit_json(changed=False, devices=devices)


if __name__ == "__main__":
    main()
