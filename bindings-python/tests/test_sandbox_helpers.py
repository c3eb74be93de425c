"""The Sandbox's test helpers over real HTTP: ``fault(kind, *, method, path, count, **params)``
and ``wait_for`` / ``wait_deliveries``, with the same meaning as Node's ``fault(kind, options)``,
``waitFor`` and ``waitDeliveries`` (the sandbox assembles the rule and keeps the waiting rule)."""

from __future__ import annotations

import http.server
import subprocess
import sys
import threading
import time
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


def test_wait_for_returns_the_first_truthy_value_not_before(sb: Sandbox) -> None:
    values = iter([0, "", None, [], {"ready": True}])
    calls = []

    def predicate() -> Any:
        calls.append(1)
        return next(values)

    assert sb.wait_for(predicate, interval=0.01) == {"ready": True}
    assert len(calls) == 5


def test_wait_for_raises_timeout_after_the_timeout_having_tried_until_then(sb: Sandbox) -> None:
    calls = []
    started = time.monotonic()
    with pytest.raises(wa360.TimeoutError, match=r"condition not met within 0\.2 s") as e:
        sb.wait_for(lambda: calls.append(1), timeout=0.2, interval=0.02)
    assert isinstance(e.value, TimeoutError)  # the builtin, as before
    assert e.value.code == "timeout"
    assert time.monotonic() - started >= 0.2
    assert len(calls) >= 2
    calls.clear()
    with pytest.raises(wa360.TimeoutError):
        sb.wait_for(lambda: calls.append(1), timeout=0)
    assert len(calls) == 1


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda sb: sb.wait_for(bool, timeout=-1), "timeout"),
        (lambda sb: sb.wait_for(bool, timeout="soon"), "timeout"),
        (lambda sb: sb.wait_for(bool, interval=0), "interval"),
        (lambda sb: sb.wait_for("ready"), "predicate"),
        (lambda sb: sb.wait_deliveries(-1), "n"),
        (lambda sb: sb.wait_deliveries(True), "n"),
        (lambda sb: sb.wait_deliveries(1, kind=3), "kind"),
        (lambda sb: sb.wait_deliveries(1, ok="yes"), "ok"),
        (lambda sb: sb.wait_deliveries(1, timeout=float("inf")), "timeout"),
    ],
)
def test_bad_wait_arguments_name_them(sb: Sandbox, call: Any, field: str) -> None:
    with pytest.raises(wa360.InvalidArgumentError) as e:
        call(sb)
    assert e.value.field == field


class _Hook(http.server.BaseHTTPRequestHandler):
    answer = 200

    def do_POST(self) -> None:  # noqa: N802 (the handler's name)
        self.rfile.read(int(self.headers.get("content-length", 0)))
        self.send_response(type(self).answer)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def test_register_webhook_names_the_argument_that_is_wrong(sb: Sandbox) -> None:
    # A bad header was reported as `url`.
    with pytest.raises(wa360.InvalidArgumentError) as e:
        sb.register_webhook("http://127.0.0.1:9/hook", headers={"X_Key": "v"})
    assert e.value.field == "headers"
    with pytest.raises(wa360.InvalidArgumentError) as e:
        sb.register_webhook("ftp://127.0.0.1:9/hook")
    assert e.value.field == "url"


def test_wait_deliveries_waits_for_n_of_a_kind_answered_200(
    sb: Sandbox, client: wa360.Client
) -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        _Hook.answer = 200
        sb.register_webhook(f"http://127.0.0.1:{server.server_address[1]}/hook")
        with pytest.raises(wa360.TimeoutError, match="1 webhook deliveries answered 200"):
            sb.wait_deliveries(1, timeout=0.15)
        client.send_text(TO, "watch me")
        (read,) = sb.wait_deliveries(1, kind="status:read")
        assert (read["kind"], read["ok"]) == ("status:read", True)
        kinds = sorted(d["kind"] for d in sb.wait_deliveries(3))
        assert kinds == ["status:delivered", "status:read", "status:sent"]
        _Hook.answer = 500
        sb.inbound({"from": TO, "type": "text", "text": {"body": "hi"}})
        failed = sb.wait_deliveries(2, kind="inbound", ok=False)
        assert all(d["kind"] == "inbound" and d["status"] == 500 for d in failed)
        with pytest.raises(wa360.TimeoutError):
            sb.wait_deliveries(1, kind="inbound", timeout=0.1)
    finally:
        server.shutdown()
        server.server_close()


_FORK_AND_EXIT = """
import gc, os, sys
from wa360.testing import Sandbox
sb = Sandbox()
pid = os.fork()
if pid == 0:
    del sb
    gc.collect()
    sys.exit(0)  # a normal interpreter exit, as a forked worker's
_, status = os.waitpid(pid, 0)
print("child", os.waitstatus_to_exitcode(status))
import urllib.request
req = urllib.request.Request(sb.url + "/health_status", headers={"D360-API-KEY": sb.api_key})
with urllib.request.urlopen(req, timeout=10) as r:
    print("parent still serves", r.status)
sb.stop()
"""


def test_a_forked_child_drops_its_sandbox_copy_quietly_and_the_parent_serves() -> None:
    # A forked child has the sandbox object but not its server thread: dropping it there
    # used to join that thread, which panicked at the child's exit.
    out = subprocess.run(
        [sys.executable, "-c", _FORK_AND_EXIT], capture_output=True, text=True, timeout=60
    )
    assert "panicked" not in out.stderr and "PanicException" not in out.stderr, out.stderr
    assert out.stdout.split("\n")[:2] == ["child 0", "parent still serves 200"], out
    assert out.returncode == 0, out.stderr
