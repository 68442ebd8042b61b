"""Open report.html in headless Chromium: the tables and the plots are there and load.

Needs the Debian package ``chromium`` (/usr/bin/chromium); skipped without it.
"""

import json
import shutil
import subprocess

import pytest
import trees
from ansible_collections.fleetbench.mlperf.plugins.module_utils import _registry, _report

pytestmark = pytest.mark.browser
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
    "--allow-file-access-from-files",
]


def chromium(tmp_path, *args):
    if CHROMIUM is None:
        pytest.skip("chromium absent (apt-get install -y chromium)")
    profile = tmp_path / "profile"
    argv = [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory):
    base = tmp_path_factory.mktemp("browser")
    trees.make_project_tree(base, sut="sut-a")
    trees.make_cm_tree(base, sut="cm-sut")
    (base / "hosts.json").write_text(
        json.dumps(
            {"sut-x": {"status": "failed", "task": "Run MLPerf LoadGen", "reason": "harness exited 1"}}
        )
    )
    _report.build_report(base, base, registry=_registry.load_registry(), hosts_file=base / "hosts.json")
    return base


def test_dom_has_tables_and_plots(report_dir, tmp_path):
    dom = chromium(
        tmp_path, "--virtual-time-budget=5000", "--dump-dom", (report_dir / "report.html").as_uri()
    )
    assert '<table id="runs">' in dom
    runs = json.loads((report_dir / "report.json").read_text())["runs"]
    assert dom.count('<tr class="run">') == len(runs) == 7
    assert dom.count('class="system"') == 2
    assert "88,714.30 samples/s" in dom and "24,593.77 tokens/s" in dom and "0.6403 ms" in dom
    assert '<tr class="failed"><td>sut-x</td>' in dom and "harness exited 1" in dom
    assert dom.count('<img class="plot"') == 2
    for name in ("plot_throughput.png", "plot_latency.png"):
        assert f'src="{name}"' in dom
        assert (report_dir / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_screenshot_renders_plots(report_dir, tmp_path):
    shot = tmp_path / "shot.png"
    chromium(
        tmp_path,
        f"--screenshot={shot}",
        "--window-size=1400,4000",
        "--virtual-time-budget=5000",
        (report_dir / "report.html").as_uri(),
    )
    from PIL import Image

    img = Image.open(shot).convert("RGB")
    # The throughput bars are matplotlib's tab:green / tab:red: present only if the PNGs loaded.
    colors = {c for _, c in img.getcolors(maxcolors=1 << 20)}
    assert (44, 160, 44) in colors  # tab:green
    assert (214, 39, 40) in colors  # tab:red
