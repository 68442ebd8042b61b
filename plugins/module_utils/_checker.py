# Copyright: fleetbench.mlperf contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run the official MLPerf submission checker (controller side).

The checker is ``tools/submission/submission_checker.py`` of a checkout of
mlcommons/inference on the controller (``mlperf_inference_src``). It is run with argv (no
shell): ``python submission_checker.py --input TREE --version ROUND --submitter NAME --csv FILE``.
Its verdict is its exit status (0 = the tree passed) and its last ``SUMMARY`` line; every
``ERROR`` / ``WARNING`` line is kept as a message.
"""

from __future__ import annotations

import os
import subprocess
import sys

CHECKER_RELPATH = os.path.join("tools", "submission", "submission_checker.py")
#: from round v6.0 on the checker is a package, run as ``python -m submission_checker.main``
CHECKER_PACKAGE_RELPATH = os.path.join("tools", "submission", "submission_checker", "main.py")
MAX_MESSAGES = 200


def count_results(tree):
    """Number of ``<division>/<submitter>/results/<system>/<benchmark>/<scenario>`` folders below ``tree``."""
    count = 0
    for division in _subdirs(tree):
        for submitter in _subdirs(os.path.join(tree, division)):
            results = os.path.join(tree, division, submitter, "results")
            for system in _subdirs(results):
                for bench in _subdirs(os.path.join(results, system)):
                    count += len(_subdirs(os.path.join(results, system, bench)))
    return count


def _subdirs(path):
    try:
        return sorted(n for n in os.listdir(path) if os.path.isdir(os.path.join(path, n)))
    except OSError:
        return []


def not_run(reason):
    """The checker record when it was not run."""
    return {"ran": False, "reason": reason, "verdict": None, "rc": None, "messages": [], "argv": None}


def _subprocess_run(argv, cwd=None):
    proc = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=False, timeout=3600)
    return proc.returncode, proc.stdout, proc.stderr


def checker_argv(src, tree, round_, submitter, csv_path, python=None, extra_args=()):
    """argv of the checker of checkout ``src``: the package (``-m submission_checker.main``, run from
    ``tools/submission``) when the checkout has it, else ``tools/submission/submission_checker.py``."""
    if os.path.isfile(os.path.join(src, CHECKER_PACKAGE_RELPATH)):
        entry = ["-m", "submission_checker.main"]
    else:
        entry = [os.path.join(src, CHECKER_RELPATH)]
    return [
        python or sys.executable,
        *entry,
        "--input",
        str(tree),
        "--version",
        str(round_),
        "--submitter",
        str(submitter),
        "--csv",
        str(csv_path),
        *extra_args,
    ]


def run_checker(src, tree, round_, submitter, run_command=None, python=None, extra_args=()):
    """Run the checker when ``src`` is a checkout holding it; otherwise say why not.

    :param src: path of the mlcommons/inference checkout (``mlperf_inference_src``) or None/"".
    :param run_command: callable ``(argv, cwd=...) -> (rc, stdout, stderr)`` (a module passes
        ``module.run_command``); default ``subprocess.run``.
    :returns: ``{"ran": bool, "reason": str|None, "verdict": "PASS"|"FAIL"|None, "rc": int|None,
        "messages": [str], "argv": [str]|None, "summary": str|None}``.
    """
    if not src:
        return not_run("mlperf_inference_src is not set (point it at a checkout of mlcommons/inference)")
    script = os.path.join(src, CHECKER_RELPATH)
    if not os.path.isfile(script) and not os.path.isfile(os.path.join(src, CHECKER_PACKAGE_RELPATH)):
        return not_run(
            f"mlperf_inference_src={src}: {CHECKER_RELPATH} (or {CHECKER_PACKAGE_RELPATH}) not found there"
        )
    if not os.path.isdir(tree):
        return not_run(f"no submission tree at {tree}")
    csv_path = os.path.join(os.path.dirname(os.path.abspath(tree)), "checker_summary.csv")
    argv = checker_argv(src, tree, round_, submitter, csv_path, python=python, extra_args=extra_args)
    runner = run_command or _subprocess_run
    try:
        rc, out, err = runner(argv, cwd=os.path.join(src, "tools", "submission"))
    except (OSError, subprocess.SubprocessError) as exc:
        return dict(not_run(f"checker could not start: {exc}"), argv=argv)
    text = (out or "") + "\n" + (err or "")
    messages = [line.strip() for line in text.splitlines() if "ERROR" in line or "WARNING" in line]
    summary = None
    for line in text.splitlines():
        if "SUMMARY" in line:
            summary = line.strip()
    checked = count_results(tree)
    # An empty tree exits 0 at the checker: that checks nothing and is no pass.
    verdict = "FAIL" if rc != 0 else ("PASS" if checked else "NOTHING CHECKED")
    traceback = None
    if "Traceback (most recent call last)" in text:
        # the checker itself crashed (v6.x on a model its round has no required scenarios for):
        # no verdict about the tree, and the traceback is kept for the report
        verdict = "CRASHED"
        traceback = text[text.index("Traceback (most recent call last)") :][-3000:]
    return {
        "traceback": traceback,
        "checked": checked,
        "ran": True,
        "reason": None,
        "verdict": verdict,
        "rc": rc,
        "messages": messages[:MAX_MESSAGES],
        "argv": argv,
        "summary": summary,
        "csv": csv_path if os.path.isfile(csv_path) else None,
        "output_tail": text[-4000:],
        "output": text,
    }
