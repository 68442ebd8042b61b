"""Probe a SUT in one process (stdlib only; runs on the target).

Usage: ``python probe_sut.py DIR [TIMEOUT_S]``. Prints one JSON object::

    {"lscpu": {field: value},        # `lscpu -J`, fields without the trailing ':'
     "memory_kb": int,               # MemTotal from /proc/meminfo (KiB), 0 if unknown
     "disk_kb": int,                 # size of the filesystem holding DIR (KiB)
     "accelerators": [{"vendor": "nvidia"|"amd", "name": str, "memory_mb": int,
                       "max_mhz": int, "driver": str}],
     "errors": [str]}                # probes that failed (missing tools are not errors)

Sources: nvidia-smi --query-gpu fields (memory.total in MiB, clocks.max.sm in
MHz with ``nounits``); rocm-smi --json keys "Card Series"/"Card series",
"VRAM Total Memory (B)" (bytes), "Driver version".
"""

import json
import os
import shutil
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


def main():
    where = sys.argv[1] if len(sys.argv) > 1 else os.path.expanduser("~")
    timeout = float(sys.argv[2]) if len(sys.argv) > 2 else 20.0
    result = {"lscpu": {}, "memory_kb": 0, "disk_kb": 0, "accelerators": [], "errors": ERRORS}

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
