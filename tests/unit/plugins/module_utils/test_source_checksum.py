"""The harness source checksum (``_source_checksum``) equals the shell pipeline it replaced."""

import os
import subprocess

import pytest
from ansible_collections.fleetbench.mlperf.plugins.module_utils._source_checksum import source_checksum
from fleetbench_testlib import HARNESS_SRC

PIPELINE = (
    'find . -type f \\( -name "*.py" -o -name "*.yml" -o -name "*.txt" -o -name "*.toml" -o -name "*.md" \\)'
    ' -not -path "*/__pycache__/*" -not -path "./tests/*" -not -path "./build/*"'
    ' -not -path "*.egg-info/*" -print0 | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum'
)


def pipeline(root):
    out = subprocess.run(["sh", "-c", PIPELINE], cwd=root, capture_output=True, text=True, check=True)
    return out.stdout.split()[0]


def test_the_harness_source_checksum_is_the_pipelines():
    assert source_checksum(str(HARNESS_SRC)) == pipeline(HARNESS_SRC)


def test_excluded_paths_links_and_other_suffixes_do_not_count(tmp_path):
    (tmp_path / "pkg" / "__pycache__").mkdir(parents=True)
    (tmp_path / "tests").mkdir()
    (tmp_path / "x.egg-info").mkdir()
    (tmp_path / "pkg" / "a.py").write_text("a\n")
    (tmp_path / "pkg" / "B.yml").write_text("b\n")
    (tmp_path / "README.md").write_text("r\n")
    before = source_checksum(str(tmp_path))
    assert before == pipeline(tmp_path)
    (tmp_path / "pkg" / "__pycache__" / "a.py").write_text("cached\n")
    (tmp_path / "tests" / "t.py").write_text("t\n")
    (tmp_path / "x.egg-info" / "SOURCES.txt").write_text("s\n")
    (tmp_path / "pkg" / "data.bin").write_bytes(b"\0")
    os.symlink(tmp_path / "pkg" / "a.py", tmp_path / "pkg" / "link.py")
    assert source_checksum(str(tmp_path)) == before == pipeline(tmp_path)
    (tmp_path / "pkg" / "a.py").write_text("changed\n")
    assert source_checksum(str(tmp_path)) != before


def test_a_missing_source_fails():
    with pytest.raises(FileNotFoundError, match="is not a directory"):
        source_checksum("/nonexistent/harness")
