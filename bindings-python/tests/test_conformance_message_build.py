"""tests/conformance/message_build through the Python API: wa360.build_message(input) must give
exactly expected.json, or raise the error (code and field) of expected_error.json."""

from __future__ import annotations

from pathlib import Path

import pytest
import wa360
from conftest import case_dirs, read_json

CASES = case_dirs("message_build")


def test_suite_is_present() -> None:
    assert len(CASES) >= 30


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_case(case: Path) -> None:
    spec = read_json(case / "input.json")
    err = case / "expected_error.json"
    if err.exists():
        want = read_json(err)
        with pytest.raises(wa360.Wa360Error) as info:
            wa360.build_message(spec)
        assert info.value.code == want["code"], str(info.value)
        if "field" in want:
            assert info.value.field == want["field"], str(info.value)
        if want["code"] == "invalid_argument":
            assert isinstance(info.value, ValueError)
        return
    assert wa360.build_message(spec) == read_json(case / "expected.json")
