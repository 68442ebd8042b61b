"""SUT probe: plugins/module_utils/_sut_probe.py and the sut_probe module (stdlib, runs on targets).

nvidia-smi / rocm-smi are absent on this machine, so their parsers are fed through a fake
runner that returns what the real tools print for the same arguments (CSV without units;
rocm-smi --json). The runners that really execute commands (``run_subprocess`` and the
module's ``run_command`` one) get stand-in executables on PATH.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
from ansible_collections.fleetbench.mlperf.plugins.module_utils import _sut_probe
from ansible_collections.fleetbench.mlperf.plugins.modules import sut_probe
from fleetbench_testlib import run_module

KEYS = {
    "lscpu",
    "memory_kb",
    "disk_kb",
    "storage",
    "cpu_mhz",
    "nics",
    "accelerators",
    "dir_exists",
    "draft",
    "errors",
}

# What `lscpu -J` prints (util-linux 2.38+ nests children; field names end with ':').
LSCPU_JSON = json.dumps(
    {
        "lscpu": [
            {"field": "Architecture:", "data": "x86_64"},
            {"field": "CPU(s):", "data": "16"},
            {
                "field": "Vendor ID:",
                "data": "AuthenticAMD",
                "children": [
                    {"field": "Model name:", "data": "AMD EPYC 9334 32-Core Processor"},
                    {"field": "Socket(s):", "data": "1"},
                ],
            },
        ]
    }
)


def _fake_runner(tools: dict[str, str | Exception] | None = None, calls: list | None = None):
    """``run(argv, timeout)`` answering from ``tools`` (tool name -> stdout, or an exception to raise)."""

    def run(argv, timeout):
        if calls is not None:
            calls.append((list(argv), timeout))
        answer = (tools or {}).get(argv[0])
        if isinstance(answer, Exception):
            raise answer
        return answer

    return run


def _probe(tmp_path: Path, tools: dict[str, str | Exception] | None = None) -> dict:
    return _sut_probe.probe(str(tmp_path / "not" / "yet"), 5, run=_fake_runner(tools))


def _stand_in(bindir: Path, name: str, script: str) -> None:
    bindir.mkdir(exist_ok=True)
    tool = bindir / name
    tool.write_text(f"#!/bin/sh\n{script}\n")
    tool.chmod(0o755)


def test_probe_reports_cpu_memory_disk(tmp_path):
    calls = []
    out = _sut_probe.probe(str(tmp_path / "not" / "yet"), 5, run=_fake_runner({"lscpu": LSCPU_JSON}, calls))
    assert set(out) == KEYS
    assert out["memory_kb"] > 0
    assert out["disk_kb"] > 0  # statvfs of the nearest existing parent of a missing dir
    assert out["dir_exists"] is False and out["draft"] is None
    assert "CPU(s)" in out["lscpu"] and not any(k.endswith(":") for k in out["lscpu"])
    assert out["lscpu"]["Model name"] == "AMD EPYC 9334 32-Core Processor"  # children flattened
    assert out["accelerators"] == []
    assert out["errors"] == []  # missing tools are not errors
    assert [argv[0] for argv, _ in calls] == ["lscpu", "nvidia-smi", "rocm-smi"]
    assert {timeout for _, timeout in calls} == {5}


def test_probe_reports_the_existing_draft(tmp_path):
    (tmp_path / "system_desc_draft.json").write_text("{}\n")
    (tmp_path / "system_desc_draft.json").chmod(0o600)
    out = _sut_probe.probe(str(tmp_path), 5, run=_fake_runner())
    assert out["dir_exists"] is True
    assert out["draft"] == {"sha1": hashlib.sha1(b"{}\n").hexdigest(), "mode": "0600"}


def test_probe_parses_nvidia_smi(tmp_path):
    csv = "NVIDIA H200, 143771, 1980, 550.54.15\nNVIDIA H200, 143771, 1980, 550.54.15\n"
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
    out = _probe(tmp_path, {"nvidia-smi": _sut_probe.CommandFailed("exit 9: NVIDIA-SMI has failed")})
    assert out["accelerators"] == []
    assert any(e.startswith("nvidia-smi: exit 9") for e in out["errors"])


def test_probe_records_unparsable_rocm_smi(tmp_path):
    out = _probe(tmp_path, {"rocm-smi": "not json"})
    assert out["accelerators"] == []
    assert any(e.startswith("rocm-smi: ") for e in out["errors"])


def test_run_subprocess_missing_failing_and_working_tools(tmp_path, monkeypatch):
    bindir = tmp_path / "bin"
    _stand_in(bindir, "nvidia-smi", "echo 'NVIDIA-SMI has failed' >&2\nexit 9")
    _stand_in(bindir, "rocm-smi", "echo '{}'")
    monkeypatch.setenv("PATH", str(bindir))
    assert _sut_probe.run_subprocess(["no-such-tool-here"], 5) is None
    with pytest.raises(_sut_probe.CommandFailed, match=r"^exit 9: NVIDIA-SMI has failed$"):
        _sut_probe.run_subprocess(["nvidia-smi"], 5)
    assert _sut_probe.run_subprocess(["rocm-smi"], 5) == "{}\n"


def test_module_probes_in_process(tmp_path, monkeypatch):
    """The module end to end: real lscpu//proc, stand-in GPU tools on PATH through run_command."""
    bindir = tmp_path / "bin"
    _stand_in(bindir, "nvidia-smi", "echo 'NVIDIA H200, 143771, 1980, 550.54.15'")
    _stand_in(bindir, "rocm-smi", "echo 'rocm-smi has failed' >&2\nexit 3")
    monkeypatch.setenv("PATH", f"{bindir}:/usr/bin:/bin")
    work_dir = tmp_path / "work"
    result = run_module(sut_probe, {"work_dir": str(work_dir), "timeout": 5}, check_mode=True)
    assert result["changed"] is False
    assert set(result) >= KEYS
    assert result["dir_exists"] is False and result["draft"] is None
    assert not work_dir.exists()  # read-only
    assert result["memory_kb"] > 0 and result["disk_kb"] > 0
    if shutil.which("lscpu"):
        assert "CPU(s)" in result["lscpu"] and not any(k.endswith(":") for k in result["lscpu"])
    gpu = {"vendor": "nvidia", "name": "NVIDIA H200", "memory_mb": 143771, "max_mhz": 1980}
    assert result["accelerators"] == [{**gpu, "driver": "550.54.15"}]
    assert result["errors"] == ["rocm-smi: exit 3: rocm-smi has failed"]


@pytest.mark.skipif(shutil.which("timeout") is None, reason="needs coreutils timeout")
def test_module_runner_enforces_the_timeout(tmp_path, monkeypatch):
    bindir = tmp_path / "bin"
    _stand_in(bindir, "nvidia-smi", "exec sleep 30")
    monkeypatch.setenv("PATH", f"{bindir}:/usr/bin:/bin")
    result = run_module(sut_probe, {"work_dir": str(tmp_path), "timeout": 1})
    assert result["accelerators"] == []
    assert "nvidia-smi: timed out after 1s" in result["errors"]
    assert result["dir_exists"] is True


def test_facts_are_the_setup_min_facts_the_roles_read(tmp_path, monkeypatch):
    """facts=true: env/python/distribution/platform/user as setup names them; ~ expanded on the SUT."""
    monkeypatch.setenv("HOME", str(tmp_path))
    result = run_module(sut_probe, {"work_dir": "~/fleetbench_mlperf", "timeout": 5, "facts": True})
    assert result["work_dir"] == str(tmp_path / "fleetbench_mlperf")
    facts = result["ansible_facts"]
    assert facts["ansible_env"]["HOME"] == str(tmp_path)
    assert facts["ansible_python"]["executable"] and facts["ansible_python"]["version"]["major"] == 3
    names = ("distribution", "distribution_version", "os_family", "architecture", "kernel", "hostname")
    for name in names:
        assert f"ansible_{name}" in facts, name
    assert facts["ansible_user_id"]
    assert set(result) >= KEYS


def test_no_facts_unless_asked(tmp_path):
    result = run_module(sut_probe, {"work_dir": str(tmp_path), "timeout": 5})
    assert "ansible_facts" not in result
