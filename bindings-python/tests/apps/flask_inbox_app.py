"""The Flask app the gunicorn ``--preload`` inbox tests serve (configured by environment).

Every handler call appends ``start <id> <pid>`` and ``done <id> <pid>`` lines to INBOX_LOG, as
``inbox_app`` does; an event whose id contains ``SLOW`` takes INBOX_SLOW_MS.
"""

from __future__ import annotations

import logging
import os
import time

import wa360
from flask import Flask
from wa360.receivers import flask_blueprint

# wa360's warnings and errors on stderr, which the tests read.
logging.basicConfig(level=logging.WARNING)
LOG = os.open(os.environ["INBOX_LOG"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
SLOW = float(os.environ.get("INBOX_SLOW_MS", "0")) / 1000


def note(phase: str, event: wa360.Event) -> None:
    ident = getattr(event, "id", None) or event.kind
    os.write(LOG, f"{phase} {ident} {os.getpid()}\n".encode())


def on_events(events: list[wa360.Event]) -> None:
    for event in events:
        note("start", event)
        if "SLOW" in (getattr(event, "id", "") or ""):
            time.sleep(SLOW)
        note("done", event)


app = Flask(__name__)
app.register_blueprint(
    flask_blueprint(
        on_events,
        verifier=wa360.Verifier(basic_auth=("hook", "pa55-word")),
        inbox=os.environ["INBOX_URL"],
        concurrency=int(os.environ.get("INBOX_CONCURRENCY", "2")),
        shutdown_grace=float(os.environ.get("INBOX_GRACE", "10")),
    )
)
