"""The FastAPI app the multi-process inbox tests serve with uvicorn (configured by environment).

Every handler call appends ``start <id> <pid>`` and ``done <id> <pid>`` lines to INBOX_LOG (one
``write`` each on an O_APPEND file, so lines from several processes never interleave).
"""

from __future__ import annotations

import asyncio
import os
import random

import wa360
from fastapi import FastAPI
from wa360.receivers import fastapi_router

LOG = os.open(os.environ["INBOX_LOG"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
SLOW = float(os.environ.get("INBOX_SLOW_MS", "0")) / 1000
JITTER = float(os.environ.get("INBOX_JITTER_MS", "0")) / 1000
FAIL_FLAG = os.environ.get("INBOX_FAIL_FLAG", "")


def note(phase: str, event: wa360.Event) -> None:
    ident = getattr(event, "id", None) or event.kind
    os.write(LOG, f"{phase} {ident} {os.getpid()}\n".encode())


async def on_events(events: list[wa360.Event]) -> None:
    for event in events:
        note("start", event)
        await asyncio.sleep(SLOW + random.random() * JITTER)
        if FAIL_FLAG and os.path.exists(FAIL_FLAG) and "FAIL" in (getattr(event, "id", "") or ""):
            raise RuntimeError("handler failed on purpose")
        note("done", event)


app = FastAPI()
app.include_router(
    fastapi_router(
        on_events,
        verifier=wa360.Verifier(basic_auth=("hook", "pa55-word")),
        inbox=os.environ["INBOX_URL"],
        concurrency=int(os.environ.get("INBOX_CONCURRENCY", "4")),
        shutdown_grace=float(os.environ.get("INBOX_GRACE", "10")),
    )
)
