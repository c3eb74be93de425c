"""tests/conformance/webhook_url through the Python API: wa360.validate_webhook_url (with the
headers when given) accepts or rejects each registration setting, naming field and rule, and
never repeats a header value."""

from __future__ import annotations

from pathlib import Path

import wa360
from conftest import check_expected_error, each_case, read_json, suite_present_test

test_suite_is_present = suite_present_test("webhook_url", 30)


@each_case("webhook_url")
def test_case(case: Path) -> None:
    inp = read_json(case / "input.json")
    headers = inp.get("headers")
    e = check_expected_error(
        case,
        lambda: wa360.validate_webhook_url(inp["url"], headers=headers),
        wa360.InvalidArgumentError,
    )
    if e is not None:
        for value in (headers or {}).values():
            if len(value) > 1:
                assert value not in str(e)
        return
    assert read_json(case / "expected.json")["ok"] is True
    wa360.validate_webhook_url(inp["url"], headers=headers)
