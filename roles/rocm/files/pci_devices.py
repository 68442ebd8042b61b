"""Print, as JSON, the PCI display/accelerator devices of one vendor (stdlib only).

argv[1]: PCI vendor id as sysfs writes it (e.g. 0x10de NVIDIA, 0x1002 AMD).
Output: [{"slot": "0000:01:00.0", "class": "0x030200", "device": "0x20b0"}, ...]
Counted: PCI class 0x03 (display controller) and 0x12 (processing accelerator),
from /sys/bus/pci/devices/*/{vendor,class,device} (Linux sysfs). No sysfs -> [].
"""

import json
import os
import sys

BASE = "/sys/bus/pci/devices"


def read(path):
    try:
        with open(path) as fh:
            return fh.read().strip().lower()
    except OSError:
        return ""


vendor = sys.argv[1].lower()
try:
    slots = sorted(os.listdir(BASE))
except OSError:
    slots = []
found = []
for slot in slots:
    cls = read(os.path.join(BASE, slot, "class"))
    if read(os.path.join(BASE, slot, "vendor")) == vendor and cls[:4] in ("0x03", "0x12"):
        found.append({"slot": slot, "class": cls, "device": read(os.path.join(BASE, slot, "device"))})
print(json.dumps(found))
