"""SIGTERM while a broadcast runs: stop it after its sends in flight, as Ctrl-C does.

Python's default SIGTERM kills the process at once (``docker stop``, Kubernetes, systemd).
A broadcast's sends in flight would then stay ``in_flight`` in its ledger and, without their
statuses, go out again after the quiet window. So when a broadcast starts in the main thread
and SIGTERM still has the default action, this handler is installed (and kept):

- while broadcasts run, it stops them all (in any thread) and raises
  ``SystemExit(128 + SIGTERM)`` in the main thread: a sync ``Client.broadcast``
  stops after its sends in flight and then raises it (a second SIGTERM aborts at once), an
  ``AsyncClient.broadcast`` awaitable is cancelled with the rest of ``asyncio.run``'s tasks
  (the run ends after its sends in flight), and the interpreter's exit waits for every
  broadcast (``_finish_broadcasts``);
- with none running, it restores the default and raises the signal again: the process ends
  as it would have.

A SIGTERM handler of the app (``signal.signal``, uvicorn, gunicorn, Celery) is never replaced:
the app then decides. docs/sending-at-scale.md has the whole picture.
"""

from __future__ import annotations

import os
import signal
import threading
from types import FrameType

from . import _native


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    if _native._running_broadcasts() > 0:
        # Stopped here too, not only by the exception: a broadcast in another thread would
        # otherwise run to its end while the interpreter's exit waits for that thread.
        _native._finish_broadcasts(0.0)
        raise SystemExit(128 + signum)
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def arm() -> None:
    """Install the handler if SIGTERM has the default action (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        return
    try:
        if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
            signal.signal(signal.SIGTERM, _on_sigterm)
    except (ValueError, OSError):  # not the main interpreter, or no SIGTERM here
        pass
