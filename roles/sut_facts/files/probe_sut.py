"""Probe a SUT in one process (stdlib only; runs on the target).

Usage: ``python probe_sut.py DIR [TIMEOUT_S]``. Prints one JSON object::

    {"lscpu": {field: value},        # `lscpu -J`, fields without the trailing ':'
     "memory_kb": int,               # MemTotal from /proc/meminfo (KiB), 0 if unknown
     "disk_kb": int,                 # size of the filesystem holding DIR (KiB)
     "storage": {"device": str, "type": "NVMe SSD"|"SSD"|"HDD"|""},   # block device under DIR
     "cpu_mhz": int,                 # /proc/cpuinfo "cpu MHz" of cpu0 (current; varies, so the
                                     # system description uses lscpu's max MHz only), 0 if unknown
     "nics": [{"name": str, "speed_mbps": int}],   # /sys/class/net entries backed by a device
     "accelerators": [{"vendor": "nvidia"|"amd", "name": str, "memory_mb": int,
                       "max_mhz": int, "driver": str}],
     "dir_exists": bool,             # DIR is a directory already
     "draft": {"sha1": str, "mode": "0644"} | None,  # DIR/system_desc_draft.json as it is
     "errors": [str]}                # probes that failed (missing tools are not errors)

Sources: nvidia-smi --query-gpu fields (memory.total in MiB, clocks.max.sm in
MHz with ``nounits``); rocm-smi --json keys "Card Series"/"Card series",
"VRAM Total Memory (B)" (bytes), "Driver version".
"""

import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys


def _run(argv, timeout):
    """Return stdout of argv, or None when the tool is missing or fails."""
    if shutil.which(argv[0]) is None:
        return None
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        ERRORS.append(f"{argv[0]}: {exc}")
        return None
    if proc.returncode != 0:
        ERRORS.append(f"{argv[0]}: exit {proc.returncode}: {proc.stderr.strip()[-200:]}")
        return None
    return proc.stdout


def _int(text, default=0):
    try:
        return int(float(str(text).strip().split()[0]))
    except (ValueError, IndexError):
        return default


def _flatten(entries, out):
    for entry in entries or []:
        out[str(entry.get("field", "")).rstrip(":")] = entry.get("data")
        _flatten(entry.get("children"), out)
    return out


ERRORS = []


def _read(path, default=""):
    try:
        with open(path, encoding="ascii", errors="replace") as fh:
            return fh.read().strip()
    except OSError:
        return default


def _storage(path):
    """Block device holding ``path`` and its kind, from sysfs (rotational flag, nvme name)."""
    try:
        dev = os.stat(path).st_dev
    except OSError:
        return {"device": "", "type": ""}
    sys_dev = f"/sys/dev/block/{os.major(dev)}:{os.minor(dev)}"
    if not os.path.exists(sys_dev):
        return {"device": "", "type": ""}
    real = os.path.realpath(sys_dev)
    name = os.path.basename(real)
    # a partition's queue/ lives in its parent disk's directory
    queue = os.path.join(real, "queue")
    if not os.path.isdir(queue):
        queue = os.path.join(os.path.dirname(real), "queue")
        name = os.path.basename(os.path.dirname(real))
    rotational = _read(os.path.join(queue, "rotational"))
    if name.startswith("nvme"):
        kind = "NVMe SSD"
    elif rotational:
        kind = "HDD" if rotational == "1" else "SSD"
    else:
        kind = ""
    return {"device": name, "type": kind}


def _cpu_mhz():
    for line in _read("/proc/cpuinfo").splitlines():
        if line.lower().startswith("cpu mhz"):
            return _int(line.split(":", 1)[1])
    return 0


def _nics():
    root = "/sys/class/net"
    try:
        names = sorted(os.listdir(root))
    except OSError:
        return []
    nics = []
    for name in names:
        if os.path.exists(os.path.join(root, name, "device")):
            speed = _int(_read(os.path.join(root, name, "speed"), "0"))
            nics.append({"name": name, "speed_mbps": max(speed, 0)})
    return nics


def _draft(where):
    """sha1 and mode of the draft written last time (None when absent): an equal one is not rewritten."""
    path = os.path.join(where, "system_desc_draft.json")
    try:
        with open(path, "rb") as fh:
            data = fh.read()
            mode = stat.S_IMODE(os.fstat(fh.fileno()).st_mode)
    except OSError:
        return None
    return {"sha1": hashlib.sha1(data).hexdigest(), "mode": format(mode, "04o")}


def main():
    where = sys.argv[1] if len(sys.argv) > 1 else os.path.expanduser("~")
    timeout = float(sys.argv[2]) if len(sys.argv) > 2 else 20.0
    result = {
        "lscpu": {},
        "memory_kb": 0,
        "disk_kb": 0,
        "accelerators": [],
        "dir_exists": os.path.isdir(where),
        "draft": _draft(where),
        "errors": ERRORS,
    }

    out = _run(["lscpu", "-J"], timeout)
    if out:
        try:
            result["lscpu"] = _flatten(json.loads(out).get("lscpu"), {})
        except ValueError as exc:
            ERRORS.append(f"lscpu: {exc}")

    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemTotal:"):
                    result["memory_kb"] = _int(line.split(":", 1)[1])
    except OSError as exc:
        ERRORS.append(f"/proc/meminfo: {exc}")

    probe = where
    while probe and not os.path.exists(probe):
        probe = os.path.dirname(probe)
    try:
        st = os.statvfs(probe or "/")
        result["disk_kb"] = st.f_blocks * st.f_frsize // 1024
    except OSError as exc:
        ERRORS.append(f"statvfs: {exc}")

    result["storage"] = _storage(probe or "/")
    result["cpu_mhz"] = _cpu_mhz()
    result["nics"] = _nics()

    out = _run(
        [
            "nvidia-smi",
            "--query-gpu=name,memory.total,clocks.max.sm,driver_version",
            "--format=csv,noheader,nounits",
        ],
        timeout,
    )
    for line in (out or "").splitlines():
        fields = [f.strip() for f in line.split(",")]
        if fields and fields[0]:
            fields += [""] * 4
            result["accelerators"].append(
                {
                    "vendor": "nvidia",
                    "name": fields[0],
                    "memory_mb": _int(fields[1]),
                    "max_mhz": _int(fields[2]),
                    "driver": fields[3],
                }
            )

    out = _run(
        ["rocm-smi", "--showproductname", "--showmeminfo", "vram", "--showdriverversion", "--json"], timeout
    )
    if out:
        try:
            cards = json.loads(out)
        except ValueError as exc:
            ERRORS.append(f"rocm-smi: {exc}")
            cards = {}
        driver = str((cards.get("system") or {}).get("Driver version", ""))
        for key, info in sorted(cards.items()):
            if key.startswith("card") and isinstance(info, dict):
                result["accelerators"].append(
                    {
                        "vendor": "amd",
                        "name": str(info.get("Card Series") or info.get("Card series") or ""),
                        "memory_mb": _int(info.get("VRAM Total Memory (B)", 0)) // 1048576,
                        "max_mhz": 0,
                        "driver": str(info.get("Driver version") or driver),
                    }
                )

    json.dump(result, sys.stdout, sort_keys=True)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
