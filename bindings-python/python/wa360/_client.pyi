"""Stubs of the Python-level clients: precise return types for the keyword helpers."""

from collections.abc import Awaitable, Mapping, Sequence
from types import TracebackType
from typing import Any

from . import _native
from ._native import SendResponse

__all__ = ["Client", "AsyncClient"]

Button = tuple[str, str] | Mapping[str, Any]

class _Helpers:
    def send(self, message: Mapping[str, Any]) -> Any: ...
    def send_text(
        self,
        to: str,
        body: str,
        *,
        preview_url: bool = False,
        reply_to: str | None = None,
        callback_data: str | None = None,
    ) -> Any: ...
    def send_image(
        self,
        to: str,
        media: str,
        *,
        caption: str | None = None,
        reply_to: str | None = None,
        callback_data: str | None = None,
    ) -> Any: ...
    def send_video(
        self,
        to: str,
        media: str,
        *,
        caption: str | None = None,
        reply_to: str | None = None,
        callback_data: str | None = None,
    ) -> Any: ...
    def send_audio(
        self, to: str, media: str, *, reply_to: str | None = None, callback_data: str | None = None
    ) -> Any: ...
    def send_document(
        self,
        to: str,
        media: str,
        *,
        caption: str | None = None,
        filename: str | None = None,
        reply_to: str | None = None,
        callback_data: str | None = None,
    ) -> Any: ...
    def send_sticker(
        self, to: str, media: str, *, reply_to: str | None = None, callback_data: str | None = None
    ) -> Any: ...
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
    ) -> Any: ...
    def send_contacts(
        self,
        to: str,
        contacts: Sequence[Mapping[str, Any]],
        *,
        reply_to: str | None = None,
        callback_data: str | None = None,
    ) -> Any: ...
    def send_reaction(
        self, to: str, message_id: str, emoji: str, *, callback_data: str | None = None
    ) -> Any: ...
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
    ) -> Any: ...
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
    ) -> Any: ...
    def send_interactive(
        self,
        to: str,
        interactive: Mapping[str, Any],
        *,
        reply_to: str | None = None,
        callback_data: str | None = None,
    ) -> Any: ...
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
    ) -> Any: ...

class Client(_native.Client, _Helpers):
    def send(self, message: Mapping[str, Any]) -> SendResponse: ...
    def send_text(
        self,
        to: str,
        body: str,
        *,
        preview_url: bool = False,
        reply_to: str | None = None,
        callback_data: str | None = None,
    ) -> SendResponse: ...
    def send_image(
        self,
        to: str,
        media: str,
        *,
        caption: str | None = None,
        reply_to: str | None = None,
        callback_data: str | None = None,
    ) -> SendResponse: ...
    def send_video(
        self,
        to: str,
        media: str,
        *,
        caption: str | None = None,
        reply_to: str | None = None,
        callback_data: str | None = None,
    ) -> SendResponse: ...
    def send_audio(
        self, to: str, media: str, *, reply_to: str | None = None, callback_data: str | None = None
    ) -> SendResponse: ...
    def send_document(
        self,
        to: str,
        media: str,
        *,
        caption: str | None = None,
        filename: str | None = None,
        reply_to: str | None = None,
        callback_data: str | None = None,
    ) -> SendResponse: ...
    def send_sticker(
        self, to: str, media: str, *, reply_to: str | None = None, callback_data: str | None = None
    ) -> SendResponse: ...
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
    ) -> SendResponse: ...
    def send_contacts(
        self,
        to: str,
        contacts: Sequence[Mapping[str, Any]],
        *,
        reply_to: str | None = None,
        callback_data: str | None = None,
    ) -> SendResponse: ...
    def send_reaction(
        self, to: str, message_id: str, emoji: str, *, callback_data: str | None = None
    ) -> SendResponse: ...
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
    ) -> SendResponse: ...
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
    ) -> SendResponse: ...
    def send_interactive(
        self,
        to: str,
        interactive: Mapping[str, Any],
        *,
        reply_to: str | None = None,
        callback_data: str | None = None,
    ) -> SendResponse: ...
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
    ) -> SendResponse: ...
    def __enter__(self) -> Client: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

class AsyncClient(_native.AsyncClient, _Helpers):
    def send(self, message: Mapping[str, Any]) -> Awaitable[SendResponse]: ...
    def send_text(
        self,
        to: str,
        body: str,
        *,
        preview_url: bool = False,
        reply_to: str | None = None,
        callback_data: str | None = None,
    ) -> Awaitable[SendResponse]: ...
    def send_image(
        self,
        to: str,
        media: str,
        *,
        caption: str | None = None,
        reply_to: str | None = None,
        callback_data: str | None = None,
    ) -> Awaitable[SendResponse]: ...
    def send_video(
        self,
        to: str,
        media: str,
        *,
        caption: str | None = None,
        reply_to: str | None = None,
        callback_data: str | None = None,
    ) -> Awaitable[SendResponse]: ...
    def send_audio(
        self, to: str, media: str, *, reply_to: str | None = None, callback_data: str | None = None
    ) -> Awaitable[SendResponse]: ...
    def send_document(
        self,
        to: str,
        media: str,
        *,
        caption: str | None = None,
        filename: str | None = None,
        reply_to: str | None = None,
        callback_data: str | None = None,
    ) -> Awaitable[SendResponse]: ...
    def send_sticker(
        self, to: str, media: str, *, reply_to: str | None = None, callback_data: str | None = None
    ) -> Awaitable[SendResponse]: ...
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
    ) -> Awaitable[SendResponse]: ...
    def send_contacts(
        self,
        to: str,
        contacts: Sequence[Mapping[str, Any]],
        *,
        reply_to: str | None = None,
        callback_data: str | None = None,
    ) -> Awaitable[SendResponse]: ...
    def send_reaction(
        self, to: str, message_id: str, emoji: str, *, callback_data: str | None = None
    ) -> Awaitable[SendResponse]: ...
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
    ) -> Awaitable[SendResponse]: ...
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
    ) -> Awaitable[SendResponse]: ...
    def send_interactive(
        self,
        to: str,
        interactive: Mapping[str, Any],
        *,
        reply_to: str | None = None,
        callback_data: str | None = None,
    ) -> Awaitable[SendResponse]: ...
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
    ) -> Awaitable[SendResponse]: ...
    async def __aenter__(self) -> AsyncClient: ...
    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...
