# Copyright: fleetbench.mlperf contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A vendor's PCI display and accelerator devices from Linux sysfs (stdlib only; runs on the target).

Used by the ``fleetbench.mlperf.pci_devices`` module (``roles/_common/tasks/gpu_present.yml``, for the
roles ``nvidia_driver`` and ``rocm``) to tell whether a host has their accelerator before anything is
installed.
"""

from __future__ import annotations

import os

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
