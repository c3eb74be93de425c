"""Client and AsyncClient: the native classes plus keyword helpers for every message type.

The helpers build a message dict in the neutral format (the same in every wa360 language) and
pass it to ``send``; validation and the exact wire body happen in the Rust core, so an invalid
message raises :class:`wa360.InvalidArgumentError` (naming the field and the rule) before any
request is made.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any

from . import _native

__all__ = ["Client", "AsyncClient"]

Button = tuple[str, str] | Mapping[str, Any]


def _seq(x: Any) -> Any:
    """A list or tuple as a list; anything else unchanged, for the core to reject by name
    (never a ``TypeError`` from here)."""
    return list(x) if isinstance(x, (list, tuple)) else x


def _pair(b: Any) -> bool:
    return isinstance(b, (tuple, list)) and len(b) == 2


def _envelope(
    to: str, kind: str, content: Any, reply_to: str | None, callback_data: str | None
) -> dict[str, Any]:
    spec: dict[str, Any] = {"to": to, "type": kind, kind: content}
    if reply_to is not None:
        spec["reply_to"] = reply_to
    if callback_data is not None:
        spec["callback_data"] = callback_data
    return spec


def _media(media: str, caption: str | None = None, filename: str | None = None) -> dict[str, Any]:
    # A URL is sent as `link`, anything else as an uploaded media `id`.
    is_url = isinstance(media, str) and media.startswith(("https://", "http://"))
    key = "link" if is_url else "id"
    obj: dict[str, Any] = {key: media}
    if caption is not None:
        obj["caption"] = caption
    if filename is not None:
        obj["filename"] = filename
    return obj


def _interactive_base(
    kind: str, body: str, header: str | Mapping[str, Any] | None, footer: str | None
) -> dict[str, Any]:
    obj: dict[str, Any] = {"type": kind, "body": body}
    if header is not None:
        obj["header"] = header
    if footer is not None:
        obj["footer"] = footer
    return obj


class _Helpers:
    """Keyword helpers shared by both clients; each returns what ``send`` returns."""

    def send(self, message: Mapping[str, Any]) -> Any:  # provided by the native base
        raise NotImplementedError

    def send_text(
        self,
        to: str,
        body: str,
        *,
        preview_url: bool = False,
        reply_to: str | None = None,
        callback_data: str | None = None,
    ) -> Any:
        """Send a text message (1..4096 characters)."""
        text: dict[str, Any] = {"body": body}
        if preview_url:
            text["preview_url"] = True
        return self.send(_envelope(to, "text", text, reply_to, callback_data))

    def send_image(
        self,
        to: str,
        media: str,
        *,
        caption: str | None = None,
        reply_to: str | None = None,
        callback_data: str | None = None,
    ) -> Any:
        """Send an image: ``media`` is an uploaded media id or an https link."""
        return self.send(_envelope(to, "image", _media(media, caption), reply_to, callback_data))

    def send_video(
        self,
        to: str,
        media: str,
        *,
        caption: str | None = None,
        reply_to: str | None = None,
        callback_data: str | None = None,
    ) -> Any:
        """Send a video: ``media`` is an uploaded media id or an https link."""
        return self.send(_envelope(to, "video", _media(media, caption), reply_to, callback_data))

    def send_audio(
        self,
        to: str,
        media: str,
        *,
        reply_to: str | None = None,
        callback_data: str | None = None,
    ) -> Any:
        """Send an audio file: ``media`` is an uploaded media id or an https link."""
        return self.send(_envelope(to, "audio", _media(media), reply_to, callback_data))

    def send_document(
        self,
        to: str,
        media: str,
        *,
        caption: str | None = None,
        filename: str | None = None,
        reply_to: str | None = None,
        callback_data: str | None = None,
    ) -> Any:
        """Send a document: ``media`` is an uploaded media id or an https link."""
        return self.send(
            _envelope(to, "document", _media(media, caption, filename), reply_to, callback_data)
        )

    def send_sticker(
        self,
        to: str,
        media: str,
        *,
        reply_to: str | None = None,
        callback_data: str | None = None,
    ) -> Any:
        """Send a sticker (webp): ``media`` is an uploaded media id or an https link."""
        return self.send(_envelope(to, "sticker", _media(media), reply_to, callback_data))

    def send_location(
        self,
        to: str,
        latitude: float,
        longitude: float,
        *,
        name: str | None = None,
        address: str | None = None,
        reply_to: str | None = None,
        callback_data: str | None = None,
    ) -> Any:
        """Send a location pin."""
        loc: dict[str, Any] = {"latitude": latitude, "longitude": longitude}
        if name is not None:
            loc["name"] = name
        if address is not None:
            loc["address"] = address
        return self.send(_envelope(to, "location", loc, reply_to, callback_data))

    def send_contacts(
        self,
        to: str,
        contacts: Sequence[Mapping[str, Any]],
        *,
        reply_to: str | None = None,
        callback_data: str | None = None,
    ) -> Any:
        """Send 1..5 contact cards (wire format: ``name``, ``phones``, ``emails``, ...)."""
        return self.send(_envelope(to, "contacts", _seq(contacts), reply_to, callback_data))

    def send_reaction(
        self,
        to: str,
        message_id: str,
        emoji: str,
        *,
        callback_data: str | None = None,
    ) -> Any:
        """React to a message with an emoji; an empty ``emoji`` removes the reaction."""
        reaction = {"message_id": message_id, "emoji": emoji}
        return self.send(_envelope(to, "reaction", reaction, None, callback_data))

    def send_buttons(
        self,
        to: str,
        body: str,
        buttons: Sequence[Button],
        *,
        header: str | Mapping[str, Any] | None = None,
        footer: str | None = None,
        reply_to: str | None = None,
        callback_data: str | None = None,
    ) -> Any:
        """Send up to 3 reply buttons, each ``(id, title)`` or ``{"id", "title"}``."""
        obj = _interactive_base("button", body, header, footer)
        bs = _seq(buttons)
        if isinstance(bs, list):
            bs = [{"id": b[0], "title": b[1]} if _pair(b) else b for b in bs]
        obj["buttons"] = bs
        return self.send(_envelope(to, "interactive", obj, reply_to, callback_data))

    def send_list(
        self,
        to: str,
        body: str,
        button: str,
        sections: Sequence[Mapping[str, Any]],
        *,
        header: str | Mapping[str, Any] | None = None,
        footer: str | None = None,
        reply_to: str | None = None,
        callback_data: str | None = None,
    ) -> Any:
        """Send a list message: ``sections`` of ``{"title"?, "rows": [{"id", "title", ...}]}``."""
        obj = _interactive_base("list", body, header, footer)
        obj["button"] = button
        obj["sections"] = _seq(sections)
        return self.send(_envelope(to, "interactive", obj, reply_to, callback_data))

    def send_interactive(
        self,
        to: str,
        interactive: Mapping[str, Any],
        *,
        reply_to: str | None = None,
        callback_data: str | None = None,
    ) -> Any:
        """Send any interactive message given in the neutral format (``{"type": ...}``)."""
        return self.send(_envelope(to, "interactive", interactive, reply_to, callback_data))

    def send_template(
        self,
        to: str,
        name: str,
        language: str | Mapping[str, Any],
        *,
        header: Any = None,
        body: Any = None,
        buttons: Sequence[Mapping[str, Any]] | None = None,
        reply_to: str | None = None,
        callback_data: str | None = None,
    ) -> Any:
        """Send an approved template. ``body`` is a list of positional parameters or a dict of
        named ones; ``header`` one parameter; ``buttons`` ``{"sub_type", "index", ...}``."""
        tpl: dict[str, Any] = {"name": name, "language": language}
        if header is not None:
            tpl["header"] = header
        if body is not None:
            tpl["body"] = body
        if buttons is not None:
            tpl["buttons"] = _seq(buttons)
        return self.send(_envelope(to, "template", tpl, reply_to, callback_data))


class Client(_native.Client, _Helpers):
    """Synchronous 360dialog client.

    ``Client(api_key=None, *, base_url=None, timeout=30.0, connect_timeout=10.0,
    max_retries=2)``; the key falls back to ``D360_API_KEY``. Every call blocks until the answer
    with the GIL released, so other Python threads keep running. Thread-safe; share one client.
    """

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None


class AsyncClient(_native.AsyncClient, _Helpers):
    """asyncio 360dialog client: the same methods as :class:`Client`, each returning an
    awaitable. All clients share one native runtime; invalid input raises at the call."""

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None
