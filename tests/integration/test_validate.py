"""Real ``ansible-playbook playbooks/validate.yml`` runs: each bad request fails in step 1, clearly.

The embedded inventory's group_vars may set request defaults (e.g. ``model``), so the cases that
depend on the model name it.

Runs from the repository root so ansible.cfg applies (collection via collections/, local inventory).
"""

import json
import os
import subprocess
import time
from pathlib import Path

import pytest
from fleetbench_testlib import ANSIBLE_PLAYBOOK, REPO

PLAYBOOK = REPO / "playbooks" / "validate.yml"

pytestmark = pytest.mark.slow


def run_validate(*extra: str, playbook: Path = PLAYBOOK) -> tuple[int, str, float]:
    argv = [str(ANSIBLE_PLAYBOOK), str(playbook)]
    for e in extra:
        argv += ["-e", e]
    env = dict(os.environ, ANSIBLE_FORCE_COLOR="0", ANSIBLE_NOCOLOR="1")
    t0 = time.monotonic()
    proc = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    return proc.returncode, proc.stdout + proc.stderr, time.monotonic() - t0


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (["modle=resnet50"], ["modle: unknown variable; did you mean", "model"]),
        (
            ["model=resnet51"],
            ["model: unknown value 'resnet51' (did you mean resnet50", "allowed: resnet50, "],
        ),
        (["model=resnet50", "backend=tflite"], ["backend tflite is not implemented for model resnet50 yet"]),
        (["framework=tensorflow", "model=retinanet"], ["invalid combination (model=retinanet, backend=tf)"]),
        (["execution_mode=valid", "mode=accuracy"], ["a valid run needs both performance and accuracy"]),
        (["implementation=nvidia-original"], ["the NVIDIA implementation runs TensorRT only"]),
        (["scenario=Offline,Batch"], ["scenario: unknown value 'Batch'", "single-stream=SingleStream"]),
        (
            ["model=resnet50", "precision=fp16"],
            ["precision float16 is not implemented for model resnet50 with backend onnxruntime"],
        ),
        (["target_qps=0"], ["target_qps: '0' must be > 0"]),
        (["test_query_count=2.5"], ["test_query_count: '2.5' is not an integer"]),
        (["model=dlrm-v2-99"], ["model dlrm-v2-99 is not implemented yet"]),
        (
            ["model=resnet50", "compliance=TEST06"],
            ["resnet50 has no compliance test 'TEST06'; allowed: TEST01, TEST04"],
        ),
        (['{"scenario": ["Offline", "Server"], "count": 0}'], ["count: 0 must be >= 1"]),
        # a round whose LoadGen is not pinned (rounds.v4.0 has none): runs of it cannot be made
        (
            ["round=v4.0"],
            [
                "submission_round: runs of round v4.0 cannot be made",
                "rounds whose runs can be made: v4.1, v5.0, v5.1, v6.0, v6.1",
            ],
        ),
    ],
)
def test_bad_request_fails_with_clear_message(extra, expected):
    rc, out, _ = run_validate(*extra)
    assert rc != 0, out
    assert "invalid MLPerf request" in out, out
    for text in expected:
        assert text in out, f"{text!r} not in output:\n{out}"
    # the failure stops the run in step 1: the per-SUT play never starts
    assert "Validate | the request of each SUT" not in out


def test_all_problems_in_one_failure():
    rc, out, _ = run_validate("modle=x", "backend=nonsense", "target_qps=-1", "scenario=Batch")
    assert rc != 0
    assert "invalid MLPerf request (4 problems)" in out
    assert "request variables:" in out


def test_good_request_resolves_fast():
    rc, out, seconds = run_validate(
        "framework=onnx", "precision=fp32", "scenario=offline,singlestream", "mode=perf"
    )
    assert rc == 0, out
    assert "backend: onnxruntime" in out
    assert "- SingleStream" in out
    assert seconds < 30, f"validate.yml took {seconds:.1f} s"


def test_ansible_runner_extra_vars_are_checked(tmp_path, monkeypatch):
    """ansible-runner passes extra vars through its env/extravars file; unknown names still fail."""
    ansible_runner = pytest.importorskip("ansible_runner")
    monkeypatch.setenv("PATH", str(ANSIBLE_PLAYBOOK.parent) + os.pathsep + os.environ.get("PATH", ""))
    private = tmp_path / "runner"
    (private / "env").mkdir(parents=True)
    (private / "env" / "extravars").write_text(json.dumps({"modle": "resnet50"}))
    r = ansible_runner.run(
        private_data_dir=str(private),
        project_dir=str(REPO),
        playbook=str(PLAYBOOK),
        envvars={"ANSIBLE_CONFIG": str(REPO / "ansible.cfg")},
        quiet=True,
    )
    out = r.stdout.read()
    assert r.rc != 0, out
    assert "modle: unknown variable" in out, out
