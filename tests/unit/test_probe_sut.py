"""roles/sut_facts/files/probe_sut.py: the one-process SUT probe (stdlib, runs on targets).

Runs the real script with this interpreter. nvidia-smi / rocm-smi are absent on this
machine, so their parsers are fed by stand-in executables on PATH that print what
the real tools print for the same arguments (CSV without units; rocm-smi --json).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PROBE = REPO / "roles" / "sut_facts" / "files" / "probe_sut.py"


def _probe(tmp_path: Path, tools: dict[str, str] | None = None) -> dict:
    bindir = tmp_path / "bin"
    bindir.mkdir(exist_ok=True)
    for name, text in (tools or {}).items():
        tool = bindir / name
        tool.write_text(f"#!/bin/sh\ncat <<'EOF'\n{text}\nEOF\n")
        tool.chmod(0o755)
    env = dict(os.environ, PATH=f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}")
    proc = subprocess.run(
        [sys.executable, str(PROBE), str(tmp_path / "not" / "yet"), "5"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=True,
    )
    return json.loads(proc.stdout)


def test_probe_reports_cpu_memory_disk(tmp_path):
    out = _probe(tmp_path)
    assert set(out) >= {"lscpu", "memory_kb", "disk_kb", "accelerators", "storage", "nics", "errors"}
    assert out["memory_kb"] > 0
    assert out["disk_kb"] > 0  # statvfs of the nearest existing parent of a missing dir
    if out["lscpu"]:
        assert "CPU(s)" in out["lscpu"] and not any(k.endswith(":") for k in out["lscpu"])
    assert out["accelerators"] == []


def test_probe_parses_nvidia_smi(tmp_path):
    csv = "NVIDIA H200, 143771, 1980, 550.54.15\nNVIDIA H200, 143771, 1980, 550.54.15"
    out = _probe(tmp_path, {"nvidia-smi": csv})
    gpu = {"vendor": "nvidia", "name": "NVIDIA H200", "memory_mb": 143771, "max_mhz": 1980}
    assert out["accelerators"] == [{**gpu, "driver": "550.54.15"}] * 2


def test_probe_parses_rocm_smi(tmp_path):
    cards = {
        "card0": {"Card Series": "AMD Instinct MI300X", "VRAM Total Memory (B)": str(192 * 1024**3)},
        "system": {"Driver version": "6.7.0"},
    }
    out = _probe(tmp_path, {"rocm-smi": json.dumps(cards)})
    gpu = {"vendor": "amd", "name": "AMD Instinct MI300X", "memory_mb": 192 * 1024, "max_mhz": 0}
    assert out["accelerators"] == [{**gpu, "driver": "6.7.0"}]


def test_probe_records_a_failing_tool(tmp_path):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    tool = bindir / "nvidia-smi"
    tool.write_text("#!/bin/sh\necho 'NVIDIA-SMI has failed' >&2\nexit 9\n")
    tool.chmod(0o755)
    out = _probe(tmp_path)
    assert out["accelerators"] == []
    assert any(e.startswith("nvidia-smi: exit 9") for e in out["errors"])
