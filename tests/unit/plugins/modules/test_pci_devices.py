"""pci_devices module: vendor/class filtering on a fake sysfs tree (set_module_args pattern)."""

from ansible_collections.fleetbench.mlperf.plugins.modules import pci_devices
from fleetbench_testlib import run_module


def _device(root, slot, vendor, pci_class, device="0x1234"):
    folder = root / slot
    folder.mkdir(parents=True)
    (folder / "vendor").write_text(vendor + "\n")
    (folder / "class").write_text(pci_class + "\n")
    (folder / "device").write_text(device + "\n")


def test_finds_display_and_accelerator_devices_of_the_vendor_only(tmp_path):
    _device(tmp_path, "0000:02:00.0", "0x10de", "0x030200", "0x2335")  # NVIDIA 3D controller
    _device(tmp_path, "0000:01:00.0", "0x10de", "0x120000", "0x20b0")  # NVIDIA accelerator
    _device(tmp_path, "0000:03:00.0", "0x10de", "0x040300")  # NVIDIA audio function: not counted
    _device(tmp_path, "0000:04:00.0", "0x1002", "0x030000")  # AMD display: other vendor
    result = run_module(pci_devices, {"vendor": "0x10DE", "sysfs_root": str(tmp_path)}, check_mode=True)
    assert result["changed"] is False
    assert [d["slot"] for d in result["devices"]] == ["0000:01:00.0", "0000:02:00.0"]
    assert result["devices"][1] == {"slot": "0000:02:00.0", "class": "0x030200", "device": "0x2335"}


def test_missing_sysfs_gives_no_devices(tmp_path):
    result = run_module(pci_devices, {"vendor": "0x1002", "sysfs_root": str(tmp_path / "absent")})
    assert result["devices"] == []
