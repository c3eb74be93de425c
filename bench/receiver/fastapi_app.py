"""The FastAPI receiver measured by bench.sh: a no-op handler, with the SQLite inbox when
INBOX_URL is set."""

from __future__ import annotations

import os

import wa360
from fastapi import FastAPI
from wa360.receivers import fastapi_router


async def on_events(events: list[wa360.Event]) -> None:
    return None


app = FastAPI()
app.include_router(
    fastapi_router(
        on_events,
        verifier=wa360.Verifier(basic_auth=("hook", "pa55-word")),
        inbox=os.environ.get("INBOX_URL") or None,
    )
)
