"""A Flask webhook receiver that echoes text messages back (sync ``Client``).

Run::

    export D360_API_KEY=... WEBHOOK_USER=hook WEBHOOK_PASSWORD=...
    flask --app examples/flask_app.py:main_app run --port 8000

Deliveries are verified and parsed in the request, answered 200 at once, and the callback
runs on a background worker thread, where the sync client sends the reply (it releases the GIL
while it waits, so the server keeps serving).
"""

from __future__ import annotations

import os

import wa360
from flask import Flask
from wa360.receivers import flask_blueprint


def create_app(client: wa360.Client, *, verifier: wa360.Verifier | None) -> Flask:
    """The app: ``POST /webhook`` receives deliveries; text messages are echoed back."""
    app = Flask(__name__)
    handled: list[wa360.Event] = []
    app.config["WA360_HANDLED"] = handled

    def on_events(events: list[wa360.Event]) -> None:
        for event in events:
            handled.append(event)
            if isinstance(event, wa360.MessageEvent) and event.text and event.from_:
                client.mark_read(event.id or "")
                client.send_text(event.from_, f"You said: {event.text}", reply_to=event.id)

    app.register_blueprint(flask_blueprint(on_events, verifier=verifier))
    return app


def main_app() -> Flask:
    """Factory for ``flask run``: key from ``D360_API_KEY``, Basic auth from the environment."""
    client = wa360.Client(base_url=os.environ.get("D360_BASE_URL"))
    verifier = wa360.Verifier(
        basic_auth=(os.environ["WEBHOOK_USER"], os.environ["WEBHOOK_PASSWORD"])
    )
    return create_app(client, verifier=verifier)
