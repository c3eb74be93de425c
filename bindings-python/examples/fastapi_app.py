"""A FastAPI webhook receiver that echoes text messages back.

Run against 360dialog (the app must be reachable over HTTPS, port 443, for 360dialog)::

    export D360_API_KEY=... WEBHOOK_USER=hook WEBHOOK_PASSWORD=...
    uvicorn --app-dir examples --factory fastapi_app:main_app --host 0.0.0.0 --port 8000
    # then once: wa360.Client().set_webhook("https://your.host/webhook",
    #            headers={"Authorization": "Basic ..."})

The receiver verifies Basic auth on the raw body, parses, answers 200 at once and runs
``on_events`` as an asyncio task, where the bot marks the message read and replies through
``AsyncClient``.
"""

from __future__ import annotations

import os

import wa360
from fastapi import FastAPI
from wa360.receivers import fastapi_router


def create_app(client: wa360.AsyncClient, *, verifier: wa360.Verifier | None) -> FastAPI:
    """The app: ``POST /webhook`` receives deliveries; text messages are echoed back."""
    app = FastAPI(title="wa360 echo bot")
    app.state.handled = []  # every event handed to the callback (inspected by the tests)

    async def on_events(events: list[wa360.Event]) -> None:
        for event in events:
            app.state.handled.append(event)
            match event:
                case wa360.MessageEvent(type="text", from_=sender, text=body) if sender:
                    await client.mark_read(event.id or "")
                    await client.send_text(sender, f"You said: {body}", reply_to=event.id)
                case _:
                    pass  # statuses, reactions, ...: see app.state.handled

    app.include_router(fastapi_router(on_events, verifier=verifier, status_fold=True))
    return app


def main_app() -> FastAPI:
    """Factory for uvicorn: key from ``D360_API_KEY``, Basic auth from ``WEBHOOK_USER`` /
    ``WEBHOOK_PASSWORD``."""
    client = wa360.AsyncClient(base_url=os.environ.get("D360_BASE_URL"))
    verifier = wa360.Verifier(
        basic_auth=(os.environ["WEBHOOK_USER"], os.environ["WEBHOOK_PASSWORD"])
    )
    return create_app(client, verifier=verifier)
