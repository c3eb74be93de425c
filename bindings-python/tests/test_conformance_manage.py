"""tests/conformance/{template_build,profile_update,template_list_parse} through the Python
API: wa360.build_template, wa360.build_profile_update and wa360.parse_template_list give the
exact body / canonical page, or the typed error naming the field."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import wa360
from conftest import case_dirs, check_expected_error, read_json

SUITES: dict[str, Callable[[Any], Any]] = {
    "template_build": wa360.build_template,
    "profile_update": wa360.build_profile_update,
    "template_list_parse": wa360.parse_template_list,
}
CASES = [(suite, case) for suite in SUITES for case in case_dirs(suite)]


def test_suites_are_present() -> None:
    assert len(case_dirs("template_build")) >= 40
    assert len(case_dirs("profile_update")) >= 20
    assert len(case_dirs("template_list_parse")) >= 8


@pytest.mark.parametrize(("suite", "case"), CASES, ids=[f"{s}/{c.name}" for s, c in CASES])
def test_case(suite: str, case: Path) -> None:
    fn = SUITES[suite]
    inp = read_json(case / "input.json")
    if check_expected_error(case, lambda: fn(inp)) is not None:
        return
    assert fn(inp) == read_json(case / "expected.json")
