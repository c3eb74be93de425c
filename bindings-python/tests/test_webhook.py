"""Typed events, match statements, verification helpers, dedupe and status fold."""

from __future__ import annotations

import pytest
import wa360
from conftest import PAYLOADS
from wa360 import testing


def kind_of(event: wa360.Event) -> str:
    match event:
        case wa360.MessageEvent(type="text", from_=sender, text=body):
            return f"text from {sender}: {body}"
        case wa360.MessageEvent(type=t):
            return f"message {t}"
        case wa360.StatusEvent(status="failed"):
            return "failed"
        case wa360.StatusEvent(status=s, id=i):
            return f"{s} {i}"
        case wa360.ErrorEvent(errors=errs):
            return f"errors {errs[0]['code']}"
        case wa360.FieldUpdateEvent(field=f):
            return f"update {f}"
        case wa360.UnknownEvent():
            return "unknown"
    return "?"


def test_match_statements_over_a_batch() -> None:
    body = testing.batch(
        testing.inbound_text("15555550123", "hi", "wamid.1"),
        testing.inbound(
            "15555550123", "image", {"id": "9001", "mime_type": "image/jpeg"}, "wamid.2"
        ),
        testing.status("wamid.3", "delivered"),
        testing.status_failed("wamid.4", 131047, "Re-engagement message", "window closed"),
        testing.value_error(131000, "Something went wrong", "try later"),
    )
    events = wa360.parse_webhook(body)
    assert [kind_of(e) for e in events] == [
        "text from 15555550123: hi",
        "message image",
        "delivered wamid.3",
        "failed",
        "errors 131000",
    ]
    assert events[1].media_id == "9001"
    failed = events[3]
    assert isinstance(failed, wa360.StatusEvent)
    assert failed.errors[0]["code"] == 131047


def test_status_attributes_with_pricing() -> None:
    (e,) = wa360.parse_webhook((PAYLOADS / "payload_status_read" / "input.json").read_bytes())
    assert isinstance(e, wa360.StatusEvent)
    assert e.kind == "status" and e.status == "read"
    assert e.id is not None and e.id.startswith("wamid.")
    assert (
        e.pricing is not None
        and e.pricing["pricing_model"] == e.to_dict()["pricing"]["pricing_model"]
    )
    assert isinstance(e.timestamp, int)
    assert e.to_dict()["recipient_id"] == e.recipient_id


def test_field_update_and_unknown() -> None:
    body = (PAYLOADS / "payload_template_status_update_approved" / "input.json").read_bytes()
    (e,) = wa360.parse_webhook(body)
    match e:
        case wa360.FieldUpdateEvent("message_template_status_update", value):
            assert value["event"] == "APPROVED"
        case _:
            pytest.fail(repr(e))


def test_hostile_bodies_raise_webhook_payload_error() -> None:
    for body in [b"", b"[]", b"{", b'{"entry": []}' + b"x", b"[" * 100_000, 7]:
        with pytest.raises((wa360.WebhookPayloadError, wa360.InvalidArgumentError)):
            wa360.parse_webhook(body)  # type: ignore[arg-type]
    with pytest.raises(wa360.WebhookPayloadError):
        wa360.parse_webhook(b'{"entry": []}', max_bytes=5)


def test_verify_webhook_helpers() -> None:
    body = testing.inbound_text("15555550123", "hi", "wamid.V")
    wa360.verify_webhook(testing.signed_headers("app-secret", body), body, app_secret="app-secret")
    wa360.verify_webhook([testing.basic_auth_header("u", "p")], body, basic_auth=("u", "p"))
    wa360.verify_webhook({"X-Key": "k1"}, body, header=("X-Key", "k1"))
    with pytest.raises(wa360.InvalidSignatureError):
        wa360.verify_webhook(testing.signed_headers("other", body), body, app_secret="app-secret")
    with pytest.raises(wa360.InvalidSignatureError):
        wa360.verify_webhook({}, body, basic_auth=("u", "p"))
    v = wa360.Verifier(basic_auth=("u", "p"), headers={"X-Key": "k1"})
    assert v.is_valid([testing.basic_auth_header("u", "p"), (b"x-key", b"k1")], body)
    assert not v.is_valid([testing.basic_auth_header("u", "p")], body)
    assert "p" not in repr(v).replace("Verifier", "")
    with pytest.raises(wa360.InvalidArgumentError):
        wa360.Verifier()


def test_deduper_and_status_fold() -> None:
    d = wa360.Deduper()
    body = testing.inbound_text("15555550123", "hi", "wamid.D")
    first = d.filter(wa360.parse_webhook(body))
    assert len(first) == 1
    assert d.filter(wa360.parse_webhook(body)) == []
    d.forget(first[0])
    assert len(d.filter(wa360.parse_webhook(body))) == 1

    fold = wa360.StatusFold()
    read = wa360.parse_webhook(testing.status("wamid.F", "read"))
    late_sent = wa360.parse_webhook(testing.status("wamid.F", "sent"))
    assert fold.apply(read[0]) == "advanced"
    assert fold.apply(late_sent[0]) == "stale"
    assert fold.filter(late_sent) == []
    state = fold.state("wamid.F")
    assert state is not None and state["status"] == "read" and state["failed"] is False
    assert fold.state("wamid.none") is None
    with pytest.raises(wa360.InvalidArgumentError):
        d.is_new("not an event")  # type: ignore[arg-type]
