"""pywa's own FastAPI webhook handling, measured by bench.sh beside the wa360 receivers.

pywa answers after its handlers ran, keeps its duplicate check in memory and does no Basic
auth (360dialog does not sign deliveries, so `validate_updates=False`); the handlers are
no-ops like the wa360 app's, so the figure is pywa's parse-and-dispatch cost per delivery."""

from __future__ import annotations

from fastapi import FastAPI
from pywa_async import WhatsApp, types

app = FastAPI()
wa = WhatsApp(
    server=app,
    webhook_endpoint="/webhook",
    verify_token="bench-verify-token",
    validate_updates=False,
)


@wa.on_message()
async def on_message(_: WhatsApp, msg: types.Message) -> None:
    return None


@wa.on_message_status()
async def on_status(_: WhatsApp, status: types.MessageStatus) -> None:
    return None
