"""Hostile and careless input (issue 16): every bad input gets a wa360 error (never a
foreign exception or a panic), values JSON allows but a language cannot hold give one
answer, and Ctrl-C interrupts a blocking send."""

from __future__ import annotations

import inspect
import json
import os
import signal
import threading
import time
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
import wa360
from wa360.receivers import WebhookReceiver
from wa360.testing import Sandbox

TO = "15555550123"
GOOD = {"authorization": "Basic aG9vazpyaWdodA=="}  # hook:right


def body_with(messages: str, extra: str = "") -> bytes:
    return (
        '{"entry":[{"id":"W","changes":[{"field":"messages","value":{"messages":['
        + messages
        + "]"
        + extra
        + "}}]}]}"
    ).encode()


# -- item 2: values JSON allows but f64 / UTF-16 cannot hold ---------------------------------


def test_lone_surrogates_and_huge_numbers_never_make_an_event_none() -> None:
    body = body_with(
        '{"id":"wamid.\\ud800","type":"text","text":{"body":"a\\udc00","n":1e400,'
        '"big":' + "9" * 400 + ',"over":9007199254740993}},'
        '{"id":"wamid.OK","type":"text","text":{"body":"fine"}}'
    )
    events = wa360.parse_webhook(body)
    assert [e.id for e in events] == ["wamid.\ufffd", "wamid.OK"]
    first = events[0]
    assert first.text == "a\ufffd"
    payload = first.payload
    assert payload == {
        "body": "a\ufffd",
        "n": "1e400",
        "big": "9" * 400,
        "over": "9007199254740993",
    }
    d = first.to_dict()
    assert d is not None and d["text"] == payload
    # to_json() does not depend on which attribute was read first.
    fresh = wa360.parse_webhook(body)[0]
    assert json.loads(fresh.to_json()) == json.loads(first.to_json()) == d


def test_bad_piece_never_drops_valid_events_beside_it() -> None:
    body = (
        b'{"entry":[{"id":"W","changes":['
        b'{"field":"account_update","value":{"event":"\\udbff","n":1E999}},'
        b'{"field":"messages","value":{"messages":[{"id":"wamid.V","type":"text",'
        b'"text":{"body":"bad \xff byte"}}]}}]}]}'
    )
    events = wa360.parse_webhook(body)
    assert [e.kind for e in events] == ["field_update", "message"]
    assert events[0].value == {"event": "\ufffd", "n": "1E999"}
    assert events[1].text == "bad \ufffd byte"


def test_str_body_with_lone_surrogate_is_read_like_node() -> None:
    # A str no UTF-8 encoder accepts: the lone surrogate becomes U+FFFD (as Node's
    # string conversion does), never a UnicodeEncodeError.
    text = body_with('{"id":"wamid.S","type":"text","text":{"body":"xQy"}}').decode()
    events = wa360.parse_webhook(text.replace("Q", "\ud800"))
    assert events[0].text == "x\ufffdy"
    assert json.loads(wa360.parse_webhook_json(text.replace("Q", "\udc00")))[0]["text"] == {
        "body": "x\ufffdy"
    }


# -- item 3: dedupe keys never collide on values a language cannot hold ------------------------


def test_deduper_keeps_distinct_idless_events_apart() -> None:
    bodies = [
        body_with('{"type":"text","text":{"n":1e400}}'),
        body_with('{"type":"text","text":{"n":2e400}}'),
        body_with("", ',"errors":[{"code":' + "1" * 400 + "}]"),
        body_with("", ',"errors":[{"code":' + "2" * 400 + "}]"),
    ]
    d = wa360.Deduper()
    kept = [e for b in bodies for e in d.filter(wa360.parse_webhook(b))]
    assert len(kept) == 4
    assert d.filter(wa360.parse_webhook(bodies[0])) == []


# -- item 5: foreign exceptions and panics ---------------------------------------------------


def test_verifier_with_lone_surrogates_fails_closed_with_wa360_errors() -> None:
    v = wa360.Verifier(basic_auth=("hook", "right"))
    body = body_with("")
    bad_header = {"authorization": "Basic \ud800"}
    assert v.is_valid(bad_header, body) is False
    signed = wa360.Verifier(app_secret="s3cret")
    sig = {"x-hub-signature-256": wa360.testing.hub_signature("s3cret", b"x\xef\xbf\xbd")}
    assert signed.is_valid(sig, "x\ud800") is True  # the str body is read as "x\ufffd"
    assert signed.is_valid(sig, "y\ud800") is False
    with pytest.raises(wa360.InvalidSignatureError):
        v.verify(bad_header, body)
    with pytest.raises(wa360.InvalidSignatureError):
        v.verify({"\ud800": "x"}, "body \udc00")
    assert v.is_valid(GOOD, body) is True
    with pytest.raises(wa360.InvalidArgumentError):
        v.verify({"authorization": 5}, body)


@pytest.mark.parametrize("cls", [wa360.Deduper, wa360.StatusFold])
@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"ttl": 1e20}, "ttl"),
        ({"ttl": float("nan")}, "ttl"),
        ({"ttl": -5}, "ttl"),
        ({"ttl": 10**400}, "ttl"),
        ({"ttl": True}, "ttl"),
        ({"capacity": -1}, "capacity"),
        ({"capacity": 0}, "capacity"),
        ({"capacity": 2**70}, "capacity"),
        ({"capacity": 1.5}, "capacity"),
    ],
)
def test_store_options_raise_invalid_argument_naming_the_option(
    cls: Any, kwargs: dict[str, Any], field: str
) -> None:
    with pytest.raises(wa360.InvalidArgumentError) as e:
        cls(**kwargs)
    assert e.value.field == field


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"max_retries": -1}, "max_retries"),
        ({"max_retries": 2**64}, "max_retries"),
        ({"max_retries": 101}, "max_retries"),
        ({"timeout": -1}, "timeout"),
        ({"timeout": 1e30}, "timeout"),
        ({"timeout": 10**400}, "timeout"),
        ({"connect_timeout": float("inf")}, "connect_timeout"),
    ],
)
def test_client_options_raise_invalid_argument_naming_the_option(
    kwargs: dict[str, Any], field: str
) -> None:
    with pytest.raises(wa360.InvalidArgumentError) as e:
        wa360.Client("k", base_url="http://127.0.0.1:9", **kwargs)
    assert e.value.field == field


@pytest.mark.parametrize("cls", [wa360.Client, wa360.AsyncClient])
@pytest.mark.parametrize(
    ("args", "kwargs", "field"),
    [
        (("SentinelKey\ud800abc",), {}, "api_key"),
        ((b"SentinelKey-bytes",), {}, "api_key"),
        ((12345,), {}, "api_key"),
        (("SentinelKey-ok",), {"base_url": "http://127.0.0.1:9/\udcff"}, "base_url"),
        (("SentinelKey-ok",), {"base_url": 9}, "base_url"),
    ],
)
def test_a_bad_key_or_base_url_is_invalid_argument_that_never_shows_the_key(
    cls: Any, args: tuple[Any, ...], kwargs: dict[str, Any], field: str
) -> None:
    # An API key read from the environment with stray bytes holds lone surrogates.
    with pytest.raises(wa360.InvalidArgumentError) as e:
        cls(*args, **kwargs)
    assert e.value.field == field
    shown = f"{e.value} {e.value!r} {e.value.args!r}"
    assert "SentinelKey" not in shown, shown


@pytest.mark.parametrize(
    "kw", [{"max_bytes": -1}, {"max_depth": 2**80}, {"max_depth": 0}, {"max_bytes": 0}]
)
def test_parse_limits_raise_invalid_argument(kw: dict[str, int]) -> None:
    with pytest.raises(wa360.InvalidArgumentError) as e:
        wa360.parse_webhook(b'{"entry":[]}', **kw)
    assert e.value.field == next(iter(kw))
    # The receivers read the same limits by the same rule.
    with pytest.raises(wa360.InvalidArgumentError) as e:
        WebhookReceiver(lambda events: None, insecure_skip_verify=True, **kw)
    assert e.value.field == next(iter(kw))


@pytest.mark.parametrize("timeout", [-1.0, float("nan"), 1e300])
def test_consumer_wait_out_of_range_is_invalid_argument(timeout: float) -> None:
    # 1e300 s used to overflow Duration inside the binding (an internal error).
    c = wa360.Inbox("memory://").consumer()
    with pytest.raises(wa360.InvalidArgumentError) as e:
        c.next(1, timeout)
    assert e.value.field == "timeout"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"port": -1}, "port"),
        ({"port": 2**70}, "port"),
        ({"max_delivery_attempts": -1}, "max_delivery_attempts"),
    ],
)
def test_sandbox_options_raise_invalid_argument(kwargs: dict[str, int], field: str) -> None:
    with pytest.raises(wa360.InvalidArgumentError) as e:
        Sandbox(**kwargs)
    assert e.value.field == field


def test_upload_media_of_a_str_is_invalid_argument_before_any_request() -> None:
    client = wa360.Client("k", base_url="http://127.0.0.1:9")
    with pytest.raises(wa360.InvalidArgumentError) as e:
        client.upload_media("/tmp/photo.jpg", "image/jpeg")  # type: ignore[arg-type]
    assert e.value.field == "data"


class ReadOnly(Mapping[str, Any]):
    """A Mapping that is not a dict (the stubs promise Mapping)."""

    def __init__(self, d: dict[str, Any]) -> None:
        self._d = d

    def __getitem__(self, k: str) -> Any:
        return self._d[k]

    def __iter__(self) -> Iterator[str]:
        return iter(self._d)

    def __len__(self) -> int:
        return len(self._d)


def test_any_mapping_is_accepted_like_a_dict() -> None:
    spec = ReadOnly({"to": TO, "type": "text", "text": ReadOnly({"body": "hi"})})
    assert wa360.build_message(spec) == wa360.build_message(
        {"to": TO, "type": "text", "text": {"body": "hi"}}
    )


# -- item 8: one rule for message input in Python and Node ----------------------------------


def test_message_input_rules() -> None:
    def err(spec: Any) -> wa360.InvalidArgumentError:
        with pytest.raises(wa360.InvalidArgumentError) as e:
            wa360.build_message(spec)
        return e.value

    e = err({"to": TO, "type": "text", "text": {"body": "a\ud800"}})
    assert e.field == "text.body" and "lone surrogate" in str(e)
    e = err({"to": TO, "type": "text", "text": {"body": 2**64}})
    assert e.field == "text.body" and "64-bit" in str(e)
    deep: Any = "x"
    for _ in range(65):
        deep = {"a": deep}
    e = err({"to": TO, "type": "text", "text": {"body": "hi"}, "x": deep})
    assert e.field.startswith("x.a.a") and "64 levels" in str(e)
    # A whole float is the same input as an int (JavaScript has one number type).
    with_float = wa360.build_message(
        {"to": TO, "type": "location", "location": {"latitude": 1.0, "longitude": 2}}
    )
    assert with_float["location"]["latitude"] == 1


# -- item 10: Ctrl-C during a blocking send --------------------------------------------------


@pytest.mark.skipif(threading.current_thread() is not threading.main_thread(), reason="signals")
def test_ctrl_c_interrupts_a_blocking_send_at_once(sb: Sandbox) -> None:
    client = wa360.Client(sb.api_key, base_url=sb.url, timeout=60)
    sb.fault("delay", ms=20_000)  # the sandbox would hold the answer for 20 s
    timer = threading.Timer(0.5, lambda: os.kill(os.getpid(), signal.SIGINT))
    started = time.monotonic()
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            client.send_text(TO, "slow")
    finally:
        timer.cancel()
    # Interrupted long before the answer (generous bound for a loaded machine).
    assert time.monotonic() - started < 10


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda c: c.mark_read("wamid.\ud800"), "message_id"),
        (lambda c: c.typing("\udc00"), "message_id"),
        (lambda c: c.media_info("\ud800"), "media_id"),
        (lambda c: c.download_media_url("https://x\ud800"), "url"),
        (lambda c: c.upload_media(b"x", "image/\ud800"), "mime_type"),
        (lambda c: c.set_webhook("https://example.com/\ud800"), "url"),
        (lambda c: c.set_webhook("https://example.com/h", headers={"a": "\ud800"}), "headers.a"),
        (lambda c: c.mark_read(5), "message_id"),
    ],
)
def test_str_arguments_with_lone_surrogates_are_invalid_argument(call: Any, field: str) -> None:
    client = wa360.Client("k", base_url="http://127.0.0.1:9", max_retries=0)
    with pytest.raises(wa360.InvalidArgumentError) as e:
        call(client)
    assert e.value.field == field


def test_handshake_and_url_helpers_with_lone_surrogates() -> None:
    with pytest.raises(wa360.InvalidArgumentError) as e:
        wa360.hub_challenge("subscribe", "\ud800", "c", "t")
    assert e.value.field == "verify_token"
    with pytest.raises(wa360.InvalidArgumentError) as e:
        wa360.validate_webhook_url("https://example.com/\udfff")
    assert e.value.field == "url"


def _required_positional(fn: Any) -> int:
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return 1
    return sum(
        1
        for p in sig.parameters.values()
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty
    )


def test_every_entry_point_raises_only_wa360_errors_for_wrong_arguments() -> None:
    """Item 5/7: any wrong argument gives a wa360 error (never TypeError, OverflowError,
    UnicodeEncodeError, AttributeError or a panic)."""
    bad: list[Any] = [None, 5, {}, [], b"x", 2**70, 1.5, float("nan"), object(), "\ud800"]
    client = wa360.Client("k", base_url="http://127.0.0.1:9", max_retries=0)
    verifier = wa360.Verifier(basic_auth=("u", "p"))
    dedupe, fold = wa360.Deduper(), wa360.StatusFold()
    targets: list[tuple[str, Any]] = [
        (n, getattr(wa360, n))
        for n in (
            "build_message",
            "parse_webhook",
            "parse_webhook_json",
            "hub_challenge",
            "hub_challenge_from_query",
            "validate_webhook_url",
        )
    ]
    targets += [
        (f"Client.{n}", getattr(client, n))
        for n in dir(client)
        if not n.startswith("_") and callable(getattr(client, n))
    ]
    targets += [(f"Verifier.{n}", getattr(verifier, n)) for n in ("verify", "is_valid")]
    targets += [(f"Deduper.{n}", getattr(dedupe, n)) for n in ("is_new", "forget", "filter")]
    targets += [(f"StatusFold.{n}", getattr(fold, n)) for n in ("apply", "filter", "state")]
    foreign = []
    for name, fn in targets:
        arity = _required_positional(fn)
        for pos in range(arity):
            for b in bad:
                args: list[Any] = [TO, "x", "y", "z", "w"][:arity]
                args[pos] = b
                try:
                    fn(*args)
                except wa360.Wa360Error:
                    pass
                except BaseException as e:  # noqa: BLE001 - what this test looks for
                    foreign.append(f"{name} arg {pos} = {b!r}: {type(e).__name__}: {e}")
    assert foreign == [], "\n".join(foreign)
    assert len(targets) > 25


def test_a_list_longer_than_any_message_list_is_invalid_argument_naming_it() -> None:
    too_many = [{"name": {"formatted_name": "x"}}] * 10_001
    with pytest.raises(wa360.InvalidArgumentError) as e:
        wa360.build_message({"to": "15555550123", "type": "contacts", "contacts": too_many})
    assert e.value.field == "contacts" and "10000" in str(e.value)
    # 10 000 is the limit, not an error: the list is read (and then checked by its rules).
    ok = [{"name": {"formatted_name": "x"}, "phones": [{"phone": "+1 555"}]}] * 2
    assert wa360.build_message({"to": "15555550123", "type": "contacts", "contacts": ok})


@pytest.mark.parametrize(
    ("method", "args", "field"),
    [
        ("send_image", ("15555550123", float("nan")), "image"),
        ("send_template", ("15555550123", "order_update", "\ud800"), "template.language"),
        ("send_location", ("15555550123", float("nan"), 1), "location.latitude"),
        ("send_location", ("15555550123", 1, float("inf")), "location.longitude"),
        (
            "send_contacts",
            ("15555550123", [{"name": {"formatted_name": "\ud800"}}]),
            "contacts[0].name.formatted_name",
        ),
        ("send_interactive", ("15555550123", {"type": "button", "x": 2**70}), "interactive.x"),
        ("send_buttons", ("15555550123", "pick", [("a", "\ud800")]), "interactive.buttons[0][1]"),
    ],
)
def test_send_helper_arguments_name_their_place_in_the_message_as_in_node(
    method: str, args: tuple[Any, ...], field: str
) -> None:
    # The same table as hostile.test.mjs: both languages name the same field.
    client = wa360.Client("k", base_url="http://127.0.0.1:9", max_retries=0)
    with pytest.raises(wa360.InvalidArgumentError) as e:
        getattr(client, method)(*args)
    assert e.value.field == field


def test_a_store_path_with_a_nul_character_is_invalid_argument_naming_it() -> None:
    # SQLite refused it with an error that read as internal (media cache) or as a store
    # failure (inbox); a path no file system takes is bad input.
    with pytest.raises(wa360.InvalidArgumentError) as e:
        wa360.MediaCache(path="/tmp/wa360-\0-cache.db")
    assert e.value.field == "path"
    with pytest.raises(wa360.InvalidArgumentError) as e:
        wa360.Inbox("sqlite:///tmp/wa360-\0-inbox.db")
    assert e.value.field == "inbox"


SURROGATE = json.loads('"\\ud800"')


@pytest.mark.parametrize(
    ("field", "call"),
    [
        ("timeout", lambda c: c.next(1, 10**400)),
        ("timeout", lambda c: c.next(1, -(10**400))),
    ],
)
def test_consumer_numbers_past_a_float_are_invalid_argument(field: str, call: Any) -> None:
    c = wa360.Inbox("memory://").consumer()
    with pytest.raises(wa360.InvalidArgumentError) as e:
        call(c)
    assert e.value.field == field


def test_number_options_take_any_real_number_but_not_text() -> None:
    from decimal import Decimal
    from fractions import Fraction

    c = wa360.Inbox("memory://").consumer()
    for ok in (Decimal("0.01"), Fraction(1, 100), 0, 0.01):
        assert c.next(1, ok) == []
    for bad in ("0.01", b"1", Decimal("1e400"), None):
        with pytest.raises(wa360.InvalidArgumentError) as e:
            c.next(1, bad) if bad is not None else c.next(1, [])  # type: ignore[arg-type]
        assert e.value.field == "timeout", bad


@pytest.mark.parametrize(
    ("field", "make"),
    [
        ("ttl_days", lambda: wa360.MediaCache(ttl_days=10**400)),
        ("shutdown_grace", lambda: WebhookReceiver(lambda e: None, shutdown_grace=10**400)),
        ("body_timeout", lambda: WebhookReceiver(lambda e: None, body_timeout=10**400)),
        ("inbox", lambda: wa360.Inbox("memory://" + SURROGATE)),
        ("verify_token", lambda: wa360._native.Receiver(verify_token="t" + SURROGATE)),
        ("template", lambda: wa360.Campaign("t" + SURROGATE, "en", [("15555550123", [])])),
        ("language", lambda: wa360.Campaign("t", "en" + SURROGATE, [("15555550123", [])])),
        ("recipients[0][1][0]", lambda: wa360.Campaign("t", "en", [("15555550123", [SURROGATE])])),
        ("recipients[1][0]", lambda: wa360.Campaign("t", "en", [("15555550123", []), (7, [])])),
        ("recipients[0]", lambda: wa360.Campaign("t", "en", ["15555550123"])),
        ("recipients", lambda: wa360.Campaign("t", "en", 5)),
        ("template", lambda: wa360.Campaign.from_csv("t" + SURROGATE, "en", "to\n15555550123\n")),
    ],
)
def test_odd_numbers_and_lone_surrogates_in_options_are_invalid_argument(
    field: str, make: Any
) -> None:
    """Never Python's OverflowError or UnicodeEncodeError, never PyO3's TypeError."""
    with pytest.raises(wa360.InvalidArgumentError) as e:
        make()
    assert e.value.field == field, e.value
