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


def each_case(suite: str) -> Any:
    """Parametrizes a test with ``case``: every case directory of a conformance suite, named."""
    cases = case_dirs(suite)
    return pytest.mark.parametrize("case", cases, ids=[c.name for c in cases])


def suite_present_test(suite: str, at_least: int) -> Callable[[], None]:
    """A test that the conformance ``suite`` has at least ``at_least`` cases (an absent or
    emptied suite must fail, not pass with nothing run)."""

    def test() -> None:
        assert len(case_dirs(suite)) >= at_least, f"{suite}: only {len(case_dirs(suite))} cases"

    return test


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def check_expected_error(
    case: Path, call: Callable[[], Any], kind: type[BaseException] | None = None
) -> Any:
    """For a conformance case with ``expected_error.json``: ``call()`` must raise (a ``kind``,
    by default a ``wa360.Wa360Error``) with its ``code``, and its ``field`` and
    ``message_contains`` when given. Returns the error, or ``None`` when the case expects a
    result (nothing is called then)."""
    err = case / "expected_error.json"
    if not err.exists():
        return None
    want = read_json(err)
    with pytest.raises(kind or wa360.Wa360Error) as info:
        call()
    e = info.value
    assert e.code == want["code"], str(e)
    if "field" in want:
        assert getattr(e, "field", None) == want["field"], str(e)
    if "message_contains" in want:
        assert want["message_contains"] in str(e)
    return e


import asyncio  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
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


@pytest.fixture(scope="module")
def module_sandbox() -> Iterator[Sandbox]:
    """A sandbox of one test module alone: the status webhooks of its sends never reach a
    webhook that a later module registers on the shared one. Reset it in the module's ``sb``."""
    with Sandbox(time_scale=0.01) as sb:
        yield sb


def redis_url(what: str = "these tests") -> str:
    """The real redis-server of the test run (``WA360_TEST_REDIS_URL``); fails the test,
    saying how to get one, when it is not set."""
    url = os.environ.get("WA360_TEST_REDIS_URL")
    if not url:
        pytest.fail(
            f"WA360_TEST_REDIS_URL is not set: {what} need a real redis-server. Run them "
            "through `make test` (it installs one with `make redis-install` and starts it), or "
            "`tests/redis/with-redis.sh make test-python`."
        )
    return url


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


class Collect(logging.Handler):
    """Keeps every log record it is given (attach it to the ``wa360`` logger)."""

    def __init__(self) -> None:
        super().__init__(level=1)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def wa360(self) -> list[logging.LogRecord]:
        return [r for r in self.records if r.name.startswith("wa360")]


@pytest.fixture
def logs() -> Iterator[Collect]:
    """The records of the ``wa360`` loggers during one test (its level restored afterwards)."""
    h = Collect()
    logger = logging.getLogger("wa360")
    old = logger.level
    logger.addHandler(h)
    try:
        yield h
    finally:
        logger.removeHandler(h)
        logger.setLevel(old)


def lock_in_another_process(db: Path) -> subprocess.Popen[bytes]:
    """Hold the write lock of the SQLite file ``db`` from another process until its stdin
    closes. (Two SQLite libraries in one process, Python's and the bundled one, do not see
    each other's POSIX locks.)"""
    script = (
        "import sqlite3, sys\n"
        f"c = sqlite3.connect({str(db)!r}, isolation_level=None)\n"
        "c.execute('BEGIN EXCLUSIVE')\n"
        "print('locked', flush=True)\n"
        "sys.stdin.read()\n"
    )
    p = subprocess.Popen(
        [sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    assert p.stdout is not None and p.stdout.readline().strip() == b"locked"
    return p


@pytest.fixture
def servers() -> Iterator[list[Any]]:
    """Processes a test starts (anything with ``stop()``), stopped when it ends."""
    started: list[Any] = []
    yield started
    for s in started:
        s.stop()


def in_forked_child(body: Callable[[], str]) -> str:
    """Run `body` in a forked child (a prefork server's worker); what it returns, or what it
    raised, comes back as text."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.write(write, body().encode())
            code = 0
        except BaseException as e:  # noqa: BLE001 - reported to the parent
            os.write(write, f"raised {type(e).__name__}: {e}".encode())
        finally:
            os._exit(code)
    os.close(write)
    os.waitpid(pid, 0)
    said = os.read(read, 1000).decode()
    os.close(read)
    return said


def fork_a_child_that_exits() -> None:
    """Fork a child that exits at once, and reap it: what a fork does to this process's stores
    (each closes its file connections before it) without anything done in the child."""
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)


_READ_AND_CLOSE = (
    "import sqlite3, sys\n"
    "c = sqlite3.connect(sys.argv[1])\n"
    "c.execute('SELECT count(*) FROM sqlite_master').fetchall()\n"
    "c.close()\n"
)


def read_and_close_in_another_process(path: Path) -> None:
    """Open the SQLite file at `path` in another process (as the sqlite3 shell would), read it
    and close it: with no other process on the file, that close is its last, and SQLite
    deletes the write-ahead log and its index. (It must be another process: POSIX locks are
    per process, so a connection in this one never conflicts with wa360's.)"""
    subprocess.run([sys.executable, "-c", _READ_AND_CLOSE, str(path)], check=True)
