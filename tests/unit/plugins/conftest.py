"""Fixtures the module and module_utils tests share."""

import pytest
import trees


@pytest.fixture
def valid_tree(tmp_path):
    """``(results root, scenario folder)`` of a valid-style llama2-70b-99 Offline tree for SUT ``sut-b``."""
    scen = trees.make_llama_valid(tmp_path / "results", "sut-b")
    return tmp_path / "results", scen
