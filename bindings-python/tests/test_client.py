"""Client and AsyncClient against the sandbox over real HTTP: every message type, status
updates, media, webhook registration; both flavours run every test."""

from __future__ import annotations

from typing import Any

import pytest
import wa360
from conftest import Call
from wa360.testing import Sandbox

TO = "15555550123"
CONTACT = {"name": {"formatted_name": "Example Support"}, "phones": [{"phone": "+1 555 010 4321"}]}

# (helper, args, kwargs, the neutral spec the helper must produce)
CASES: list[tuple[str, tuple[Any, ...], dict[str, Any], dict[str, Any]]] = [
    (
        "send_text",
        ("+1 555 555 0123", "Hello"),
        {"preview_url": True, "reply_to": "wamid.R", "callback_data": "cb-1"},
        {
            "to": TO,
            "type": "text",
            "text": {"body": "Hello", "preview_url": True},
            "reply_to": "wamid.R",
            "callback_data": "cb-1",
        },
    ),
    ("send_text", (TO, "plain"), {}, {"to": TO, "type": "text", "text": "plain"}),
    (
        "send_image",
        (TO, "1029384756"),
        {"caption": "receipt"},
        {"to": TO, "type": "image", "image": {"id": "1029384756", "caption": "receipt"}},
    ),
    (
        "send_image",
        (TO, "https://cdn.example.com/a.jpg"),
        {},
        {"to": TO, "type": "image", "image": {"link": "https://cdn.example.com/a.jpg"}},
    ),
    (
        "send_video",
        (TO, "https://cdn.example.com/v.mp4"),
        {"caption": "clip"},
        {
            "to": TO,
            "type": "video",
            "video": {"link": "https://cdn.example.com/v.mp4", "caption": "clip"},
        },
    ),
    ("send_audio", (TO, "55501"), {}, {"to": TO, "type": "audio", "audio": {"id": "55501"}}),
    (
        "send_document",
        (TO, "https://cdn.example.com/inv.pdf"),
        {"filename": "inv.pdf", "caption": "Invoice"},
        {
            "to": TO,
            "type": "document",
            "document": {
                "link": "https://cdn.example.com/inv.pdf",
                "filename": "inv.pdf",
                "caption": "Invoice",
            },
        },
    ),
    ("send_sticker", (TO, "77701"), {}, {"to": TO, "type": "sticker", "sticker": {"id": "77701"}}),
    (
        "send_location",
        (TO, 52.52, 13.405),
        {"name": "Store", "address": "Alexanderplatz 1"},
        {
            "to": TO,
            "type": "location",
            "location": {
                "latitude": 52.52,
                "longitude": 13.405,
                "name": "Store",
                "address": "Alexanderplatz 1",
            },
        },
    ),
    ("send_contacts", (TO, [CONTACT]), {}, {"to": TO, "type": "contacts", "contacts": [CONTACT]}),
    (
        "send_reaction",
        (TO, "wamid.A", "👍"),
        {},
        {"to": TO, "type": "reaction", "reaction": {"message_id": "wamid.A", "emoji": "👍"}},
    ),
    (
        "send_reaction",
        (TO, "wamid.A", ""),
        {},
        {"to": TO, "type": "reaction", "reaction": {"message_id": "wamid.A", "emoji": ""}},
    ),
    (
        "send_buttons",
        (TO, "Pick one", [("yes", "Yes"), {"id": "no", "title": "No"}]),
        {"footer": "thanks"},
        {
            "to": TO,
            "type": "interactive",
            "interactive": {
                "type": "button",
                "body": "Pick one",
                "footer": "thanks",
                "buttons": [{"id": "yes", "title": "Yes"}, {"id": "no", "title": "No"}],
            },
        },
    ),
    (
        "send_list",
        (TO, "Menu", "Open", [{"title": "Main", "rows": [{"id": "r1", "title": "Soup"}]}]),
        {"header": "Lunch"},
        {
            "to": TO,
            "type": "interactive",
            "interactive": {
                "type": "list",
                "body": "Menu",
                "header": "Lunch",
                "button": "Open",
                "sections": [{"title": "Main", "rows": [{"id": "r1", "title": "Soup"}]}],
            },
        },
    ),
    (
        "send_interactive",
        (
            TO,
            {
                "type": "cta_url",
                "body": "Track it",
                "display_text": "Open",
                "url": "https://example.com/t",
            },
        ),
        {},
        {
            "to": TO,
            "type": "interactive",
            "interactive": {
                "type": "cta_url",
                "body": "Track it",
                "display_text": "Open",
                "url": "https://example.com/t",
            },
        },
    ),
    (
        "send_template",
        (TO, "order_update", "en_US"),
        {"body": ["Maya", "4471"]},
        {
            "to": TO,
            "type": "template",
            "template": {"name": "order_update", "language": "en_US", "body": ["Maya", "4471"]},
        },
    ),
]


@pytest.mark.parametrize(
    "helper,args,kwargs,spec", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)]
)
def test_every_message_type_is_sent(
    call: Call, sb: Sandbox, helper: str, args: Any, kwargs: Any, spec: dict[str, Any]
) -> None:
    resp = call(helper, *args, **kwargs)
    assert isinstance(resp, wa360.SendResponse)
    assert resp.message_id and resp.message_id.startswith("wamid.")
    assert resp.messages[0]["id"] == resp.message_id
    assert resp.contacts[0]["input"] == TO
    (req,) = sb.requests(path="/messages")
    assert req["status"] == 200
    # The wire body is exactly what the core builds from the neutral spec.
    assert req["body"] == wa360.build_message(spec)


def test_send_dict_and_send_body(call: Call, sb: Sandbox) -> None:
    r1 = call("send", {"to": TO, "type": "text", "text": "dict"})
    body = wa360.build_message({"to": TO, "type": "text", "text": "raw"})
    r2 = call("send_body", body)
    assert r1.message_id != r2.message_id
    reqs = sb.requests(path="/messages")
    assert [r["body"]["text"]["body"] for r in reqs] == ["dict", "raw"]
    assert r1.to_dict()["messages"][0]["id"] == r1.message_id


def test_invalid_message_raises_before_any_request(call: Call, sb: Sandbox) -> None:
    with pytest.raises(wa360.InvalidArgumentError) as info:
        call("send_buttons", TO, "Pick", [(f"b{i}", f"B{i}") for i in range(4)])
    assert info.value.field is not None and "buttons" in info.value.field
    with pytest.raises(wa360.InvalidArgumentError) as info:
        call("send", {"to": TO, "type": "text", "text": "x", "bogus": 1})
    assert info.value.field == "bogus"
    with pytest.raises(wa360.InvalidArgumentError):
        call("send", {"to": TO, "type": "text", "text": object()})
    assert sb.requests() == []


def test_mark_read_and_typing(call: Call, sb: Sandbox) -> None:
    assert call("mark_read", "wamid.IN1") is None
    assert call("typing", "wamid.IN2") is None
    read, typing = (r["body"] for r in sb.requests(path="/messages"))
    assert read == wa360.build_message({"type": "mark_read", "message_id": "wamid.IN1"})
    assert typing == wa360.build_message({"type": "typing", "message_id": "wamid.IN2"})


def test_media_round_trip(call: Call, sb: Sandbox) -> None:
    data = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8
    media_id = call("upload_media", data, "image/png", "logo.png")
    assert media_id.isdigit()
    info = call("media_info", media_id)
    assert isinstance(info, wa360.MediaInfo)
    assert (info.id, info.mime_type, info.file_size) == (media_id, "image/png", len(data))
    got = call("download_media", media_id)
    assert isinstance(got, bytes) and got == data
    assert call("download_media_url", info.url) == data
    assert call("delete_media", media_id) is None
    with pytest.raises(wa360.Wa360Error) as err:
        call("media_info", media_id)
    assert err.value.status == 404


def test_webhook_registration_both_levels(call: Call, sb: Sandbox) -> None:
    assert call("get_webhook") is None
    call("set_webhook", "https://hooks.example.com/wa", headers={"Authorization": "Basic c2VjcmV0"})
    call("set_webhook", "https://hooks.example.com/waba", waba=True)
    phone = call("get_webhook")
    assert isinstance(phone, wa360.WebhookSettings)
    assert phone.url == "https://hooks.example.com/wa"
    assert "c2VjcmV0" not in repr(phone)
    assert call("get_webhook", waba=True).url == "https://hooks.example.com/waba"
    assert sb.phone_webhook()["headers"] == {"Authorization": "Basic c2VjcmV0"}


def test_bad_webhook_url_rejected_locally(call: Call, sb: Sandbox) -> None:
    with pytest.raises(wa360.InvalidArgumentError) as info:
        call("set_webhook", "https://hooks.example.com:8443/wa")
    assert info.value.field == "url"
    assert sb.requests() == []


def test_repr_never_shows_the_key(sb: Sandbox) -> None:
    for cls in (wa360.Client, wa360.AsyncClient):
        c = cls("super-secret-key-123", base_url=sb.url)
        assert "super-secret-key-123" not in repr(c)
        assert "***" in repr(c)


def test_key_from_environment(sb: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("D360_API_KEY", sb.api_key)
    assert wa360.Client(base_url=sb.url).send_text(TO, "env").message_id
    monkeypatch.delenv("D360_API_KEY")
    with pytest.raises(wa360.ConfigurationError):
        wa360.Client(base_url=sb.url)
