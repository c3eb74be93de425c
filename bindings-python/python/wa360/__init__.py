"""wa360: the WhatsApp Business API SDK for the 360dialog Cloud API, on a native Rust core.

Quick start::

    import wa360

    client = wa360.Client()                     # key from D360_API_KEY
    client.send_text("4915112345678", "Hello!")

    events = wa360.parse_webhook(request_body)  # bytes or str -> typed events
    for event in events:
        match event:
            case wa360.MessageEvent(type="text", from_=sender, text=body):
                ...
            case wa360.StatusEvent(status="failed"):
                ...
"""

from __future__ import annotations

from . import _logging as _logging  # noqa: F401  (connects the core's logs to logging)
from . import _native
from ._client import AsyncClient, Client
from ._native import (
    AsyncBlockedUserIterator,
    AsyncTemplateIterator,
    BlockedUserIterator,
    Campaign,
    Consumer,
    Deduper,
    ErrorEvent,
    Event,
    FieldUpdateEvent,
    Inbox,
    Ledger,
    MediaCache,
    MediaInfo,
    MessageEvent,
    SendResponse,
    StatusEvent,
    StatusFold,
    TemplateIterator,
    UnknownEvent,
    Verifier,
    WebhookSettings,
    build_message,
    build_profile_update,
    build_template,
    check_template_send,
    hub_challenge,
    hub_challenge_from_query,
    parse_template_list,
    parse_webhook,
    parse_webhook_json,
    validate_webhook_url,
)
from .errors import (
    AccountError,
    ApiError,
    AuthenticationError,
    ConfigurationError,
    FlowError,
    InternalError,
    InvalidArgumentError,
    InvalidRequestError,
    InvalidResponseError,
    InvalidSignatureError,
    MediaError,
    OutcomeUnknownError,
    PaymentError,
    PolicyError,
    RateLimitedError,
    RecipientError,
    StoreError,
    TemplateError,
    TransientError,
    Wa360Error,
    WebhookPayloadError,
    WindowClosedError,
)
from .errors import (
    ConnectionError as ConnectionError,  # noqa: A004
)
from .errors import (
    PermissionError as PermissionError,  # noqa: A004
)
from .errors import (
    TimeoutError as TimeoutError,  # noqa: A004
)
from .webhook import verify_webhook

__version__: str = _native.__version__

#: Every inbound message ``type`` wa360 types (the core's list; any other type arrives
#: unchanged with its payload under its own key).
KNOWN_MESSAGE_TYPES: frozenset[str] = frozenset(_native.KNOWN_MESSAGE_TYPES)

__all__ = [
    "__version__",
    "KNOWN_MESSAGE_TYPES",
    "AsyncBlockedUserIterator",
    "AsyncClient",
    "Campaign",
    "Consumer",
    "AsyncTemplateIterator",
    "BlockedUserIterator",
    "Client",
    "MediaCache",
    "TemplateIterator",
    "build_profile_update",
    "build_template",
    "check_template_send",
    "parse_template_list",
    "Deduper",
    "ErrorEvent",
    "Event",
    "FieldUpdateEvent",
    "Inbox",
    "Ledger",
    "MediaInfo",
    "MessageEvent",
    "SendResponse",
    "StatusEvent",
    "StatusFold",
    "UnknownEvent",
    "Verifier",
    "WebhookSettings",
    "build_message",
    "hub_challenge",
    "hub_challenge_from_query",
    "parse_webhook",
    "parse_webhook_json",
    "validate_webhook_url",
    "verify_webhook",
    # TimeoutError, ConnectionError and PermissionError stay reachable as wa360.X but are
    # not star-exported, so `from wa360 import *` never shadows the builtins.
    "Wa360Error",
    "InvalidArgumentError",
    "ConfigurationError",
    "AuthenticationError",
    "RateLimitedError",
    "InvalidRequestError",
    "RecipientError",
    "WindowClosedError",
    "TemplateError",
    "FlowError",
    "PolicyError",
    "PaymentError",
    "AccountError",
    "MediaError",
    "TransientError",
    "OutcomeUnknownError",
    "InvalidResponseError",
    "ApiError",
    "WebhookPayloadError",
    "InvalidSignatureError",
    "InternalError",
    "StoreError",
]
