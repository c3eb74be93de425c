"""tests/conformance/webhook_url through the Python API: wa360.validate_webhook_url (with the
headers when given) accepts or rejects each registration setting, naming field and rule, and
never repeats a header value."""

from __future__ import annotations

from pathlib import Path

import pytest
import wa360
from conftest import case_dirs, read_json

CASES = case_dirs("webhook_url")


def test_suite_is_present() -> None:
    assert len(CASES) >= 30


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_case(case: Path) -> None:
    inp = read_json(case / "input.json")
    headers = inp.get("headers")
    err = case / "expected_error.json"
    if err.exists():
        want = read_json(err)
        with pytest.raises(wa360.InvalidArgumentError) as info:
            wa360.validate_webhook_url(inp["url"], headers=headers)
        e = info.value
        assert e.code == want["code"]
        if "field" in want:
            assert e.field == want["field"], str(e)
        if "message_contains" in want:
            assert want["message_contains"] in str(e)
        for value in (headers or {}).values():
            if len(value) > 1:
                assert value not in str(e)
        return
    assert read_json(case / "expected.json")["ok"] is True
    wa360.validate_webhook_url(inp["url"], headers=headers)
