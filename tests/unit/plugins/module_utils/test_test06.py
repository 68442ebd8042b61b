"""TEST06 verifier (plugins/module_utils/_test06.py) on accuracy logs written here."""

import json
import struct

import pytest
from ansible_collections.fleetbench.mlperf.plugins.module_utils import _test06 as T
from ansible_collections.fleetbench.mlperf.plugins.module_utils._registry import load_registry
from fleetbench_testlib import MLPERF_LOGS

FIXTURE = MLPERF_LOGS / "34_TEST06_verify_accuracy_v5.1_AMD_llama2-70b-99_offline.txt"


def hexs(tokens, fmt="i"):
    return struct.pack(f"<{len(tokens)}{fmt}", *tokens).hex().upper()


def entry(idx, tokens, first=None, count=None, fmt="i"):
    e = {
        "seq_id": idx,
        "qsl_idx": idx,
        "data": hexs(tokens, fmt),
        "token_count": len(tokens) if count is None else count,
    }
    if first is not None:
        e["token_data"] = hexs(first, fmt)
    return e


def test_all_checks_pass_offline_text_matches_the_official_form():
    log = [entry(0, [5, 6, 7, 2]), entry(1, [9, 2])]
    res = T.verify_test06(log, "Offline", eos_token_id=2)
    assert res["passed"] and res["first_token"] is None and res["eos"] and res["sample_length"]
    assert res["text"] == FIXTURE.read_text()


def test_server_first_token_check(tmp_path):
    good = [entry(0, [5, 6, 2], first=[5]), entry(1, [8, 2], first=[8])]
    p = tmp_path / "mlperf_log_accuracy.json"
    p.write_text(json.dumps(good))
    assert T.verify_test06(str(p), "Server", 2)["text"].startswith("First token check pass: True\n")
    bad = T.verify_test06([entry(0, [5, 6, 2], first=[7])], "Server", 2)
    assert bad["first_token"] is False and not bad["passed"]
    assert bad["text"].endswith("TEST06 verification failed\n")
    missing = T.verify_test06([entry(0, [5, 6, 2])], "Server", 2)
    assert missing["first_token"] is False and "token_data" in missing["problems"][0]


def test_eos_check_counts_trailing_eos_like_the_reference():
    assert T.eos_ok([1, 2], 2) and T.eos_ok([1, 2, 3], 2)
    assert not T.eos_ok([1, 2, 2], 2)
    assert T.eos_ok([2, 2], 2)  # index 0 is never examined (the reference loop stops at 1)
    res = T.verify_test06([entry(0, [4, 128009, 128009])], "Offline", 128009)
    assert res["eos"] is False and not res["passed"]


def test_sample_length_check():
    res = T.verify_test06([entry(0, [4, 5, 2], count=5)], "Offline", 2)
    assert res["sample_length"] is False and "token_count 5" in res["problems"][0]
    assert "Sample length check pass: False" in res["text"]


def test_int64_logs_and_bad_bytes():
    assert T.verify_test06([entry(0, [3, 2], fmt="q")], "Offline", 2, dtype="int64")["passed"]
    res = T.verify_test06([{"qsl_idx": 0, "data": "0102", "token_count": 1}], "Offline", 2)
    assert not res["passed"] and "whole number" in res["problems"][0]


def test_registry_carries_the_test06_facts():
    t6 = load_registry()["compliance"]["TEST06"]
    assert t6["audit"]["accuracy_log_sampling_target"] == 100
    assert t6["eos_token_id"]["llama2-70b-99"] == 2 and t6["eos_token_id"]["llama3.1-8b"] == 128009
    models = load_registry()["models"]
    # Every model with TEST06 has its EOS id (constants.py @ b66003e1 models_TEST06).
    with_test06 = {m for m, e in models.items() if "TEST06" in e.get("compliance_tests", [])}
    assert with_test06 <= set(t6["eos_token_id"])


def test_eos_of_a_stand_in_run_is_its_own_tokenizers():
    from ansible_collections.fleetbench.mlperf.plugins.module_utils._run import RunFailed, test06_eos

    info = load_registry()["compliance"]["TEST06"]
    harness = {"workload": {"eos_token_id": 2}}
    real = {"model": "llama3.1-8b", "stand_in_model": None}
    assert test06_eos(real, info, harness) == (128009, "registry compliance.TEST06.eos_token_id")
    stand_in = dict(real, stand_in_model="smollm2-135m")
    assert test06_eos(stand_in, info, harness) == (2, "stand-in tokenizer (harness.json)")
    # A harness that reported no EOS: the registry's id.
    assert test06_eos(stand_in, info, {})[0] == 128009
    with pytest.raises(RunFailed, match="no EOS token id for gptj-99"):
        test06_eos({"model": "gptj-99", "stand_in_model": None}, info, {})
