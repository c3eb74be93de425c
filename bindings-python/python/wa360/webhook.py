"""Webhook helpers on top of the native parser and verifier."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ._native import Verifier

HeadersLike = Mapping[str, str] | Mapping[bytes, bytes] | Iterable[tuple[str | bytes, str | bytes]]

__all__ = ["verify_webhook", "HeadersLike"]


def verify_webhook(
    headers: HeadersLike,
    body: bytes | str,
    *,
    basic_auth: tuple[str, str] | None = None,
    header: tuple[str, str] | None = None,
    app_secret: str | None = None,
) -> None:
    """Check one delivery against the credentials registered with the webhook.

    Give at least one of ``basic_auth=(user, password)``, ``header=(name, value)`` (a custom
    header registered with 360dialog) or ``app_secret`` (Meta's ``X-Hub-Signature-256``).
    Raises :class:`wa360.InvalidSignatureError` when any check fails (fails closed). For many
    deliveries, build a :class:`wa360.Verifier` once and call ``verify`` on it.
    """
    Verifier(
        basic_auth=basic_auth,
        headers=dict([header]) if header is not None else None,
        app_secret=app_secret,
    ).verify(headers, body)
