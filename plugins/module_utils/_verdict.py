# Copyright: fleetbench.mlperf contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The two verdicts of a run (stdlib only; used by ``mlperf_run`` on SUTs and by the report).

1. LoadGen's verdict: ``VALID`` / ``INVALID`` with every unmet condition, taken from the
   parsed logs (:func:`loadgen_verdict`).
2. Submittable: whether the run could go into an MLPerf submission
   (:func:`submittable_verdict`). Reasons it cannot:

   * ``execution_mode`` is ``test`` or ``fast`` (shortened runs are never submittable);
   * LoadGen said INVALID (or wrote no verdict);
   * ``min_duration`` of 0 ms was used (a test setting);
   * Offline ``samples_per_query`` below the model's minimum (``offline_min_samples`` of the
     registry entry, from mlperf.conf ``<model>.Offline.min_query_count``, LoadGen 6.0);
   * no accuracy run for the same model/scenario, or its target is missed (the ``hash=``
     line is added when the submission tree is built and checked there);
   * LoadGen logged errors (``"is_error": true`` records), even when the summary says VALID;
   * the model is a performance-only stand-in (untrained weights).
"""

from __future__ import annotations

NOT_SUBMITTABLE_MODES = ("test", "fast")


def loadgen_verdict(parsed):
    """``{"validity": "VALID"|"INVALID"|None, "reasons": [str]}`` from :func:`parse_run_dir` output.

    ``validity`` is None for accuracy-mode runs (LoadGen judges performance runs only).
    """
    if not parsed:
        return {"validity": None, "reasons": ["no LoadGen log parsed"]}
    return {"validity": parsed.get("validity"), "reasons": list(parsed.get("reasons") or [])}


def submittable_verdict(
    execution_mode,
    loadgen=None,
    accuracy=None,
    performance_only_model=False,
    model_entry=None,
    scenario=None,
    accuracy_required=True,
):
    """Decide whether a performance run is submittable.

    :param execution_mode: ``test`` | ``fast`` | ``valid``.
    :param loadgen: :func:`parse_run_dir` output of the performance run (None = missing).
    :param accuracy: the accuracy dict of the matching accuracy run (``check_accuracy`` output),
        None when no accuracy run exists.
    :param performance_only_model: True when the model is a performance-only stand-in.
    :param model_entry: registry ``models.<name>`` dict (for ``offline_min_samples``).
    :param scenario: scenario name; defaults to ``loadgen["scenario"]``.
    :param accuracy_required: False to skip the accuracy-run requirement (e.g. judging an
        accuracy run itself).
    :returns: ``{"ok": bool, "reasons": [str]}``.
    """
    reasons = []
    if execution_mode in NOT_SUBMITTABLE_MODES:
        reasons.append(f"execution_mode={execution_mode}: only valid runs are submittable")
    elif execution_mode != "valid":
        reasons.append(f"execution_mode={execution_mode!r} unknown; allowed: test, fast, valid")
    if performance_only_model:
        reasons.append("stand-in model (not the benchmark model): accuracy not comparable with the target")
    if loadgen is None:
        reasons.append("no performance run")
    else:
        scenario = scenario or loadgen.get("scenario")
        if loadgen.get("mode") == "performance" and loadgen.get("validity") != "VALID":
            reasons.append(
                "LoadGen result is {}: {}".format(
                    loadgen.get("validity"), "; ".join(loadgen.get("reasons") or []) or "no reason given"
                )
            )
        settings = loadgen.get("settings") or {}
        if settings.get("min_duration_ms") == 0:
            reasons.append("min_duration 0 ms was used (test setting)")
        if scenario == "Offline" and model_entry:
            minimum = model_entry.get("offline_min_samples")
            spq = settings.get("samples_per_query")
            if minimum and isinstance(spq, (int, float)) and spq < minimum:
                reasons.append(f"Offline samples_per_query {spq} below the minimum {minimum} (mlperf.conf)")
        if loadgen.get("errors"):
            msgs = loadgen.get("error_messages") or []
            detail = (": " + "; ".join(msgs[:3])) if msgs else ""
            reasons.append(f"LoadGen logged {loadgen['errors']} error(s){detail}")
    if accuracy_required:
        if accuracy is None:
            reasons.append("missing accuracy run")
        else:
            checks = accuracy.get("checks") or []
            partial = (accuracy.get("coverage") or {}).get("full") is False
            if accuracy.get("met") is False and partial and checks and all(c.get("ok") for c in checks):
                # Every bound is met, on part of the dataset only: not a missed target.
                reasons.append(
                    "accuracy not measured on the whole dataset: {}".format(
                        "; ".join(accuracy.get("reasons") or [])
                    )
                )
            elif accuracy.get("met") is False:
                reasons.append("accuracy target not met: {}".format("; ".join(accuracy.get("reasons") or [])))
            elif accuracy.get("met") is None and accuracy.get("comparable", True):
                reasons.append("accuracy has no published target for this model")
    return {"ok": not reasons, "reasons": reasons}
