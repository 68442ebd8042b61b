"""user.conf lint: each line type LoadGen mishandles is rejected with file and line."""

from __future__ import annotations

import pytest
from fleetbench_harness import registry
from fleetbench_harness.errors import InputError
from fleetbench_harness.loadgen import settings as userconf

KEYS = registry.all_loadgen_keys()


def _lint(tmp_path, *lines):
    p = tmp_path / "user.conf"
    p.write_text("\n".join(lines) + "\n")
    return p, userconf.lint(p, KEYS)


def test_good_conf_passes(tmp_path):
    _, warnings = _lint(
        tmp_path,
        "# comment",
        "",
        "resnet50.Offline.target_qps = 123.5",
        "*.Server.target_latency = 15",
        "*.*.min_duration = 0",
        "resnet50.SingleStream.max_query_count = 0x10",
    )
    assert warnings == []


def test_unknown_setting_is_a_warning(tmp_path):
    p, warnings = _lint(tmp_path, "resnet50.Offline.target_qsp = 5")
    assert warnings == [f"{p}:1: setting 'target_qsp' is not one LoadGen 6.0 reads; it will be ignored"]


@pytest.mark.parametrize(
    ("line", "needle"),
    [
        ("resnet50.Offline.target_qps=5", "spaces around '='"),
        ("resnet50.Offline.target_qps= 5", "spaces around '='"),
        ("resnet50.Offline.target_qps = 5 # five", "trailing comment"),
        ("resnet50.Offline.target_qps = 5 6", "extra tokens"),
        ("resnet50.Offline.target_qps = five", "is not a number"),
        ("resnet50.Offline.target_qps = 1_000", "is not a number"),
        ("resnet50.offline.target_qps = 5", "did you mean 'Offline'"),
        ("resnet50.Offlin.target_qps = 5", "unknown scenario 'Offlin'"),
        ("resnet-50.Offline.target_qps = 5", "unknown model key 'resnet-50'"),
        ("resnet50.target_qps = 5", "is not <model>.<Scenario>.<setting>"),
        ("resnet50.Offline.target_qps :: 5", "expected '='"),
        ("resnet50.Offline.target_qps =", "missing value"),
    ],
)
def test_bad_lines_name_file_and_line(tmp_path, line, needle):
    p = tmp_path / "user.conf"
    p.write_text(f"# ok\n*.Offline.min_duration = 0\n{line}\n")
    with pytest.raises(InputError) as ei:
        userconf.lint(p, KEYS)
    msg = ei.value.line()
    assert msg.startswith("fleetbench_harness: error: user_conf: ")
    assert f"{p}:3" in msg
    assert needle in msg
    assert "; allowed: " in msg


def test_loadgen_itself_drops_a_file_with_a_trailing_comment(tmp_path):
    """Why the lint exists: real LoadGen returns -EINVAL for the whole file."""
    import mlperf_loadgen as lg

    p = tmp_path / "user.conf"
    p.write_text("*.Offline.min_duration = 0\nresnet50.Offline.target_qps = 5 # five\n")
    assert lg.TestSettings().FromConfig(str(p), "resnet50", "Offline") != 0


def test_unreadable_conf(tmp_path):
    with pytest.raises(InputError, match="user_conf: cannot read"):
        userconf.lint(tmp_path / "missing.conf", KEYS)
