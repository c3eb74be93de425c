"""Type stubs of the native extension ``wa360._native`` (Rust, PyO3)."""

from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from os import PathLike
from typing import Any, ClassVar, Generic, Literal, TypeVar, final

from typing_extensions import disjoint_base

from .manage import (
    BlockedUser,
    BlockResult,
    BusinessProfile,
    CachedUpload,
    HealthCheck,
    HealthStatus,
    TemplateInfo,
    TemplatePage,
)

__version__: str
ERROR_CODES: list[tuple[str, str]]
ERROR_FIELDS: list[str]
KNOWN_MESSAGE_TYPES: list[str]

_Headers = (
    Mapping[str, str]
    | Mapping[bytes, bytes]
    | Iterable[tuple[str | bytes, str | bytes]]
    | Iterable[Sequence[str | bytes]]
)
_Body = bytes | bytearray | str

def _panic_for_tests() -> None: ...
def _set_log_floor(level: int) -> None: ...

# -- messages ---------------------------------------------------------------------------------

def build_message(message: Mapping[str, Any]) -> dict[str, Any]:
    """The exact ``POST /messages`` body for a message in the neutral format (validated)."""

# -- webhook events ---------------------------------------------------------------------------

@disjoint_base
class Event:
    """One webhook event; see the subclasses."""

    @property
    def kind(self) -> Literal["message", "status", "error", "field_update", "unknown"]: ...
    @property
    def field(self) -> str | None: ...
    @property
    def waba_id(self) -> str | None: ...
    @property
    def phone_number_id(self) -> str | None: ...
    @property
    def display_phone_number(self) -> str | None: ...
    def to_dict(self) -> dict[str, Any]:
        """The canonical form (identical in every wa360 language)."""
    def to_json(self) -> str: ...

@final
class MessageEvent(Event):
    """An inbound message from a user."""

    __match_args__: ClassVar[tuple[str, str, str]]
    @property
    def id(self) -> str | None: ...
    @property
    def from_(self) -> str | None: ...
    @property
    def from_user_id(self) -> str | None: ...
    @property
    def timestamp(self) -> int | None: ...
    @property
    def type(self) -> str | None: ...
    @property
    def text(self) -> str | None: ...
    @property
    def media_id(self) -> str | None: ...
    @property
    def name(self) -> str | None: ...
    @property
    def contact(self) -> dict[str, str | None] | None: ...
    @property
    def context(self) -> dict[str, Any] | None: ...
    @property
    def reply_to(self) -> str | None: ...
    @property
    def errors(self) -> list[dict[str, Any]]: ...
    @property
    def payload(self) -> Any: ...

@final
class StatusEvent(Event):
    """A status update of a message you sent."""

    __match_args__: ClassVar[tuple[str, str]]
    @property
    def id(self) -> str | None: ...
    @property
    def status(self) -> str | None: ...
    @property
    def timestamp(self) -> int | None: ...
    @property
    def recipient_id(self) -> str | None: ...
    @property
    def recipient_user_id(self) -> str | None: ...
    @property
    def conversation(self) -> dict[str, Any] | None: ...
    @property
    def pricing(self) -> dict[str, Any] | None: ...
    @property
    def errors(self) -> list[dict[str, Any]]: ...
    @property
    def callback_data(self) -> str | None: ...

@final
class ErrorEvent(Event):
    """The value-level ``errors`` list of a ``messages`` change."""

    __match_args__: ClassVar[tuple[str]]
    @property
    def errors(self) -> list[dict[str, Any]]: ...

@final
class FieldUpdateEvent(Event):
    """A change whose ``field`` is not ``messages``."""

    __match_args__: ClassVar[tuple[str, str]]
    @property
    def value(self) -> Any: ...

@final
class UnknownEvent(Event):
    """A piece that could not be read as any other event, kept raw."""

    __match_args__: ClassVar[tuple[str]]
    @property
    def raw(self) -> Any: ...

def parse_webhook(
    body: _Body, *, max_bytes: int | None = None, max_depth: int | None = None
) -> list[Event]:
    """Parse one webhook POST body into typed events (``WebhookPayloadError`` if unreadable)."""

def parse_webhook_json(body: _Body) -> str: ...
def _parse_only(body: _Body) -> int: ...

# -- verification, registration rules, hygiene --------------------------------------------------

@final
class Verifier:
    """Checks that a webhook delivery is authentic; every configured check must pass."""

    def __new__(
        cls,
        *,
        basic_auth: tuple[str, str] | Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        app_secret: str | None = None,
    ) -> Verifier: ...
    @staticmethod
    def from_dict(spec: Mapping[str, Any]) -> Verifier: ...
    def verify(self, headers: _Headers, body: _Body) -> None: ...
    def is_valid(self, headers: _Headers, body: _Body) -> bool: ...

def hub_challenge(mode: str, verify_token: str, challenge: str, expected_token: str) -> str: ...
def hub_challenge_from_query(query: str, expected_token: str) -> str: ...
def validate_webhook_url(url: str, *, headers: Mapping[str, str] | None = None) -> None: ...

@final
class Deduper:
    """Drops repeated webhook events (in memory, bounded, with a TTL in seconds)."""

    def __new__(cls, *, capacity: int | None = None, ttl: float | None = None) -> Deduper: ...
    def is_new(self, event: Event) -> bool: ...
    def filter(self, events: Iterable[Event]) -> list[Event]: ...
    def forget(self, event: Event) -> None: ...

@final
class StatusFold:
    """Keeps the furthest status of each sent message; statuses never move backwards."""

    def __new__(cls, *, capacity: int | None = None, ttl: float | None = None) -> StatusFold: ...
    def apply(
        self, event: Event
    ) -> Literal["advanced", "failed", "unrecognised", "duplicate", "stale"]: ...
    def filter(self, events: Iterable[Event]) -> list[Event]: ...
    def state(self, message_id: str) -> dict[str, Any] | None: ...

# -- inbox and receiver ------------------------------------------------------------------------

@final
class Inbox:
    """A durable store of webhook events, opened by URL (``memory://``, ``sqlite:///abs/path.db``)."""

    def __new__(cls, url: str) -> Inbox: ...
    @property
    def url(self) -> str: ...
    def stats(self) -> dict[str, int]: ...
    def dead(self, limit: int = 100) -> list[dict[str, Any]]: ...
    def replay(self, id: str | None = None) -> int: ...
    def drop(self, id: str | None = None) -> int: ...
    def prune(self) -> int: ...
    def metrics(self) -> dict[str, Any]: ...
    def consumer(self) -> Consumer: ...

@final
class Delivery:
    """One claimed event."""

    @property
    def id(self) -> str: ...
    @property
    def event(self) -> Event: ...
    @property
    def attempt(self) -> int: ...
    @property
    def conversation(self) -> str | None: ...

@final
class Consumer:
    """Claims events from an inbox under leases it renews in the background."""

    @property
    def name(self) -> str: ...
    def next(self, max: int = 1, timeout: float = 1.0) -> list[Delivery]: ...
    def ack(self, id: str) -> bool: ...
    def nack(self, id: str, error: str) -> Literal["retry", "dead", "not_held"]: ...
    def stop(self) -> None: ...
    @property
    def stopped(self) -> bool: ...
    @property
    def held(self) -> int: ...
    def release_held(self) -> int: ...
    def close(self) -> int: ...

@final
class Receiver:
    """The one webhook receiver of the core (verify, handshake, caps, parse, inbox accept)."""

    def __new__(
        cls,
        *,
        verifier: Verifier | None = None,
        verify_token: str | None = None,
        inbox: Inbox | None = None,
        dedupe: Deduper | None = None,
        status_fold: StatusFold | None = None,
        max_bytes: int | None = None,
        max_depth: int | None = None,
    ) -> Receiver: ...
    @property
    def inbox(self) -> Inbox | None: ...
    def handle(
        self, method: str, query: str, headers: _Headers, body: _Body
    ) -> tuple[int, bytes, list[Event], int, int, str | None]: ...
    def metrics(self) -> dict[str, Any]:
        """This receiver's figures in this process: ``events``, ``deliveries``, ``ack_latency``."""

# -- client results -----------------------------------------------------------------------------

@final
class SendResponse:
    """The answer to a send ("accepted"; delivery arrives as status webhooks)."""

    @property
    def message_id(self) -> str | None: ...
    @property
    def message_status(self) -> str | None: ...
    @property
    def contacts(self) -> list[dict[str, str]]: ...
    @property
    def messages(self) -> list[dict[str, str]]: ...
    def to_dict(self) -> dict[str, Any]: ...

@final
class MediaInfo:
    """What ``GET /{media_id}`` answered."""

    @property
    def id(self) -> str: ...
    @property
    def url(self) -> str: ...
    @property
    def mime_type(self) -> str: ...
    @property
    def sha256(self) -> str: ...
    @property
    def file_size(self) -> int | None: ...

@final
class WebhookSettings:
    """A registered webhook (header values are secrets: ``repr`` shows names only)."""

    @property
    def url(self) -> str: ...
    @property
    def headers(self) -> dict[str, str]: ...

# -- clients ------------------------------------------------------------------------------------

_R = TypeVar("_R")
_Button = tuple[str, str] | Mapping[str, Any]

class _SendHelpers(Generic[_R]):
    """The keyword send helpers of both clients (written once: ``_R`` is ``SendResponse`` for
    ``Client`` and ``Awaitable[SendResponse]`` for ``AsyncClient``). Not a runtime class."""

    def send_text(
        self,
        to: str,
        body: str,
        *,
        preview_url: bool | None = None,
        reply_to: str | None = None,
        callback_data: str | None = None,
    ) -> _R: ...
    def send_image(
        self,
        to: str,
        media: str,
        *,
        caption: str | None = None,
        reply_to: str | None = None,
        callback_data: str | None = None,
    ) -> _R: ...
    def send_video(
        self,
        to: str,
        media: str,
        *,
        caption: str | None = None,
        reply_to: str | None = None,
        callback_data: str | None = None,
    ) -> _R: ...
    def send_audio(
        self, to: str, media: str, *, reply_to: str | None = None, callback_data: str | None = None
    ) -> _R: ...
    def send_document(
        self,
        to: str,
        media: str,
        *,
        caption: str | None = None,
        filename: str | None = None,
        reply_to: str | None = None,
        callback_data: str | None = None,
    ) -> _R: ...
    def send_sticker(
        self, to: str, media: str, *, reply_to: str | None = None, callback_data: str | None = None
    ) -> _R: ...
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
    ) -> _R: ...
    def send_contacts(
        self,
        to: str,
        contacts: Sequence[Mapping[str, Any]],
        *,
        reply_to: str | None = None,
        callback_data: str | None = None,
    ) -> _R: ...
    def send_reaction(
        self, to: str, message_id: str, emoji: str, *, callback_data: str | None = None
    ) -> _R: ...
    def send_buttons(
        self,
        to: str,
        body: str,
        buttons: Sequence[_Button],
        *,
        header: str | Mapping[str, Any] | None = None,
        footer: str | None = None,
        reply_to: str | None = None,
        callback_data: str | None = None,
    ) -> _R: ...
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
    ) -> _R: ...
    def send_interactive(
        self,
        to: str,
        interactive: Mapping[str, Any],
        *,
        reply_to: str | None = None,
        callback_data: str | None = None,
    ) -> _R: ...
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
    ) -> _R: ...

@disjoint_base
class Client(_SendHelpers[SendResponse]):
    """Synchronous client: each call blocks (GIL released) until the answer."""

    def __new__(
        cls,
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        timeout: float | None = None,
        connect_timeout: float | None = None,
        max_retries: int | None = None,
        governor: Mapping[str, Any] | bool | None = None,
    ) -> Client: ...
    @property
    def base_url(self) -> str: ...
    def metrics(self) -> dict[str, Any]:
        """Snapshot: ``requests`` by outcome, ``retries`` by reason, ``send_latency`` histogram."""
    def send(self, message: Mapping[str, Any]) -> SendResponse: ...
    def send_body(self, body: Mapping[str, Any]) -> SendResponse: ...
    def mark_read(self, message_id: str) -> None: ...
    def typing(self, message_id: str) -> None: ...
    def upload_media(
        self, data: bytes | bytearray | memoryview, mime_type: str, filename: str = ...
    ) -> str: ...
    def media_info(self, media_id: str) -> MediaInfo: ...
    def download_media(self, media_id: str) -> bytes: ...
    def download_media_url(self, url: str) -> bytes: ...
    def delete_media(self, media_id: str) -> None: ...
    def set_webhook(
        self, url: str, *, headers: Mapping[str, str] | None = None, waba: bool = False
    ) -> Any: ...
    def get_webhook(self, *, waba: bool = False) -> WebhookSettings | None: ...
    def send_within(self, message: Mapping[str, Any], max_wait: float) -> SendResponse: ...
    def broadcast(
        self,
        campaign: Campaign,
        ledger: Ledger,
        *,
        concurrency: int = 16,
        unknown_window: float = 900.0,
        max_wait: float = 60.0,
        max_attempts: int = 5,
        start_in: float | None = None,
        progress: Callable[[dict[str, Any]], object] | None = None,
    ) -> dict[str, Any]: ...
    # -- management (docs/management.md) --
    def create_template(self, draft: Mapping[str, Any]) -> TemplateInfo: ...
    def list_templates(
        self,
        *,
        source: str = "config",
        name: str | None = None,
        status: str | None = None,
        language: str | None = None,
        page_size: int | None = None,
        limit: int | None = None,
    ) -> TemplateIterator: ...
    def get_template(self, template_id: str) -> TemplateInfo | None: ...
    def find_templates(self, name: str, *, language: str | None = None) -> list[TemplateInfo]: ...
    def delete_template(self, name: str) -> Any: ...
    def get_profile(self) -> BusinessProfile: ...
    def update_profile(
        self,
        *,
        about: str | None = None,
        address: str | None = None,
        description: str | None = None,
        email: str | None = None,
        websites: Sequence[str] | None = None,
        vertical: str | None = None,
        profile_picture_handle: str | None = None,
    ) -> None: ...
    def set_profile_picture(self, data: bytes, mime_type: str, file_name: str = ...) -> str: ...
    def upload_resumable(self, data: bytes, mime_type: str, file_name: str) -> str: ...
    def health_status(self) -> HealthStatus: ...
    def check_health(self) -> HealthCheck: ...
    def list_blocked_users(self, *, page_size: int | None = None) -> BlockedUserIterator: ...
    def block_users(self, users: Sequence[str]) -> BlockResult: ...
    def unblock_users(self, users: Sequence[str]) -> BlockResult: ...
    def upload_media_cached(
        self, data: bytes, mime_type: str, cache: MediaCache, filename: str = ...
    ) -> CachedUpload: ...
    def forget_media_cached(self, data: bytes, mime_type: str, cache: MediaCache) -> None: ...

@disjoint_base
class AsyncClient(_SendHelpers[Awaitable[SendResponse]]):
    """asyncio client: each call returns an awaitable."""

    def __new__(
        cls,
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        timeout: float | None = None,
        connect_timeout: float | None = None,
        max_retries: int | None = None,
        governor: Mapping[str, Any] | bool | None = None,
    ) -> AsyncClient: ...
    @property
    def base_url(self) -> str: ...
    def metrics(self) -> dict[str, Any]:
        """Snapshot: ``requests`` by outcome, ``retries`` by reason, ``send_latency`` histogram."""
    def send(self, message: Mapping[str, Any]) -> Awaitable[SendResponse]: ...
    def send_body(self, body: Mapping[str, Any]) -> Awaitable[SendResponse]: ...
    def mark_read(self, message_id: str) -> Awaitable[None]: ...
    def typing(self, message_id: str) -> Awaitable[None]: ...
    def upload_media(
        self, data: bytes | bytearray | memoryview, mime_type: str, filename: str = ...
    ) -> Awaitable[str]: ...
    def media_info(self, media_id: str) -> Awaitable[MediaInfo]: ...
    def download_media(self, media_id: str) -> Awaitable[bytes]: ...
    def download_media_url(self, url: str) -> Awaitable[bytes]: ...
    def delete_media(self, media_id: str) -> Awaitable[None]: ...
    def set_webhook(
        self, url: str, *, headers: Mapping[str, str] | None = None, waba: bool = False
    ) -> Awaitable[Any]: ...
    def get_webhook(self, *, waba: bool = False) -> Awaitable[WebhookSettings | None]: ...
    def send_within(
        self, message: Mapping[str, Any], max_wait: float
    ) -> Awaitable[SendResponse]: ...
    def broadcast(
        self,
        campaign: Campaign,
        ledger: Ledger,
        *,
        concurrency: int = 16,
        unknown_window: float = 900.0,
        max_wait: float = 60.0,
        max_attempts: int = 5,
        start_in: float | None = None,
        progress: Callable[[dict[str, Any]], object] | None = None,
    ) -> Awaitable[dict[str, Any]]: ...
    # -- management (docs/management.md) --
    def create_template(self, draft: Mapping[str, Any]) -> Awaitable[TemplateInfo]: ...
    def list_templates(
        self,
        *,
        source: str = "config",
        name: str | None = None,
        status: str | None = None,
        language: str | None = None,
        page_size: int | None = None,
        limit: int | None = None,
    ) -> AsyncTemplateIterator: ...
    def get_template(self, template_id: str) -> Awaitable[TemplateInfo | None]: ...
    def find_templates(
        self, name: str, *, language: str | None = None
    ) -> Awaitable[list[TemplateInfo]]: ...
    def delete_template(self, name: str) -> Awaitable[Any]: ...
    def get_profile(self) -> Awaitable[BusinessProfile]: ...
    def update_profile(
        self,
        *,
        about: str | None = None,
        address: str | None = None,
        description: str | None = None,
        email: str | None = None,
        websites: Sequence[str] | None = None,
        vertical: str | None = None,
        profile_picture_handle: str | None = None,
    ) -> Awaitable[None]: ...
    def set_profile_picture(
        self, data: bytes, mime_type: str, file_name: str = ...
    ) -> Awaitable[str]: ...
    def upload_resumable(self, data: bytes, mime_type: str, file_name: str) -> Awaitable[str]: ...
    def health_status(self) -> Awaitable[HealthStatus]: ...
    def check_health(self) -> Awaitable[HealthCheck]: ...
    def list_blocked_users(self, *, page_size: int | None = None) -> AsyncBlockedUserIterator: ...
    def block_users(self, users: Sequence[str]) -> Awaitable[BlockResult]: ...
    def unblock_users(self, users: Sequence[str]) -> Awaitable[BlockResult]: ...
    def upload_media_cached(
        self, data: bytes, mime_type: str, cache: MediaCache, filename: str = ...
    ) -> Awaitable[CachedUpload]: ...
    def forget_media_cached(
        self, data: bytes, mime_type: str, cache: MediaCache
    ) -> Awaitable[None]: ...

# -- broadcast ----------------------------------------------------------------------------------

@final
class Campaign:
    """A template campaign: template, language and recipients with body parameters."""

    def __new__(
        cls, template: str, language: str, recipients: Sequence[tuple[str, Sequence[str]]]
    ) -> Campaign: ...
    @staticmethod
    def from_csv(template: str, language: str, csv_text: str) -> Campaign: ...
    @staticmethod
    def from_csv_file(template: str, language: str, path: str | PathLike[str]) -> Campaign: ...
    @property
    def id(self) -> str: ...
    def __len__(self) -> int: ...

@final
class Ledger:
    """The durable ledger of one campaign (``sqlite:///PATH``)."""

    def __new__(cls, url: str, campaign: Campaign) -> Ledger: ...
    @staticmethod
    def open_existing(url: str) -> Ledger: ...
    @property
    def campaign_id(self) -> str: ...
    def counts(self) -> dict[str, int]: ...
    def entries(self) -> list[dict[str, Any]]: ...
    def apply_webhook(self, body: _Body) -> int: ...
    def pause(self) -> None: ...
    def resume(self) -> None: ...
    def stop(self) -> None: ...
    def run_state(self) -> str: ...

# -- management ---------------------------------------------------------------------------------

def build_template(draft: Mapping[str, Any]) -> dict[str, Any]:
    """The exact ``POST /v1/configs/templates`` body for a template draft (validated)."""

def build_profile_update(update: Mapping[str, Any]) -> dict[str, Any]:
    """The exact ``POST /whatsapp_business_profile`` body for a profile change (validated)."""

def parse_template_list(body: Mapping[str, Any]) -> TemplatePage:
    """Read one answer of either template list call into the canonical page."""

def check_template_send(template: Mapping[str, Any], message: Mapping[str, Any]) -> None:
    """Check a template message against a listed template (raises InvalidArgumentError)."""

@final
class TemplateIterator:
    """Listed templates, fetched page by page as they are consumed."""

    def __iter__(self) -> TemplateIterator: ...
    def __next__(self) -> TemplateInfo: ...

@final
class AsyncTemplateIterator:
    """Listed templates (``async for``), fetched page by page."""

    def __aiter__(self) -> AsyncTemplateIterator: ...
    def __anext__(self) -> Awaitable[TemplateInfo]: ...

@final
class BlockedUserIterator:
    """Blocked users, fetched page by page as they are consumed."""

    def __iter__(self) -> BlockedUserIterator: ...
    def __next__(self) -> BlockedUser: ...

@final
class AsyncBlockedUserIterator:
    """Blocked users (``async for``), fetched page by page."""

    def __aiter__(self) -> AsyncBlockedUserIterator: ...
    def __anext__(self) -> Awaitable[BlockedUser]: ...

@final
class MediaCache:
    """Opt-in media-id cache: in memory, or in the SQLite file ``path``."""

    def __new__(cls, path: str | None = None, *, ttl_days: float = 28.0) -> MediaCache: ...
    @property
    def ttl_days(self) -> float: ...

# -- testing ------------------------------------------------------------------------------------

@disjoint_base
class Sandbox:
    """A running local 360dialog emulator."""

    def __new__(
        cls,
        *,
        api_key: str | None = None,
        port: int = 0,
        time_scale: float | None = None,
        allow_http_callbacks: bool = True,
        max_delivery_attempts: int | None = None,
    ) -> Sandbox: ...
    @property
    def url(self) -> str: ...
    @property
    def api_key(self) -> str: ...
    def requests(
        self, *, path: str | None = None, method: str | None = None
    ) -> list[dict[str, Any]]: ...
    def deliveries(self) -> list[dict[str, Any]]: ...
    def add_fault(self, rule: Mapping[str, Any]) -> None: ...
    def set_limits(self, limits: Mapping[str, Any]) -> None: ...
    def recipient_counts(self) -> dict[str, dict[str, int]]: ...
    def clear_faults(self) -> None: ...
    def phone_webhook(self) -> dict[str, Any] | None: ...
    def waba_webhook(self) -> dict[str, Any] | None: ...
    def reset(self) -> None: ...
    def stop(self) -> None: ...

def inbound_text(from_: str, body: str, wamid: str = "wamid.TEST1") -> bytes: ...
def inbound(from_: str, msg_type: str, obj: Any, wamid: str = "wamid.TEST1") -> bytes: ...
def status(wamid: str, status: str, recipient: str = "15555550123") -> bytes: ...
def status_failed(
    wamid: str, code: int, title: str, details: str, recipient: str = "15555550123"
) -> bytes: ...
def value_error(code: int, title: str, details: str) -> bytes: ...
def batch(*bodies: _Body) -> bytes: ...
def hub_signature(app_secret: str, body: _Body) -> str: ...
def signed_headers(app_secret: str, body: _Body) -> dict[str, str]: ...
def basic_auth_header(user: str, password: str) -> tuple[str, str]: ...
