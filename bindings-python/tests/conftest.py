"""Shared fixtures: the repository root and the conformance tree."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
CONFORMANCE = REPO / "tests" / "conformance"
PAYLOADS = REPO / "tests" / "conformance" / "webhook_parse"


def case_dirs(suite: str) -> list[Path]:
    """Every case directory of one conformance suite, sorted; empty when the suite is absent."""
    root = CONFORMANCE / suite
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir())


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


import asyncio  # noqa: E402
from collections.abc import Callable, Iterator  # noqa: E402

import pytest  # noqa: E402
import wa360  # noqa: E402
from wa360.testing import Sandbox  # noqa: E402


@pytest.fixture(scope="session")
def sandbox_session() -> Iterator[Sandbox]:
    with Sandbox(time_scale=0.01) as sb:
        yield sb


@pytest.fixture
def sb(sandbox_session: Sandbox) -> Sandbox:
    """The shared sandbox, reset: no requests, deliveries, faults or webhooks."""
    sandbox_session.reset()
    return sandbox_session


Call = Callable[..., Any]


def make_call(flavor: str, client: Any) -> Call:
    """`call("send_text", ...)` on a sync client, or awaited on an async one."""
    if flavor == "sync":
        return lambda method, *a, **k: getattr(client, method)(*a, **k)

    def call(method: str, *a: Any, **k: Any) -> Any:
        async def go() -> Any:
            return await getattr(client, method)(*a, **k)

        return asyncio.run(go())

    return call


@pytest.fixture(params=["sync", "async"])
def flavor(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def call(flavor: str, sb: Sandbox) -> Call:
    cls = wa360.Client if flavor == "sync" else wa360.AsyncClient
    return make_call(flavor, cls(sb.api_key, base_url=sb.url, max_retries=0, timeout=5.0))
