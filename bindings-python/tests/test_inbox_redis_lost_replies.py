"""The Redis inbox when a reply is lost: Redis runs a script, then the connection breaks before
its answer arrives (a proxy in front of the test's redis-server cuts it). A claim must not be
repeated (the consumer gives back what it may have handed out, at once); an ack is repeated
and says it took effect."""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Iterator

import pytest
import wa360
from conftest import redis_url
from wa360.testing import inbound_text


class CuttingProxy:
    """Forwards to the test's Redis. Once armed, the next EVAL/EVALSHA of `arity` elements
    is passed on (Redis runs it) and then both sides are cut before its reply comes back."""

    def __init__(self) -> None:
        host, port = redis_url("the lost-reply tests").split("//")[1].split("/")[0].split(":")
        self.up = (host, int(port))
        self.arity: bytes | None = None
        self.cut = threading.Event()
        self.ls = socket.socket()
        self.ls.bind(("127.0.0.1", 0))
        self.ls.listen(16)
        threading.Thread(target=self._serve, daemon=True).start()

    def url(self, **opts: object) -> str:
        q = "&".join(f"{k}={v}" for k, v in opts.items())
        name = f"lost-{uuid.uuid4().hex[:8]}"
        return f"redis://127.0.0.1:{self.ls.getsockname()[1]}/0?name={name}&{q}"

    def arm(self, arity: int) -> None:
        self.arity = f"*{arity}\r\n".encode()

    def _serve(self) -> None:
        while True:
            c, _ = self.ls.accept()
            u = socket.create_connection(self.up)
            muted = threading.Event()
            threading.Thread(target=self._pipe, args=(c, u, True, muted), daemon=True).start()
            threading.Thread(target=self._pipe, args=(u, c, False, muted), daemon=True).start()

    def _pipe(
        self, src: socket.socket, dst: socket.socket, up: bool, muted: threading.Event
    ) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if (
                    up
                    and self.arity
                    and data.startswith(self.arity)
                    and b"EVAL" in data[:40].upper()
                ):
                    self.arity = None
                    muted.set()
                    dst.sendall(data)  # Redis runs it...
                    time.sleep(0.3)
                    self.cut.set()
                    for s in (src, dst):  # ...and its answer never arrives
                        try:
                            s.shutdown(socket.SHUT_RDWR)
                        except OSError:
                            pass
                    break
                if not up and muted.is_set():
                    continue
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.close()
                except OSError:
                    pass


@pytest.fixture
def proxy() -> Iterator[CuttingProxy]:
    yield CuttingProxy()


def two_events(inbox: wa360.Inbox) -> None:
    receiver = wa360._native.Receiver(inbox=inbox)
    for n in (1, 2):
        body = inbound_text(f"1555000000{n}", "x", f"wamid.E{n}")
        assert receiver.handle("POST", "", [], body)[0] == 200


def test_a_claim_whose_reply_was_lost_is_given_back_at_once_not_after_the_lease(
    proxy: CuttingProxy,
) -> None:
    inbox = wa360.Inbox(proxy.url(lease_ms=30000, max_attempts=1))
    consumer = inbox.consumer()
    consumer.next(1, 0.05)  # the claim script is loaded: EVALSHA from now on
    two_events(inbox)
    proxy.arm(9)  # the claim: EVALSHA sha 0 + 6 arguments
    try:
        got = consumer.next(1, 1.0)
    except wa360.StoreError:
        got = []
    assert proxy.cut.is_set()
    handled = {d.event.id: d.attempt for d in got}
    for d in got:
        assert consumer.ack(d.id)
    deadline = time.monotonic() + 5  # far less than the 30 s lease
    while len(handled) < 2 and time.monotonic() < deadline:
        for d in consumer.next(1, 0.5):
            handled[d.event.id] = d.attempt
            assert consumer.ack(d.id)
    # Both ran, each on its first (and only allowed) attempt; none was dead-lettered unrun.
    assert handled == {"wamid.E1": 1, "wamid.E2": 1}
    assert inbox.dead() == []


def test_an_ack_whose_reply_was_lost_is_repeated_and_says_it_took_effect(
    proxy: CuttingProxy,
) -> None:
    inbox = wa360.Inbox(proxy.url(lease_ms=2000))
    consumer = inbox.consumer()
    two_events(inbox)
    (first,) = consumer.next(1, 1.0)
    assert consumer.ack(first.id)  # the ack script is loaded: EVALSHA from now on
    (second,) = consumer.next(1, 1.0)
    proxy.arm(8)  # the ack: EVALSHA sha 0 + 5 arguments
    assert consumer.ack(second.id) is True
    assert proxy.cut.is_set()
    time.sleep(2.5)  # past the lease: nothing comes back
    assert consumer.next(1, 0.2) == []
    assert inbox.stats()["handled"] == 2
    consumer.close()
