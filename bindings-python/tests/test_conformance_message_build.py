"""tests/conformance/message_build through the Python API: wa360.build_message(input) must give
exactly expected.json, or raise the error (code and field) of expected_error.json."""

from __future__ import annotations

from pathlib import Path

import wa360
from conftest import check_expected_error, each_case, read_json, suite_present_test

test_suite_is_present = suite_present_test("message_build", 30)


@each_case("message_build")
def test_case(case: Path) -> None:
    spec = read_json(case / "input.json")
    e = check_expected_error(case, lambda: wa360.build_message(spec))
    if e is not None:
        if e.code == "invalid_argument":
            assert isinstance(e, ValueError)
        return
    assert wa360.build_message(spec) == read_json(case / "expected.json")
