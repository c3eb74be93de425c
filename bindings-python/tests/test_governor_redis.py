"""The send governor shared through a real Redis (WA360_TEST_REDIS_URL, started by `make test`):
two clients (two handles, as two processes or machines would hold) pace one recipient together;
with in-process stores each paces alone."""

from __future__ import annotations

from uuid import uuid4

import pytest
import wa360
from conftest import redis_url
from wa360.testing import Sandbox

TO = "15555550123"


def store_url() -> str:
    return f"{redis_url('this test')}?name=pygov-{uuid4().hex[:12]}"


def governor(store: str) -> dict[str, object]:
    # One send per minute to a recipient; no per-number pacing; give up after 0.5 s.
    return {"messages_per_second": None, "pair_interval": 60, "max_wait": 0.5, "store": store}


def test_two_clients_with_one_redis_store_pace_a_recipient_together(sb: Sandbox) -> None:
    url = store_url()
    a = wa360.Client(sb.api_key, base_url=sb.url, governor=governor(url))
    b = wa360.Client(sb.api_key, base_url=sb.url, governor=governor(url))
    a.send_text(TO, "first")
    with pytest.raises(wa360.RateLimitedError) as e:
        b.send_text(TO, "second")
    assert e.value.retry_after is not None and e.value.retry_after > 50
    # Another recipient is not held back.
    b.send_text("15555550124", "other")


def test_in_process_stores_pace_each_client_alone(sb: Sandbox) -> None:
    a = wa360.Client(sb.api_key, base_url=sb.url, governor=governor("memory://"))
    b = wa360.Client(sb.api_key, base_url=sb.url, governor=governor("memory://"))
    a.send_text(TO, "first")
    b.send_text(TO, "second")  # its own bucket: nothing shared


def test_a_bad_store_url_is_invalid_and_an_unreachable_one_is_a_store_error() -> None:
    with pytest.raises(wa360.InvalidArgumentError) as e:
        wa360.Client("k", governor={"store": "postgres://x"})
    assert e.value.field == "governor_store"
    with pytest.raises(wa360.Wa360Error) as e2:
        wa360.Client("k", governor={"store": "redis://u:s3cr3t-sentinel@127.0.0.1:1/0"})
    assert e2.value.code == "store"
    assert "s3cr3t-sentinel" not in str(e2.value) + repr(e2.value)
