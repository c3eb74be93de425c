"""Governor and broadcast from Python, against the in-process sandbox and a real SQLite ledger."""

from __future__ import annotations

import asyncio
import http.server
import json
import logging
import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import wa360
from conftest import Collect, fork_a_child_that_exits, read_and_close_in_another_process
from wa360.receivers import WebhookReceiver
from wa360.testing import Sandbox, inbound_text


def csv_text(n: int) -> str:
    rows = ["to,name"] + [f"+1 555 700 {i:04},Name {i}" for i in range(n)]
    return "\n".join(rows) + "\n"


def governed(sb: Sandbox, cls: Any = wa360.Client, **gov: Any) -> Any:
    g = {"messages_per_second": 200.0, "pair_interval": None, **gov}
    return cls(sb.api_key, base_url=sb.url, governor=g)


def test_governor_options_are_checked() -> None:
    with pytest.raises(wa360.InvalidArgumentError) as e:
        wa360.Client("k", governor={"messages_per_second": 0})
    assert e.value.field == "governor.messages_per_second"
    with pytest.raises(wa360.InvalidArgumentError) as e:
        wa360.Client("k", governor={"speed": 1})
    assert e.value.field == "governor.speed"
    for governor, field in [
        ({"pair_interval": -1}, "governor.pair_interval"),
        ({"max_wait": "soon"}, "governor.max_wait"),
        ({"burst": 0}, "governor.burst"),
        ({"pairIntervalMs": 1}, "governor.pairIntervalMs"),
        ([], "governor"),
    ]:
        with pytest.raises(wa360.InvalidArgumentError) as e:
            wa360.Client("k", governor=governor)
        assert e.value.field == field, governor


def test_bad_concurrency_or_max_attempts_is_invalid_argument_and_nothing_is_sent(
    tmp_path: Path,
) -> None:
    with Sandbox() as sb:
        c = governed(sb)
        campaign = wa360.Campaign.from_csv("order_update", "en_US", csv_text(2))
        ledger = wa360.Ledger(f"sqlite:///{tmp_path / 'l.db'}", campaign)
        # -1 used to be Python's own OverflowError, not a wa360 error naming the option.
        for options, field in [
            ({"concurrency": 0}, "concurrency"),
            ({"concurrency": -1}, "concurrency"),
            ({"concurrency": 1025}, "concurrency"),
            ({"max_attempts": -1}, "max_attempts"),
            ({"max_attempts": 0}, "max_attempts"),
            # Not an int: PyO3's TypeError before, not naming the option in wa360's terms.
            ({"concurrency": 2.5}, "concurrency"),
            ({"max_attempts": "3"}, "max_attempts"),
            ({"concurrency": 10**30}, "concurrency"),
            # Not callable: the campaign used to send, printing a TypeError every tick.
            ({"progress": 5}, "progress"),
            ({"max_outage": 0}, "max_outage"),
            ({"max_outage": float("nan")}, "max_outage"),
        ]:
            with pytest.raises(wa360.InvalidArgumentError) as e:
                c.broadcast(campaign, ledger, **options)
            assert e.value.field == field, options
        assert sb.requests(path="/messages") == []


def test_max_outage_ends_a_run_that_cannot_reach_the_api_leaving_everyone_pending(
    tmp_path: Path,
) -> None:
    # Nothing listens at the base URL: every send fails before a request is written. The
    # run holds (1 s, then 2 s, … between tries) and ends after `max_outage` with a
    # `connection` error; no attempt is counted, so the next run sends everyone.
    # Port 1: outside the range the system hands out, so no other test's server takes it.
    c = wa360.Client("k", base_url="http://127.0.0.1:1", governor=None, max_retries=0)
    campaign = wa360.Campaign.from_csv("order_update", "en_US", csv_text(3))
    ledger = wa360.Ledger(f"sqlite:///{tmp_path / 'l.db'}", campaign)
    started = time.monotonic()
    with pytest.raises(wa360.ConnectionError) as e:
        c.broadcast(campaign, ledger, max_outage=1.5)
    assert "no connection to the API for 1.5 s" in str(e.value)
    assert time.monotonic() - started < 30
    assert [(r["state"], r["attempts"]) for r in ledger.entries()] == [("pending", 0)] * 3


def test_governor_none_turns_pacing_off_and_pair_interval_0_too() -> None:
    with Sandbox() as sb:
        for off in (None, 0):
            g = {"messages_per_second": None, "pair_interval": off, "max_wait": 0}
            c = wa360.Client(sb.api_key, base_url=sb.url, governor=g)
            # 20 sends to one recipient: past 80/s' burst of 8 and the pair rate, none waits.
            for i in range(20):
                c.send_text("15555550123", f"n{i}")
        paced = wa360.Client(sb.api_key, base_url=sb.url, governor={"max_wait": 0})
        paced.send_text("15555550124", "a")
        with pytest.raises(wa360.RateLimitedError) as e:
            paced.send_text("15555550124", "b")
        assert e.value.status is None  # refused locally: nothing answered
        assert len(sb.requests(path="/messages")) == 41


def test_past_the_deadline_nothing_is_sent() -> None:
    with Sandbox() as sb:
        c = governed(sb, messages_per_second=1.0, burst=1)
        c.send_text("15555550123", "one")
        with pytest.raises(wa360.RateLimitedError) as e:
            c.send_within({"to": "15555550124", "type": "text", "text": "two"}, 0.05)
        assert e.value.status is None  # refused locally: nothing answered
        assert e.value.retry_after is not None and 0 < e.value.retry_after <= 1.0
        assert len(sb.requests(path="/messages")) == 1


def test_broadcast_sends_each_recipient_once_with_progress(tmp_path: Path) -> None:
    with Sandbox(time_scale=0.01) as sb:
        c = governed(sb)
        campaign = wa360.Campaign.from_csv("order_update", "en_US", csv_text(25))
        assert len(campaign) == 25
        url = f"sqlite:///{tmp_path / 'ledger.db'}"
        ledger = wa360.Ledger(url, campaign)
        seen: list[dict[str, Any]] = []
        summary = c.broadcast(campaign, ledger, concurrency=4, progress=seen.append)
        assert summary["complete"] is True
        assert summary["counts"]["accepted"] == 25
        assert seen and seen[-1]["phase"] == "done"
        assert seen[-1]["counts"]["accepted"] == 25
        counts = sb.recipient_counts()
        assert len(counts) == 25 and all(v["accepted"] == 1 for v in counts.values())
        sent = sb.requests(path="/messages")[0]["body"]
        # The campaign, this ledger's own mark, the recipient.
        cb = sent["biz_opaque_callback_data"]
        key = re.fullmatch(r"wa360:([0-9a-f]{16})\.[0-9a-f]{8}:(\d+)", cb)
        assert key and key.groups() == (campaign.id, sent["to"]), cb
        # Rerun (a new handle on the same file): nothing is sent again.
        again = c.broadcast(campaign, wa360.Ledger(url, campaign))
        assert again["accepted_this_run"] == 0
        assert len(sb.requests(path="/messages")) == 25
        entries = wa360.Ledger.open_existing(url).entries()
        assert {e["state"] for e in entries} == {"accepted"}


def test_retry_failed_puts_failed_recipients_back_for_the_next_run(tmp_path: Path) -> None:
    with Sandbox(time_scale=0.01) as sb:
        c = governed(sb)
        campaign = wa360.Campaign.from_csv("order_update", "en_US", csv_text(4))
        ledger = wa360.Ledger(f"sqlite:///{tmp_path / 'ledger.db'}", campaign)
        # Refused for the recipient (not on WhatsApp): failed, the run goes on and completes.
        sb.fault("meta_error", code=131026, count=0)
        first = c.broadcast(campaign, ledger)
        assert first["complete"] is True and first["counts"]["failed"] == 4
        assert ledger.retry_failed() == 4
        assert ledger.counts()["pending"] == 4
        assert all(e["attempts"] == 0 for e in ledger.entries())
        sb.clear_faults()
        again = c.broadcast(campaign, ledger)
        assert again["counts"]["accepted"] == 4 and again["accepted_this_run"] == 4
        assert ledger.retry_failed() == 0


def test_a_run_ended_by_a_campaign_error_leaves_the_campaign_halted_with_the_error(
    tmp_path: Path,
) -> None:
    # Any process reading the ledger (a dashboard, `wa360 broadcast status`) sees that the
    # campaign is not running and why; it said `running` with nothing running.
    with Sandbox(time_scale=0.01) as sb:
        c = governed(sb)
        campaign = wa360.Campaign.from_csv("order_update", "en_US", csv_text(4))
        url = f"sqlite:///{tmp_path / 'ledger.db'}"
        ledger = wa360.Ledger(url, campaign)
        sb.fault("meta_error", code=132001, count=0)
        with pytest.raises(wa360.Wa360Error) as e:
            c.broadcast(campaign, ledger)
        other = wa360.Ledger.open_existing(url)
        assert other.run_state() == "halted"
        assert other.last_error() == str(e.value)
        assert "broadcast ended" in (other.last_error() or "")
        sb.clear_faults()
        again = c.broadcast(campaign, ledger)
        assert again["counts"]["accepted"] == 4
        assert other.run_state() == "done" and other.last_error() is None


def refuse_meta_writes(path: Path, key: str) -> None:
    """The ledger file refuses writes of meta `key` from now on (a full disk, as SQLite
    reports it), by a trigger added from another process."""
    script = (
        "import sqlite3, sys; db = sqlite3.connect(sys.argv[1]); db.execute("
        f"\"CREATE TRIGGER refuse_{key} BEFORE INSERT ON meta WHEN NEW.key = '{key}' "
        "BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END\"); db.commit()"
    )
    subprocess.run([sys.executable, "-c", script, str(path)], check=True)


@pytest.mark.parametrize("refused", ["summary", "not_before_ms"], ids=["at-end", "at-start"])
def test_a_run_that_the_ledger_fails_at_its_start_or_end_leaves_the_campaign_halted(
    tmp_path: Path, refused: str
) -> None:
    # The write of the run's summary (its end) or of its start time (its start, after the
    # run was listed) refused: the run ends with the store error, which the ledger keeps,
    # and the run is no longer listed as live. It stayed `running`, with no error.
    path = tmp_path / "ledger.db"
    with Sandbox(time_scale=0.01) as sb:
        c = governed(sb)
        campaign = wa360.Campaign.from_csv("order_update", "en_US", csv_text(3))
        ledger = wa360.Ledger(f"sqlite:///{path}", campaign)
        refuse_meta_writes(path, refused)
        with pytest.raises(wa360.StoreError) as e:
            c.broadcast(campaign, ledger, start_in=0.01 if refused == "not_before_ms" else None)
        assert ledger.run_state() == "halted"
        assert ledger.last_error() == str(e.value)
        assert "disk is full" in str(e.value)
        with sqlite3.connect(path) as db:
            assert db.execute("SELECT COUNT(*) FROM runs").fetchone() == (0,)


def test_a_relative_ledger_path_is_refused_and_an_absolute_one_survives_a_chdir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "run").mkdir()
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "run")
    campaign = wa360.Campaign.from_csv("order_update", "en_US", csv_text(3))
    # A relative ledger is another file in each working directory: a rerun from elsewhere
    # would open a new ledger and send to everyone again. Refused, as the CLI refuses it.
    for rel in ("sqlite://campaign.db", "campaign.db", "./campaign.db"):
        with pytest.raises(wa360.InvalidArgumentError) as e:
            wa360.Ledger(rel, campaign)
        assert e.value.field == "ledger" and "absolute" in str(e.value)
    assert list((tmp_path / "run").iterdir()) == []
    # The ledger checks that its file is still there before each claim, by the path SQLite
    # opened: a chdir after opening changes nothing.
    ledger = wa360.Ledger(f"sqlite://{tmp_path / 'run' / 'campaign.db'}", campaign)
    monkeypatch.chdir(tmp_path / "elsewhere")
    with Sandbox(time_scale=0.01) as sb:
        summary = governed(sb).broadcast(campaign, ledger)
        assert summary["counts"]["accepted"] == 3, summary


def hook_with_a_lost_answer(
    sb: Sandbox, handle: Callable[[dict[str, str], bytes], tuple[int, bytes]]
) -> http.server.ThreadingHTTPServer:
    """A local webhook receiver answering POSTs with ``handle(headers, body)``, registered with
    the sandbox (status webhooks go there); the next send is processed but its answer is lost,
    so its outcome is unknown until a status settles it. Shut the server down after use."""

    class Hook(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            status, answer = handle(dict(self.headers), body)
            self.send_response(status)
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    req = urllib.request.Request(
        f"{sb.url}/v1/configs/webhook",
        data=json.dumps({"url": f"http://127.0.0.1:{server.server_port}/hook"}).encode(),
        headers={"D360-API-KEY": sb.api_key, "Content-Type": "application/json"},
    )
    urllib.request.urlopen(req).read()
    sb.add_fault({"method": "POST", "path": "/messages", "fault": {"kind": "reset_after_body"}})
    return server


def test_async_broadcast_and_settling_unknowns_from_webhook_bodies(tmp_path: Path) -> None:
    with Sandbox(time_scale=0.01) as sb:
        c = governed(sb, cls=wa360.AsyncClient)
        campaign = wa360.Campaign(
            "order_update", "en_US", [("15555550201", ["A"]), ("15555550202", ["B"])]
        )
        ledger = wa360.Ledger(f"sqlite:///{tmp_path / 'l.db'}", campaign)

        # A webhook receiver that feeds status webhooks to the ledger (503 if it cannot).
        def feed(headers: dict[str, str], body: bytes) -> tuple[int, bytes]:
            try:
                ledger.apply_webhook(body)
                return 200, b""
            except wa360.Wa360Error:
                return 503, b""

        server = hook_with_a_lost_answer(sb, feed)
        try:

            async def run() -> Any:
                # The quiet window is long: only the status webhook can settle it in time.
                return await asyncio.wait_for(
                    c.broadcast(campaign, ledger, concurrency=1, unknown_window=600.0), 60
                )

            summary = asyncio.run(run())
        finally:
            server.shutdown()
        assert summary["complete"] is True
        assert len(sb.requests(path="/messages")) == 2, "the unknown send was not repeated"
        assert all(v["accepted"] == 1 for v in sb.recipient_counts().values())
        assert all(e["wamid"] for e in ledger.entries())


def test_a_receivers_callback_settles_unknown_sends_with_apply_events(tmp_path: Path) -> None:
    """The documented wiring: status webhooks reach a receiver (with an inbox), and its
    callback hands the events to the ledger. Before, the ledger took only a raw body, which
    no receiver callback has: the unknown send went out again after the quiet window."""
    with Sandbox(time_scale=0.01) as sb:
        c = governed(sb)
        campaign = wa360.Campaign(
            "order_update", "en_US", [("15555550211", ["A"]), ("15555550212", ["B"])]
        )
        ledger = wa360.Ledger(f"sqlite:///{tmp_path / 'l.db'}", campaign)
        settled: list[int] = []
        receiver = WebhookReceiver(
            lambda events: settled.append(ledger.apply_events(events)),
            insecure_skip_verify=True,
            inbox=f"sqlite://{tmp_path / 'inbox.db'}",
        )

        server = hook_with_a_lost_answer(sb, receiver.handle)
        try:
            summary = c.broadcast(campaign, ledger, concurrency=1, unknown_window=600.0)
        finally:
            server.shutdown()
            receiver.close(1.0)
        assert summary["complete"] is True
        assert len(sb.requests(path="/messages")) == 2, "the unknown send was not repeated"
        assert all(v["accepted"] == 1 for v in sb.recipient_counts().values())
        assert sum(settled) >= 1
        # Other events are skipped; anything but events is refused, naming the place.
        assert ledger.apply_events(wa360.parse_webhook(inbound_text("1555", "hi", "wamid.X"))) == 0
        with pytest.raises(wa360.InvalidArgumentError) as e:
            ledger.apply_events([{"kind": "status"}])
        assert e.value.field == "events[0]"
        with pytest.raises(wa360.InvalidArgumentError) as e:
            ledger.apply_webhook(wa360.parse_webhook(inbound_text("1555", "hi", "wamid.X"))[0])
        assert e.value.field == "body"


def test_bad_csv_and_foreign_ledger_are_refused(tmp_path: Path) -> None:
    with pytest.raises(wa360.InvalidArgumentError) as e:
        wa360.Campaign.from_csv("t", "en", "to,name\n+15555550123,A\n+15555550123,B\n")
    assert e.value.field == "recipients row 3 column 1 (to)"
    assert "duplicate recipient" in str(e.value)
    with pytest.raises(wa360.InvalidArgumentError) as e:
        wa360.Campaign.from_csv("t", "en", "to,name,code\n+15555550123,A\n")
    assert e.value.field == "recipients row 2 column 3 (code)"
    url = f"sqlite:///{tmp_path / 'l.db'}"
    wa360.Ledger(url, wa360.Campaign("t", "en", [("15555550123", ["A"])]))
    with pytest.raises(wa360.InvalidArgumentError) as e:
        wa360.Ledger(url, wa360.Campaign("t2", "en", [("15555550123", ["A"])]))
    assert e.value.field == "ledger"


def test_a_forked_child_uses_its_own_connection_to_the_ledger(tmp_path: Path) -> None:
    # gunicorn --preload / Celery prefork: a Ledger opened in the parent is used in each
    # forked child. SQLite forbids using a connection across fork(); the child opens the
    # file again (a new descriptor on it) and its writes reach the parent.
    import os

    path = tmp_path / "ledger.db"
    campaign = wa360.Campaign.from_csv("order_update", "en_US", csv_text(3))
    ledger = wa360.Ledger(f"sqlite:///{path}", campaign)
    assert ledger.counts()["pending"] == 3

    def descriptors_on_the_file() -> int:
        n = 0
        for fd in os.listdir("/proc/self/fd"):
            try:
                n += os.readlink(f"/proc/self/fd/{fd}") == str(path)
            except OSError:
                pass
        return n

    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report what it saw through the pipe, then exit
        code = 1
        try:
            before = descriptors_on_the_file()
            ledger.pause()
            after = descriptors_on_the_file()
            os.write(write, f"{before} {after} {ledger.run_state()}".encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write)
    _, status = os.waitpid(pid, 0)
    seen = os.read(read, 100).decode().split()
    os.close(read)
    assert os.waitstatus_to_exitcode(status) == 0
    before, after, state = int(seen[0]), int(seen[1]), seen[2]
    assert after > before, "the child opened the ledger file again"
    assert state == "paused"
    assert ledger.run_state() == "paused", "the child's write is in the file the parent reads"


# -- interrupting a broadcast: the sends in flight finish and are recorded -------------------

# A run sends one message at a time until its first is accepted: the first recipient is
# answered at once, and the three after it are in flight together.
THREE = [("15555550300", []), ("15555550301", []), ("15555550302", []), ("15555550303", [])]
SIX = THREE + [("15555550304", []), ("15555550305", []), ("15555550306", [])]


def slow_sandbox_and_ledger(sb: Sandbox, tmp_path: Path) -> tuple[Any, Any]:
    """The first send is answered at once; each of the three after it takes 1.5 s at the
    sandbox, which completes it even when the client has gone away."""
    sb.fault("delay", ms=0, count=1)
    sb.fault("delay", ms=1500, count=3)
    campaign = wa360.Campaign("order_update", "en_US", THREE)
    return campaign, wa360.Ledger(f"sqlite:///{tmp_path / 'l.db'}", campaign)


def assert_each_sent_once_after_a_resume(sb: Sandbox, c: Any, campaign: Any, ledger: Any) -> None:
    # Recorded as accepted, with the wamid of the answer: none is left `in_flight`, which a
    # resume would send again once the quiet window (0.2 s here) has passed.
    assert [e["state"] for e in ledger.entries()] == ["accepted"] * 4
    assert all(e["wamid"] for e in ledger.entries())
    time.sleep(0.5)
    again = wa360.Client(sb.api_key, base_url=sb.url).broadcast(
        campaign, ledger, unknown_window=0.2
    )
    assert again["accepted_this_run"] == 0
    assert [v["accepted"] for v in sb.recipient_counts().values()] == [1, 1, 1, 1]


@pytest.mark.skipif(threading.current_thread() is not threading.main_thread(), reason="signals")
def test_ctrl_c_stops_a_broadcast_after_its_sends_in_flight(tmp_path: Path) -> None:
    with Sandbox() as sb:
        campaign, ledger = slow_sandbox_and_ledger(sb, tmp_path)
        c = governed(sb)
        timer = threading.Timer(0.5, lambda: os.kill(os.getpid(), signal.SIGINT))
        timer.start()
        try:
            with pytest.raises(KeyboardInterrupt):
                c.broadcast(campaign, ledger, concurrency=3, unknown_window=0.2)
        finally:
            timer.cancel()
        assert_each_sent_once_after_a_resume(sb, c, campaign, ledger)


def test_a_cancelled_async_broadcast_still_records_its_sends_in_flight(
    tmp_path: Path, logs: Collect
) -> None:
    logging.getLogger("wa360").setLevel(logging.WARNING)
    with Sandbox() as sb:
        campaign, ledger = slow_sandbox_and_ledger(sb, tmp_path)
        c = governed(sb, cls=wa360.AsyncClient)

        async def run() -> None:
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(
                    c.broadcast(campaign, ledger, concurrency=3, unknown_window=0.2), 0.5
                )
            await asyncio.sleep(2.5)  # the answers arrive after 1.5 s

        asyncio.run(run())
        # The binding's own warning reaches Python's logging (its target was the extension
        # module's, which the bridge never forwards).
        assert any(
            r.name == "wa360.broadcast" and "broadcast cancelled" in r.getMessage()
            for r in logs.wa360()
        ), [r.getMessage() for r in logs.records]
        assert_each_sent_once_after_a_resume(sb, c, campaign, ledger)


def test_exit_waits_for_a_cancelled_broadcasts_sends_in_flight(tmp_path: Path) -> None:
    # asyncio.run ends (as after Ctrl-C) right after the broadcast was cancelled, and the
    # interpreter exits: the exit waits for the answers instead of cutting the requests off.
    with Sandbox() as sb:
        campaign, ledger = slow_sandbox_and_ledger(sb, tmp_path)
        script = f"""
import asyncio, wa360
campaign = wa360.Campaign("order_update", "en_US", {THREE!r})
ledger = wa360.Ledger({f"sqlite:///{tmp_path / 'l.db'}"!r}, campaign)
c = wa360.AsyncClient({sb.api_key!r}, base_url={sb.url!r}, governor=None)
async def main():
    try:
        await asyncio.wait_for(c.broadcast(campaign, ledger, concurrency=3), 0.5)
    except asyncio.TimeoutError:
        print("cancelled", flush=True)
asyncio.run(main())
"""
        out = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
        )
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip() == "cancelled"
        assert_each_sent_once_after_a_resume(sb, None, campaign, ledger)


def _sigterm_child(sb: Sandbox, tmp_path: Path, body: str) -> tuple[int, str, str]:
    """Run `body` in a child process (with `c`, `campaign`, `ledger` and `progress`, which
    prints `in flight` once a send is under way), send it SIGTERM when it says so."""
    script = f"""
import asyncio, signal, sys, time, wa360
campaign = wa360.Campaign("order_update", "en_US", {THREE!r})
ledger = wa360.Ledger({f"sqlite:///{tmp_path / 'l.db'}"!r}, campaign)
told = []
def progress(p):
    if not told and p["counts"]["in_flight"] > 0:
        told.append(1)
        print("in flight", flush=True)
{body}
"""
    child = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert child.stdout is not None
    first = child.stdout.readline()
    if first.strip() == "in flight":
        # Once the first send and the three after it are at the sandbox (a send still
        # waiting for its slot is withdrawn by a stop, and stays `pending`).
        deadline = time.monotonic() + 10
        while len(sb.requests(path="/messages")) < 4 and time.monotonic() < deadline:
            time.sleep(0.02)
    if first.strip() in ("in flight", "ready"):
        child.send_signal(signal.SIGTERM)
    try:
        out, err = child.communicate(timeout=60)
    finally:
        child.kill()
    return child.returncode, first + out, err


@pytest.mark.parametrize("kind", ["sync", "async", "thread"])
def test_sigterm_stops_a_broadcast_after_its_sends_in_flight(kind: str, tmp_path: Path) -> None:
    # Python's default SIGTERM (docker stop, Kubernetes) killed the process at once: the sends
    # in flight stayed `in_flight`, and a resume sent them again after the quiet window.
    six_url = f"sqlite:///{tmp_path / 'six.db'}"
    with Sandbox() as sb:
        campaign, ledger = slow_sandbox_and_ledger(sb, tmp_path)
        run = {
            "sync": f"c = wa360.Client({sb.api_key!r}, base_url={sb.url!r}, governor=None)\n"
            "c.broadcast(campaign, ledger, concurrency=3, progress=progress)\n"
            "print('the run ended', flush=True)",
            "async": f"c = wa360.AsyncClient({sb.api_key!r}, base_url={sb.url!r}, governor=None)\n"
            "async def main():\n"
            "    await c.broadcast(campaign, ledger, concurrency=3, progress=progress)\n"
            "    print('the run ended', flush=True)\n"
            "asyncio.run(main())",
            # A broadcast in another thread, the main thread waiting for it; the handler
            # installed (as after a broadcast in the main thread): it stops every thread's.
            # Seven recipients, three at a time after the first: unstopped, the thread would
            # send all before the interpreter's exit (which waits for it). The main thread polls
            # instead of `t.join()`: CPython 3.11 marks a thread stopped when an exception
            # interrupts `join()` on it, so the exit would not wait for it and the atexit
            # finisher would stop its broadcast, with or without the handler's own stop.
            "thread": "import threading, wa360._signals\n"
            f"c = wa360.Client({sb.api_key!r}, base_url={sb.url!r}, governor=None)\n"
            f"campaign = wa360.Campaign('order_update', 'en_US', {SIX!r})\n"
            f"ledger = wa360.Ledger({six_url!r}, campaign)\n"
            "wa360._signals.arm()\n"
            "t = threading.Thread(target=lambda: c.broadcast(campaign, ledger, concurrency=3,"
            " progress=progress))\n"
            "t.start()\n"
            "while t.is_alive(): time.sleep(0.05)",
        }[kind]
        code, out, err = _sigterm_child(sb, tmp_path, run)
        assert out.splitlines() == ["in flight"], (out, err)
        assert code == 128 + signal.SIGTERM, (code, out, err)
        if kind == "thread":
            six = wa360.Ledger(
                f"sqlite:///{tmp_path / 'six.db'}", wa360.Campaign("order_update", "en_US", SIX)
            )
            assert sorted(e["state"] for e in six.entries()) == ["accepted"] * 4 + ["pending"] * 3
        else:
            assert_each_sent_once_after_a_resume(sb, None, campaign, ledger)


def test_sigterm_with_no_broadcast_running_ends_the_process_by_it(tmp_path: Path) -> None:
    with Sandbox() as sb:
        code, out, err = _sigterm_child(
            sb,
            tmp_path,
            f"c = wa360.Client({sb.api_key!r}, base_url={sb.url!r}, governor=None)\n"
            "c.broadcast(campaign, ledger)\n"
            "print('ready', flush=True)\n"
            "time.sleep(30)",
        )
        assert (code, out.strip()) == (-signal.SIGTERM, "ready"), (code, out, err)


def test_an_apps_own_sigterm_handler_is_kept(tmp_path: Path) -> None:
    with Sandbox() as sb:
        campaign, ledger = slow_sandbox_and_ledger(sb, tmp_path)
        code, out, err = _sigterm_child(
            sb,
            tmp_path,
            "signal.signal(signal.SIGTERM, lambda s, f: print('the app', flush=True))\n"
            f"c = wa360.Client({sb.api_key!r}, base_url={sb.url!r}, governor=None)\n"
            "c.broadcast(campaign, ledger, concurrency=3, progress=progress)\n"
            "print('the run ended', flush=True)",
        )
        assert (code, out.splitlines()) == (0, ["in flight", "the app", "the run ended"]), err
        assert [e["state"] for e in ledger.entries()] == ["accepted"] * 4


def test_an_async_broadcast_made_with_no_running_loop_raises_before_it_starts(
    tmp_path: Path,
) -> None:
    # The awaitable belongs to a running loop: without one the call raises, and the run it
    # would have been never starts (it used to start, then record the campaign as stopped).
    with Sandbox() as sb:
        campaign = wa360.Campaign("order_update", "en_US", THREE)
        ledger = wa360.Ledger(f"sqlite:///{tmp_path / 'l.db'}", campaign)
        c = governed(sb, cls=wa360.AsyncClient)
        with pytest.raises(RuntimeError):
            c.broadcast(campaign, ledger)
        time.sleep(0.5)
        assert ledger.run_state() == "running"
        assert ledger.counts()["pending"] == 4
        assert sb.requests(path="/messages") == []


def test_a_forked_childs_ledger_writes_survive_the_parent_closing_the_ledger(
    tmp_path: Path,
) -> None:
    # A ledger made before a fork, used in the child, and the parent then lets go of its own.
    # The child's connection shared SQLite's record of the file with the parent's and took
    # no lock of its own: the parent's close deleted the write-ahead log under it, and the
    # child's later writes were lost (a recorded acceptance lost is a row sent again).
    import gc
    import os
    import sqlite3

    path = tmp_path / "ledger.db"
    url = f"sqlite:///{path}"
    ledger = wa360.Ledger(url, wa360.Campaign.from_csv("order_update", "en_US", csv_text(3)))
    (r1, w1), (r2, w2) = os.pipe(), os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: one write, waits for the parent's close, another write
        code = 1
        try:
            ledger.pause()
            os.write(w1, b"x")
            os.read(r2, 1)
            ledger.stop()
            code = 0
        finally:
            os._exit(code)
    os.read(r1, 1)
    # The parent's ledger still works after the fork, then it lets go.
    assert ledger.run_state() == "paused"
    del ledger
    gc.collect()
    os.write(w2, b"x")
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    for f in (r1, w1, r2, w2):
        os.close(f)
    assert wa360.Ledger.open_existing(url).run_state() == "stopped"
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_forked_children_share_a_ledger_the_parent_let_go_of_and_send_everyone_once(
    tmp_path: Path,
) -> None:
    # A prefork pool (Celery, multiprocessing) sharing one ledger made in the parent: three
    # children broadcast the same campaign at once while the parent lets go of its own
    # handle. Each recipient is sent exactly once, and the file stays sound. (While the
    # children's connections leaned on the parent's, its close failed their runs.)
    import gc

    path = tmp_path / "ledger.db"
    campaign = wa360.Campaign.from_csv("order_update", "en_US", csv_text(60))
    with Sandbox() as sb:
        sb.fault("delay", ms=200, count=0)  # the runs overlap the parent's close
        ledger = wa360.Ledger(f"sqlite:///{path}", campaign)
        pids = []
        for _ in range(3):
            pid = os.fork()
            if pid == 0:
                code = 1
                try:
                    c = governed(sb)
                    c.broadcast(campaign, ledger, concurrency=4, unknown_window=30)
                    code = 0
                finally:
                    os._exit(code)
            pids.append(pid)
        # The parent lets go once the children's runs are under way.
        deadline = time.monotonic() + 30
        while ledger.counts()["accepted"] < 6 and time.monotonic() < deadline:
            time.sleep(0.01)
        del ledger
        gc.collect()
        deadline = time.monotonic() + 120
        while pids and time.monotonic() < deadline:
            pid, status = os.waitpid(-1, os.WNOHANG)
            if pid in pids:
                pids.remove(pid)
                assert os.waitstatus_to_exitcode(status) == 0
            time.sleep(0.05)
        assert not pids, "a child broadcast hung"
        counts = sb.recipient_counts()
        assert len(counts) == 60
        assert all(v["accepted"] == 1 for v in counts.values()), counts
    assert wa360.Ledger.open_existing(f"sqlite:///{path}").counts()["accepted"] == 60
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)


@pytest.mark.parametrize("another_closes_last", [False, True])
def test_a_process_alone_on_its_ledger_file_still_broadcasts_after_it_forks(
    tmp_path: Path, another_closes_last: bool
) -> None:
    # The ledger's connection is closed at every fork. In a process alone on the file, that
    # close was the file's last: SQLite deleted the write-ahead log, the next connection made
    # a new one, and the ledger's check of it (a file replaced underneath) failed the run's
    # first claim; the campaign was left halted. The same when another program (another
    # process, as the sqlite3 shell) was the file's last to close after the fork, while this
    # process had none open. (The test keeps the old log's inode alive, so that a log made
    # again cannot get its number back.)
    path = tmp_path / "ledger.db"
    campaign = wa360.Campaign.from_csv("order_update", "en_US", csv_text(3))
    ledger = wa360.Ledger(f"sqlite:///{path}", campaign)
    with Sandbox() as sb, open(f"{path}-wal", "rb"):
        fork_a_child_that_exits()
        if another_closes_last:
            read_and_close_in_another_process(path)
            assert not Path(f"{path}-wal").exists(), "the other program did not close last"
        summary = governed(sb).broadcast(campaign, ledger)
        assert summary["counts"]["accepted"] == 3, summary
        assert ledger.run_state() == "done"
        del ledger


def test_after_a_fork_a_ledger_does_not_open_another_file_moved_to_its_path(
    tmp_path: Path,
) -> None:
    # A fork closes the ledger's connection. Another campaign's ledger moved to its path
    # meanwhile was opened again in its place: counts read from it, and a halted run wrote
    # its state and error into it. Every use now fails as the claim's check does.
    import shutil

    path = tmp_path / "ledger.db"
    ours = wa360.Ledger(
        f"sqlite:///{path}", wa360.Campaign.from_csv("order_update", "en_US", csv_text(5))
    )
    other_campaign = wa360.Campaign.from_csv("welcome", "en_US", csv_text(4))
    wa360.Ledger(f"sqlite:///{tmp_path / 'other.db'}", other_campaign)
    fork_a_child_that_exits()
    shutil.move(tmp_path / "other.db", path)
    for name in ("ledger.db-wal", "ledger.db-shm"):
        (tmp_path / name).unlink(missing_ok=True)
    with pytest.raises(wa360.StoreError, match="replaced"):
        ours.counts()
    with pytest.raises(wa360.StoreError, match="replaced"):
        ours.stop()
    moved = wa360.Ledger.open_existing(f"sqlite:///{path}")
    assert moved.counts()["total"] == 4
    assert moved.run_state() == "running"
