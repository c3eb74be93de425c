"""The core's log events arrive in Python's logging under ``wa360.*``: one INFO line per
request, retry decisions at DEBUG, levels honoured as they change, structured fields on
``record.wa360``; and ``metrics()`` counts what happened."""

from __future__ import annotations

import asyncio
import logging

import pytest
import wa360
from conftest import Collect
from wa360.testing import Sandbox


@pytest.fixture
def sb(module_sandbox: Sandbox) -> Sandbox:
    # Not the shared sandbox: the status webhooks of these sends must not reach a webhook
    # that a later test registers there.
    module_sandbox.reset()
    return module_sandbox


def test_a_send_at_info_is_exactly_one_record_with_its_fields(sb: Sandbox, logs: Collect) -> None:
    logging.getLogger("wa360").setLevel(logging.INFO)
    client = wa360.Client(sb.api_key, base_url=sb.url)
    sent = client.send_text("15555550123", "hello")
    [rec] = logs.wa360()
    assert rec.name == "wa360.transport"
    assert rec.levelno == logging.INFO
    msg = rec.getMessage()
    assert msg.startswith("request ok ")
    assert f"wamid={sent.message_id}" in msg
    fields = rec.wa360  # type: ignore[attr-defined]
    assert fields["method"] == "POST"
    assert fields["path"] == "/messages"
    assert fields["status"] == 200
    assert fields["attempts"] == 1
    assert fields["wamid"] == sent.message_id
    assert isinstance(fields["latency_ms"], int)


def test_async_send_at_info_is_one_record(sb: Sandbox, logs: Collect) -> None:
    logging.getLogger("wa360").setLevel(logging.INFO)

    async def go() -> None:
        client = wa360.AsyncClient(sb.api_key, base_url=sb.url)
        await client.send_text("15555550123", "hello")

    asyncio.run(go())
    assert [r.getMessage().split(" ")[0:2] for r in logs.wa360()] == [["request", "ok"]]


def test_levels_are_honoured_as_they_change(sb: Sandbox, logs: Collect) -> None:
    client = wa360.Client(sb.api_key, base_url=sb.url)
    logging.getLogger("wa360").setLevel(logging.WARNING)
    client.send_text("15555550123", "quiet")
    assert logs.wa360() == []
    # A child logger switched on alone is enough.
    child = logging.getLogger("wa360.transport")
    child.setLevel(logging.INFO)
    try:
        client.send_text("15555550123", "loud")
        assert len(logs.wa360()) == 1
    finally:
        child.setLevel(logging.NOTSET)
    client.send_text("15555550123", "quiet again")
    assert len(logs.wa360()) == 1
    logging.disable(logging.CRITICAL)
    try:
        logging.getLogger("wa360").setLevel(logging.DEBUG)
        client.send_text("15555550123", "disabled")
        assert len(logs.wa360()) == 1
    finally:
        logging.disable(logging.NOTSET)


def test_retry_decisions_at_debug_and_outcome_warnings(sb: Sandbox, logs: Collect) -> None:
    logging.getLogger("wa360").setLevel(logging.DEBUG)
    client = wa360.Client(sb.api_key, base_url=sb.url, max_retries=2)
    sb.fault("rate_limit", retry_after=0)
    client.send_text("15555550123", "after a retry")
    retry = [r for r in logs.wa360() if r.getMessage().startswith("retrying")]
    assert len(retry) == 1 and retry[0].levelno == logging.DEBUG
    assert retry[0].wa360["reason"] == "rate_limited"  # type: ignore[attr-defined]
    sb.fault("reset_after_body")
    with pytest.raises(wa360.OutcomeUnknownError):
        client.send_text("15555550123", "maybe sent")
    warn = [r for r in logs.wa360() if r.levelno == logging.WARNING]
    assert len(warn) == 1 and warn[0].wa360["code"] == "outcome_unknown"  # type: ignore[attr-defined]
    not_retried = [r for r in logs.wa360() if r.getMessage().startswith("not retried")]
    assert not_retried[-1].wa360["reason"] == "may_have_been_sent"  # type: ignore[attr-defined]


def test_webhook_verification_failure_is_a_warning(logs: Collect) -> None:
    logging.getLogger("wa360").setLevel(logging.INFO)
    v = wa360.Verifier(basic_auth=("u", "p"))
    assert not v.is_valid({"Authorization": "Basic Zm9vOmJhcg=="}, b"{}")
    [rec] = logs.wa360()
    assert rec.name == "wa360.webhook.verify" and rec.levelno == logging.WARNING
    assert rec.wa360["check"] == "basic_auth"  # type: ignore[attr-defined]


def test_metrics_count_outcomes_retries_and_send_latency(sb: Sandbox) -> None:
    client = wa360.Client(sb.api_key, base_url=sb.url, max_retries=2)
    assert client.metrics()["requests"] == {}
    client.send_text("15555550123", "one")
    sb.fault("rate_limit", retry_after=0)
    client.send_text("15555550123", "two")
    sb.fault("meta_error", code=131047)
    with pytest.raises(wa360.WindowClosedError):
        client.send_text("15555550123", "three")
    m = client.metrics()
    assert m["requests"] == {"ok": 2, "window_closed": 1}
    assert m["retries"] == {"rate_limited": 1}
    lat = m["send_latency"]
    assert lat["count"] == 3
    assert lat["buckets"][-1] == {"le": None, "count": 3}
    assert lat["sum_seconds"] > 0
