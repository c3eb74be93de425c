"""The Sandbox's test helpers over real HTTP: ``fault(kind, *, method, path, count, **params)``
with the same meaning as Node's ``fault(kind, options)`` (the sandbox assembles the rule)."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
import wa360
from wa360.testing import Sandbox

TO = "15555550123"


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    with Sandbox(time_scale=0.01) as s:
        yield s


@pytest.fixture
def client(sb: Sandbox) -> Iterator[wa360.Client]:
    sb.reset()
    with wa360.Client(sb.api_key, base_url=sb.url, max_retries=0) as c:
        yield c


def _health_status(sb: Sandbox) -> int:
    req = urllib.request.Request(f"{sb.url}/health_status", headers={"D360-API-KEY": sb.api_key})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return int(r.status)
    except urllib.error.HTTPError as e:
        return int(e.code)


def test_fault_by_kind_hits_the_next_send_once_with_its_parameters(
    sb: Sandbox, client: wa360.Client
) -> None:
    sb.fault("meta_error", code=131047, details="outside the window")
    assert _health_status(sb) == 200  # a GET elsewhere is not hit by the default rule
    with pytest.raises(wa360.Wa360Error) as e:
        client.send_text(TO, "a")
    assert (e.value.code, e.value.api_code) == ("window_closed", 131047)
    assert client.send_text(TO, "b").message_id.startswith("wamid.")


def test_fault_method_and_path_none_match_any_and_count_sets_how_many(
    sb: Sandbox, client: wa360.Client
) -> None:
    sb.fault("status", method=None, path=None, count=2, status=503)
    assert _health_status(sb) == 503
    with pytest.raises(wa360.Wa360Error) as e:
        client.send_text(TO, "a")
    assert e.value.status == 503
    assert client.send_text(TO, "b").message_id.startswith("wamid.")
    sb.fault("rate_limit", method="GET", path="/health_status", count=0)
    assert [_health_status(sb) for _ in range(3)] == [429, 429, 429]
    sb.clear_faults()
    assert _health_status(sb) == 200


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"method": 1}, "method"),
        ({"path": ["/messages"]}, "path"),
        ({"count": -1}, "count"),
        ({"count": 1.5}, "count"),
        ({"count": "2"}, "count"),
    ],
)
def test_bad_fault_options_name_the_option(
    sb: Sandbox, client: wa360.Client, options: dict[str, Any], field: str
) -> None:
    with pytest.raises(wa360.InvalidArgumentError) as e:
        sb.fault("html", **options)
    assert e.value.field == field
    assert client.send_text(TO, "ok").message_id.startswith("wamid.")


def test_unknown_kind_or_missing_parameter_is_invalid_argument(sb: Sandbox) -> None:
    with pytest.raises(wa360.InvalidArgumentError, match="no_such_kind"):
        sb.fault("no_such_kind")
    with pytest.raises(wa360.InvalidArgumentError, match="code"):
        sb.fault("meta_error")
