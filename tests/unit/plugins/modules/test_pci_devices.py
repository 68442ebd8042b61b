"""pci_devices module and _pci_devices: vendor/class filtering on a fake sysfs tree."""

from ansible_collections.fleetbench.mlperf.plugins.module_utils import _pci_devices
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


def test_device_folder_without_sysfs_files_is_skipped(tmp_path):
    (tmp_path / "0000:05:00.0").mkdir()  # a slot whose vendor/class files cannot be read
    _device(tmp_path, "0000:06:00.0", "0x1002", "0x038000", "0x74a1")  # 0x0380: other display ctrl
    assert _pci_devices.find_devices("0x1002", str(tmp_path)) == [
        {"slot": "0000:06:00.0", "class": "0x038000", "device": "0x74a1"}
    ]
