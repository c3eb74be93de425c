"""tests/conformance/webhook_parse through the Python API: the raw body must parse to the
canonical events of expected.json (via Event.to_dict and via parse_webhook_json), or fail
with the error code of expected_error.json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import wa360
from conftest import each_case, read_json, suite_present_test

test_suite_is_present = suite_present_test("webhook_parse", 50)


@each_case("webhook_parse")
def test_case(case: Path) -> None:
    body = (case / "input.json").read_bytes()
    err = case / "expected_error.json"
    if err.exists():
        code = read_json(err)["code"]
        with pytest.raises(wa360.Wa360Error) as info:
            wa360.parse_webhook(body)
        assert info.value.code == code
        assert type(info.value) is wa360.errors.error_class(code)
        with pytest.raises(wa360.Wa360Error):
            wa360.parse_webhook_json(body)
        return
    want = read_json(case / "expected.json")
    events = wa360.parse_webhook(body)
    assert [e.to_dict() for e in events] == want
    assert json.loads(wa360.parse_webhook_json(body)) == want
    # str input gives the same events as bytes (bodies are UTF-8).
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return
    assert [e.to_dict() for e in wa360.parse_webhook(text)] == want
    # Each event's class matches its kind.
    classes = {
        "message": wa360.MessageEvent,
        "status": wa360.StatusEvent,
        "error": wa360.ErrorEvent,
        "field_update": wa360.FieldUpdateEvent,
        "unknown": wa360.UnknownEvent,
    }
    for e, d in zip(events, want, strict=True):
        assert type(e) is classes[d["kind"]]
        assert isinstance(e, wa360.Event)
        assert e.kind == d["kind"]
        assert (e.field, e.waba_id, e.phone_number_id) == (
            d["field"],
            d["waba_id"],
            d["phone_number_id"],
        )
