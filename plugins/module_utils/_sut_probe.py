# Copyright: fleetbench.mlperf contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Probe a SUT: CPU, memory, disk, NICs and accelerators (stdlib only; runs on the target).

Used by the ``fleetbench.mlperf.sut_probe`` module (role ``sut_facts``). External commands
(``lscpu``, ``nvidia-smi``, ``rocm-smi``) go through a runner callable
``run(argv, timeout) -> str | None`` so that the module can use ``module.run_command`` and tests
can feed stand-in outputs: it returns the command's stdout, ``None`` when the tool is not
installed (not an error), and raises :class:`CommandFailed` when the tool ran and failed (non-zero
exit, timeout); the probe records that failure in ``errors`` and goes on. :func:`run` is the
module: :func:`probe` with :func:`module_runner`.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import subprocess

DRAFT_NAME = "system_desc_draft.json"

NVIDIA_SMI_ARGV = [
    "nvidia-smi",
    "--query-gpu=name,memory.total,clocks.max.sm,driver_version",
    "--format=csv,noheader,nounits",
]
ROCM_SMI_ARGV = ["rocm-smi", "--showproductname", "--showmeminfo", "vram", "--showdriverversion", "--json"]
LSCPU_ARGV = ["lscpu", "-J"]
# coreutils `timeout` exits 124 when the command timed out (137 when it had to be killed).
TIMED_OUT_RCS = (124, 137)


class CommandFailed(Exception):
    """A probe command ran and failed; the message says how (``exit 9: <stderr tail>``, ``timed out ...``)."""


def run_subprocess(argv, timeout):
    """Default runner (plain ``subprocess``): stdout of ``argv``, ``None`` when the tool is missing.

    Raises :class:`CommandFailed` on a non-zero exit (with the last 200 characters of stderr), a
    timeout or an OS error.
    """
    if shutil.which(argv[0]) is None:
        return None
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        raise CommandFailed(f"timed out after {timeout}s") from exc
    except OSError as exc:
        raise CommandFailed(str(exc)) from exc
    if proc.returncode != 0:
        raise CommandFailed(f"exit {proc.returncode}: {proc.stderr.strip()[-200:]}")
    return proc.stdout


def _call(run, argv, timeout, errors):
    """``run(argv, timeout)``; a :class:`CommandFailed` becomes an ``errors`` entry and ``None``."""
    try:
        return run(argv, timeout)
    except CommandFailed as exc:
        errors.append(f"{argv[0]}: {exc}")
        return None


def _int(text, default=0):
    try:
        return int(float(str(text).strip().split()[0]))
    except (ValueError, IndexError):
        return default


def _read(path, default=""):
    try:
        with open(path, encoding="ascii", errors="replace") as fh:
            return fh.read().strip()
    except OSError:
        return default


def flatten_lscpu(entries, out=None):
    """``lscpu -J``'s ``lscpu`` list (entries with ``field``/``data``/``children``) as ``{field: data}``.

    Field names lose their trailing ``:``; children (newer util-linux nests them) are flattened too.
    """
    out = {} if out is None else out
    for entry in entries or []:
        out[str(entry.get("field", "")).rstrip(":")] = entry.get("data")
        flatten_lscpu(entry.get("children"), out)
    return out


def lscpu(run, timeout, errors):
    """``lscpu -J`` flattened (see :func:`flatten_lscpu`); ``{}`` without lscpu or on failure."""
    out = _call(run, LSCPU_ARGV, timeout, errors)
    if not out:
        return {}
    try:
        return flatten_lscpu(json.loads(out).get("lscpu"))
    except (ValueError, AttributeError) as exc:
        errors.append(f"lscpu: {exc}")
        return {}


def memory_kb(errors, meminfo="/proc/meminfo"):
    """MemTotal in KiB from ``/proc/meminfo``; 0 when unknown (an unreadable file is an error)."""
    try:
        with open(meminfo, encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("MemTotal:"):
                    return _int(line.split(":", 1)[1])
    except OSError as exc:
        errors.append(f"{meminfo}: {exc}")
    return 0


def nearest_existing(path):
    """``path`` or its nearest existing parent (``/`` as the last resort)."""
    probe = path
    while probe and not os.path.exists(probe):
        parent = os.path.dirname(probe)
        if parent == probe:
            break
        probe = parent
    return probe or "/"


def disk_kb(path, errors):
    """Size in KiB of the filesystem holding ``path`` (``statvfs``); 0 on failure (an error)."""
    try:
        st = os.statvfs(path)
    except OSError as exc:
        errors.append(f"statvfs: {exc}")
        return 0
    return st.f_blocks * st.f_frsize // 1024


def storage(path):
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


def cpu_mhz(cpuinfo="/proc/cpuinfo"):
    """``cpu MHz`` of the first CPU in ``/proc/cpuinfo`` (current clock, integer MHz); 0 when unknown."""
    for line in _read(cpuinfo).splitlines():
        if line.lower().startswith("cpu mhz"):
            return _int(line.split(":", 1)[1])
    return 0


def nics(root="/sys/class/net"):
    """``[{name, speed_mbps}]`` of the ``root`` entries backed by a device (speed 0 when unknown)."""
    try:
        names = sorted(os.listdir(root))
    except OSError:
        return []
    found = []
    for name in names:
        if os.path.exists(os.path.join(root, name, "device")):
            speed = _int(_read(os.path.join(root, name, "speed"), "0"))
            found.append({"name": name, "speed_mbps": max(speed, 0)})
    return found


def draft(work_dir):
    """sha1 and mode of the draft written last time (None when absent): an equal one is not rewritten."""
    path = os.path.join(work_dir, DRAFT_NAME)
    try:
        with open(path, "rb") as fh:
            data = fh.read()
            mode = stat.S_IMODE(os.fstat(fh.fileno()).st_mode)
    except OSError:
        return None
    return {"sha1": hashlib.sha1(data).hexdigest(), "mode": format(mode, "04o")}


def parse_nvidia_smi(text):
    """Accelerators from ``nvidia-smi --query-gpu=name,memory.total,clocks.max.sm,driver_version
    --format=csv,noheader,nounits`` (one line per GPU; memory.total in MiB, clocks.max.sm in MHz)."""
    found = []
    for line in (text or "").splitlines():
        fields = [f.strip() for f in line.split(",")]
        if fields and fields[0]:
            fields += [""] * 4
            found.append(
                {
                    "vendor": "nvidia",
                    "name": fields[0],
                    "memory_mb": _int(fields[1]),
                    "max_mhz": _int(fields[2]),
                    "driver": fields[3],
                }
            )
    return found


def parse_rocm_smi(text, errors):
    """Accelerators from ``rocm-smi --showproductname --showmeminfo vram --showdriverversion --json``.

    Keys: ``cardN`` -> ``"Card Series"`` (older releases ``"Card series"``), ``"VRAM Total Memory (B)"``
    (bytes, reported here in MiB), ``"Driver version"`` (per card, else from the ``system`` entry).
    No clock is reported (``max_mhz`` 0). Unparsable output is an ``errors`` entry.
    """
    if not text:
        return []
    try:
        cards = json.loads(text)
    except ValueError as exc:
        errors.append(f"rocm-smi: {exc}")
        return []
    if not isinstance(cards, dict):
        errors.append("rocm-smi: output is not a JSON object")
        return []
    driver = str((cards.get("system") or {}).get("Driver version", ""))
    found = []
    for key, info in sorted(cards.items()):
        if key.startswith("card") and isinstance(info, dict):
            found.append(
                {
                    "vendor": "amd",
                    "name": str(info.get("Card Series") or info.get("Card series") or ""),
                    "memory_mb": _int(info.get("VRAM Total Memory (B)", 0)) // 1048576,
                    "max_mhz": 0,
                    "driver": str(info.get("Driver version") or driver),
                }
            )
    return found


def accelerators(run, timeout, errors):
    """NVIDIA GPUs (nvidia-smi) then AMD GPUs (rocm-smi); tools that are not installed add nothing."""
    found = parse_nvidia_smi(_call(run, NVIDIA_SMI_ARGV, timeout, errors))
    found += parse_rocm_smi(_call(run, ROCM_SMI_ARGV, timeout, errors), errors)
    return found


def probe(work_dir, timeout_s, run=run_subprocess):
    """Describe the SUT in one pass; ``work_dir`` need not exist yet.

    ``run(argv, timeout) -> str | None`` runs the external commands (see the module docstring),
    ``timeout_s`` is passed to it for each command (seconds). Returns::

        {"lscpu": {field: value},        # `lscpu -J`, fields without the trailing ':'; {} without lscpu
         "memory_kb": int,               # MemTotal from /proc/meminfo (KiB), 0 if unknown
         "disk_kb": int,                 # size of the filesystem holding work_dir or its nearest
                                         # existing parent (KiB, statvfs)
         "storage": {"device": str, "type": "NVMe SSD"|"SSD"|"HDD"|""},   # block device under it (sysfs)
         "cpu_mhz": int,                 # /proc/cpuinfo "cpu MHz" of cpu0 (MHz, current; varies, so the
                                         # system description uses lscpu's max MHz only), 0 if unknown
         "nics": [{"name": str, "speed_mbps": int}],   # /sys/class/net entries backed by a device
         "accelerators": [{"vendor": "nvidia"|"amd", "name": str, "memory_mb": int,   # MiB
                           "max_mhz": int, "driver": str}],                           # MHz, 0 if unknown
         "dir_exists": bool,             # work_dir is a directory already
         "draft": {"sha1": str, "mode": "0644"} | None,  # work_dir/system_desc_draft.json as it is
         "errors": [str]}                # probes that failed (missing tools are not errors)

    Sources: nvidia-smi ``--query-gpu=name,memory.total,clocks.max.sm,driver_version
    --format=csv,noheader,nounits`` (memory.total in MiB, clocks.max.sm in MHz); rocm-smi ``--json``
    keys "Card Series"/"Card series", "VRAM Total Memory (B)" (bytes), "Driver version".
    """
    errors = []
    existing = nearest_existing(work_dir)
    result = {
        "dir_exists": os.path.isdir(work_dir),
        "draft": draft(work_dir),
        "lscpu": lscpu(run, timeout_s, errors),
        "memory_kb": memory_kb(errors),
        "disk_kb": disk_kb(existing, errors),
        "storage": storage(existing),
        "cpu_mhz": cpu_mhz(),
        "nics": nics(),
        "accelerators": accelerators(run, timeout_s, errors),
    }
    result["errors"] = errors
    return result


def module_runner(module):
    """A ``run(argv, timeout) -> str | None`` for :func:`probe` built on ``module.run_command``.

    ``run_command`` has no timeout, so the argv is wrapped with coreutils ``timeout`` when the target
    has it (otherwise the command runs without a limit).
    """
    timeout_bin = module.get_bin_path("timeout")

    def run_command(argv, timeout):
        exe = module.get_bin_path(argv[0])
        if exe is None:
            return None
        cmd = [exe, *argv[1:]]
        limited = bool(timeout_bin and timeout and timeout > 0)
        if limited:
            cmd = [timeout_bin, "--kill-after=5", str(int(timeout)), *cmd]
        rc, out, err = module.run_command(cmd, expand_user_and_vars=False, errors="surrogate_or_replace")
        if limited and rc in TIMED_OUT_RCS:
            raise CommandFailed(f"timed out after {int(timeout)}s")
        if rc != 0:
            raise CommandFailed(f"exit {rc}: {(err or '').strip()[-200:]}")
        return out

    return run_command


#: The fact subsets :func:`min_facts` returns: the part of ``ansible.builtin.setup``'s ``min`` subset that
#: the collection's roles read (``env`` HOME for the work directory, ``python`` for the venvs,
#: ``distribution`` and ``platform`` for the system description) plus ``user``.
MIN_FACT_SUBSETS = ("env", "python", "distribution", "platform", "user")


def min_facts(module):
    """The ``MIN_FACT_SUBSETS`` facts, collected by ansible-core's own fact collectors (the ones
    ``ansible.builtin.setup`` runs), so they read exactly as ``setup`` gives them.

    Returns ``{"ansible_<name>": value}`` (setup's prefix; the controller files them under
    ``ansible_facts['<name>']``), e.g. ``ansible_env``, ``ansible_python``, ``ansible_distribution``,
    ``ansible_architecture``, ``ansible_kernel``, ``ansible_hostname``, ``ansible_user_id``. Imports
    the collectors only when asked, so the plain probe stays as small as it was.
    """
    # ansible-core module_utils (shipped inside the module payload): no third-party import on the SUT.
    from ansible.module_utils.facts.system.distribution import DistributionFactCollector
    from ansible.module_utils.facts.system.env import EnvFactCollector
    from ansible.module_utils.facts.system.platform import PlatformFactCollector
    from ansible.module_utils.facts.system.python import PythonFactCollector
    from ansible.module_utils.facts.system.user import UserFactCollector

    facts = {}
    collectors = (
        EnvFactCollector,
        PythonFactCollector,
        PlatformFactCollector,
        DistributionFactCollector,
        UserFactCollector,
    )
    for collector in collectors:
        facts.update(collector().collect(module=module, collected_facts=facts) or {})
    return {"ansible_" + name: value for name, value in facts.items()}


def run(module):
    """The ``sut_probe`` module: ``module.params`` (``work_dir``, ``timeout`` in s, ``facts``) -> the
    ``exit_json`` dict: :func:`probe`'s, ``work_dir`` as the SUT expanded it (``~``, ``$VAR``), with
    ``facts`` also ``ansible_facts`` (:func:`min_facts`); ``changed=False``: it only reads."""
    p = module.params
    result = dict(probe(p["work_dir"], p["timeout"], run=module_runner(module)), changed=False)
    result["work_dir"] = p["work_dir"]
    if p.get("facts"):
        result["ansible_facts"] = min_facts(module)
    return result
