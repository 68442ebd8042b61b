"""submission=true is checked in the validate step: the names it needs are never defaulted."""

from ansible_collections.fleetbench.mlperf.plugins.module_utils._registry import (
    load_registry,
    submission_problems,
)


def test_no_submission_no_problems():
    assert submission_problems({}, load_registry()) == []
    assert submission_problems({"submission": False, "division": "bogus"}, load_registry()) == []


def test_missing_names_are_listed_with_their_allowed_values():
    problems = submission_problems({"submission": "true", "division": "closed"}, load_registry())
    by_field = {p["field"]: p["message"] for p in problems}
    assert set(by_field) == {"submitter", "category", "submission_status"}
    assert "allowed: edge, datacenter" in by_field["category"]
    assert "allowed: available, preview, rdi" in by_field["submission_status"]


def test_bad_values_and_a_complete_request():
    registry = load_registry()
    bad = submission_problems(
        {
            "submission": True,
            "submitter": "Acme",
            "division": "closd",
            "category": "edge",
            "submission_status": "available",
        },
        registry,
    )
    assert [p["field"] for p in bad] == ["division"]
    assert "allowed: closed, open, network" in bad[0]["message"]
    good = {
        "submission": True,
        "submitter": "Acme",
        "division": "closed",
        "category": "edge",
        "submission_status": "available",
    }
    assert submission_problems(good, registry) == []
